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

// TestEchoBoundsConnections: the built-in host's TCP echo holds at most
// maxEchoConns connections (64, fewer here); one more is closed at once,
// and a connection is taken again once one has gone. It took every
// connection and held each for a minute of idleness.
func TestEchoBoundsConnections(t *testing.T) {
	old := maxEchoConns
	maxEchoConns = 2
	t.Cleanup(func() { maxEchoConns = old })
	host, client := hostAndClient(t)
	first := dialHost(t, client, host, EchoPort)
	second := dialHost(t, client, host, EchoPort)
	if !echoes(first) || !echoes(second) {
		t.Fatal("the connections within the bound are not echoed")
	}
	third := dialHost(t, client, host, EchoPort)
	third.SetReadDeadline(time.Now().Add(20 * time.Second))
	if n, err := third.Read(make([]byte, 4)); err != io.EOF {
		t.Fatalf("connection over the bound: read %d octets (%v), want the echo's close (EOF)", n, err)
	}
	first.Close()
	// The first one's slot is free once the echo has seen its end.
	deadline := time.Now().Add(20 * time.Second)
	for !echoes(dialHost(t, client, host, EchoPort)) {
		if time.Now().After(deadline) {
			t.Fatal("no connection is echoed after one within the bound closed")
		}
		time.Sleep(10 * time.Millisecond)
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

// TestHTTPBoundsConnections: the built-in host's HTTP server on port 80
// holds at most maxEchoConns connections (64, fewer here), as its TCP echo
// does; one more is closed at once, and a connection is taken again once
// one has gone. It took every connection, each kept for a minute of
// idleness, so a client opening connections in a loop grew the host's
// goroutines and buffers without bound.
func TestHTTPBoundsConnections(t *testing.T) {
	old := maxHTTPConns
	maxHTTPConns = 2
	t.Cleanup(func() { maxHTTPConns = old })
	host, client := hostAndClient(t)
	first := dialHost(t, client, host, HTTPPort)
	second := dialHost(t, client, host, HTTPPort)
	if !serves(first) || !serves(second) {
		t.Fatal("the connections within the bound are not served")
	}
	third := dialHost(t, client, host, HTTPPort)
	if serves(third) {
		t.Fatal("a connection over the bound was served, want it closed")
	}
	first.Close()
	// The first one's slot is free once the server has seen its end.
	deadline := time.Now().Add(20 * time.Second)
	for !serves(dialHost(t, client, host, HTTPPort)) {
		if time.Now().After(deadline) {
			t.Fatal("no connection is served after one within the bound closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
