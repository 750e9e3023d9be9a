package nicsim_test

import (
	"fmt"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/nicsim"
)

// A NIC with two queues receives 100 generated frames of 10 flows; RSS
// spreads them over the queues; the driver receives and frees them. Step
// drives the NIC, so the run is deterministic.
func ExampleNIC() {
	pool, _ := descriptor.NewPool(descriptor.PoolConfig{Buffers: 1024})
	nic, err := nicsim.New(nicsim.Config{Pool: pool, Queues: 2, Rx: descriptor.RxConfig{Descs: 128}})
	if err != nil {
		panic(err)
	}
	port := nic.Port(0)
	gen, _ := nicsim.NewGenerator(nicsim.GenConfig{Flows: 10, Count: 100})
	port.Attach(gen)

	var burst [32]descriptor.Packet
	for {
		moved, _ := nic.Step()
		for q := range port.Queues() {
			n := port.RxRing(q).Receive(burst[:])
			_ = port.RxRing(q).Free(burst[:n])
		}
		if moved == 0 {
			break
		}
	}
	st := port.Stats()
	fmt.Println("received:", st.Total.RxPackets, "missed:", st.Total.RxMissed)
	fmt.Println("both queues used:", st.Queues[0].RxPackets > 0 && st.Queues[1].RxPackets > 0)
	// Output:
	// received: 100 missed: 0
	// both queues used: true
}
