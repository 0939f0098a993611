package p2s

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/logbuf"
	"github.com/vnetgw/vnetgw/internal/wire/sstp"
)

// relay joins one client's TCP connection to the gateway's, to tell how
// each side's ended: a FIN (io.EOF) or a reset. What the gateway sends is
// held for hold first (0: passed on at once), as on a slow path.
type relay struct {
	addr netip.AddrPort
	hold atomic.Int64 // a time.Duration
	// clientEnd and gatewayEnd deliver how the client's side and the
	// gateway's ended, once both have.
	clientEnd, gatewayEnd chan error
}

// relaySide is one of a relay's connections, and whether a write to it
// met a reset.
type relaySide struct {
	net.Conn
	reset atomic.Bool
}

func startRelay(t *testing.T, gateway netip.AddrPort) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	p := &relay{addr: netip.MustParseAddrPort(ln.Addr().String()), clientEnd: make(chan error, 1), gatewayEnd: make(chan error, 1)}
	go func() {
		in, err := ln.Accept()
		if err != nil {
			return
		}
		defer in.Close()
		out, err := net.Dial("tcp", gateway.String())
		if err != nil {
			p.gatewayEnd <- err
			return
		}
		defer out.Close()
		client, gw := &relaySide{Conn: in}, &relaySide{Conn: out}
		var wg sync.WaitGroup
		var clientErr error
		wg.Go(func() {
			clientErr = pump(gw, client, nil)
			out.(*net.TCPConn).CloseWrite()
		})
		gatewayErr := pump(client, gw, &p.hold)
		in.(*net.TCPConn).CloseWrite()
		wg.Wait()
		p.clientEnd <- sideEnd(client, clientErr)
		p.gatewayEnd <- sideEnd(gw, gatewayErr)
	}()
	return p
}

// dialRelayed connects r's client, through a relay to r's gateway
// (startRelay), and returns both.
func (r *region) dialRelayed(t *testing.T) (*Client, *relay) {
	t.Helper()
	p := startRelay(t, r.srv.Addr())
	c, _, err := r.dial(t, r.pki.client, func(cfg *ClientConfig) { cfg.Server = p.addr })
	if err != nil {
		t.Fatal(err)
	}
	return c, p
}

// pump copies src to dst, each read held for hold first (nil: not),
// until src ends, and returns the error that ended it.
func pump(dst, src *relaySide, hold *atomic.Int64) error {
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if hold != nil {
				time.Sleep(time.Duration(hold.Load()))
			}
			if _, err := dst.Write(buf[:n]); errors.Is(err, syscall.ECONNRESET) {
				dst.reset.Store(true)
			}
		}
		if err != nil {
			return err
		}
	}
}

// sideEnd is how s ended, its reads having ended in err: a reset also
// when a write to it met the reset (Linux tells it once, to the call that
// comes first, and the read then sees an end, io.EOF). A reset after the
// side's FIN (the answer to what was written after it) is no reset here:
// Linux tells it as EPIPE.
func sideEnd(s *relaySide, err error) error {
	if s.reset.Load() {
		return fmt.Errorf("a write met a reset (%w); the read: %v", syscall.ECONNRESET, err)
	}
	return err
}

// flood has c send as fast as it can, to an address the VNet does not
// have, until the test ends: the gateway has some of it unread at any
// moment.
func flood(t *testing.T, c *Client) {
	pkt := make([]byte, 1400)
	pkt[0], pkt[8], pkt[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(pkt[2:], uint16(len(pkt)))
	src, dst := c.Addr().As4(), [4]byte{10, 1, 0, 99}
	copy(pkt[12:], src[:])
	copy(pkt[16:], dst[:])
	stop := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() {
		close(stop)
		wg.Wait()
	})
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				c.Send(pkt)
			}
		}
	})
}

// A client the API disconnects while it sends is told (CALL_DISCONNECT),
// and its connection ends cleanly, in a FIN after the gateway's
// close_notify: closed with the client's packets unread, the gateway's
// end would go out as a TCP reset, which Windows' client takes for a
// network failure, and which drops what the gateway had not sent yet,
// the CALL_DISCONNECT among it ([MS-SSTP] §3.1.2.2: the peer waits for
// the CALL_DISCONNECT_ACK).
func TestDisconnectEndsWithoutReset(t *testing.T) {
	r := newRegion(t, Config{})
	c, p := r.dialRelayed(t)
	flood(t, c)
	time.Sleep(100 * time.Millisecond)
	if !r.srv.Disconnect(ProtocolSSTP, c.Addr()) {
		t.Fatalf("Disconnect(%s) found no client", c.Addr())
	}
	disconnectedCleanly(t, c, p, "the client")
}

// disconnectedCleanly fails the test unless client c (what names it) was
// told it is disconnected (CALL_DISCONNECT) and the gateway's side of its
// connection, through p, ended in a FIN, not a reset, within 10 s.
func disconnectedCleanly(t *testing.T, c *Client, p *relay, what string) {
	t.Helper()
	select {
	case err := <-c.Done():
		if err == nil || !strings.Contains(err.Error(), "the gateway disconnected") {
			t.Errorf("%s ended with %v, want the gateway's CALL_DISCONNECT", what, err)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("%s is still connected 10 s on", what)
		return
	}
	select {
	case err := <-p.gatewayEnd:
		if !errors.Is(err, io.EOF) {
			t.Errorf("the gateway's side of %s's connection ended with %v, want a FIN (EOF), not a reset", what, err)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("the gateway's side of %s's connection is still open 10 s on", what)
	}
}

// TestReplacedConnectionDisconnected: a client's stale connection, whose
// place and address its new one takes (reserve: the pool's last address,
// a laptop after sleep), is disconnected as the API disconnects a client:
// told (CALL_DISCONNECT), its CALL_DISCONNECT_ACK waited for, then ended
// in close_notify and a FIN, whatever it still sends ([MS-SSTP]
// §3.1.2.2). It was closed at once, untold, the client's packets unread:
// a TCP reset.
func TestReplacedConnectionDisconnected(t *testing.T) {
	var log logbuf.Buffer
	r := newRegion(t, Config{Pool: netip.MustParsePrefix("172.16.201.0/30"), // one client address: .2
		Logger: slog.New(slog.NewTextHandler(&log, nil))})
	stale, p := r.dialRelayed(t)
	flood(t, stale)
	time.Sleep(100 * time.Millisecond)
	if _, _, err := r.dial(t, r.pki.client); err != nil {
		t.Fatalf("the client connecting again: %v", err)
	}
	disconnectedCleanly(t, stale, p, "the stale connection's client")
	// The address is the new connection's: the log does not say that
	// client disconnected.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(log.String(), "replaced connection ended") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	out := log.String()
	if !strings.Contains(out, "replaced connection ended") {
		t.Errorf("the replaced connection's end is not logged:\n%s", out)
	}
	if strings.Contains(out, "point-to-site client disconnected") {
		t.Errorf("the log says the connected client disconnected:\n%s", out)
	}
}

// TestServerCloseDisconnectsClients: Server.Close disconnects its SSTP
// clients as the API does ([MS-SSTP] §3.1.2.2): each is told
// (CALL_DISCONNECT), its CALL_DISCONNECT_ACK waited for, then its
// connection ended in close_notify and a FIN, whatever it still sends.
// They are disconnected all at once: Close returns within the disconnect
// timers however many do not answer, sooner when they answer, and leaves
// none of the gateway's goroutines running. It closed their connections,
// untold, their packets unread: TCP resets.
func TestServerCloseDisconnectsClients(t *testing.T) {
	bound := disconnectTimer1 + disconnectTimer2 + time.Second
	for _, tc := range []struct {
		name string
		hold time.Duration // what the gateway sends after Close is held for; 0: the clients send on meanwhile
	}{
		{"clients answer", 0},
		{"clients silent", 7 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRegion(t, Config{})
			var cs []*Client
			var ps []*relay
			for range 3 {
				c, p := r.dialRelayed(t)
				if p.hold.Store(int64(tc.hold)); tc.hold == 0 {
					flood(t, c)
				}
				cs, ps = append(cs, c), append(ps, p)
			}
			time.Sleep(100 * time.Millisecond)
			start := time.Now()
			r.srv.Close()
			took := time.Since(start)
			t.Logf("Close took %v", took)
			for _, p := range ps {
				p.hold.Store(0) // what the relays read next, the clients' ends
			}
			if took > bound {
				t.Errorf("Close took %v with %d clients, more than the disconnect timers (%v)", took, len(cs), bound)
			}
			if g := serverGoroutines(); g != "" {
				t.Errorf("the gateway's goroutines run on after Close returned:\n%s", g)
			}
			if tc.hold > 0 {
				if took < disconnectTimer1 {
					t.Errorf("Close returned after %v, without waiting for the clients' CALL_DISCONNECT_ACK (%v)", took, disconnectTimer1)
				}
				return
			}
			if took >= disconnectTimer1 {
				t.Errorf("Close took %v though the clients answered: it waited for the timers", took)
			}
			for i, c := range cs {
				disconnectedCleanly(t, c, ps[i], fmt.Sprintf("client %d", i+1))
			}
		})
	}
}

// serverGoroutines returns the stacks of the goroutines (of this process)
// that run a Server's code, or "".
func serverGoroutines() string {
	buf := make([]byte, 1<<22)
	var found []string
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "p2s.(*Server).") || strings.Contains(g, "p2s.(*link).shutdown(") {
			found = append(found, g)
		}
	}
	return strings.Join(found, "\n\n")
}

// TestClientCloseMSSSTP3_1_2_2: vnetgw's client, closed, sends
// CALL_DISCONNECT and waits for the gateway's CALL_DISCONNECT_ACK
// (TIMER_VAL_DISCONNECT_STATE_TIMER_1, 5 s) before it ends the
// connection ([MS-SSTP] §3.1.2.2, §3.2.4.2: the HTTPS layer is brought
// down after the exchange), in close_notify and a FIN: it closed the
// connection right after its CALL_DISCONNECT, and the gateway's answer
// met a closed socket (a TCP reset). The gateway has let the client's
// address go by the time Close returns; a gateway that does not answer
// holds Close for the timers, no longer.
func TestClientCloseMSSSTP3_1_2_2(t *testing.T) {
	for _, tc := range []struct {
		name string
		hold time.Duration // what the gateway sends after Close is held for
	}{
		{"gateway answers", 300 * time.Millisecond},
		{"gateway silent", 10 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRegion(t, Config{})
			c, p := r.dialRelayed(t)
			p.hold.Store(int64(tc.hold))
			start := time.Now()
			c.Close()
			took := time.Since(start)
			if bound := disconnectTimer1 + disconnectTimer2 + time.Second; took > bound {
				t.Fatalf("Close took %v, more than the disconnect timers (%v)", took, bound)
			}
			if tc.hold > disconnectTimer1 {
				return
			}
			if took < tc.hold {
				t.Fatalf("Close returned after %v, before the gateway's CALL_DISCONNECT_ACK could come (%v)", took, tc.hold)
			}
			if took >= disconnectTimer1 {
				t.Fatalf("Close took %v: it did not take the gateway's CALL_DISCONNECT_ACK", took)
			}
			if cs := r.srv.Clients(); len(cs) != 0 {
				t.Errorf("the gateway still lists %v after Close returned", cs)
			}
			select {
			case err := <-p.clientEnd:
				if !errors.Is(err, io.EOF) {
					t.Errorf("the client's side of the connection ended with %v, want a FIN (EOF), not a reset", err)
				}
			case <-time.After(5 * time.Second):
				t.Error("the client's side of the connection is still open 5 s after Close returned")
			}
		})
	}
}

// TestAbortEndsWithoutReset: a client that goes on sending after the
// gateway's CALL_ABORT (its PPP does not know yet) meets no TCP reset
// when the abort timers ([MS-SSTP] §3.1.2.1) have run out: the gateway
// sends close_notify and reads the client's data until the client's end,
// a second (and drainMax bytes) at most; it closed with the data unread,
// a reset. The client's packets are the smallest, which the gateway
// reads slower than the client sends them: some are unread at any
// moment.
func TestAbortEndsWithoutReset(t *testing.T) {
	r := newRegion(t, Config{})
	p := startRelay(t, r.srv.Addr())
	x := dialRaw(t, p.addr)
	// A message of a type SSTP 1.0 does not have: the gateway aborts the
	// call.
	x.c.Write(sstp.AppendControl(nil, sstp.Control{Type: 0x42}))
	pkt := sstp.AppendData(nil, []byte{0xff})
	var batch []byte
	for len(batch) < 64<<10 {
		batch = append(batch, pkt...)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				if _, err := x.c.Write(batch); err != nil {
					return
				}
			}
		}
	})
	var buf [sstp.MaxPacket]byte
	for {
		x.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		isControl, body, err := sstp.ReadPacket(x.r, &buf)
		if err != nil {
			break // the gateway's end
		}
		if c, err := sstp.ParseControl(body); isControl && err == nil && c.Type == sstp.MsgCallAbort {
			// Answered, as a client does (§3.2.5.3.4): the gateway waits
			// TIMER_VAL_ABORT_STATE_TIMER_2 then, 1 s.
			x.c.Write(sstp.AppendControl(nil, sstp.Control{Type: sstp.MsgCallAbort}))
		}
	}
	close(stop)
	wg.Wait()
	x.c.Close()
	select {
	case err := <-p.gatewayEnd:
		if !errors.Is(err, io.EOF) {
			t.Fatalf("the gateway's side of the connection ended with %v, want a FIN (EOF), not a reset", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the gateway's side of the connection is still open")
	}
}
