// Package netns is the test bed of ringkit's Linux ports: network
// namespaces made and removed in code, veth pairs between them, addresses,
// neighbours and link counters, all through netlink (never by running or
// parsing `ip`). The Linux ports' tests, the pipeline's -netns mode and the
// migration's -kernel mode build their networks with it.
//
// A namespace made by New is anonymous: it is held only by the NS's file
// descriptor (and by threads inside it), so it and every link in it
// vanish when Close releases the descriptor, and nothing is left behind
// even if the process is killed. Addresses are only ever put on links
// inside such namespaces, and the namespaces have no route out: nothing
// made here reaches or touches an interface of the machine's own
// namespace.
//
// A goroutine that works inside a namespace must hold its OS thread while
// it is switched there (runtime.LockOSThread); Do runs a function that way
// and switches the thread back before it unlocks it (a thread that cannot
// be switched back stays locked and is never used again), so no other
// goroutine is ever scheduled onto a thread left in the wrong namespace.
// Sockets and devices opened inside stay in the namespace wherever they
// are used later.
//
//	a, _ := netns.New("a")
//	defer a.Close()
//	b, _ := netns.New("b")
//	defer b.Close()
//	_ = netns.AddVeth(a, "va", b, "vb", netns.VethConfig{})
//	_ = a.Do(func() error { /* open a socket on "va" */ return nil })
//
// The package builds on every platform; outside Linux every function
// returns an error wrapping ErrUnsupported.
package netns
