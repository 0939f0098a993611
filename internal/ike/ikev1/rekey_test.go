package ikev1

import (
	"slices"
	"testing"
	"time"

	wire "github.com/vnetgw/vnetgw/internal/wire/ikev1"
)

// TestRekeyKeepsOldInbound: after a quick mode rekey the initiator keeps
// the old child's inbound SA while the peer may still send with it (until
// HASH(3) reaches it, later when HASH(3) is lost), so that no packet of
// the peer's is dropped; the old child goes, with a Delete, a while after.
func TestRekeyKeepsOldInbound(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, nil)
	shuttle(mi, mr, ri, rr, nil)
	ri.mu.Lock()
	if len(ri.children) != 1 {
		ri.mu.Unlock()
		t.Fatalf("initiator has %d children, want 1", len(ri.children))
	}
	old := ri.children[0].In.SPI
	ri.mu.Unlock()

	mi.SoftExpired("i", old)
	// Carry the rekey, losing the initiator's HASH(3): the responder has
	// not installed the new pair and still sends with the old one.
	fromI, fromR := 0, 0
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		a, af, at := ri.take()
		b, bf, bt := rr.take()
		for i := range a {
			if a[i][18] == wire.ExchangeQuick {
				if fromI++; fromI == 2 {
					continue // HASH(3) lost
				}
			}
			mr.handle(at[i], af[i], a[i])
		}
		for i := range b {
			if b[i][18] == wire.ExchangeQuick {
				if fromR++; fromR > 1 {
					continue // the responder's retransmissions of message 2 come later
				}
			}
			mi.handle(bt[i], bf[i], b[i])
		}
		ri.mu.Lock()
		n := len(ri.children)
		ri.mu.Unlock()
		if fromI >= 2 && n == 2 {
			break
		}
	}
	ri.mu.Lock()
	removed, n := slices.Contains(ri.removed, old), len(ri.children)
	ri.mu.Unlock()
	rr.mu.Lock()
	nr := len(rr.children)
	rr.mu.Unlock()
	if n != 2 || nr != 1 {
		t.Fatalf("rekey not carried as planned: initiator installed %d children, responder %d", n, nr)
	}
	if removed {
		t.Fatal("the initiator removed the old inbound SA as it installed the new pair, before the peer (which has not got HASH(3)) stopped sending with it")
	}
	if st := mi.Status(); len(st) != 1 || len(st[0].IKESAs) == 0 || len(st[0].IKESAs[0].Children) != 1 {
		t.Errorf("status after the rekey: %+v, want the new child only", st)
	}

	// Later the old pair goes, and the peer is told.
	ri.take()
	mi.mu.Lock()
	mi.timers(time.Now().Add(time.Minute))
	mi.mu.Unlock()
	ri.mu.Lock()
	removed = slices.Contains(ri.removed, old)
	ri.mu.Unlock()
	infos := 0
	msgs, _, _ := ri.take()
	for _, m := range msgs {
		if m[18] == wire.ExchangeInfo {
			infos++
		}
	}
	if !removed || infos == 0 {
		t.Errorf("a minute after the rekey: old inbound SA removed %v, %d informational messages (Delete) sent", removed, infos)
	}
}
