package migrate

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// Source is what a Sender sends: a byte stream read at offsets, such as a
// *bytes.Reader over an encoded Table (the pre-copy) or a *Journal. If it
// also has Release(off int64), the Sender calls it as the receiver
// acknowledges bytes, so a journal's room comes back.
//
// A Source may still grow while it is sent: one with a Sealed method that
// reports false when the Sender is made (a Journal being appended to) is
// streamed. Its bytes below Size must not change; the Sender sends its
// whole chunks as they fill, and the rest once Sealed reports true, Size
// then being final. If it also has Done() <-chan struct{}, closed when it
// is sealed, the Sender wakes on it; otherwise, and for growth, it looks
// again every millisecond while it has nothing in flight.
type Source interface {
	ReadAt(p []byte, off int64) (int, error)
	Size() int64
}

// growing is a Source that may still grow (see Source).
type growing interface {
	Sealed() bool
}

// growthPoll is how often a Sender with nothing in flight looks for more
// bytes of a growing Source.
const growthPoll = time.Millisecond

// TransferConfig tunes the chunk protocol. Zero fields take the defaults.
type TransferConfig struct {
	ChunkSize  int           // bytes per chunk; default 32 KiB, at most MaxChunk
	Window     int           // chunks in flight before an acknowledgement; default 16
	Timeout    time.Duration // without progress before resending from the last acknowledged chunk; default 200ms
	MaxRetries int           // timeouts in a row before ErrStalled; default 20
}

func (c TransferConfig) withDefaults() (TransferConfig, error) {
	if c.ChunkSize == 0 {
		c.ChunkSize = 32 << 10
	}
	if c.Window == 0 {
		c.Window = 16
	}
	if c.Timeout == 0 {
		c.Timeout = 200 * time.Millisecond
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = 20
	}
	if c.ChunkSize < 0 || c.ChunkSize > MaxChunk || c.Window < 0 || c.Timeout < 0 || c.MaxRetries < 0 {
		return c, fmt.Errorf("migrate: transfer config %+v out of range", c)
	}
	return c, nil
}

// TransferStats counts what one side of a transfer did, over all its
// connections.
type TransferStats struct {
	Bytes       int64  // message bytes written, headers and resends included
	Chunks      uint64 // data chunks written, resends included
	Retransmits uint64 // data chunks written again
	Timeouts    uint64 // resends for lack of progress
	Naks        uint64 // NAKs received (sender) or sent (receiver)
	Duplicates  uint64 // chunks received again and discarded (receiver)
	OutOfOrder  uint64 // chunks received ahead of a gap and discarded (receiver)
	Connections uint64 // connections used (Send or Receive, then each Resume)
}

// String says what the transfer did in one line.
func (s TransferStats) String() string {
	return fmt.Sprintf("%d bytes in %d chunks over %d connections; %d chunks resent (%d after a timeout), %d NAKs, "+
		"%d duplicates and %d out of order discarded", s.Bytes, s.Chunks, s.Connections, s.Retransmits, s.Timeouts,
		s.Naks, s.Duplicates, s.OutOfOrder)
}

// Sender moves one Source to a Receiver over any io.ReadWriter as
// numbered chunks, go-back-N: up to Window chunks are in flight; the
// receiver acknowledges cumulatively, NAKs the first gap it sees, and
// discards duplicates; after Timeout without progress the sender resends
// from the last acknowledged chunk. When the connection fails, Send
// returns an error wrapping ErrConnection, and Resume with a new
// connection goes on from the last acknowledged chunk (the receiver says
// which in its greeting).
//
// Each message is written with one Write call. The connection must not lose,
// duplicate or reorder bytes inside a message (a stream such as TCP never
// does). The protocol recovers from whole messages lost, duplicated or
// reordered in either direction, with one exception: the receiver returns
// once it has written its answer to the end, so if that answer is lost
// while the connection stays up, the sender stalls (ErrStalled). On a
// stream that loses nothing without failing, that cannot happen; a cut
// connection is recovered by Resume. Send and Resume start one goroutine that reads
// acknowledgements; it has ended when they return. On failure they close
// rw if it is an io.Closer, to end that goroutine, so rw's Read must return
// once it is closed (as a net.Conn's does).
//
// A stream that grows while it is sent (an open stream: see Source) is
// greeted as open, without a size; its chunks are whole but the last, and
// the end message carries its size.
//
// A Sender is used by one goroutine at a time.
type Sender struct {
	cfg    TransferConfig
	src    Source
	stream uint64
	size   int64  // bytes to send (of an open stream: so far)
	total  uint64 // chunks to send (of an open stream: the whole ones so far)
	acked  uint64 // chunks the receiver holds (next one it expects)
	high   uint64 // chunks ever sent, to count resends
	buf    []byte
	stats  TransferStats
	done   bool

	// An open stream: grow is its source, final set once it is sealed.
	grow  growing
	final bool
	// ackedBytes is Acked for other goroutines (AckedNow): stored by the
	// sending goroutine, loaded by any.
	ackedBytes atomic.Int64
	// sent is high for the acknowledgement reader, which refuses an
	// acknowledgement of a chunk never sent. Stored by the sending
	// goroutine before the chunk is written (store-release), loaded by the
	// reader (load-acquire).
	sent atomic.Uint64
}

// NewSender returns a Sender of src as the stream named stream (the
// receiver checks the name, so a pre-copy is not taken for a journal).
func NewSender(stream uint64, src Source, cfg TransferConfig) (*Sender, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Sender{cfg: cfg, src: src, stream: stream, buf: make([]byte, cfg.ChunkSize), final: true}
	if g, ok := src.(growing); ok && !g.Sealed() {
		s.grow, s.final = g, false
	}
	s.refresh()
	if !s.final {
		return s, nil
	}
	s.size = src.Size()
	s.total = uint64((s.size + int64(cfg.ChunkSize) - 1) / int64(cfg.ChunkSize))
	return s, nil
}

// open reports whether the stream was greeted as open.
func (s *Sender) open() bool { return s.grow != nil }

// refresh takes what an open stream's source holds now: its whole chunks
// while it grows, all of it once it is sealed.
func (s *Sender) refresh() {
	if s.final {
		return
	}
	sealed := s.grow.Sealed() // before Size: once sealed, Size is final
	s.size = s.src.Size()
	chunk := int64(s.cfg.ChunkSize)
	if sealed {
		s.final = true
		s.total = uint64((s.size + chunk - 1) / chunk)
	} else {
		s.total = uint64(s.size / chunk)
	}
}

// Stats returns the counts so far.
func (s *Sender) Stats() TransferStats { return s.stats }

// Acked is the number of bytes the receiver has acknowledged.
func (s *Sender) Acked() int64 { return min(int64(s.acked)*int64(s.cfg.ChunkSize), s.size) }

// AckedNow is Acked for a goroutine other than the Sender's: the bytes the
// receiver had acknowledged a moment ago.
func (s *Sender) AckedNow() int64 { return s.ackedBytes.Load() }

// Done reports whether the receiver acknowledged everything and the end.
func (s *Sender) Done() bool { return s.done }

// Send sends the stream over rw. It returns nil when the receiver holds
// every byte and has acknowledged the end; ErrConnection (call Resume),
// ErrStalled, ErrProtocol or ctx.Err() otherwise.
func (s *Sender) Send(ctx context.Context, rw io.ReadWriter) error { return s.run(ctx, rw) }

// Resume goes on with a new connection after Send or Resume failed, from
// the last chunk the receiver acknowledged.
func (s *Sender) Resume(ctx context.Context, rw io.ReadWriter) error { return s.run(ctx, rw) }

// acks is what the acknowledgement goroutine has seen, shared with the
// sending goroutine under mu. The reader never blocks on the sender (a
// full channel could deadlock a synchronous connection): it records the
// latest state and pokes notify, a channel of one.
type acks struct {
	mu       sync.Mutex
	hello    bool   // a greeting arrived
	ack      uint64 // highest cumulative acknowledgement
	nak      uint64 // chunk named by the latest NAK
	nakCount uint64 // NAKs seen
	bye      bool   // the end is acknowledged
	err      error  // the reader failed
	notify   chan struct{}
}

func (a *acks) poke() {
	select {
	case a.notify <- struct{}{}:
	default:
	}
}

func (s *Sender) readAcks(ctx context.Context, rw io.ReadWriter, a *acks) {
	mr := msgReader{r: rw, max: helloLen}
	for {
		m, err := mr.read()
		a.mu.Lock()
		switch {
		case err != nil:
			a.err = err
		case m.kind == msgHelloAck && len(m.payload) == 8 && binary.LittleEndian.Uint64(m.payload) == s.stream && m.seq <= s.sent.Load():
			a.hello = true
			a.ack = max(a.ack, m.seq)
		case m.kind == msgAck && m.seq <= s.sent.Load() && len(m.payload) == 0:
			a.ack = max(a.ack, m.seq)
		case m.kind == msgNak && m.seq <= s.sent.Load() && len(m.payload) == 0:
			a.ack = max(a.ack, m.seq) // the receiver holds every chunk before the gap
			a.nak = m.seq
			a.nakCount++
		case m.kind == msgByeAck && len(m.payload) == 0:
			a.bye = true
		default:
			a.err = fmt.Errorf("migrate: stream %d: unexpected message kind %d seq %d (%d bytes) from the receiver: %w",
				s.stream, m.kind, m.seq, len(m.payload), ErrProtocol)
		}
		stop := a.err != nil || a.bye
		a.mu.Unlock()
		a.poke()
		if stop || ctx.Err() != nil {
			return
		}
	}
}

func (s *Sender) run(ctx context.Context, rw io.ReadWriter) (err error) {
	if s.done {
		return nil
	}
	s.stats.Connections++
	a := &acks{notify: make(chan struct{}, 1)}
	readerDone := make(chan struct{})
	rctx, cancel := context.WithCancel(ctx)
	go func() {
		defer close(readerDone)
		s.readAcks(rctx, rw, a)
	}()
	stopClose := context.AfterFunc(ctx, func() { closeRW(rw) })
	defer func() {
		stopClose()
		cancel()
		if err != nil {
			closeRW(rw)
		}
		<-readerDone
	}()

	mw := msgWriter{w: rw, buf: make([]byte, 0, msgHeader+s.cfg.ChunkSize)}
	timer := time.NewTimer(s.cfg.Timeout)
	defer timer.Stop()
	// An open stream with nothing in flight waits for its source to grow:
	// no timeout runs then.
	var poll <-chan time.Time
	var sealed <-chan struct{}
	if !s.final {
		t := time.NewTicker(growthPoll)
		defer t.Stop()
		poll = t.C
		if d, ok := s.grow.(interface{ Done() <-chan struct{} }); ok {
			sealed = d.Done()
		}
	}
	idle := false
	retries := 0
	wait := func() (bool, error) { // true: woken by the reader or the source; false: timeout
		var timeout <-chan time.Time
		var grown <-chan time.Time
		var done <-chan struct{}
		if idle && !s.final {
			grown, done = poll, sealed
		} else {
			timeout = timer.C
		}
		select {
		case <-a.notify:
			return true, nil
		case <-grown:
			return true, nil
		case <-done:
			return true, nil
		case <-timeout:
			retries++
			s.stats.Timeouts++
			if retries > s.cfg.MaxRetries {
				return false, fmt.Errorf("migrate: stream %d: no progress at chunk %d of %d after %d timeouts of %v: %w",
					s.stream, s.acked, s.total, s.cfg.MaxRetries, s.cfg.Timeout, ErrStalled)
			}
			timer.Reset(s.cfg.Timeout)
			return false, nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	progress := func() { retries = 0; timer.Reset(s.cfg.Timeout) }
	snapshot := func() (hello bool, ack, nak, nakCount uint64, bye bool, err error) {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.hello, a.ack, a.nak, a.nakCount, a.bye, a.err
	}

	// Greeting: the receiver answers with the next chunk it expects.
	var hello [helloLen]byte
	binary.LittleEndian.PutUint64(hello[0:], s.stream)
	binary.LittleEndian.PutUint32(hello[16:], uint32(s.cfg.ChunkSize))
	if s.open() {
		binary.LittleEndian.PutUint32(hello[20:], helloOpen)
	} else {
		binary.LittleEndian.PutUint64(hello[8:], uint64(s.size))
	}
	for greeted := false; !greeted; {
		if err := s.count(mw.write(msgHello, 0, hello[:]), len(hello)); err != nil {
			return err
		}
		for {
			woken, err := wait()
			if err != nil {
				return err
			}
			if !woken {
				break // resend the greeting
			}
			ok, ack, _, _, _, rerr := snapshot()
			if rerr != nil {
				return rerr
			}
			if ok {
				s.advance(ack)
				progress()
				greeted = true
				break
			}
		}
	}

	// Chunks, go-back-N.
	next := s.acked
	var nakSeen uint64
	for s.refresh(); s.acked < s.total || !s.final; s.refresh() {
		for next < s.total && next < s.acked+uint64(s.cfg.Window) {
			if idle {
				idle = false
				progress() // the first chunk in flight since the source was drained
			}
			if err := s.sendChunk(&mw, next); err != nil {
				return err
			}
			next++
		}
		idle = next == s.acked
		woken, err := wait()
		if err != nil {
			return err
		}
		if !woken {
			next = s.acked // timeout: resend from the last acknowledged chunk
			continue
		}
		_, ack, nak, nakCount, _, rerr := snapshot()
		if rerr != nil {
			return rerr
		}
		if ack > s.acked {
			s.advance(ack)
			progress()
		}
		if nakCount != nakSeen {
			s.stats.Naks += nakCount - nakSeen
			nakSeen = nakCount
			if nak >= s.acked && nak < next {
				next = nak // the receiver saw a gap at nak: go back to it
			}
		}
		next = max(next, s.acked)
	}

	// End: the receiver answers the bye and writes nothing after it. The
	// bye of an open stream carries its size.
	var end []byte
	if s.open() {
		end = binary.LittleEndian.AppendUint64(nil, uint64(s.size))
	}
	idle = false
	for {
		if err := s.count(mw.write(msgBye, s.total, end), len(end)); err != nil {
			return err
		}
		for {
			woken, err := wait()
			if err != nil {
				return err
			}
			if !woken {
				break
			}
			_, _, _, _, bye, rerr := snapshot()
			if bye {
				s.done = true
				return nil
			}
			if rerr != nil {
				return rerr
			}
		}
	}
}

// advance records that the receiver holds every chunk below ack and
// releases those bytes from a Source that can take them back.
func (s *Sender) advance(ack uint64) {
	if ack <= s.acked {
		return
	}
	s.acked = ack
	s.ackedBytes.Store(s.Acked())
	if r, ok := s.src.(interface{ Release(int64) }); ok {
		r.Release(s.Acked())
	}
}

func (s *Sender) sendChunk(mw *msgWriter, seq uint64) error {
	off := int64(seq) * int64(s.cfg.ChunkSize)
	n := int(min(int64(s.cfg.ChunkSize), s.size-off))
	got, err := s.src.ReadAt(s.buf[:n], off)
	if got < n {
		return fmt.Errorf("migrate: stream %d: source read of chunk %d: %d of %d bytes: %w", s.stream, seq, got, n, err)
	}
	if seq < s.high {
		s.stats.Retransmits++
	} else {
		s.high = seq + 1
		s.sent.Store(s.high) // store-release: before the chunk goes, so its acknowledgement is accepted
	}
	s.stats.Chunks++
	return s.count(mw.write(msgData, seq, s.buf[:n]), n)
}

func (s *Sender) count(err error, payload int) error {
	if err == nil {
		s.stats.Bytes += int64(msgHeader + payload)
	}
	return err
}

func closeRW(rw io.ReadWriter) {
	if c, ok := rw.(io.Closer); ok {
		c.Close()
	}
}

// Receiver takes one stream from a Sender; see Sender for the protocol.
// It keeps what it received across connections: after a failure, Resume
// with the new connection the sender dialled.
//
// A Receiver is used by one goroutine at a time.
type Receiver struct {
	stream   uint64
	maxSize  int64
	size     int64
	chunk    int
	total    uint64 // chunks (of an open stream: at most)
	expected uint64 // next chunk wanted
	nakFor   uint64 // expected+1 when a NAK for it was sent, so one gap gets one NAK
	greeted  bool
	open     bool // the stream grows while it is sent: its end says its size
	short    bool // an open stream's short chunk arrived: it was the last
	done     bool
	data     []byte
	stats    TransferStats
	// onData, when set, is given the stream's bytes so far after each
	// chunk that adds to them (after its acknowledgement is written): the
	// slice is valid until the next call.
	onData func(data []byte)
}

// NewReceiver returns a Receiver for the stream named stream, of at most
// maxSize bytes.
func NewReceiver(stream uint64, maxSize int64) *Receiver {
	return &Receiver{stream: stream, maxSize: maxSize}
}

// Done reports whether every byte arrived and the sender ended the transfer.
func (r *Receiver) Done() bool { return r.done }

// Data returns the stream's bytes once Done (nil before).
func (r *Receiver) Data() []byte {
	if !r.done {
		return nil
	}
	return r.data
}

// Stats returns the counts so far.
func (r *Receiver) Stats() TransferStats { return r.stats }

// Receive serves the sender over rw until it ends the transfer (nil), the
// connection fails (ErrConnection: call Resume with the next one), the
// sender breaks the protocol (ErrProtocol) or ctx ends (rw is then closed
// if it is an io.Closer).
func (r *Receiver) Receive(ctx context.Context, rw io.ReadWriter) error { return r.run(ctx, rw) }

// Resume serves a new connection after Receive or Resume failed, or after
// the end if the sender missed the acknowledgement of it.
func (r *Receiver) Resume(ctx context.Context, rw io.ReadWriter) error { return r.run(ctx, rw) }

func (r *Receiver) run(ctx context.Context, rw io.ReadWriter) error {
	r.stats.Connections++
	stop := context.AfterFunc(ctx, func() { closeRW(rw) })
	defer stop()
	mr := msgReader{r: rw, max: MaxChunk}
	mw := msgWriter{w: rw, buf: make([]byte, 0, msgHeader+8)}
	reply := func(kind uint8, seq uint64, payload []byte) error {
		err := mw.write(kind, seq, payload)
		if err == nil {
			r.stats.Bytes += int64(msgHeader + len(payload))
		}
		return err
	}
	for {
		m, err := mr.read()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		switch m.kind {
		case msgHello:
			if err := r.greet(m); err != nil {
				return err
			}
			var p [8]byte
			binary.LittleEndian.PutUint64(p[:], r.stream)
			err = reply(msgHelloAck, r.expected, p[:])
		case msgData:
			err = r.chunkIn(m, reply)
		case msgBye:
			if err := r.end(m); err != nil {
				return err
			}
			if err := reply(msgByeAck, r.total, nil); err != nil {
				return err
			}
			r.done = true
			return nil
		default:
			return fmt.Errorf("migrate: stream %d: message kind %d from the sender: %w", r.stream, m.kind, ErrProtocol)
		}
		if err != nil {
			return err
		}
	}
}

// end checks the sender's end message: every chunk arrived (and, for an
// open stream, the size it gives is what arrived).
func (r *Receiver) end(m message) error {
	bad := !r.greeted || m.seq != r.expected
	switch {
	case bad:
	case r.open && len(m.payload) == 8:
		size := int64(binary.LittleEndian.Uint64(m.payload))
		bad = size != int64(len(r.data))
		if !bad {
			r.size, r.total = size, r.expected
		}
	default:
		bad = r.open || r.expected != r.total || len(m.payload) != 0
	}
	if bad {
		return fmt.Errorf("migrate: stream %d: end at chunk %d (%d bytes) of %d, %d received: %w",
			r.stream, m.seq, len(m.payload), r.total, r.expected, ErrProtocol)
	}
	return nil
}

func (r *Receiver) greet(m message) error {
	if len(m.payload) != helloLen {
		return fmt.Errorf("migrate: stream %d: greeting of %d bytes: %w", r.stream, len(m.payload), ErrProtocol)
	}
	le := binary.LittleEndian
	stream, size, chunk := le.Uint64(m.payload[0:]), int64(le.Uint64(m.payload[8:])), int(le.Uint32(m.payload[16:]))
	flags := le.Uint32(m.payload[20:])
	open := flags&helloOpen != 0
	switch {
	case stream != r.stream:
		return fmt.Errorf("migrate: greeting for stream %d, want %d: %w", stream, r.stream, ErrProtocol)
	case size < 0 || size > r.maxSize || chunk <= 0 || chunk > MaxChunk || flags&^helloOpen != 0 || open && size != 0:
		return fmt.Errorf("migrate: stream %d: greeting with size %d (max %d), chunk %d, flags %#x: %w",
			stream, size, r.maxSize, chunk, flags, ErrProtocol)
	case r.greeted && (size != r.size && !r.open || chunk != r.chunk || open != r.open):
		return fmt.Errorf("migrate: stream %d: resumed with size %d chunk %d open %v, was %d, %d and %v: %w",
			stream, size, chunk, open, r.size, r.chunk, r.open, ErrProtocol)
	}
	if !r.greeted {
		r.greeted, r.size, r.chunk, r.open = true, size, chunk, open
		if open {
			r.size = r.maxSize // at most
		}
		r.total = uint64((r.size + int64(chunk) - 1) / int64(chunk))
		r.data = make([]byte, 0, min(size, 64<<20))
	}
	return nil
}

func (r *Receiver) chunkIn(m message, reply func(uint8, uint64, []byte) error) error {
	if !r.greeted {
		return fmt.Errorf("migrate: stream %d: chunk %d before the greeting: %w", r.stream, m.seq, ErrProtocol)
	}
	if m.seq >= r.total {
		return fmt.Errorf("migrate: stream %d: chunk %d of %d: %w", r.stream, m.seq, r.total, ErrProtocol)
	}
	want := int(min(int64(r.chunk), r.size-int64(m.seq)*int64(r.chunk)))
	switch {
	case r.open && (len(m.payload) == 0 || len(m.payload) > want):
		return fmt.Errorf("migrate: stream %d: chunk %d of %d bytes, want at most %d: %w", r.stream, m.seq, len(m.payload), want, ErrProtocol)
	case !r.open && len(m.payload) != want:
		return fmt.Errorf("migrate: stream %d: chunk %d of %d bytes, want %d: %w", r.stream, m.seq, len(m.payload), want, ErrProtocol)
	}
	switch {
	case m.seq == r.expected:
		if r.short {
			return fmt.Errorf("migrate: stream %d: chunk %d after a short one: %w", r.stream, m.seq, ErrProtocol)
		}
		r.short = r.open && len(m.payload) < r.chunk
		r.data = append(r.data, m.payload...)
		r.expected++
		if err := reply(msgAck, r.expected, nil); err != nil {
			return err
		}
		if r.onData != nil {
			r.onData(r.data)
		}
		return nil
	case m.seq < r.expected:
		r.stats.Duplicates++
		return reply(msgAck, r.expected, nil)
	default:
		r.stats.OutOfOrder++
		if r.nakFor == r.expected+1 {
			return nil
		}
		r.nakFor = r.expected + 1
		r.stats.Naks++
		return reply(msgNak, r.expected, nil)
	}
}
