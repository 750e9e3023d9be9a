module github.com/ringkit/ringkit

go 1.26.0

require (
	github.com/anishathalye/porcupine v1.3.1
	github.com/google/gopacket v1.1.19
	go.uber.org/goleak v1.3.0
	golang.org/x/sys v0.50.0
)

require (
	github.com/cilium/ebpf v0.22.0
	github.com/vishvananda/netlink v1.3.1
	github.com/vishvananda/netns v0.0.5
	golang.org/x/term v0.48.0
)
