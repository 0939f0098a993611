package ikev2

import (
	"testing"
	"time"
)

// TestChildDeletedByPeerComesBack: the peer deletes the child SA of a
// route-based tunnel, not in a rekey (strongSwan's swanctl --terminate
// --child, a reload), and keeps the IKE SA. The gateway, which initiates,
// makes the pair again after ReconnectDelay, as a new connection makes
// them all: a route-based tunnel sends no Acquire, and carried nothing,
// the connection up, until its IKE SA ended. The responder-only end does
// not.
func TestChildDeletedByPeerComesBack(t *testing.T) {
	_, a, b := pair(t, nil, nil)
	waitUp(t, a, b, 1)
	gone := a.established()[0].Children[0]
	b.onLoop(func(c *conn) {
		sa := c.established()
		sa.enqueue(task{kind: taskDeleteChild, child: sa.childByIn(gone.OutSPI)})
		sa.kick()
	})
	waitFor(t, 5*time.Second, "a to take the peer's delete", func() bool { return a.dp.ended(gone.InSPI) })
	waitUp(t, a, b, 1)
	if back := a.established()[0].Children[0]; back.InSPI == gone.InSPI {
		t.Fatalf("the pair the peer deleted is still there: %+v", back)
	}
	checkKeys(t, a, b)

	// The other way: a deletes it; b, responder only, leaves it to a.
	gone = a.established()[0].Children[0]
	a.onLoop(func(c *conn) {
		sa := c.established()
		sa.enqueue(task{kind: taskDeleteChild, child: sa.childByIn(gone.InSPI)})
		sa.kick()
	})
	waitFor(t, 5*time.Second, "no pair on either side", func() bool { return a.dp.count() == 0 && b.dp.count() == 0 })
	time.Sleep(3 * a.peer.ReconnectDelay)
	if a.dp.count() != 0 || b.dp.count() != 0 {
		t.Errorf("after a deleted its pair, one came back: a %d, b %d", a.dp.count(), b.dp.count())
	}
}
