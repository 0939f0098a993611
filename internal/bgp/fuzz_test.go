package bgp

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	wire "github.com/vnetgw/vnetgw/internal/wire/bgp"
)

// streamConn is a peer's TCP connection that sends a fixed stream and
// takes every write; its deadlines are ignored, its end is the stream's.
type streamConn struct{ r *bytes.Reader }

func (c streamConn) Read(p []byte) (int, error)     { return c.r.Read(p) }
func (streamConn) Write(p []byte) (int, error)      { return len(p), nil }
func (streamConn) Close() error                     { return nil }
func (streamConn) LocalAddr() net.Addr              { return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 179} }
func (streamConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 2), Port: 40000} }
func (streamConn) SetDeadline(time.Time) error      { return nil }
func (streamConn) SetReadDeadline(time.Time) error  { return nil }
func (streamConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzSession feeds arbitrary bytes to a speaker as what its peer sends
// on an accepted connection: after a valid OPEN and KEEPALIVE (the first
// octet even), or from the start (odd). It must never panic, never hold
// more routes of the peer than MaxPrefixes, and the peer's routes go
// when its session ends (RFC 4271 §8.2.2).
func FuzzSession(f *testing.F) {
	peerAddr := netip.MustParseAddr("192.0.2.2")
	msg := func(t wire.Type, body []byte) []byte { return mustAppend(wire.AppendMessage(nil, t, body)) }
	open := msg(wire.TypeOpen, wire.Open{AS: 65002, HoldTime: 30, ID: peerAddr, IPv4Unicast: true, FourOctetAS: true}.Append(nil))
	up := append(open, msg(wire.TypeKeepalive, nil)...)
	update := msg(wire.TypeUpdate, mustAppend(wire.Update{Origin: wire.OriginIGP, ASPath: []wire.Segment{{ASNs: []uint32{65002}}},
		NextHop: peerAddr, NLRI: pfxs("10.2.0.0/16", "192.168.7.0/24")}.Append(nil, true)))
	withdraw := msg(wire.TypeUpdate, mustAppend(wire.Update{Withdrawn: pfxs("10.2.0.0/16")}.Append(nil, true)))
	f.Add(append([]byte{0}, update...))
	f.Add(append([]byte{0}, append(update, withdraw...)...))
	f.Add(append([]byte{0}, msg(wire.TypeRouteRefresh, []byte{0, 1, 0, 1})...))
	f.Add(append([]byte{0}, msg(wire.TypeNotification, wire.Notification{Code: wire.CodeCease, Subcode: 2}.Append(nil))...))
	f.Add(append([]byte{1}, append(up, update...)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		stream := data[1:]
		if data[0]&1 == 0 {
			stream = append(bytes.Clone(up), stream...)
		}
		var s *Speaker
		var most atomic.Int64 // the most routes of the peer held after a change
		s = New(Options{Logger: slog.New(slog.DiscardHandler), ConnectRetry: time.Hour,
			Dial: func(context.Context, netip.Addr, netip.AddrPort) (net.Conn, error) {
				return nil, errors.New("no dials here")
			},
			OnChange: func() {
				if n := int64(len(s.Learned())); n > most.Load() {
					most.Store(n)
				}
			}})
		defer s.Close()
		s.Reconfig(Config{AS: 65515, ID: netip.MustParseAddr("192.0.2.1"), Networks: pfxs("10.1.0.0/16"),
			Peers: []Peer{{Name: "b", Addr: peerAddr, AS: 65002}}})
		s.mu.Lock()
		p := s.peers[peerAddr]
		s.mu.Unlock()
		// As Serve does with the peer's connection; its end is the
		// stream's.
		p.session(streamConn{r: bytes.NewReader(stream)}, false)
		if seen := most.Load(); seen > MaxPrefixes {
			t.Fatalf("the speaker held %d routes of one peer", seen)
		}
		if l := s.Learned(); len(l) != 0 {
			t.Fatalf("%d routes of a session that ended, such as %v", len(l), l[0])
		}
	})
}
