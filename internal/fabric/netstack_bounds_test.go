package fabric

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"
)

// hostAndClient starts a built-in host and a client stack beside it.
func hostAndClient(t *testing.T) (*NetstackHost, *NetstackHost) {
	t.Helper()
	r := NewRouter()
	hostAddr, clientAddr := netip.MustParseAddr("10.165.0.4"), netip.MustParseAddr("10.165.0.5")
	host, err := NewNetstackHost("host", hostAddr, 0, r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { host.Close() })
	client, err := NewNetstackEndpoint("client", clientAddr, 0, r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	r.SetRoutes([]Route{{netip.PrefixFrom(hostAddr, 32), host}, {netip.PrefixFrom(clientAddr, 32), client}})
	return host, client
}

func dialHost(t *testing.T, client, host *NetstackHost, port uint16) net.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, netip.AddrPortFrom(host.Addr(), port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// echoes reports whether c echoes a message back.
func echoes(c net.Conn) bool {
	if _, err := c.Write([]byte("ping")); err != nil {
		return false
	}
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	got := make([]byte, 4)
	_, err := io.ReadFull(c, got)
	return err == nil && string(got) == "ping"
}

// TestHTTPClosesIdleKeepAlive: the built-in host's HTTP server closes a
// keep-alive connection that has waited for its next request for its idle
// time (a minute, made shorter here). It kept such a connection for ever.
func TestHTTPClosesIdleKeepAlive(t *testing.T) {
	old := httpIdle
	httpIdle = time.Second
	t.Cleanup(func() { httpIdle = old })
	host, client := hostAndClient(t)
	c := dialHost(t, client, host, HTTPPort)
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: host\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("response %d %q (%v), close %v: want 200 on a kept-alive connection", resp.StatusCode, body, err, resp.Close)
	}
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if b, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("idle keep-alive connection: read %q (%v), want the server's close (EOF)", b, err)
	}
}

// serves reports whether c answers a request with 200, keeping the
// connection open.
func serves(c net.Conn) bool {
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: host\r\n\r\n"); err != nil {
		return false
	}
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, err = io.ReadAll(resp.Body)
	return err == nil && resp.StatusCode == http.StatusOK && !resp.Close
}

// TestBoundsConnections: the built-in host's TCP echo on port 7 and its
// HTTP server on port 80 each hold at most 64 connections at once
// (maxEchoConns, maxHTTPConns; 2 here); one more is closed at once, and a
// connection is taken again once one has gone. Each took every connection
// and held it for a minute of idleness, so a client opening connections in
// a loop grew the host's goroutines and buffers without bound.
func TestBoundsConnections(t *testing.T) {
	for _, tc := range []struct {
		name  string
		bound *int
		port  uint16
		works func(net.Conn) bool // the connection is echoed, or served
	}{
		{"echo", &maxEchoConns, EchoPort, echoes},
		{"HTTP", &maxHTTPConns, HTTPPort, serves},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := *tc.bound
			*tc.bound = 2
			t.Cleanup(func() { *tc.bound = old })
			host, client := hostAndClient(t)
			first := dialHost(t, client, host, tc.port)
			second := dialHost(t, client, host, tc.port)
			if !tc.works(first) || !tc.works(second) {
				t.Fatal("the connections within the bound are not answered")
			}
			if tc.works(dialHost(t, client, host, tc.port)) {
				t.Fatal("a connection over the bound was answered, want it closed")
			}
			first.Close()
			// The first one's slot is free once the host has seen its end.
			deadline := time.Now().Add(20 * time.Second)
			for !tc.works(dialHost(t, client, host, tc.port)) {
				if time.Now().After(deadline) {
					t.Fatal("no connection is answered after one within the bound closed")
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}
