// Package dnstest is a DNS server for tests: it answers A and AAAA
// questions over UDP from names the test sets and changes, and NXDOMAIN
// for the others.
package dnstest

import (
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// Server answers on a UDP socket until the test ends.
type Server struct {
	conn  net.PacketConn
	mu    sync.Mutex
	names map[string][]netip.Addr // lower case, without the final dot
	// hold is how many questions the answers wait for (Hold), held
	// the answers waiting.
	hold int
	held []heldAnswer
}

type heldAnswer struct {
	out  []byte
	from net.Addr
}

// Serve answers on conn, which it closes when the test ends.
func Serve(t testing.TB, conn net.PacketConn) *Server {
	s := &Server{conn: conn, names: map[string][]netip.Addr{}}
	done := make(chan struct{})
	t.Cleanup(func() {
		conn.Close()
		<-done
	})
	go func() {
		defer close(done)
		buf := make([]byte, 512)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			if out, ok := s.answer(buf[:n]); ok {
				for _, a := range s.release(heldAnswer{out, from}) {
					conn.WriteTo(a.out, a.from)
				}
			}
		}
	}()
	return s
}

// Hold has the server answer nothing until n questions have come, and
// then answer them all, as a name server that is slow (a zone whose
// servers are far or down) answers each a while later: a client that
// asks one name at a time is not answered.
func (s *Server) Hold(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hold = n
}

// release returns the answers to send now, a holding it.
func (s *Server) release(a heldAnswer) []heldAnswer {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hold == 0 {
		return []heldAnswer{a}
	}
	s.held = append(s.held, a)
	if len(s.held) < s.hold {
		return nil
	}
	out := s.held
	s.hold, s.held = 0, nil
	return out
}

// Addr is where the server listens (host:port).
func (s *Server) Addr() string { return s.conn.LocalAddr().String() }

// Set makes name stand for addrs; none makes it unknown.
func (s *Server) Set(name string, addrs ...netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if len(addrs) == 0 {
		delete(s.names, name)
		return
	}
	s.names[name] = addrs
}

// answer builds the response to one query.
func (s *Server) answer(query []byte) ([]byte, bool) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil || h.Response {
		return nil, false
	}
	q, err := p.Question()
	if err != nil {
		return nil, false
	}
	s.mu.Lock()
	addrs, known := s.names[strings.ToLower(strings.TrimSuffix(q.Name.String(), "."))]
	s.mu.Unlock()
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired}
	if !known {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	if b.StartQuestions() != nil || b.Question(q) != nil || b.StartAnswers() != nil {
		return nil, false
	}
	rr := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 1}
	for _, a := range addrs {
		switch {
		case q.Type == dnsmessage.TypeA && a.Is4():
			err = b.AResource(rr, dnsmessage.AResource{A: a.As4()})
		case q.Type == dnsmessage.TypeAAAA && a.Is6():
			err = b.AAAAResource(rr, dnsmessage.AAAAResource{AAAA: a.As16()})
		}
		if err != nil {
			return nil, false
		}
	}
	out, err := b.Finish()
	return out, err == nil
}
