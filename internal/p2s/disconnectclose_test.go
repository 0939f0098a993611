package p2s

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// A client the API disconnects while it sends is told (CALL_DISCONNECT),
// and its connection ends cleanly, in a FIN after the gateway's
// close_notify: closed with the client's packets unread, the gateway's
// end would go out as a TCP reset, which Windows' client takes for a
// network failure, and which drops what the gateway had not sent yet,
// the CALL_DISCONNECT among it ([MS-SSTP] §3.1.2.2: the peer waits for
// the CALL_DISCONNECT_ACK).
func TestDisconnectEndsWithoutReset(t *testing.T) {
	r := newRegion(t, Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ended := make(chan error, 1) // how the gateway's side of the TCP connection ended
	go func() {
		in, err := ln.Accept()
		if err != nil {
			return
		}
		defer in.Close()
		out, err := net.Dial("tcp", r.srv.Addr().String())
		if err != nil {
			ended <- err
			return
		}
		defer out.Close()
		go func() {
			io.Copy(out, in)
			out.(*net.TCPConn).CloseWrite()
		}()
		buf := make([]byte, 64<<10)
		for {
			n, err := out.Read(buf)
			if n > 0 {
				in.Write(buf[:n])
			}
			if err != nil {
				ended <- err
				in.(*net.TCPConn).CloseWrite()
				return
			}
		}
	}()
	c, _, err := r.dial(t, r.pki.client, func(cfg *ClientConfig) { cfg.Server = netip.MustParseAddrPort(ln.Addr().String()) })
	if err != nil {
		t.Fatal(err)
	}
	// The client sends as fast as it can, to an address the VNet does
	// not have: the gateway has some of it unread at any moment.
	pkt := make([]byte, 1400)
	pkt[0], pkt[8], pkt[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(pkt[2:], uint16(len(pkt)))
	src, dst := c.Addr().As4(), [4]byte{10, 1, 0, 99}
	copy(pkt[12:], src[:])
	copy(pkt[16:], dst[:])
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				c.Send(pkt)
			}
		}
	}()
	time.Sleep(100 * time.Millisecond)
	if !r.srv.Disconnect(ProtocolSSTP, c.Addr()) {
		t.Fatalf("Disconnect(%s) found no client", c.Addr())
	}
	select {
	case err := <-c.Done():
		if err == nil || !strings.Contains(err.Error(), "the gateway disconnected") {
			t.Fatalf("the client ended with %v, want the gateway's CALL_DISCONNECT", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the client is still connected 10 s after Disconnect")
	}
	select {
	case err := <-ended:
		if !errors.Is(err, io.EOF) {
			t.Fatalf("the gateway's side of the connection ended with %v, want a FIN (EOF), not a reset", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the gateway's side of the connection is still open 10 s after Disconnect")
	}
}
