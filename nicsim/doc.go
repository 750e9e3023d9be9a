// Package nicsim is an in-memory network card, the hardware every other
// ringkit package runs against.
//
// A NIC has ports; each port has RX/TX queue pairs, each a
// descriptor.RxRing and descriptor.TxRing whose NIC side nicsim plays and
// whose driver side belongs to one driver goroutine per queue. A frame
// arriving at a port is parsed (classify.Parse), hashed with the port's
// RSS key (classify's Toeplitz over addresses and ports, as a NIC does) and
// sent through a redirection table (128 entries by default) to an RX
// queue; the NIC then "DMA-copies" it into the buffer of the next
// descriptor it owns and sets the done stamp (RxRing.NICPlace). A frame
// that finds no descriptor is counted as missed; one that is too short or
// too long, as an error.
//
// Frames come from a Generator (or any port.Source) attached to the port (constant rate,
// bursts, size mixes such as IMIX, many flows, IPv4 and IPv6, TCP and UDP,
// DSCP mixes; built with valid checksums), from the wire of a port it is
// Connected to (what one port transmits, the other receives), or from a
// direct call of Port.Receive. The transmit side fetches what drivers post
// to their TxRings, sends it onto the wire and completes it.
//
// Counters per queue cover packets and bytes received and transmitted,
// missed frames, errors and failed refills; links go up and down; queues
// can be stopped (the NIC lets go of their rings), given new rings
// (SetRings, for a queue whose driver moves) and started again.
//
// Each Port is a port.Port, so the pipeline and the TCP endpoint run on it
// as on a real Linux interface. A NIC's engine runs as every long-running
// part of ringkit does: Run on a goroutine the caller owns, until its
// context ends or Close; or Step, one round, no goroutine and no clock,
// which makes tests deterministic. A port's own Step and Run drive that
// port alone. New refuses, with ErrConfig, a NIC whose rings and buffers
// would take more than Config.MaxBytes (DefaultMaxBytes, 1 GiB).
//
//	pool, _ := descriptor.NewPool(descriptor.PoolConfig{Buffers: 8192})
//	nic, _ := nicsim.New(nicsim.Config{Pool: pool, Queues: 4})
//	gen, _ := nicsim.NewGenerator(nicsim.GenConfig{Flows: 1000, Sizes: nicsim.IMIX})
//	nic.Port(0).Attach(gen)
//	go nic.Run(ctx)
//	defer nic.Close() // after the drivers stopped: every buffer back in the pool
//
//	// one goroutine per queue q:
//	rx := nic.Port(0).RxRing(q)
//	var burst [32]descriptor.Packet
//	n := rx.Receive(burst[:])
//	// ... use pool.Bytes(burst[i]) ...
//	rx.Free(burst[:n])
package nicsim
