module github.com/ringkit/ringkit

go 1.25.0

require (
	github.com/anishathalye/porcupine v1.3.1
	github.com/google/gopacket v1.1.19
	go.uber.org/goleak v1.3.0
	golang.org/x/sys v0.44.0
)
