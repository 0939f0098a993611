package esp

import (
	"bytes"
	"encoding/binary"
	"sync"
	"testing"

	espwire "github.com/vnetgw/vnetgw/internal/wire/esp"
)

// fuzzSAs caches one SA per suite and ESN choice for a fuzz worker:
// building one per input would spend most of the time on key schedules.
var fuzzSAs sync.Map // uint8 → *SA

// fuzzSA returns the SA for the suite and ESN choice encoded in sel, with a
// fresh replay window.
func fuzzSA(t *testing.T, sel uint8) (Config, *SA) {
	suites := allSuites()
	sel %= uint8(2 * len(suites))
	cfg := configFor(suites[sel>>1], sel&1 == 1)
	v, ok := fuzzSAs.Load(sel)
	if !ok {
		sa, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		v, _ = fuzzSAs.LoadOrStore(sel, sa)
	}
	sa := v.(*SA)
	sa.replay.reset(0)
	return cfg, sa
}

// FuzzOpen feeds arbitrary packets to a fresh SA of any suite. Open must not
// panic, and must accept a packet only if the reference implementation
// verifies its ICV, and then return what the reference decrypts.
func FuzzOpen(f *testing.F) {
	suites := allSuites()
	for i := range 2 * len(suites) {
		cfg := configFor(suites[i>>1], i&1 == 1)
		sa, err := New(cfg)
		if err != nil {
			f.Fatal(err)
		}
		for _, n := range []int{0, 20, 100} {
			pkt, err := sa.Seal(packetBuf(innerPacket(n)), n, 4)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(uint8(i), bytes.Clone(pkt))
		}
	}
	f.Add(uint8(0), []byte{})
	f.Fuzz(func(t *testing.T, sel uint8, pkt []byte) {
		cfg, sa := fuzzSA(t, sel)
		orig := bytes.Clone(pkt)
		drops := sa.Stats().Drops.Total()
		inner, nh, err := sa.Open(pkt)
		if err != nil {
			if _, isErr := err.(Error); !isErr || sa.Stats().Drops.Total() != drops+1 {
				t.Fatalf("Open error %v not a counted Error", err)
			}
			return
		}
		// A fresh window puts the packet in the first subspace.
		seq := uint64(binary.BigEndian.Uint32(orig[4:8]))
		pt, ok := ref{cfg}.open(seq, orig)
		if !ok {
			t.Fatalf("Open accepted a packet whose ICV does not verify: %x", orig)
		}
		want := pt[:len(pt)-2-int(pt[len(pt)-2])]
		if !bytes.Equal(inner, want) || nh != pt[len(pt)-1] {
			t.Fatalf("Open = %x, %d; reference %x", inner, nh, pt)
		}
	})
}

// FuzzOpenAuthentic wraps arbitrary plaintext (payload, padding and trailer
// as the fuzzer likes) in a packet with a valid ICV, so that the checks after
// authentication see everything. Open must accept exactly the plaintexts
// whose trailer parses, and return their payload.
func FuzzOpenAuthentic(f *testing.F) {
	f.Add(uint8(0), uint32(1), withTrailer(innerPacket(20), 4, 4))
	f.Add(uint8(1), uint32(7), withTrailer(innerPacket(33), 4, 41))
	f.Add(uint8(6), uint32(1), withTrailer(innerPacket(100), 16, 4))
	f.Add(uint8(7), uint32(0xffffffff), withTrailer(nil, 16, 59))
	f.Add(uint8(6), uint32(1), []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 4})
	f.Fuzz(func(t *testing.T, sel uint8, seq32 uint32, pt []byte) {
		cfg, sa := fuzzSA(t, sel)
		// Whole blocks only: anything else is refused by length, which
		// FuzzOpen covers; here the packet must reach the trailer checks.
		a := alignOf(cfg.Cipher)
		pt = pt[:len(pt)/a*a]
		if len(pt) == 0 || seq32 == 0 {
			return
		}
		pkt := ref{cfg}.seal(uint64(seq32), pt, nil)
		inner, nh, err := sa.Open(pkt)
		tr, n, perr := espwire.ParseTrailer(pt)
		switch {
		case cfg.ESN && seq32 >= 1<<32-DefaultReplayWindow+1:
			// A fresh ESN window reads these low bits as the end of the
			// subspace before the first (RFC 4303 Appendix A2.2 case B),
			// which does not exist.
			if err != ErrReplay {
				t.Fatalf("ESN low bits %#x on a fresh SA: Open err %v, want ErrReplay", seq32, err)
			}
		case perr != nil:
			if err != ErrPadding {
				t.Fatalf("trailer %x: Open err %v, want ErrPadding", pt[len(pt)-min(len(pt), 4):], err)
			}
		case err != nil:
			t.Fatalf("Open: %v", err)
		case !bytes.Equal(inner, pt[:len(pt)-n]) || nh != tr.NextHeader:
			t.Fatalf("Open = %x, %d; want %x, %d", inner, nh, pt[:len(pt)-n], tr.NextHeader)
		}
	})
}
