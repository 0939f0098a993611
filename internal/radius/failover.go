package radius

import (
	"net/netip"
	"sync"
	"time"
)

// Failover is a gateway's memory of its RADIUS servers that did not
// answer: one passed over (none of its tries answered: its host may be
// down) or that could not be asked is dead for Dead, and meanwhile asked
// after the others by every request of the gateway, so that each login
// does not wait out its tries first (RFC 3539 §3.4's failover: later
// requests go to the next server; as FreeRADIUS's dead home servers and
// NPS's unavailable ones). It is alive again once Dead is over (failback)
// or as soon as it answers (asked when the others did not). The zero
// value knows none dead; a nil one remembers nothing.
type Failover struct {
	mu   sync.Mutex                   // guards dead
	dead map[netip.AddrPort]time.Time // a server's address → when it was found dead
}

// Dead is how long a server that did not answer is asked after the
// others.
var Dead = 30 * time.Second

// order returns servers, the ones alive first, each part in its order.
func (f *Failover) order(servers []Server) []Server {
	if f == nil {
		return servers
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for a, at := range f.dead {
		if time.Since(at) >= Dead {
			delete(f.dead, a)
		}
	}
	if len(f.dead) == 0 {
		return servers
	}
	alive := make([]Server, 0, len(servers))
	var dead []Server
	for _, s := range servers {
		if _, ok := f.dead[s.Addr]; ok {
			dead = append(dead, s)
		} else {
			alive = append(alive, s)
		}
	}
	return append(alive, dead...)
}

// down remembers s as dead from now.
func (f *Failover) down(s Server) {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dead == nil {
		f.dead = map[netip.AddrPort]time.Time{}
	}
	f.dead[s.Addr] = time.Now()
}

// up remembers s as alive: it answered.
func (f *Failover) up(s Server) {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.dead, s.Addr)
}
