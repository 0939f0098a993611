package udp

import (
	"bytes"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	espwire "github.com/vnetgw/vnetgw/internal/wire/esp"
)

// recorder collects what a Transport delivers.
type recorder struct {
	mu  sync.Mutex // guards ike and esp
	ike [][]byte
	esp [][]byte
	ch  chan struct{}
}

func newRecorder() *recorder { return &recorder{ch: make(chan struct{}, 1024)} }

func (r *recorder) IKE(_, _ netip.AddrPort, msg []byte) {
	r.mu.Lock()
	r.ike = append(r.ike, bytes.Clone(msg))
	r.mu.Unlock()
	r.ch <- struct{}{}
}

func (r *recorder) HandleESP(_ netip.AddrPort, msgs []Message) {
	r.mu.Lock()
	for _, m := range msgs {
		r.esp = append(r.esp, bytes.Clone(m.Buf[:m.N]))
	}
	r.mu.Unlock()
	for range msgs {
		r.ch <- struct{}{}
	}
}

func (r *recorder) wait(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-r.ch:
		case <-time.After(5 * time.Second):
			t.Fatal("timed out waiting for a delivery")
		}
	}
}

func (r *recorder) got() (ike, esp [][]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ike, r.esp
}

var lo0 = netip.MustParseAddrPort("127.0.0.1:0")

// TestTransportDemuxRFC3948Section2 sends each kind of payload to a NAT-T
// endpoint and to an IKE endpoint and checks where it goes.
func TestTransportDemuxRFC3948Section2(t *testing.T) {
	ike := append(espwire.AppendNonESPMarker(nil), bytes.Repeat([]byte{0x11}, 28)...)
	// An IKE_SA_INIT header whose initiator's SPI, eight bytes, begins
	// with four zero bytes: valid (RFC 7296 §3.1 forbids only an SPI of
	// zero), and its Length says it is all of the message.
	zeroHigh := []byte{0, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 33, 0x20, 34, 0x08, 0, 0, 0, 0, 0, 0, 0, 28}
	esp := append([]byte{0, 0, 0x10, 0x01, 0, 0, 0, 1}, bytes.Repeat([]byte{0xee}, 40)...)
	tests := []struct {
		name      string
		natt      bool
		in        []byte
		wantIKE   []byte
		wantESP   []byte
		wantDrops Drops
	}{
		{name: "2.2 ike after non-esp marker", natt: true, in: ike, wantIKE: ike[4:]},
		{name: "2.3 keepalive", natt: true, in: []byte{0xff}, wantIKE: []byte{0xff}},
		{name: "2.1 esp", natt: true, in: esp, wantESP: esp},
		// The ESP handler counts them where a user sees them.
		{name: "2.1 esp shorter than its header", natt: true, in: esp[:6], wantESP: esp[:6]},
		{name: "2.1 esp of one byte not a keepalive", natt: true, in: []byte{0xfe}, wantESP: []byte{0xfe}},
		{name: "2.1 esp shorter than a marker", natt: true, in: esp[2:5], wantESP: esp[2:5]},
		{name: "2.2 marker alone", natt: true, in: ike[:4], wantDrops: Drops{Malformed: 1}},
		{name: "empty", natt: true, in: []byte{}, wantDrops: Drops{Malformed: 1}},
		{name: "port 500 ike as is", in: ike[4:], wantIKE: ike[4:]},
		{name: "port 500 esp-looking payload is ike", in: esp, wantIKE: esp},
		// strongSwan speaks NAT-T's framing at once to an IKE port other
		// than 500 (from its port 4500, marker and all).
		{name: "ike port, ike after a marker", in: ike, wantIKE: ike[4:]},
		{name: "ike port, ike whose spi begins with zero bytes", in: zeroHigh, wantIKE: zeroHigh},
		{name: "ike port, that ike after a marker", in: append(espwire.AppendNonESPMarker(nil), zeroHigh...), wantIKE: zeroHigh},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRecorder()
			tr := New(Config{IKE: r.IKE})
			defer tr.Close()
			listen := tr.ListenIKE
			if tt.natt {
				listen = func(l netip.AddrPort) (netip.AddrPort, error) { return tr.ListenNATT(l, r) }
			}
			local, err := listen(lo0)
			if err != nil {
				t.Fatal(err)
			}
			src, err := Listen(lo0)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			// A known-good IKE message follows, so that a dropped payload
			// is seen to be dropped and not merely late.
			probe := []byte("probe-ike-message-at-least-28-bytes")
			if tt.natt {
				probe = append(espwire.AppendNonESPMarker(nil), probe...)
			}
			for _, b := range [][]byte{tt.in, probe} {
				if err := src.WriteBatch([]Message{{Buf: b, Addr: local}}); err != nil {
					t.Fatal(err)
				}
			}
			want := 1
			if tt.wantIKE != nil || tt.wantESP != nil {
				want = 2
			}
			r.wait(t, want)
			gotIKE, gotESP := r.got()
			if tt.wantIKE != nil && (len(gotIKE) != 2 || !bytes.Equal(gotIKE[0], tt.wantIKE)) {
				t.Errorf("ike handler got %x, want %x", gotIKE, tt.wantIKE)
			}
			if tt.wantESP != nil && (len(gotESP) != 1 || !bytes.Equal(gotESP[0], tt.wantESP)) {
				t.Errorf("esp handler got %x, want %x", gotESP, tt.wantESP)
			}
			if tt.wantIKE == nil && tt.wantESP == nil && (len(gotIKE) != 1 || len(gotESP) != 0) {
				t.Errorf("handlers got ike %x esp %x, want only the probe", gotIKE, gotESP)
			}
			if got := tr.Stats().Drops; got != tt.wantDrops {
				t.Errorf("drops %+v, want %+v", got, tt.wantDrops)
			}
		})
	}
}

func TestTransportESPWithoutHandler(t *testing.T) {
	r := newRecorder()
	tr := New(Config{IKE: r.IKE})
	defer tr.Close()
	local, err := tr.ListenNATT(lo0, nil)
	if err != nil {
		t.Fatal(err)
	}
	src, _ := Listen(lo0)
	defer src.Close()
	src.WriteBatch([]Message{{Buf: []byte{1, 2, 3, 4, 0, 0, 0, 1}, Addr: local}})
	src.WriteBatch([]Message{{Buf: []byte{0xff}, Addr: local}})
	r.wait(t, 1)
	if s := tr.Stats(); s.Drops.NoHandler != 1 || s.Keepalives != 1 {
		t.Fatalf("stats %+v, want one NoHandler drop and one keepalive", s)
	}
}

// TestSendIKERFC3948Section2_2 checks that SendIKE adds the non-ESP marker
// on the NAT-T path only.
func TestSendIKERFC3948Section2_2(t *testing.T) {
	msg := bytes.Repeat([]byte{0x22}, 30)
	tests := []struct {
		name       string
		natt       bool
		remotePort uint16 // 0: an ephemeral port
		wantMarker bool
	}{
		{name: "from port 500", wantMarker: false},
		{name: "from the nat-t port", natt: true, wantMarker: true},
		{name: "from port 500 to remote port 4500", remotePort: espwire.Port, wantMarker: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := New(Config{})
			defer tr.Close()
			var local netip.AddrPort
			var err error
			if tt.natt {
				local, err = tr.ListenNATT(lo0, nil)
			} else {
				local, err = tr.ListenIKE(lo0)
			}
			if err != nil {
				t.Fatal(err)
			}
			dstAddr := lo0
			if tt.remotePort != 0 {
				// An address of its own, so that port 4500 is free.
				dstAddr = netip.MustParseAddrPort("127.77.0.1:4500")
			}
			dst, err := Listen(dstAddr)
			if err != nil {
				t.Fatal(err)
			}
			defer dst.Close()
			remote := dst.LocalAddr()
			if err := tr.SendIKE(local, remote, msg); err != nil {
				t.Fatal(err)
			}
			got := readAll(t, dst, newMsgs(1, 100), 1)[0]
			want := msg
			if tt.wantMarker {
				want = append(espwire.AppendNonESPMarker(nil), msg...)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("sent %x, want %x", got, want)
			}
		})
	}
}

func TestSendIKENoEndpoint(t *testing.T) {
	tr := New(Config{})
	defer tr.Close()
	if err := tr.SendIKE(netip.MustParseAddrPort("127.0.0.1:500"), netip.MustParseAddrPort("127.0.0.2:500"), []byte("x")); err == nil {
		t.Fatal("SendIKE from an address not listened on succeeded")
	}
}

// TestKeepalivesRFC3948Section2_3 asks for keepalives on one path and
// checks that single 0xFF bytes arrive, and stop when no longer asked for.
func TestKeepalivesRFC3948Section2_3(t *testing.T) {
	r := newRecorder()
	peer := New(Config{IKE: r.IKE})
	defer peer.Close()
	remote, err := peer.ListenNATT(lo0, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := New(Config{KeepaliveInterval: 20 * time.Millisecond})
	defer tr.Close()
	local, err := tr.ListenNATT(lo0, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr.SetKeepalives([]Path{{Local: local, Remote: remote}})
	r.wait(t, 2)
	gotIKE, _ := r.got()
	if !bytes.Equal(gotIKE[0], []byte{espwire.Keepalive}) {
		t.Fatalf("got %x, want ff", gotIKE[0])
	}
	tr.SetKeepalives(nil)
	time.Sleep(50 * time.Millisecond) // let a tick in flight land
	before := peer.Stats().Keepalives
	time.Sleep(100 * time.Millisecond)
	if after := peer.Stats().Keepalives; after != before {
		t.Fatalf("%d keepalives after they were turned off", after-before)
	}
	if s := tr.Stats(); s.KeepalivesSent < 2 {
		t.Fatalf("KeepalivesSent = %d", s.KeepalivesSent)
	}
}

// TestKeepaliveOnIKEPort: a NAT-keepalive that comes to the IKE port
// (not the NAT-T port, where RFC 3948 §2.3 has it) is counted as a
// keepalive, not as an IKE message, and handed on as the NAT-T port's
// are.
func TestKeepaliveOnIKEPort(t *testing.T) {
	r := newRecorder()
	tr := New(Config{IKE: r.IKE})
	defer tr.Close()
	local, err := tr.ListenIKE(lo0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(local))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte{espwire.Keepalive}); err != nil {
		t.Fatal(err)
	}
	r.wait(t, 1)
	if got, _ := r.got(); !bytes.Equal(got[0], []byte{espwire.Keepalive}) {
		t.Errorf("handed on %x, want ff", got[0])
	}
	if s := tr.Stats(); s.Keepalives != 1 || s.IKE != 0 {
		t.Errorf("counted as %d keepalives and %d IKE messages, want 1 keepalive", s.Keepalives, s.IKE)
	}
}

func TestTransportClose(t *testing.T) {
	before := runtime.NumGoroutine()
	tr := New(Config{})
	local, err := tr.ListenNATT(lo0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := tr.Offloads(local); !ok {
		t.Fatal("Offloads: endpoint not found")
	}
	if _, err := tr.ListenIKE(lo0); err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tr.WriteBatch(local, []Message{{Buf: []byte{1}, Addr: local}}); err == nil {
		t.Fatal("WriteBatch on a closed endpoint succeeded")
	}
	if _, err := tr.ListenIKE(lo0); err == nil {
		t.Fatal("Listen after Close succeeded")
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	// Close waited for the read loops and the keepalive loop, which may
	// take a moment to be gone once they said they were done.
	for i := 0; runtime.NumGoroutine() > before; i++ {
		if i == 100 {
			t.Fatalf("%d goroutines after Close, %d before New", runtime.NumGoroutine(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// FuzzDemux feeds arbitrary UDP payloads to both kinds of endpoint: no
// panic, and every payload is delivered once or counted as dropped; what is
// delivered as IKE re-encodes to the payload (on the IKE port, with the
// non-ESP marker a peer may have put in front).
func FuzzDemux(f *testing.F) {
	f.Add(append(espwire.AppendNonESPMarker(nil), bytes.Repeat([]byte{1}, 28)...), true)
	f.Add([]byte{0xff}, true)
	f.Add([]byte{0, 0, 1, 0, 0, 0, 0, 1, 0xaa}, true)
	f.Add([]byte{0, 0, 0, 0}, true)
	f.Add([]byte{}, false)
	f.Add(append(espwire.AppendNonESPMarker(nil), bytes.Repeat([]byte{1}, 28)...), false)
	f.Fuzz(func(t *testing.T, b []byte, natt bool) {
		var ike [][]byte
		tr := &Transport{ike: func(_, _ netip.AddrPort, msg []byte) { ike = append(ike, bytes.Clone(msg)) }}
		r := newRecorder()
		ep := &endpoint{natt: natt, esp: r}
		msgs := []Message{{Buf: b, N: len(b)}}
		esp := tr.demux(ep, netip.AddrPort{}, msgs, nil)
		delivered := len(ike) + len(esp)
		if dropped := tr.malformed.Load(); delivered+int(dropped) != 1 {
			t.Fatalf("%d delivered and %d dropped", delivered, dropped)
		}
		switch {
		case len(esp) == 1:
			if !natt || len(b) == 0 || bytes.HasPrefix(b, espwire.AppendNonESPMarker(nil)) || bytes.Equal(b, []byte{espwire.Keepalive}) || !bytes.Equal(esp[0].Buf[:esp[0].N], b) {
				t.Fatalf("esp %x from %x (natt %v)", esp[0].Buf[:esp[0].N], b, natt)
			}
		case len(ike) == 1 && natt && !bytes.Equal(b, []byte{espwire.Keepalive}):
			if got := append(espwire.AppendNonESPMarker(nil), ike[0]...); !bytes.Equal(got, b) {
				t.Fatalf("re-encoded %x from %x", got, b)
			}
		case len(ike) == 1 && !natt:
			want := b
			if len(b) > espwire.NonESPMarkerLen && bytes.HasPrefix(b, espwire.AppendNonESPMarker(nil)) && !ikeLengthFits(b) {
				want = b[espwire.NonESPMarkerLen:]
			}
			if !bytes.Equal(ike[0], want) {
				t.Fatalf("ike %x from %x", ike[0], b)
			}
		}
	})
}

// TestTransportRawESPDemux: on a raw ESP endpoint (IP protocol 50) every
// packet is ESP, even one that would be IKE or a keepalive on port 4500.
func TestTransportRawESPDemux(t *testing.T) {
	var ike int
	tr := &Transport{ike: func(_, _ netip.AddrPort, _ []byte) { ike++ }}
	pkts := [][]byte{{espwire.Keepalive}, append(espwire.AppendNonESPMarker(nil), 1, 2, 3), bytes.Repeat([]byte{7}, 40)}
	msgs := make([]Message, len(pkts))
	for i, p := range pkts {
		msgs[i] = Message{Buf: p, N: len(p)}
	}
	esp := tr.demux(&endpoint{raw: true, esp: newRecorder()}, netip.AddrPort{}, msgs, nil)
	if len(esp) != len(pkts) || ike != 0 || tr.espIn.Load() != uint64(len(pkts)) {
		t.Fatalf("%d as ESP (counted %d), %d as IKE; want all %d as ESP", len(esp), tr.espIn.Load(), ike, len(pkts))
	}
	tr.demux(&endpoint{raw: true}, netip.AddrPort{}, msgs[:1], nil)
	if tr.noHandler.Load() != 1 {
		t.Fatalf("ESP without a handler: %d counted", tr.noHandler.Load())
	}
}
