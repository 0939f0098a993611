package p2s

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/wire/ppp"
	"github.com/vnetgw/vnetgw/internal/wire/sstp"
)

// tappedConn keeps a copy of what is written to its connection: what
// vnetgw's client sends the gateway inside TLS.
type tappedConn struct {
	net.Conn
	mu  sync.Mutex
	out []byte
}

func (c *tappedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.out = append(c.out, p...)
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// ipv4Frames returns the payloads of the PPP frames of protocol IPv4
// written so far.
func (c *tappedConn) ipv4Frames(t *testing.T) [][]byte {
	t.Helper()
	c.mu.Lock()
	rd := bytes.NewReader(bytes.Clone(c.out))
	c.mu.Unlock()
	var out [][]byte
	var buf [sstp.MaxPacket]byte
	for rd.Len() > 0 {
		isControl, body, err := sstp.ReadPacket(rd, &buf)
		if err != nil {
			t.Fatal(err)
		}
		if proto, info, err := ppp.ParseFrame(body); !isControl && err == nil && proto == ppp.ProtoIPv4 {
			out = append(out, bytes.Clone(info))
		}
	}
	return out
}

// TestClientSendsIPv4OnlyRFC1332: what the client's device sends that is
// not IPv4 (a Linux TUN device sends IPv6 router solicitations and
// listener reports of its own once up) does not go to the gateway in
// PPP frames of IPv4 (protocol 0x0021, RFC 1332 §3: IPv4 datagrams), nor
// in any: the link negotiates IPCP alone, and IPv6 goes only over a link
// whose IPV6CP is open (RFC 5072 §3). Client.Send refuses it.
func TestClientSendsIPv4OnlyRFC1332(t *testing.T) {
	r := newRegion(t, Config{})
	raw, err := net.Dial("tcp", r.srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	tc := tls.Client(raw, &tls.Config{RootCAs: r.roots, ServerName: "gateway", MinVersion: tls.VersionTLS12})
	fmt.Fprintf(tc, "SSTP_DUPLEX_POST %s HTTP/1.1\r\nHost: gateway\r\nContent-Length: 18446744073709551615\r\n\r\n", sstpPath)
	br := bufio.NewReaderSize(tc, 8<<10)
	if err := readHTTPOK(br); err != nil {
		t.Fatal(err)
	}
	tap := &tappedConn{Conn: tc}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := startCall(ctx, ClientConfig{ServerName: "gateway", RootCAs: r.roots, Cert: r.pki.client, Logger: testLogger(t)}, tap, br, certHashOf(tc.ConnectionState()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	r.waitLinkUp(t, cl.Addr())

	// A router solicitation from the device's link-local address to
	// all routers (ff02::2), as Linux sends it.
	rs := []byte{0x60, 0, 0, 0, 0, 8, 58, 255,
		0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x56, 0x94, 0xc4, 0x0c, 0xd3, 0x2a, 0x60, 0xfb,
		0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
		133, 0, 0x7d, 0x37, 0, 0, 0, 0}
	cl.Forward(rs)
	if err := cl.Send(rs); err == nil {
		t.Error("Client.Send took an IPv6 packet")
	}
	// Then an IPv4 packet, which goes after it.
	cl.Forward(fromClient(cl.Addr(), 100, 1, false))
	var frames [][]byte
	untilTrue(t, "the IPv4 packet sent", func() bool {
		frames = tap.ipv4Frames(t)
		return len(frames) > 0 && frames[len(frames)-1][0]>>4 == 4
	})
	for _, f := range frames {
		if f[0]>>4 != 4 {
			t.Errorf("the client sent the gateway a PPP frame of IPv4 carrying IP version %d: % x", f[0]>>4, f[:min(len(f), 24)])
		}
	}
}
