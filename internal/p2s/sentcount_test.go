package p2s

import (
	"net"
	"testing"
	"time"
)

// untilTrue waits for cond, which the writer's goroutine makes true, and
// fails the test when it is not after half a minute: it never was.
func untilTrue(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for by := time.Now().Add(30 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(by) {
			t.Fatalf("never: %s", what)
		}
	}
}

// TestSentCountedWhenWritten: a client's bytes and packets out (the
// API's client list, P2SBandwidth) count what was written to it, not
// what was queued for it: packets the writer drops (the link went down
// meanwhile, an OpenVPN client without keys yet, a write that failed)
// are counted as dropped, not as sent.
func TestSentCountedWhenWritten(t *testing.T) {
	t.Run("SSTP", func(t *testing.T) {
		l := newLink(true, &recorder{}, nil, testLogger(t))
		l.up.Store(true)
		for range 3 {
			if err := l.SendIP(make([]byte, 100)); err != nil {
				t.Fatal(err)
			}
		}
		l.up.Store(false) // the peer renegotiates: the queued packets go nowhere
		quit := make(chan struct{})
		defer close(quit)
		go l.writer(quit)
		untilTrue(t, "3 packets counted dropped", func() bool { return l.dropped.Load() == 3 })
		if _, out, _, pout := l.traffic(); out != 0 || pout != 0 {
			t.Errorf("3 packets dropped by the writer counted as %d bytes, %d packets sent; want none", out, pout)
		}
		l.up.Store(true)
		if err := l.SendIP(make([]byte, 100)); err != nil {
			t.Fatal(err)
		}
		untilTrue(t, "a packet counted sent", func() bool { return l.packetsOut.Load() == 1 })
		if _, out, _, _ := l.traffic(); out != 100 {
			t.Errorf("a packet of 100 bytes written counted as %d bytes", out)
		}
	})
	t.Run("SSTP write fails", func(t *testing.T) {
		a, b := net.Pipe()
		b.Close()
		l := newLink(true, a, nil, testLogger(t))
		l.up.Store(true)
		if err := l.SendIP(make([]byte, 100)); err != nil {
			t.Fatal(err)
		}
		quit := make(chan struct{})
		defer close(quit)
		go l.writer(quit)
		untilTrue(t, "the packet counted dropped", func() bool { return l.dropped.Load() == 1 })
		if _, out, _, pout := l.traffic(); out != 0 || pout != 0 {
			t.Errorf("a packet whose write failed counted as %d bytes, %d packets sent; want none", out, pout)
		}
	})
	t.Run("OpenVPN without keys", func(t *testing.T) {
		o := &ovpnSession{log: testLogger(t), conn: &recorder{}, outQueue: newOutQueue()}
		o.authed.Store(true)
		if err := o.SendIP(make([]byte, 100)); err != nil {
			t.Fatal(err)
		}
		quit := make(chan struct{})
		defer close(quit)
		go o.writer(quit)
		untilTrue(t, "the packet counted dropped", func() bool { return o.dropped.Load() == 1 })
		if _, out, _, pout := o.traffic(); out != 0 || pout != 0 {
			t.Errorf("a packet dropped for want of keys counted as %d bytes, %d packets sent; want none", out, pout)
		}
	})
}
