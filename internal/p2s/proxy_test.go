package p2s

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// connectProxy is an HTTP proxy that takes CONNECT with the credentials
// user:password and joins the two connections, counting the tunnels it
// made.
type connectProxy struct {
	ln      net.Listener
	tunnels atomic.Int64
}

func startConnectProxy(t *testing.T) *connectProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &connectProxy{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *connectProxy) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	if req.Method != http.MethodConnect {
		io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
		return
	}
	// Basic dXNlcjpwYXNzd29yZA== is user:password.
	if req.Header.Get("Proxy-Authorization") != "Basic dXNlcjpwYXNzd29yZA==" {
		io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\nContent-Length: 0\r\n\r\n")
		return
	}
	up, err := net.Dial("tcp", req.Host)
	if err != nil {
		io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
		return
	}
	defer up.Close()
	p.tunnels.Add(1)
	io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
	go func() { io.Copy(up, br); up.Close() }()
	io.Copy(c, up)
}

// TestClientThroughProxy: SSTP is HTTPS, and goes through an HTTP proxy
// (R13): the client reaches the gateway with CONNECT, authenticates to
// the proxy, and carries traffic to the VNet; a proxy that refuses it
// says so in the error.
func TestClientThroughProxy(t *testing.T) {
	r := newRegion(t, Config{})
	p := startConnectProxy(t)
	good := &url.URL{Scheme: "http", Host: p.ln.Addr().String(), User: url.UserPassword("user", "password")}
	_, h, err := r.dial(t, r.pki.client, func(c *ClientConfig) { c.Proxy = good })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if body, err := h.HTTPGet(ctx, r.web); err != nil || !strings.Contains(body, "hello from web") {
		t.Fatalf("HTTP from a client behind the proxy: %q %v", body, err)
	}
	if n := p.tunnels.Load(); n != 1 {
		t.Errorf("the proxy made %d tunnels, want 1", n)
	}
	bad := &url.URL{Scheme: "http", Host: p.ln.Addr().String(), User: url.UserPassword("user", "wrong")}
	_, _, err = r.dial(t, r.pki.client, func(c *ClientConfig) { c.Proxy = bad })
	if err == nil || !strings.Contains(err.Error(), "407") || strings.Contains(err.Error(), "wrong") {
		t.Errorf("through a proxy that refuses the credentials: %v (want 407, without the password)", err)
	}
}

// TestProxyAnswerBounded: a proxy whose answer to CONNECT has a header
// without end (4 MiB and no newline) is refused once the answer passes
// 64 KiB, saying so, not read to its end into memory.
func TestProxyAnswerBounded(t *testing.T) {
	proxy := serveOne(t, func(c net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 Connection established\r\nVia: ")
		chunk := strings.Repeat("a", 64<<10)
		for range 64 { // 4 MiB, then the connection closes
			if _, err := io.WriteString(c, chunk); err != nil {
				return
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := dialGateway(ctx, ClientConfig{Server: netip.MustParseAddrPort("127.0.0.1:443"), Proxy: &url.URL{Scheme: "http", Host: proxy}})
	if err == nil || !strings.Contains(err.Error(), "longer than 65536 bytes") {
		t.Fatalf("through a proxy with an endless header: %v; want its answer refused as too long", err)
	}
}

// TestProxyWithoutPort: a proxy named without a port ($HTTPS_PROXY of
// http://proxy.example, which Go's HTTP client takes) is reached on port
// 80, http's default (RFC 9110 §4.2.1); the client dialled the name
// without a port and failed: "missing port in address".
func TestProxyWithoutPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.146.0.2:80")
	if err != nil {
		t.Skipf("port 80 of the loopback: %v", err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
			io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := dialGateway(ctx, ClientConfig{Server: netip.MustParseAddrPort("127.0.0.1:443"), Proxy: &url.URL{Scheme: "http", Host: "127.146.0.2"}})
	if err != nil {
		t.Fatalf("through a proxy named without a port: %v", err)
	}
	conn.Close()
}

// serveOne listens on loopback and hands the first connection to serve,
// closing it after; it returns the address.
func serveOne(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		serve(c)
	}()
	return ln.Addr().String()
}
