package udp

import (
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

// TestKernelPathMTUAfterCloseLeavesOtherSocketsAlone: KernelPathMTU looks
// its endpoint up without the Transport's lock, so a call that found the
// endpoint just before Close (CloseSockets while the tick loop's
// LearnPathMTUs or an AddChild reads a path MTU) goes on with its probe
// after Close closed the probe's descriptor. By then the number may be
// another socket's: the probe must not connect that socket (a RADIUS
// client's, say, which would then send to the ESP peer) nor read its MTU.
func TestKernelPathMTUAfterCloseLeavesOtherSocketsAlone(t *testing.T) {
	tr := New(Config{})
	local, err := tr.ListenNATT(lo0, newRecorder())
	if err != nil {
		t.Fatal(err)
	}
	ep := (*tr.eps.Load())[local] // what KernelPathMTU looked up before Close
	p := ep.probe
	stale := p.fd
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}

	// Another part of the process opens sockets; one takes the number.
	var victim = -1
	var opened []int
	defer func() {
		for _, fd := range opened {
			unix.Close(fd)
		}
	}()
	for range 16 {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		opened = append(opened, fd)
		if fd == stale {
			victim = fd
			break
		}
	}
	if victim < 0 {
		t.Skip("the probe's descriptor number was not reused")
	}

	remote := netip.MustParseAddrPort("127.0.0.9:4500")
	if _, err := p.pathMTU(remote); err == nil {
		t.Error("a closed probe read a path MTU")
	}
	if sa, err := unix.Getpeername(victim); err == nil {
		t.Fatalf("the closed probe connected another socket, which took its descriptor number, to %v", sa.(*unix.SockaddrInet4).Addr)
	}
}
