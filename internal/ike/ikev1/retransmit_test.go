package ikev1

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/ipsec"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev1"
)

// TestLostHash3AfterOtherExchange: the initiator's HASH(3) is lost, and
// before the responder sends message 2 again the initiator answers
// another quick mode the peer started. The retransmitted message 2 still
// gets HASH(3) again, so that the responder installs the child the
// initiator already sends with.
func TestLostHash3AfterOtherExchange(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, nil)
	shuttle(mi, mr, ri, rr, nil)
	ri.mu.Lock()
	oldI := ri.children[0].In.SPI
	ri.mu.Unlock()
	rr.mu.Lock()
	oldR := rr.children[0].In.SPI
	rr.mu.Unlock()
	// Both rekey the child at once: quick mode a (ours) and b (the
	// peer's) run side by side.
	mi.SoftExpired("i", oldI)
	mr.SoftExpired("r", oldR)
	quickOf := func(r *recorder) (msg []byte, from, to netip.AddrPort) {
		t.Helper()
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			msgs, f, to := r.take()
			for i := range msgs {
				if msgs[i][18] == wire.ExchangeQuick {
					return msgs[i], f[i], to[i]
				}
			}
		}
		t.Fatal("no quick mode message")
		return nil, netip.AddrPort{}, netip.AddrPort{}
	}
	a1, a1f, a1t := quickOf(ri)
	b1, b1f, b1t := quickOf(rr)
	mr.handle(a1t, a1f, a1)
	a2, a2f, a2t := quickOf(rr)
	mi.handle(a2t, a2f, a2) // the initiator installs a's child
	quickOf(ri)             // HASH(3) of a: lost
	mi.handle(b1t, b1f, b1) // the initiator answers b
	ri.mu.Lock()
	var newOut uint32
	for _, c := range ri.children {
		if c.In.SPI != oldI {
			newOut = c.Out.SPI // a's child: the SPI the responder must install
		}
	}
	ri.mu.Unlock()
	// Everything else is carried; the responder sends a's message 2 again.
	for end := time.Now().Add(6 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		x, xf, xt := ri.take()
		y, yf, yt := rr.take()
		for i := range x {
			mr.handle(xt[i], xf[i], x[i])
		}
		for i := range y {
			mi.handle(yt[i], yf[i], y[i])
		}
		rr.mu.Lock()
		done := slices.ContainsFunc(rr.children, func(c ipsec.Child) bool { return c.In.SPI == newOut })
		rr.mu.Unlock()
		if done {
			return
		}
	}
	t.Errorf("the responder never installed the child whose HASH(3) was lost (inbound %08x): the initiator sends with it into nothing; %+v", newOut, mr.Stats())
}
