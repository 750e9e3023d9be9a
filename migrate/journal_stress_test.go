package migrate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestStressJournalConcurrent appends from one goroutine while another
// reads and releases, through a small ring that wraps many times: the
// stream read out is a sound, sealed journal holding every record in
// order with its own bytes.
func TestStressJournalConcurrent(t *testing.T) {
	n := 200000
	if testing.Short() {
		n = 5000
	}
	j, err := NewJournal(2048, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // reader: copy out, release, until the seal has been read
		defer wg.Done()
		buf := make([]byte, 300)
		var pos int64
		for {
			sealed := j.Sealed() // before the read: a seal seen here is in the bytes read next
			n, err := j.ReadAt(buf, pos)
			out.Write(buf[:n])
			pos += int64(n)
			j.Release(pos)
			if err == io.EOF && n == 0 {
				if sealed {
					return
				}
				time.Sleep(10 * time.Microsecond)
			} else if err != nil && err != io.EOF {
				t.Error(err)
				return
			}
		}
	}()
	payload := make([]byte, 200)
	for i := range n {
		for k := range payload[:i%200] {
			payload[k] = byte(i + k)
		}
		for {
			_, err := j.AppendRecv(uint64(i%7), uint32(i), payload[:i%200])
			if err == nil {
				break
			}
			if !errors.Is(err, ErrJournalFull) {
				t.Fatal(err)
			}
			time.Sleep(10 * time.Microsecond) // the reader frees room
		}
	}
	if _, err := j.Seal(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	recs, sealed, err := ReadAll(out.Bytes())
	if err != nil || !sealed || len(recs) != n+1 {
		t.Fatalf("%d records, sealed %v: %v", len(recs), sealed, err)
	}
	for i, r := range recs[:n] {
		p := r.Payload[dataHdrLen:]
		if r.Session != uint64(i%7) || len(p) != i%200 || (len(p) > 0 && (p[0] != byte(i) || p[len(p)-1] != byte(i+len(p)-1))) {
			t.Fatalf("record %d: %v", i, &r)
		}
	}
	if j.Used() != 0 || j.Peak() > j.Cap() {
		t.Fatalf("used %d peak %d cap %d", j.Used(), j.Peak(), j.Cap())
	}
}

func TestMetrics(t *testing.T) {
	w := newWorkload(t, 81, 50, 2)
	j := journalOf(t, w)
	var m Metrics
	m.AddJournal(j)
	m.AddTransfer(TransferStats{Bytes: 100, Retransmits: 3, Connections: 2}, false)
	m.AddTransfer(TransferStats{Bytes: 40, Connections: 1}, true)
	m.AddReplay(ReplayStats{Applied: 7, Skipped: 2})
	want := Metrics{
		BytesPreCopy: 100, BytesDowntime: 40, RecordsJournaled: uint64(w.records - 1), // the seal is not counted
		RecordsReplayed: 7, RecordsSkipped: 2, PeakJournalBytes: int64(len(w.journal)), Retries: 4,
	}
	if m != want {
		t.Fatalf("metrics\n got %+v\nwant %+v", m, want)
	}
	m.Downtime, m.Hold, m.TotalTime = 212345678*time.Nanosecond, 200*time.Millisecond, 1234567890*time.Nanosecond
	text := fmt.Sprint(m) // a value prints through String
	for _, s := range []string{"downtime 212ms (hold 200ms, then 12.3ms to seal", "1.23s in all",
		"100 bytes moved before the suspension and 40 during it", "7 replayed, 2 skipped", "4 retries", "0 sessions lost"} {
		if !strings.Contains(text, s) {
			t.Errorf("String lacks %q: %s", s, text)
		}
	}
}
