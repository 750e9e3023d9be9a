package migrate

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/ringkit/ringkit/tcpip"
)

// A destination given a journal with one flipped bit (sent as is: the
// transfer's own checksums pass) refuses it, says so to the source, and
// never activates the VM. A sound journal of the same migration activates.
func TestDestinationRefusesCorruptJournal(t *testing.T) {
	for _, corrupt := range []bool{true, false} {
		clock := tcpip.NewSimClock(time.Unix(0, 0))
		vm, err := tcpip.NewStack(tcpip.StackConfig{Clock: clock}, func([]byte) {})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := vm.Dial(netip.MustParseAddrPort("10.0.0.10:4000"), netip.MustParseAddrPort("10.0.1.1:80")); err != nil {
			t.Fatal(err)
		}
		tbl := NewTable(1)
		for _, s := range vm.Export() {
			tbl.Sessions[s.ID] = s
		}
		pre := AppendTable(nil, tbl)
		j, _ := NewJournal(1<<16, 2, 1)
		for i := range 8 {
			if _, err := j.AppendTimestamp(1, uint32(i), uint32(i)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := j.Seal(); err != nil {
			t.Fatal(err)
		}
		jb := j.Bytes()
		if corrupt {
			jb[len(jb)/2] ^= 0x10
		}
		dest, err := NewDestination(DestinationConfig{Stack: tcpip.StackConfig{Clock: clock}}, func([]byte) {})
		if err != nil {
			t.Fatal(err)
		}
		a, b := newPipe()
		done := make(chan error, 1)
		go func() { done <- dest.Serve(context.Background(), b); b.Close() }()

		ctx := context.Background()
		if err := writeCtl(a, ctlMsg{kind: ctlHello, a: 2}); err != nil {
			t.Fatal(err)
		}
		for _, st := range []struct {
			id   uint64
			data []byte
		}{{StreamPreCopy, pre}, {StreamJournal, jb}} {
			snd, err := NewSender(st.id, bytes.NewReader(st.data), TransferConfig{})
			if err != nil {
				t.Fatal(err)
			}
			if st.id == StreamJournal {
				if err := writeCtl(a, ctlMsg{kind: ctlJournal}); err != nil {
					t.Fatal(err)
				}
			}
			if err := snd.Send(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		if corrupt {
			if _, err := readCtl(a, ctlReady); err == nil {
				t.Fatal("the destination took a corrupt journal")
			}
			if err := <-done; !errors.Is(err, ErrCorrupt) {
				t.Errorf("Serve: %v, want ErrCorrupt", err)
			}
			if dest.Active() {
				t.Error("the destination activated a corrupt journal")
			}
			a.Close()
			continue
		}
		ready, err := readCtl(a, ctlReady)
		if err != nil || ready.a != 9 || ready.c != 1 {
			t.Fatalf("ready %+v, %v", ready, err)
		}
		if err := writeCtl(a, ctlMsg{kind: ctlGo}); err != nil {
			t.Fatal(err)
		}
		if _, err := readCtl(a, ctlActive); err != nil || !dest.Active() {
			t.Fatalf("active: %v, %v", err, dest.Active())
		}
		dest.Tick() // the first frame served
		if _, err := readCtl(a, ctlServed); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		var s *tcpip.Session
		dest.Do(func(vm *tcpip.Stack) { s = vm.Conn(1).Session() })
		if s.TS.Recent != 7 || s.Epoch != 2 {
			t.Errorf("restored session %+v", s.TS)
		}
		a.Close()
		_, _ = io.ReadAll(a)
	}
}
