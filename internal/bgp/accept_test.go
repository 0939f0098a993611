package bgp

import (
	"net"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/logbuf"
	wire "github.com/vnetgw/vnetgw/internal/wire/bgp"
)

// failingListener fails its first fails Accepts with EMFILE, as a node
// out of file descriptors does, then accepts.
type failingListener struct {
	net.Listener
	fails atomic.Int32
}

func (l *failingListener) Accept() (net.Conn, error) {
	if l.fails.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// TestAcceptErrorsPass: a failed Accept (EMFILE, ECONNABORTED: the
// node's trouble of the moment) does not end the speaker's accepts; the
// peer's next connection is taken, and the errors are logged once, not
// each.
func TestAcceptErrorsPass(t *testing.T) {
	var log logbuf.Buffer
	a, b := netip.MustParseAddr("127.82.1.1"), netip.MustParseAddr("127.82.1.2")
	fl := &failingListener{}
	fl.fails.Store(5)
	n, port := loggedRawSpeaker(t, a, b, 65002, &log, func(l net.Listener) net.Listener { fl.Listener = l; return fl })
	p := dialRaw(t, n, b, port)
	p.expect(wire.TypeUpdate) // the speaker's network
	if got := strings.Count(log.String(), "accept failed"); got != 1 {
		t.Errorf("5 failed accepts logged %d times:\n%s", got, log.String())
	}
}

// TestCloseEndsFailingAccepts: a listener whose Accept keeps failing holds
// up no Close (the speaker's accepts wait between tries, and stop there).
func TestCloseEndsFailingAccepts(t *testing.T) {
	l, err := net.Listen("tcp", "127.82.2.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fl := &failingListener{Listener: l}
	fl.fails.Store(1 << 30)
	s := New(Options{})
	s.Serve(fl)
	for deadline := time.Now().Add(10 * time.Second); fl.fails.Load() > 1<<30-3; {
		if time.Now().After(deadline) {
			t.Fatal("Accept not tried again after it failed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close waits on a listener whose Accept keeps failing")
	}
}
