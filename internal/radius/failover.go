package radius

import (
	"net/netip"
	"sync"
	"time"
)

// Failover is a gateway's memory of its RADIUS servers: which answered,
// and which were found dead. A server is found dead when a request's
// tries at it are out unanswered and it has not shown it is alive: it
// never answered this gateway, or was found dead before and has not
// answered since, or it answered before but nothing, to any of the
// gateway's requests, for Live since the request was sent (as
// FreeRADIUS's zombie_period for a home server that answered before).
// Until then a request waits for it alone: a live server may hold its
// answer while the user approves a second factor (NPS with the MFA
// extension), and the same login sent to the next server too would
// prompt the user again. A server found dead is passed over for the next, and asked
// after the others by every request of the gateway for Dead, so that
// each login does not wait out its tries first (RFC 3539 §3.4's
// failover: later requests go to the next server; as FreeRADIUS's dead
// home servers and NPS's unavailable ones); then it is asked in its
// place again (failback), and passed over once its tries are out
// while it has not answered. It is alive again as soon as it answers
// (asked when the others did not). It holds one entry per server
// address asked. The zero value knows no server; a nil one remembers
// nothing (every server is passed over once its tries are out).
type Failover struct {
	mu      sync.Mutex // guards servers
	servers map[netip.AddrPort]health
}

// health is what a Failover knows of a server.
type health struct {
	heard time.Time // its last answer; zero: none
	dead  time.Time // when it was found dead; zero: never, or it answered since
}

// Dead is how long a server found dead is asked after the others.
var Dead = 30 * time.Second

// Live is how long a server that answered before, and was not found
// dead since, is waited for while it answers nothing before it is found
// dead: time for a user's second factor (Azure asks for a RADIUS
// timeout of 30 to 60 s with MFA), within Wait, which leaves the next
// server the rest.
var Live = 30 * time.Second

// order returns servers, the ones not found dead within Dead first,
// each part in its order.
func (f *Failover) order(servers []Server) []Server {
	if f == nil {
		return servers
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	alive := make([]Server, 0, len(servers))
	var dead []Server
	for _, s := range servers {
		if h := f.servers[s.Addr]; !h.dead.IsZero() && time.Since(h.dead) < Dead {
			dead = append(dead, s)
		} else {
			alive = append(alive, s)
		}
	}
	return append(alive, dead...)
}

// silentFor returns how much longer s, asked at sent and its tries out
// unanswered, is waited for before it is found dead; 0: it is dead now
// (it has not shown it is alive, or another request found it dead).
func (f *Failover) silentFor(s Server, sent time.Time) time.Duration {
	if f == nil {
		return 0
	}
	f.mu.Lock()
	h := f.servers[s.Addr]
	f.mu.Unlock()
	if h.heard.IsZero() || !h.dead.IsZero() {
		return 0
	}
	quiet := sent // since when s has answered nothing
	if h.heard.After(quiet) {
		quiet = h.heard
	}
	return max(time.Until(quiet.Add(Live)), 0)
}

// down remembers s as found dead now.
func (f *Failover) down(s Server) {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.servers == nil {
		f.servers = map[netip.AddrPort]health{}
	}
	h := f.servers[s.Addr]
	h.dead = time.Now()
	f.servers[s.Addr] = h
}

// up remembers s as alive: it answered now.
func (f *Failover) up(s Server) {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.servers == nil {
		f.servers = map[netip.AddrPort]health{}
	}
	f.servers[s.Addr] = health{heard: time.Now()}
}
