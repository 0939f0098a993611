package etcdtest

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/vnetgw/vnetgw/internal/store/etcd"
)

// Proxy forwards TCP connections to an etcd member, for tests of what a
// client sees when the network between them fails: Cut (the member is
// gone), Drop (a blip: the connections close, new ones work), Freeze
// (the connections go silent, nothing closes them; new ones work),
// Isolate (nothing reaches the member, on any connection, new ones too,
// and nothing closes them; until Heal) or SetDelay (the member's answers
// come late).
type Proxy struct {
	// Addr is where clients connect (host:port).
	Addr string

	ln       net.Listener
	delay    atomic.Int64 // nanoseconds the member's answers are held
	isolated atomic.Bool
	mu       sync.Mutex // guards conns and frozen
	conns    []net.Conn
	frozen   map[net.Conn]bool
}

// NewProxy starts a proxy to e's client endpoint; it is cut when t ends.
func (e *Etcd) NewProxy(t *testing.T) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Addr: ln.Addr().String(), ln: ln, frozen: map[net.Conn]bool{}}
	t.Cleanup(p.Cut)
	to := strings.TrimPrefix(e.Endpoint, "http://")
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", to)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go p.pipe(u, c, c)
			go p.late(c, u, c)
		}
	}()
	return p
}

// pipe copies src to dst until src ends, dropping what comes while the
// connection key is frozen.
func (p *Proxy) pipe(dst, src, key net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			dst.Close()
			return
		}
		if p.passes(key) && !p.isolated.Load() {
			if _, err := dst.Write(buf[:n]); err != nil {
				src.Close()
				return
			}
		}
	}
}

// passes tells whether what comes on connection key goes on.
func (p *Proxy) passes(key net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.frozen[key]
}

// late is pipe for what the member sends: each piece goes on SetDelay
// after it came, unless the connection ends first (what it held is lost,
// and nothing waits out the delay).
func (p *Proxy) late(dst, src, key net.Conn) {
	type piece struct {
		at time.Time
		b  []byte
	}
	q := make(chan piece, 1024)
	ended := make(chan struct{})
	defer close(ended)
	go func() {
		for pc := range q {
			t := time.NewTimer(time.Until(pc.at))
			select {
			case <-ended:
				t.Stop()
				return
			case <-t.C:
			}
			if !p.passes(key) {
				continue
			}
			if _, err := dst.Write(pc.b); err != nil {
				src.Close()
				return
			}
		}
	}()
	defer close(q)
	for {
		buf := make([]byte, 32<<10)
		n, err := src.Read(buf)
		if err != nil {
			dst.Close()
			return
		}
		q <- piece{time.Now().Add(time.Duration(p.delay.Load())), buf[:n]}
	}
}

// SetDelay holds what the member sends for d before it goes on (a
// congested link, or a client too busy to read it).
func (p *Proxy) SetDelay(d time.Duration) { p.delay.Store(int64(d)) }

// Isolate drops whatever clients send from now on, on every connection
// and on those that come later, and closes none: the way to the member is
// gone, while what it sent before still arrives (late, with SetDelay).
func (p *Proxy) Isolate() { p.isolated.Store(true) }

// Heal ends Isolate: the connections so far close (what was dropped
// broke them), new ones go through.
func (p *Proxy) Heal() {
	p.isolated.Store(false)
	p.Drop()
}

// Client returns a client of the member through the proxy, closed when t
// ends.
func (p *Proxy) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	cli, err := etcd.Dial([]string{p.Addr}, nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// Cut closes the listener and every connection: the member is gone.
func (p *Proxy) Cut() {
	p.ln.Close()
	p.Drop()
}

// Drop closes the connections so far; new ones are taken.
func (p *Proxy) Drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// Freeze makes the connections so far silent: what either side sends is
// dropped, and nothing closes them (a host that lost power, a route
// gone). New connections work.
func (p *Proxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		p.frozen[c] = true
	}
	p.conns = nil
}
