package udp

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/netnstest"
)

// espPacket is an ESP-shaped payload: SPI, sequence number, then bytes.
func espPacket(spi uint32, seq, n int) []byte {
	b := binary.BigEndian.AppendUint32(nil, spi)
	b = binary.BigEndian.AppendUint32(b, uint32(seq))
	return append(b, payload(seq, n)...)
}

// TestESPSocketRFC4303: a batch sent from one raw ESP socket arrives at the
// other as IP protocol 50, whole and in order, without the IPv4 header the
// kernel hands a raw socket, from the sender's address with port 0, with
// the outer TOS each was sent with (RFC 6040 §4.1, §4.2).
func TestESPSocketRFC4303(t *testing.T) {
	netnstest.Require(t)
	for _, pair := range [][2]string{{"127.0.0.2", "127.0.0.3"}, {"::1", "::1"}} {
		t.Run(pair[0]+"-"+pair[1], func(t *testing.T) {
			a, err := ListenESP(netip.MustParseAddr(pair[0]))
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			b := a
			if pair[1] != pair[0] {
				if b, err = ListenESP(netip.MustParseAddr(pair[1])); err != nil {
					t.Fatal(err)
				}
				defer b.Close()
			}
			if gso, gro := b.Offloads(); gso || gro {
				t.Fatalf("a raw socket reports offloads gso=%v gro=%v", gso, gro)
			}
			sizes := []int{1400, 1400, 64, 9000, 0, 1400}
			out := make([]Message, len(sizes))
			for i, n := range sizes {
				out[i] = Message{Buf: espPacket(0xc0ffee, i, n), Addr: b.LocalAddr(), TOS: testTOS[i%len(testTOS)]}
			}
			if err := a.WriteBatch(out); err != nil {
				t.Fatal(err)
			}
			msgs := newMsgs(4, MaxDatagram)
			var tos []uint8
			b.sock.SetReadDeadline(time.Now().Add(5 * time.Second))
			for len(tos) < len(sizes) {
				n, err := b.ReadBatch(msgs[:1])
				if err != nil {
					t.Fatal(err)
				}
				if n == 1 {
					if i := len(tos); !bytes.Equal(msgs[0].Buf[:msgs[0].N], out[i].Buf) {
						t.Fatalf("packet %d: got %d bytes, want %d bytes %x…", i, msgs[0].N, len(out[i].Buf), out[i].Buf[:8])
					}
					tos = append(tos, msgs[0].TOS)
				}
			}
			for i := range out {
				if tos[i] != out[i].TOS {
					t.Errorf("packet %d: TOS %#02x, want %#02x", i, tos[i], out[i].TOS)
				}
			}
			if want := a.LocalAddr(); msgs[0].Addr != want || want.Port() != 0 {
				t.Fatalf("from %v, want %v with port 0", msgs[0].Addr, want)
			}
			if b.Malformed() != 0 || b.Truncated() != 0 {
				t.Fatalf("malformed %d, truncated %d", b.Malformed(), b.Truncated())
			}
		})
	}
}

// TestESPSocketRefusesPorts: a raw ESP socket sends to addresses without
// a port, a UDP socket only to addresses with one.
func TestESPSocketRefusesPorts(t *testing.T) {
	netnstest.Require(t)
	c, err := ListenESP(netip.MustParseAddr("127.0.0.2"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WriteBatch([]Message{{Buf: espPacket(1, 1, 10), Addr: netip.MustParseAddrPort("127.0.0.3:4500")}}); err == nil {
		t.Fatal("a raw ESP socket sent to a UDP port")
	}
	u, _ := pair(t)
	if err := u.WriteBatch([]Message{{Buf: espPacket(1, 1, 10), Addr: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.3"), 0)}}); err == nil {
		t.Fatal("a UDP socket sent to port 0")
	}
}

func TestIPv4Payload(t *testing.T) {
	hdr := func(ihl byte, rest int) []byte {
		b := make([]byte, int(ihl)*4+rest)
		b[0] = 0x40 | ihl
		return b
	}
	tests := []struct {
		name string
		pkt  []byte
		want int // payload length, -1 if refused
	}{
		{"plain header", hdr(5, 12), 12},
		{"with options", hdr(15, 8), 8},
		{"header only", hdr(5, 0), 0},
		{"empty", nil, -1},
		{"short", make([]byte, 19), -1},
		{"IPv6", append([]byte{0x60}, make([]byte, 40)...), -1},
		{"IHL below 5", append([]byte{0x44}, make([]byte, 40)...), -1},
		{"IHL past the end", append([]byte{0x4f}, make([]byte, 30)...), -1},
	}
	for _, tt := range tests {
		p, ok := ipv4Payload(tt.pkt)
		if got := map[bool]int{true: len(p), false: -1}[ok]; got != tt.want {
			t.Errorf("%s: payload %d bytes, want %d", tt.name, got, tt.want)
		}
	}
}

// FuzzIPv4Payload: whatever a raw socket hands over, the payload is a
// suffix of it behind a header of 20 to 60 bytes, or it is refused.
func FuzzIPv4Payload(f *testing.F) {
	f.Add(append([]byte{0x45}, make([]byte, 40)...))
	f.Add([]byte{0x4f, 0})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		p, ok := ipv4Payload(pkt)
		if !ok {
			return
		}
		h := len(pkt) - len(p)
		if h < 20 || h > 60 || !bytes.Equal(pkt[h:], p) {
			t.Fatalf("header of %d bytes", h)
		}
	})
}
