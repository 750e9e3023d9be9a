// Package pcap reads and writes classic libpcap capture files, and makes
// them a port: a capture replayed as the frames a port receives, and the
// frames a port transmits written to a capture.
//
// The format is the classic one (not pcapng): a 24-byte file header, then
// for each frame a 16-byte record header and the bytes kept. Reader reads
// both byte orders and both microsecond and nanosecond files; Writer writes
// a Header as given, so a capture read and written again with its own
// Header and records is the same bytes.
//
//	r, _ := pcap.NewReader(f)
//	for {
//		rec, err := r.Next()
//		if err == io.EOF { break }
//		...
//	}
//
// Replay is a port.Source: it hands out a capture's frames, paced by their
// timestamps or as fast as they are taken. Port is a port.Port whose
// receive side is a Source and whose transmit side is a Writer; each frame
// it transmits from a buffer it received keeps the time the frame had in
// the replayed capture, so replaying a capture through a port that sends
// back what it receives writes the capture again, byte for byte.
package pcap
