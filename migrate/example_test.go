package migrate_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/ringkit/ringkit/migrate"
	"github.com/ringkit/ringkit/tcpip"
)

// A session's changes are journaled while its VM is suspended, then
// restored on the destination from the pre-copy table and the journal.
func Example() {
	s := &tcpip.Session{ID: 1, State: tcpip.Established, SndUna: 1000, SndNxt: 1000, RcvNxt: 0xfffffffe, MSS: 1460}
	src := migrate.NewTable(7)
	src.Sessions[s.ID] = s
	pre := migrate.AppendTable(nil, src) // sent before the suspension

	j, _ := migrate.NewJournal(4096, 7, src.Applied+1)
	j.AppendRecv(1, 0xfffffffe, []byte("hello")) // crosses 2^32
	j.AppendWindow(1, 65535, 4096-uint32(j.Used()))
	j.Seal()

	dst, _ := migrate.DecodeTable(pre)
	stats, err := migrate.Restore(dst, j.Bytes())
	got := dst.Sessions[1]
	fmt.Println(stats.Applied, stats.Sealed, err)
	fmt.Printf("rcv_nxt %d, unread %q\n", got.RcvNxt, got.RecvQueue)

	stats, _ = migrate.Restore(dst, j.Bytes()) // idempotent
	fmt.Println(stats.Applied, stats.Skipped)
	// Output:
	// 3 true <nil>
	// rcv_nxt 3, unread "hello"
	// 0 3
}

// A journal cut inside its last record replays what came before.
func ExampleReadAll() {
	j, _ := migrate.NewJournal(4096, 1, 1)
	j.AppendClose(1)
	j.AppendClose(2)
	b := j.Bytes()
	recs, _, err := migrate.ReadAll(b[:len(b)-3])
	var torn *migrate.TornTailError
	fmt.Println(len(recs), errors.As(err, &torn), torn.Offset)
	// Output: 1 true 40
}

// A sealed journal sent over TCP.
func ExampleSender() {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	rcv := migrate.NewReceiver(42, 1<<20)
	done := make(chan error)
	go func() {
		c, _ := ln.Accept()
		defer c.Close()
		done <- rcv.Receive(context.Background(), c)
	}()

	j, _ := migrate.NewJournal(4096, 1, 1)
	j.AppendRecv(9, 100, []byte("payload"))
	j.Seal()
	want := j.Bytes()
	c, _ := net.Dial("tcp", ln.Addr().String())
	defer c.Close()
	snd, _ := migrate.NewSender(42, j, migrate.TransferConfig{})
	fmt.Println(snd.Send(context.Background(), c), <-done)
	fmt.Println(bytes.Equal(rcv.Data(), want), j.Used()) // acknowledged bytes leave the ring
	// Output:
	// <nil> <nil>
	// true 0
}
