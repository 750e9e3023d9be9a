package migrate

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"testing"
)

// BenchmarkJournalAppend appends one inbound-payload record per iteration,
// as a circuit does for each segment it buffers (target: ≤ 100 ns, 0 allocs).
func BenchmarkJournalAppend(b *testing.B) {
	for _, size := range []int{0, 64, 512, 1460} {
		b.Run(fmt.Sprintf("payload=%d", size), func(b *testing.B) {
			j, err := NewJournal(16<<20, 1, 1)
			if err != nil {
				b.Fatal(err)
			}
			data := make([]byte, size)
			var seq uint32
			b.ReportAllocs()
			b.SetBytes(int64(RecordSize(size + dataHdrLen)))
			for b.Loop() {
				if _, err := j.AppendRecv(1, seq, data); err != nil {
					j.Release(j.Size()) // the destination took it: room again
					if _, err := j.AppendRecv(1, seq, data); err != nil {
						b.Fatal(err)
					}
				}
				seq += uint32(size)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/record")
		})
	}
}

// BenchmarkReplay reads and applies a journal of mixed records into a
// fresh table per iteration; ns/record is the cost of one record.
func BenchmarkReplay(b *testing.B) {
	w := newWorkload(b, 71, 2000, 1)
	pre := AppendTable(nil, w.precopy)
	b.ReportAllocs()
	b.SetBytes(int64(len(w.journal)))
	var tbl *Table
	for b.Loop() {
		b.StopTimer()
		tbl, _ = DecodeTable(pre)
		b.StartTimer()
		if _, err := Restore(tbl, w.journal); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(w.records), "ns/record")
}

// BenchmarkTransferTCP moves a stream over loopback TCP per iteration.
func BenchmarkTransferTCP(b *testing.B) {
	for _, chunk := range []int{16 << 10, 64 << 10} {
		b.Run(fmt.Sprintf("chunk=%dKiB", chunk>>10), func(b *testing.B) {
			data := bytes.Repeat([]byte("ringkit migrate "), (8<<20)/16)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Skip("no loopback TCP:", err)
			}
			defer ln.Close()
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				done := make(chan error, 1)
				go func() {
					c, err := ln.Accept()
					if err != nil {
						done <- err
						return
					}
					defer c.Close()
					done <- NewReceiver(1, int64(len(data))).Receive(context.Background(), c)
				}()
				c, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				snd, _ := NewSender(1, bytes.NewReader(data), TransferConfig{ChunkSize: chunk, Window: 32})
				if err := snd.Send(context.Background(), c); err != nil {
					b.Fatal(err)
				}
				c.Close()
				if err := <-done; err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(data))*float64(b.N)/b.Elapsed().Seconds()/1e6, "MB/s")
		})
	}
}
