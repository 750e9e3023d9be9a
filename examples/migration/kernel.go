package main

import (
	"flag"
	"time"
)

// The -kernel mode (kernel_linux.go): the VM's peers are the Linux
// kernel's own TCP, in a network namespace the program makes.
var (
	kernelFlag = flag.Bool("kernel", false, "the VM's peers are the Linux kernel's TCP (plain sockets) in a network namespace the program makes and removes; needs root")
	dirFlag    = flag.String("dir", "", "with -role=dest -kernel: the directory of the source's sockets (set by the source)")
)

// kernelOptions are main's flags as the -kernel mode uses them.
type kernelOptions struct {
	sessions  int           // connections: half dialed by the kernel to the VM, half by the VM to the kernel
	rate      int           // bytes per second each side sends on each connection
	hold      time.Duration // the suspension before the journal is sealed
	run       time.Duration // streaming before and after the migration
	journal   int           // journal capacity in bytes
	dir       string        // the source's socket directory (destination only)
	streamLen int           // bytes each way on each connection
}
