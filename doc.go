// Package ringkit is the root of the ringkit module: bounded lock-free rings
// (package ring) and the packet-processing building blocks made from them.
// It holds no code of its own; its tests check the module as a whole: the
// floor plan (which package may import which, floorplan_test.go) and the
// README's snippets (readme_test.go).
//
// The floor plan, from the ground up; a package imports only packages on
// floors below its own:
//
//	examples/NAME          thin mains
//	examples/internal/...  what the examples share (metrics export, ...)
//	pipeline               the main job's engine: wires every stage below
//	migrate                circuit, journal, transfer, replay, destination
//	tcpip                  the VM's TCP/IPv4 endpoint on a port
//	nicsim, linuxport      ports: the in-memory NIC; real Linux interfaces
//	port classify sched jobring
//	                       the port interface; parsing and rules; scheduling; job slots
//	frame                  building, checksumming, verifying frames
//	descriptor             packet handles, pool, RX/TX descriptor rings
//	ring                   SPSC/MPSC/SPMC/MPMC
//	internal/...           the ground: pad, wait, stress (imports no public package)
package ringkit
