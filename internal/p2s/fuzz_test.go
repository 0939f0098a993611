package p2s

import (
	"bufio"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/wire/ppp"
)

// discard is a connection that takes every write and has nothing to read.
type discard struct{ net.Conn }

func (discard) Write(p []byte) (int, error)      { return len(p), nil }
func (discard) SetWriteDeadline(time.Time) error { return nil }
func (discard) SetReadDeadline(time.Time) error  { return nil }
func (discard) Close() error                     { return nil }

// FuzzServerPPP feeds arbitrary PPP frames to a server's link, as a client
// could send them after SSTP is up: no panic, and no IP packet reaches
// the VNet before the client authenticated.
func FuzzServerPPP(f *testing.F) {
	f.Add(ppp.AppendFrame(nil, ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfReq, ID: 1, Data: ppp.AppendOptions(nil, []ppp.Option{{Type: ppp.OptMagic, Value: []byte{1, 2, 3, 4}}})}.Append(nil)))
	f.Add(ppp.AppendFrame(nil, ppp.ProtoEAP, ppp.EAP{Code: ppp.EAPResponse, ID: 2, Type: ppp.TypeIdentity, Data: []byte("alice")}.Append(nil)))
	f.Add(ppp.AppendFrame(nil, ppp.ProtoIPCP, ppp.Packet{Code: ppp.ConfReq, ID: 3, Data: ppp.AppendOptions(nil, []ppp.Option{{Type: ppp.OptIPAddress, Value: []byte{0, 0, 0, 0}}})}.Append(nil)))
	f.Add(ppp.AppendFrame(nil, ppp.ProtoIPv4, make([]byte, 40)))
	f.Fuzz(func(t *testing.T, data []byte) {
		l := newLink(true, discard{}, nil, testLogger(t))
		l.srv = &Server{}
		l.peer = netip.MustParseAddr("172.16.201.2")
		delivered := false
		l.onIP = func([]byte) { delivered = true }
		for len(data) > 0 {
			n := min(len(data), 1+int(data[0])%200)
			proto, info, err := ppp.ParseFrame(data[:n])
			data = data[n:]
			if err != nil {
				continue
			}
			if l.handlePPP(proto, info) != nil {
				return
			}
		}
		if delivered {
			t.Fatal("an IP packet went to the VNet before the client authenticated")
		}
	})
}

// FuzzSSTPRequest: the HTTP request that opens SSTP is read within bounds.
func FuzzSSTPRequest(f *testing.F) {
	f.Add("SSTP_DUPLEX_POST " + sstpPath + " HTTP/1.1\r\nHost: gw\r\nContent-Length: 18446744073709551615\r\n\r\n")
	f.Add("GET / HTTP/1.1\r\n\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		err := readSSTPRequest(bufio.NewReader(strings.NewReader(s)))
		if err == nil && !strings.HasPrefix(s, "SSTP_DUPLEX_POST ") {
			t.Fatalf("accepted %q", s)
		}
	})
}
