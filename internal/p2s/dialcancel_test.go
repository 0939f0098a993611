package p2s

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// TestDialCanceledWhileGatewayStalls: Dial without a deadline returns
// once its context is canceled (vnetgw p2s connect's Ctrl-C), also while
// it waits for an answer that never comes: a gateway that takes the TLS
// handshake and never answers the SSTP HTTP request, a proxy that never
// answers CONNECT.
func TestDialCanceledWhileGatewayStalls(t *testing.T) {
	pki := newPKI(t)
	roots := x509.NewCertPool()
	roots.AddCert(pki.root.Certificate)
	for _, tc := range []struct {
		name   string
		listen func() (net.Listener, error)
		cfg    func(addr netip.AddrPort) ClientConfig
	}{
		{"gateway", func() (net.Listener, error) {
			return tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pki.server}})
		}, func(addr netip.AddrPort) ClientConfig {
			return ClientConfig{Server: addr}
		}},
		{"proxy", func() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }, func(addr netip.AddrPort) ClientConfig {
			return ClientConfig{Server: netip.MustParseAddrPort("127.0.0.1:9"), Proxy: &url.URL{Scheme: "http", Host: addr.String()}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := tc.listen()
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			asked := make(chan struct{})
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				// Reads the request to its end, answers nothing, and
				// holds the connection until the client closes it.
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					if strings.TrimSpace(line) == "" {
						break
					}
				}
				close(asked)
				br.ReadByte()
			}()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cfg := tc.cfg(netip.MustParseAddrPort(ln.Addr().String()))
			cfg.ServerName, cfg.RootCAs, cfg.Cert, cfg.Logger = "gateway", roots, pki.client, testLogger(t)
			ended := make(chan error, 1)
			go func() {
				_, err := Dial(ctx, cfg)
				ended <- err
			}()
			select {
			case <-asked:
			case err := <-ended:
				t.Fatalf("Dial ended before its request was read: %v", err)
			}
			cancel()
			select {
			case err := <-ended:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Dial canceled: %v; want context.Canceled", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Dial did not return when its context was canceled")
			}
		})
	}
}

// TestDialGatewayThatDoesNotAnswer: Dial without a deadline gives up on
// a gateway that does not answer, as one whose kernel takes connections
// for a hung process: one that never takes the TLS handshake, and one
// that never answers the SSTP HTTP request, each after the setup's
// timeout (30 s; here shortened), saying so, rather than waiting for ever
// (and vnetgw p2s connect --reconnect with it); and one that answers the
// request but never brings the call up, after the call's timeout (the
// gateway's own limit, 2 minutes; here shortened): Dial waited for its
// hello timer to find such a gateway silent, and one that answered
// echoes held it for ever.
func TestDialGatewayThatDoesNotAnswer(t *testing.T) {
	pki := newPKI(t)
	roots := x509.NewCertPool()
	roots.AddCert(pki.root.Certificate)
	tlsListen := func() (net.Listener, error) {
		return tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pki.server}})
	}
	timedOut := func(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }
	for _, tc := range []struct {
		name   string
		listen func() (net.Listener, error)
		serve  bool   // accept and read (TLS), else leave the connection in the backlog
		answer string // what it writes once it has accepted
		want   func(error) bool
	}{
		{"handshake", func() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }, false, "", timedOut},
		{"HTTP", tlsListen, true, "", timedOut},
		{"call", tlsListen, true, "HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\n",
			func(err error) bool { return err != nil && strings.Contains(err.Error(), "did not bring the call up") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := tc.listen()
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			if tc.serve {
				go func() {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					defer c.Close()
					c.Write([]byte(tc.answer))
					io.Copy(io.Discard, c) // the handshake, the requests; no answer
				}()
			}
			cfg := ClientConfig{Server: netip.MustParseAddrPort(ln.Addr().String()), ServerName: "gateway", RootCAs: roots, Cert: pki.client, Logger: testLogger(t),
				setupTimeout: 200 * time.Millisecond, callTimeout: 300 * time.Millisecond}
			ended := make(chan error, 1)
			go func() {
				_, err := Dial(context.Background(), cfg)
				ended <- err
			}()
			select {
			case err := <-ended:
				if !tc.want(err) {
					t.Errorf("Dial: %v; want it to give up, saying why", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("Dial still waits for a gateway that does not answer")
			}
		})
	}
}

// TestDialProxyThatDoesNotAnswer: Dial without a deadline gives up on an
// HTTP proxy that takes the connection and never answers CONNECT (a hung
// one) after the setup's timeout (30 s; here shortened), saying so, as
// on a gateway that does not answer: it waited for ever, and vnetgw p2s
// connect --reconnect with it, never trying again.
func TestDialProxyThatDoesNotAnswer(t *testing.T) {
	proxy := serveOne(t, func(c net.Conn) {
		io.Copy(io.Discard, c) // the CONNECT; no answer
	})
	cfg := ClientConfig{Server: netip.MustParseAddrPort("127.0.0.1:9"), Proxy: &url.URL{Scheme: "http", Host: proxy},
		ServerName: "gateway", Logger: testLogger(t), setupTimeout: 200 * time.Millisecond}
	ended := make(chan error, 1)
	go func() {
		_, err := Dial(context.Background(), cfg)
		ended <- err
	}()
	select {
	case err := <-ended:
		if !errors.Is(err, os.ErrDeadlineExceeded) || !strings.Contains(err.Error(), "proxy") {
			t.Errorf("Dial: %v; want it to give up on the proxy, saying why", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Dial still waits for a proxy that does not answer CONNECT")
	}
}
