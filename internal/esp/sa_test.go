package esp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	espwire "github.com/vnetgw/vnetgw/internal/wire/esp"
)

// TestRoundTrip seals and opens packets of many sizes for every cipher, key
// size, integrity algorithm and sequence number width (RFC 4303 §3.3, §3.4).
func TestRoundTrip(t *testing.T) {
	sizes := []int{0, 1, 2, 3, 14, 15, 16, 17, 20, 64, 1400, 1500, 9000}
	for _, s := range allSuites() {
		for _, esn := range []bool{false, true} {
			t.Run(s.String()+esnName(esn), func(t *testing.T) {
				out, in := pair(t, configFor(s, esn))
				var bytesIn uint64
				for i, n := range sizes {
					inner := innerPacket(n)
					nh := uint8(espwire.NextHeaderIPv4)
					if i%2 == 1 {
						nh = espwire.NextHeaderIPv6
					}
					buf := packetBuf(inner)
					pkt, err := out.Seal(buf, n, nh)
					if err != nil {
						t.Fatalf("Seal(%d): %v", n, err)
					}
					if len(pkt) != out.SealedLen(n) || len(pkt) > out.HeaderLen()+n+Tailroom {
						t.Fatalf("Seal(%d) made %d bytes, SealedLen %d", n, len(pkt), out.SealedLen(n))
					}
					if &pkt[0] != &buf[Headroom-out.HeaderLen()] {
						t.Fatalf("Seal(%d) did not seal in place", n)
					}
					got, gotNH, err := in.Open(pkt)
					if err != nil {
						t.Fatalf("Open(%d): %v", n, err)
					}
					if !bytes.Equal(got, inner) || gotNH != nh {
						t.Fatalf("Open(%d) = %x, %d; want %x, %d", n, got, gotNH, inner, nh)
					}
					bytesIn += uint64(n)
				}
				st := in.Stats()
				if st.PacketsIn != uint64(len(sizes)) || st.BytesIn != bytesIn || st.Drops.Total() != 0 {
					t.Fatalf("inbound stats %+v", st)
				}
				if st := out.Stats(); st.PacketsOut != uint64(len(sizes)) || st.BytesOut != bytesIn {
					t.Fatalf("outbound stats %+v", st)
				}
			})
		}
	}
}

// TestDummyPacketRFC4303Section2_6 checks that a dummy packet (next header
// 59) comes out of Open marked so, for the caller to drop.
func TestDummyPacketRFC4303Section2_6(t *testing.T) {
	out, in := pair(t, configFor(suite{AESGCM16, NoIntegrity, 32}, false))
	pkt, err := out.Seal(packetBuf(nil), 0, espwire.NextHeaderNone)
	if err != nil {
		t.Fatal(err)
	}
	inner, nh, err := in.Open(pkt)
	if err != nil || nh != espwire.NextHeaderNone || len(inner) != 0 {
		t.Fatalf("Open = %x, %d, %v", inner, nh, err)
	}
}

// TestTamperRFC4303Section3_4_4 flips a bit in every byte of a sealed packet
// in turn: every change is refused and counted, and only the SPI (which
// routes the packet) and the sequence number (which the replay check reads
// first) are refused before the ICV check.
func TestTamperRFC4303Section3_4_4(t *testing.T) {
	for _, s := range allSuites() {
		for _, esn := range []bool{false, true} {
			t.Run(s.String()+esnName(esn), func(t *testing.T) {
				out, in := pair(t, configFor(s, esn))
				pkt, err := out.Seal(packetBuf(innerPacket(100)), 100, 4)
				if err != nil {
					t.Fatal(err)
				}
				for i := range pkt {
					for _, bit := range []byte{0x01, 0x80} {
						bad := bytes.Clone(pkt)
						bad[i] ^= bit
						_, _, err := in.Open(bad)
						want := ErrAuth
						switch {
						case i < 4:
							want = ErrSPI
						case i == 7 && bit == 0x01:
							want = ErrReplay // sequence number 1 became 0
						}
						if err != want {
							t.Fatalf("byte %d ^ %#x: Open err = %v, want %v", i, bit, err, want)
						}
					}
				}
				d := in.Stats().Drops
				if d.Auth != uint64(2*len(pkt)-2*4-1) || d.SPI != 8 || d.Replay != 1 || in.Stats().PacketsIn != 0 {
					t.Fatalf("drops %+v", d)
				}
				// The untouched packet still opens: nothing above moved the window.
				if _, _, err := in.Open(pkt); err != nil {
					t.Fatalf("Open of the original: %v", err)
				}
			})
		}
	}
}

// TestTruncated opens every prefix and every suffix of a sealed packet:
// none panics and none is accepted.
func TestTruncated(t *testing.T) {
	for _, s := range allSuites() {
		t.Run(s.String(), func(t *testing.T) {
			out, in := pair(t, configFor(s, true))
			pkt, err := out.Seal(packetBuf(innerPacket(40)), 40, 4)
			if err != nil {
				t.Fatal(err)
			}
			for i := range len(pkt) {
				for _, b := range [][]byte{pkt[:i], pkt[i+1:]} {
					if _, _, err := in.Open(bytes.Clone(b)); err == nil {
						t.Fatalf("Open accepted %d of %d bytes", len(b), len(pkt))
					}
				}
			}
		})
	}
}

// TestPaddingRFC4303Section2_4 opens packets with a valid ICV around a bad
// trailer: the pad length points outside the payload, or the padding is not
// 1, 2, 3, ... Both are refused after the ICV check and counted as padding
// errors.
func TestPaddingRFC4303Section2_4(t *testing.T) {
	tests := []struct {
		name    string
		trailer func(align int) []byte // payload, padding, pad length, next header
		wantErr error
	}{
		{"good", func(a int) []byte { return withTrailer([]byte{0x45, 1, 2}, a, 4) }, nil},
		{"pad length beyond payload", func(a int) []byte { p := withTrailer([]byte{0x45}, a, 4); p[len(p)-2] = 200; return p }, ErrPadding},
		{"pad length covers all", func(a int) []byte { p := withTrailer(nil, a, 4); p[len(p)-2] = byte(len(p) - 1); return p }, ErrPadding},
		{"padding zeros", func(a int) []byte {
			p := withTrailer([]byte{0x45}, a, 4)
			clear(p[1 : len(p)-2])
			return p
		}, ErrPadding},
		{"padding off by one", func(a int) []byte {
			p := withTrailer([]byte{0x45}, a, 4)
			p[len(p)-3]++
			return p
		}, ErrPadding},
		{"long padding 255", func(a int) []byte {
			p := []byte{0x45}
			for i := 1; i <= 255; i++ {
				p = append(p, byte(i))
			}
			p = append(p, 255, 4)
			for len(p)%a != 0 { // prepend payload until aligned
				p = append([]byte{0x45}, p...)
			}
			return p
		}, nil},
	}
	for _, s := range []suite{{AESGCM16, NoIntegrity, 16}, {AESCBC, HMACSHA256, 32}} {
		for _, tt := range tests {
			t.Run(s.String()+" "+tt.name, func(t *testing.T) {
				cfg := configFor(s, false)
				sa, err := New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				pkt := ref{cfg}.seal(1, tt.trailer(alignOf(s.cipher)), nil)
				_, _, err = sa.Open(pkt)
				if err != tt.wantErr {
					t.Fatalf("Open err = %v, want %v", err, tt.wantErr)
				}
				if tt.wantErr != nil && (sa.Stats().Drops.Padding != 1 || sa.Stats().Drops.Auth != 0) {
					t.Fatalf("drops %+v", sa.Stats().Drops)
				}
			})
		}
	}
}

// TestLengthRFC4303Section2_4 opens packets one byte longer or shorter than
// whole blocks of ciphertext: refused before any cryptography.
func TestLengthRFC4303Section2_4(t *testing.T) {
	for _, s := range allSuites() {
		out, in := pair(t, configFor(s, false))
		pkt, err := out.Seal(packetBuf(innerPacket(30)), 30, 4)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range [][]byte{append(bytes.Clone(pkt), 0), pkt[:len(pkt)-1]} {
			if _, _, err := in.Open(bytes.Clone(bad)); err != ErrLength {
				t.Errorf("%v: Open(%d bytes) err = %v, want ErrLength", s, len(bad), err)
			}
		}
		if d := in.Stats().Drops; d.Length != 2 || d.Total() != 2 {
			t.Errorf("%v: drops %+v", s, d)
		}
	}
}

func TestOpenWrongSPI(t *testing.T) {
	s := suite{AESGCM16, NoIntegrity, 16}
	out, _ := pair(t, configFor(s, false))
	cfg := configFor(s, false)
	cfg.SPI++
	in, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pkt, err := out.Seal(packetBuf(innerPacket(20)), 20, 4)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := in.Open(pkt); err != ErrSPI {
		t.Fatalf("Open err = %v, want ErrSPI", err)
	}
}

// TestWrongKeys opens with an SA whose keys differ: an ICV failure.
func TestWrongKeys(t *testing.T) {
	for _, s := range allSuites() {
		out, _ := pair(t, configFor(s, false))
		cfg := configFor(s, false)
		cfg.Keys = keysFor(s, 2)
		in, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		pkt, err := out.Seal(packetBuf(innerPacket(20)), 20, 4)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := in.Open(pkt); err != ErrAuth {
			t.Fatalf("%v: Open err = %v, want ErrAuth", s, err)
		}
	}
}

// TestOpenReplay checks RFC 4303 §3.4.3 through Open: a duplicate is
// refused, a reordered packet within the window is accepted once, and a
// packet older than the window is refused.
func TestOpenReplay(t *testing.T) {
	cfg := configFor(suite{AESGCM16, NoIntegrity, 16}, false)
	cfg.ReplayWindow = 64
	out, in := pair(t, cfg)
	pkts := sealN(t, out, 200)
	open := func(i int) error { _, _, err := in.Open(bytes.Clone(pkts[i])); return err }
	steps := []struct {
		i    int // packet index; sequence number i+1
		want error
	}{
		{1, nil}, {1, ErrReplay}, {0, nil}, {0, ErrReplay},
		{150, nil}, {100, nil}, {87, nil}, {86, ErrReplay}, {150, ErrReplay}, {149, nil}, {199, nil}, {136, nil}, {135, ErrReplay},
	}
	for _, st := range steps {
		if err := open(st.i); err != st.want {
			t.Fatalf("packet %d: err %v, want %v", st.i+1, err, st.want)
		}
	}
	if d := in.Stats().Drops; d.Replay != 5 || d.Auth != 0 {
		t.Fatalf("drops %+v", d)
	}
}

// TestOpenNoReplayCheckRFC4303Section3_4_3: with anti-replay off (the
// receiver's choice), Open takes a duplicate and a packet older than the
// window, counts no replay, and calls nothing newest; a forged packet is
// still refused. With ESN a packet older than the window is taken for one
// of the next 2^32 (RFC 4303 Appendix A2.2) and fails its ICV check, so
// only the window's duplicates are tried.
func TestOpenNoReplayCheckRFC4303Section3_4_3(t *testing.T) {
	for _, esn := range []bool{false, true} {
		t.Run(esnName(esn), func(t *testing.T) {
			cfg := configFor(suite{AESGCM16, NoIntegrity, 16}, esn)
			cfg.ReplayWindow = 64
			out, _ := pair(t, cfg)
			cfg.NoReplayCheck = true
			in, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			pkts := sealN(t, out, 200)
			steps := []int{1, 1, 0, 0, 150, 100, 86, 150, 199, 10, 199}
			if esn {
				steps = []int{1, 1, 0, 0, 150, 100, 150, 199, 140, 140, 199}
			}
			for _, i := range steps {
				inner, _, err := in.Open(bytes.Clone(pkts[i]))
				if err != nil || !bytes.Equal(inner, innerPacket(10)) {
					t.Fatalf("packet %d: err %v", i+1, err)
				}
				if in.Newest(pkts[i]) {
					t.Fatalf("packet %d called newest", i+1)
				}
			}
			forged := bytes.Clone(pkts[5])
			forged[len(forged)-1] ^= 1
			if _, _, err := in.Open(forged); err != ErrAuth {
				t.Fatalf("forged packet: err %v, want ErrAuth", err)
			}
			if d := in.Stats().Drops; d.Replay != 0 || d.Auth != 1 {
				t.Fatalf("drops %+v", d)
			}
		})
	}
}

// TestSeqExhaustedRFC4303Section3_3_3: the counter MUST NOT cycle; Seal
// stops at 2^32-1 without ESN, and with ESN before the high bits reach
// 2^32-1.
func TestSeqExhaustedRFC4303Section3_3_3(t *testing.T) {
	for _, esn := range []bool{false, true} {
		t.Run(esnName(esn), func(t *testing.T) {
			out, in := pair(t, configFor(suite{AESGCM16, NoIntegrity, 16}, esn))
			last := uint64(1<<32 - 1)
			if esn {
				last = 1<<64 - 1<<32 - 1
			}
			out.seq.Store(last - 1)
			in.replay.reset(last - 1)
			pkt, err := out.Seal(packetBuf(innerPacket(20)), 20, 4)
			if err != nil {
				t.Fatalf("last Seal: %v", err)
			}
			if _, _, err := in.Open(pkt); err != nil {
				t.Fatalf("Open of the last: %v", err)
			}
			for range 3 {
				if _, err := out.Seal(packetBuf(innerPacket(20)), 20, 4); err != ErrSeqExhausted {
					t.Fatalf("Seal past the end: %v, want ErrSeqExhausted", err)
				}
			}
			if got := out.seq.Load(); got != last {
				t.Fatalf("counter moved to %d after failing", got)
			}
			// RFC 4303 §4: the audit line of the overflow names the
			// sequence number, the last sent; the receiver's the last it took.
			if out.Seq() != last || in.Seq() != last {
				t.Fatalf("Seq: outbound %d, inbound %d, want %d", out.Seq(), in.Seq(), last)
			}
			if d := out.Stats().Drops; d.SeqExhausted != 3 {
				t.Fatalf("drops %+v", d)
			}
			if !out.softFired.Load() {
				t.Fatal("no soft expiry before the sequence numbers ran out")
			}
			if !out.hardFired.Load() {
				t.Fatal("no hard expiry once the sequence numbers ran out")
			}
		})
	}
}

// TestSoftSeqLimit checks that the soft expiry fires with 1/16 of the
// sequence numbers left, and only then.
func TestSoftSeqLimit(t *testing.T) {
	out, _ := pair(t, configFor(suite{AESGCM16, NoIntegrity, 16}, false))
	soft := uint64(1<<32-1) - (1<<32-1)/16
	out.seq.Store(soft - 2)
	if _, err := out.NextSeq(); err != nil {
		t.Fatal(err)
	}
	if out.softFired.Load() {
		t.Fatal("soft expiry too early")
	}
	if _, err := out.NextSeq(); err != nil {
		t.Fatal(err)
	}
	if !out.softFired.Load() {
		t.Fatal("no soft expiry with 1/16 of the sequence numbers left")
	}
}

// TestForgedOnExpiredSACountsAsAuth: on an inbound SA past its hard
// limit, a packet that does not authenticate is counted as such (an
// attack or a wrong key), not as one the expired SA refused (a peer that
// did not rekey in time): the ICV check comes first (RFC 4303 §3.4.4).
func TestForgedOnExpiredSACountsAsAuth(t *testing.T) {
	for _, s := range allSuites() {
		t.Run(s.String(), func(t *testing.T) {
			out, _ := pair(t, configFor(s, false))
			cfg := configFor(s, false)
			cfg.Limits = Limits{HardPackets: 1}
			_, in := pair(t, cfg)
			var pkts [][]byte
			for range 3 {
				pkt, err := out.Seal(packetBuf(innerPacket(100)), 100, 4)
				if err != nil {
					t.Fatal(err)
				}
				pkts = append(pkts, pkt)
			}
			if _, _, err := in.Open(pkts[0]); err != nil {
				t.Fatal(err)
			}
			pkts[1][len(pkts[1])-1] ^= 1
			if _, _, err := in.Open(pkts[1]); err != ErrAuth {
				t.Errorf("forged packet on an expired SA: %v, want ErrAuth", err)
			}
			if _, _, err := in.Open(pkts[2]); err != ErrExpired {
				t.Errorf("genuine packet on an expired SA: %v, want ErrExpired", err)
			}
			if d := in.Stats().Drops; d.Auth != 1 || d.Expired != 1 {
				t.Errorf("drops: %d auth, %d expired; want 1 and 1", d.Auth, d.Expired)
			}
		})
	}
}

// TestLimits checks soft and hard lifetimes in bytes and packets, in both
// directions: the soft limit is told to OnExpiry's function once, with
// the packet that reaches it; the hard limit makes Seal and Open fail with
// ErrExpired and is told once, with the packet that reaches it (RFC 4301
// §4.4.2.1: IKE deletes the SA).
func TestLimits(t *testing.T) {
	tests := []struct {
		name     string
		limits   Limits
		softAt   int // packets of 100 bytes after which the soft limit fired
		hardFrom int // first packet refused
	}{
		{"packets", Limits{SoftPackets: 3, HardPackets: 5}, 3, 6},
		{"bytes", Limits{SoftBytes: 250, HardBytes: 400}, 3, 5},
		{"hard only", Limits{HardPackets: 2}, 0, 3},
		{"soft only", Limits{SoftBytes: 100}, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := configFor(suite{AESCBC, HMACSHA256, 16}, false)
			cfg.Limits = tt.limits
			out, in := pair(t, cfg)
			sealFired, openFired, sealHard, openHard := 0, 0, 0, 0
			var i int
			// told records, for each kind of limit, the packet after
			// which it was told, and fails on a second telling.
			told := func(dir string, soft, hard *int) func(bool) {
				return func(h bool) {
					at, kind := soft, "soft"
					if h {
						at, kind = hard, "hard"
					}
					if *at != 0 {
						t.Errorf("%s: %s expiry told again at packet %d, first at %d", dir, kind, i, *at)
					}
					*at = i
				}
			}
			out.OnExpiry(told("seal", &sealFired, &sealHard))
			in.OnExpiry(told("open", &openFired, &openHard))
			for i = 1; i <= 8; i++ {
				pkt, err := out.Seal(packetBuf(innerPacket(100)), 100, 4)
				if tt.hardFrom != 0 && i >= tt.hardFrom {
					if err != ErrExpired {
						t.Fatalf("Seal %d: %v, want ErrExpired", i, err)
					}
					// The inbound side refuses too once it has seen its limit.
					if _, _, err := in.Open(ref{cfg}.seal(uint64(i), withTrailer(innerPacket(100), 16, 4), nil)); err != ErrExpired {
						t.Fatalf("Open %d: %v, want ErrExpired", i, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("Seal %d: %v", i, err)
				}
				if _, _, err := in.Open(pkt); err != nil {
					t.Fatalf("Open %d: %v", i, err)
				}
			}
			if hardAt := max(tt.hardFrom-1, 0); sealHard != hardAt || openHard != hardAt {
				t.Fatalf("hard expiry after packet %d (seal) and %d (open), want %d", sealHard, openHard, hardAt)
			}
			if sealFired != tt.softAt || openFired != tt.softAt {
				t.Fatalf("soft expiry after packet %d (seal) and %d (open), want %d", sealFired, openFired, tt.softAt)
			}
		})
	}
}

// TestSealNoRoom gives Seal buffers too small for headroom or tailroom.
func TestSealNoRoom(t *testing.T) {
	sa, _ := pair(t, configFor(suite{AESCBC, HMACSHA512, 32}, false))
	n := 33
	need := Headroom + n + sa.SealedLen(n) - sa.HeaderLen() - n
	tests := []struct {
		name string
		buf  []byte
		n    int
		want error
	}{
		{"exact", make([]byte, need), n, nil},
		{"one short of tailroom", make([]byte, need-1), n, ErrNoRoom},
		{"no headroom", make([]byte, Headroom-1), 0, ErrNoRoom},
		{"n past buffer", make([]byte, need), need, ErrNoRoom},
		{"negative n", make([]byte, need), -1, ErrNoRoom},
		{"nil", nil, 0, ErrNoRoom},
	}
	for _, tt := range tests {
		if _, err := sa.Seal(tt.buf, tt.n, 4); err != tt.want {
			t.Errorf("%s: Seal err = %v, want %v", tt.name, err, tt.want)
		}
	}
	if _, err := sa.SealSeq(Seq{}, make([]byte, need), n, 4); err != ErrSeq {
		t.Errorf("SealSeq with zero Seq: %v, want ErrSeq", err)
	}
	if d := sa.Stats().Drops; d.NoRoom != 5 || d.Seq != 1 {
		t.Errorf("drops %+v", d)
	}
}

// TestConcurrentSeal seals from several goroutines at once: every packet
// gets its own sequence number, and all open.
func TestConcurrentSeal(t *testing.T) {
	for _, s := range []suite{{AESGCM16, NoIntegrity, 32}, {AESCBC, HMACSHA1, 16}} {
		t.Run(s.String(), func(t *testing.T) {
			cfg := configFor(s, true)
			cfg.ReplayWindow = MaxReplayWindow
			out, in := pair(t, cfg)
			const workers, each = 8, 500
			pkts := make(chan []byte, workers*each)
			var wg sync.WaitGroup
			for range workers {
				wg.Go(func() {
					for range each {
						pkt, err := out.Seal(packetBuf(innerPacket(64)), 64, 4)
						if err != nil {
							t.Error(err)
							return
						}
						pkts <- pkt
					}
				})
			}
			wg.Wait()
			close(pkts)
			seen := make(map[uint32]bool)
			var all [][]byte
			for pkt := range pkts {
				seq := binary.BigEndian.Uint32(pkt[4:8])
				if seen[seq] {
					t.Fatalf("sequence number %d used twice", seq)
				}
				seen[seq] = true
				all = append(all, pkt)
			}
			if len(seen) != workers*each {
				t.Fatalf("%d packets", len(seen))
			}
			// Open them concurrently, too, in an order unrelated to sealing.
			var wg2 sync.WaitGroup
			for w := range workers {
				wg2.Go(func() {
					for i := w; i < len(all); i += workers {
						if _, _, err := in.Open(all[i]); err != nil {
							t.Error(err)
						}
					}
				})
			}
			wg2.Wait()
			if st := in.Stats(); st.PacketsIn != workers*each {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// TestConcurrentDuplicate opens the same packet from many goroutines at
// once: exactly one succeeds (the window update after the ICV check catches
// the race the check before it cannot).
func TestConcurrentDuplicate(t *testing.T) {
	out, in := pair(t, configFor(suite{AESGCM16, NoIntegrity, 16}, false))
	for range 50 {
		pkt, err := out.Seal(packetBuf(innerPacket(64)), 64, 4)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok := 0
		for range 8 {
			c := bytes.Clone(pkt)
			wg.Go(func() {
				if _, _, err := in.Open(c); err == nil {
					mu.Lock()
					ok++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if ok != 1 {
			t.Fatalf("%d goroutines accepted one packet", ok)
		}
	}
}

// TestNoAllocs checks that Seal and Open allocate nothing, for every suite.
func TestNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items")
	}
	for _, s := range allSuites() {
		for _, esn := range []bool{false, true} {
			t.Run(s.String()+esnName(esn), func(t *testing.T) {
				cfg := configFor(s, esn)
				out, in := pair(t, cfg)
				buf := packetBuf(innerPacket(1400))
				if a := testing.AllocsPerRun(100, func() {
					if _, err := out.Seal(buf, 1400, 4); err != nil {
						t.Fatal(err)
					}
				}); a != 0 {
					t.Errorf("Seal: %v allocs", a)
				}
				pkts := make([][]byte, 0, 200)
				for range 200 {
					pkt, err := out.Seal(packetBuf(innerPacket(1400)), 1400, 4)
					if err != nil {
						t.Fatal(err)
					}
					pkts = append(pkts, pkt)
				}
				i := 0
				if a := testing.AllocsPerRun(100, func() {
					if _, _, err := in.Open(pkts[i]); err != nil {
						t.Fatal(err)
					}
					i++
				}); a != 0 {
					t.Errorf("Open: %v allocs", a)
				}
				// Refusals cost nothing either.
				if a := testing.AllocsPerRun(100, func() {
					if _, _, err := in.Open(pkts[0]); err == nil {
						t.Fatal("replay accepted")
					}
				}); a != 0 {
					t.Errorf("Open of a replay: %v allocs", a)
				}
			})
		}
	}
}

// TestNewErrors checks that New refuses bad configurations, and that no
// error message shows key bytes.
func TestNewErrors(t *testing.T) {
	gcm := suite{AESGCM16, NoIntegrity, 16}
	cbc := suite{AESCBC, HMACSHA256, 16}
	tests := []struct {
		name   string
		mutate func(*Config)
		base   suite
	}{
		{"spi zero", func(c *Config) { c.SPI = 0 }, gcm},
		{"unknown cipher", func(c *Config) { c.Cipher = 99 }, gcm},
		{"gcm with integrity", func(c *Config) { c.Integrity = HMACSHA256 }, gcm},
		{"gcm key without salt", func(c *Config) { c.Keys = NewKeys(make([]byte, 16), nil) }, gcm},
		{"gcm with integrity key", func(c *Config) { c.Keys = NewKeys(make([]byte, 20), make([]byte, 32)) }, gcm},
		{"cbc without integrity", func(c *Config) { c.Integrity = NoIntegrity }, cbc},
		{"cbc unknown integrity", func(c *Config) { c.Integrity = 99 }, cbc},
		{"cbc short integrity key", func(c *Config) { c.Keys = NewKeys(make([]byte, 16), make([]byte, 20)) }, cbc},
		{"cbc key 20 bytes", func(c *Config) { c.Keys = NewKeys(make([]byte, 20), make([]byte, 32)) }, cbc},
		{"window not power of two", func(c *Config) { c.ReplayWindow = 1000 }, gcm},
		{"window too small", func(c *Config) { c.ReplayWindow = 32 }, gcm},
		{"window too large", func(c *Config) { c.ReplayWindow = 1 << 17 }, gcm},
		{"soft bytes above hard", func(c *Config) { c.Limits = Limits{SoftBytes: 2, HardBytes: 1} }, gcm},
		{"soft packets above hard", func(c *Config) { c.Limits = Limits{SoftPackets: 2, HardPackets: 1} }, gcm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := configFor(tt.base, false)
			tt.mutate(&cfg)
			_, err := New(cfg)
			if err == nil {
				t.Fatal("New accepted it")
			}
			if strings.Contains(err.Error(), fmt.Sprintf("%x", cfg.Keys.encryption[:4])) {
				t.Fatalf("error shows key bytes: %v", err)
			}
		})
	}
}

// TestRedaction prints keys and SAs with every common verb and through
// slog: no key byte shows.
func TestRedaction(t *testing.T) {
	keys := NewKeys(bytes.Repeat([]byte{0xab}, 36), bytes.Repeat([]byte{0xcd}, 32))
	cfg := Config{SPI: 0x01020304, Cipher: AESGCM16, Keys: NewKeys(bytes.Repeat([]byte{0xab}, 36), nil)}
	sa, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%d", "%q"} {
		outs = append(outs, fmt.Sprintf(verb, keys), fmt.Sprintf(verb, cfg), fmt.Sprintf(verb, sa), fmt.Sprintf(verb, &cfg))
	}
	var logs bytes.Buffer
	noTime := &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}
	for _, h := range []slog.Handler{slog.NewJSONHandler(&logs, noTime), slog.NewTextHandler(&logs, noTime)} {
		slog.New(h).Info("sa", "keys", keys, "cfg", cfg, "sa", sa)
	}
	outs = append(outs, logs.String())
	for _, o := range outs {
		for _, leak := range []string{"abab", "cdcd", "ABAB", "171", "205", "\xab"} {
			if strings.Contains(o, leak) {
				t.Fatalf("key material %q in %q", leak, o)
			}
		}
	}
	if !strings.Contains(sa.String(), "0x01020304") || !strings.Contains(logs.String(), "encryption_len") {
		t.Fatalf("String %q, logs %q", sa.String(), logs.String())
	}
	keys.Wipe()
	if !bytes.Equal(keys.encryption, make([]byte, 36)) || !bytes.Equal(keys.integrity, make([]byte, 32)) {
		t.Fatal("Wipe left key bytes")
	}
	// The SA kept its own copy: wiping cfg.Keys does not break it.
	cfg.Keys.Wipe()
	peer, err := New(Config{SPI: 0x01020304, Cipher: AESGCM16, Keys: NewKeys(bytes.Repeat([]byte{0xab}, 36), nil)})
	if err != nil {
		t.Fatal(err)
	}
	pkt, err := sa.Seal(packetBuf(innerPacket(10)), 10, 4)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := peer.Open(pkt); err != nil {
		t.Fatalf("Open after wiping the config's keys: %v", err)
	}
}

func TestErrorStrings(t *testing.T) {
	seen := map[string]bool{}
	for e := ErrLength; e < errorCount; e++ {
		s := e.Error()
		if seen[s] || !strings.HasPrefix(s, "esp: ") || s == Error(0).Error() {
			t.Errorf("Error(%d) = %q", e, s)
		}
		seen[s] = true
		if !errors.Is(error(e), e) {
			t.Errorf("errors.Is(%v) false", e)
		}
	}
}

func TestNames(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{AESGCM16.String(), "aes-gcm16"}, {AESCBC.String(), "aes-cbc"}, {Cipher(7).String(), "cipher(7)"},
		{NoIntegrity.String(), "none"}, {HMACSHA1.String(), "sha1"}, {HMACSHA256.String(), "sha256"},
		{HMACSHA384.String(), "sha384"}, {HMACSHA512.String(), "sha512"}, {Integrity(7).String(), "integrity(7)"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	sa, err := New(configFor(suite{AESCBC, HMACSHA384, 24}, true))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sa.String(), "esp sa 0xc0ffee01 aes-cbc-192-sha384 esn"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if sa.SPI() != 0xc0ffee01 || sa.Created().IsZero() {
		t.Errorf("SPI %x, Created %v", sa.SPI(), sa.Created())
	}
}

// TestLimitsLower: a limit is lower than another when it is set and the
// other is higher or none (zero); the same limits, or one of none, are
// not lower.
func TestLimitsLower(t *testing.T) {
	for _, tc := range []struct {
		l, o Limits
		want bool
	}{
		{Limits{}, Limits{}, false},
		{Limits{HardBytes: 100, SoftBytes: 90}, Limits{HardBytes: 100, SoftBytes: 90}, false},
		{Limits{HardBytes: 50, SoftBytes: 45}, Limits{HardBytes: 100, SoftBytes: 90}, true},
		{Limits{HardBytes: 200, SoftBytes: 180}, Limits{HardBytes: 100, SoftBytes: 90}, false},
		{Limits{HardBytes: 100, SoftBytes: 90}, Limits{}, true},
		{Limits{}, Limits{HardBytes: 100, SoftBytes: 90}, false},
		{Limits{HardPackets: 10}, Limits{HardBytes: 100}, true},
		{Limits{HardBytes: 100, SoftBytes: 80}, Limits{HardBytes: 100, SoftBytes: 90}, true},
	} {
		if got := tc.l.Lower(tc.o); got != tc.want {
			t.Errorf("%+v.Lower(%+v) = %v, want %v", tc.l, tc.o, got, tc.want)
		}
	}
}
