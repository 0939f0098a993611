package esp

import (
	"math"
	"sync"
)

// Replay window sizes, in packets.
const (
	// DefaultReplayWindow is the window an SA gets when its Config says 0.
	DefaultReplayWindow = 1024
	// MinReplayWindow is the smallest window New accepts; RFC 4303 §3.4.3
	// asks for at least 32 and recommends 64.
	MinReplayWindow = 64
	// MaxReplayWindow is the largest window New accepts; its bitmap takes
	// 2*MaxReplayWindow bits (16 KiB).
	MaxReplayWindow = 1 << 16
)

// window is the receiver's anti-replay window (RFC 4303 §3.4.3). It keeps
// the bitmap as a ring of 64-bit blocks twice the window size (RFC 6479), so
// that sliding it forward only clears whole blocks and never shifts bits.
type window struct {
	// mu guards top and ring. It is held only while checking or updating,
	// never across cryptography, so concurrent Opens wait for each other for
	// a few nanoseconds at most.
	mu   sync.Mutex
	top  uint64   // highest sequence number that passed its ICV check; 0 before the first
	ring []uint64 // bit s%(64*len(ring)) is set when s was accepted, for top-size < s <= top
	size uint64   // W: packets older than top-W+1 are refused; a power of two
	esn  bool     // extended sequence numbers: reconstruct the high 32 bits
}

func newWindow(size uint64, esn bool) *window {
	return &window{ring: make([]uint64, 2*size/64), size: size, esn: esn}
}

// check returns the full sequence number of a packet whose header carries
// the low 32 bits low, and whether the packet may be new. It is called before
// the ICV check and changes nothing.
func (w *window) check(low uint32) (uint64, bool) {
	w.mu.Lock()
	seq, ok := w.full(low)
	ok = ok && w.fresh(seq)
	w.mu.Unlock()
	return seq, ok
}

// update records seq as received after its ICV verified. It reports false
// if seq is a duplicate or fell out of the window meanwhile (another
// goroutine accepted it, or moved the window past it).
func (w *window) update(seq uint64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if seq == 0 {
		return false
	}
	if seq > w.top {
		w.advance(seq)
	} else if w.top-seq >= w.size {
		return false
	}
	block, bit := w.index(seq)
	if w.ring[block]&bit != 0 {
		return false
	}
	w.ring[block] |= bit
	return true
}

// full reconstructs the sequence number from its low 32 bits. Without ESN
// the high bits are zero. With ESN it follows RFC 4303 Appendix A2.2: the
// high bits are those of top, or the next or previous value when the low bits
// fall on the other side of a 2^32 boundary from the window. It reports false
// when that would go below zero or above 2^64-1; the ICV could not verify.
// RFC 4303 Appendix A3's resynchronization after 2^32 lost packets (a MAY)
// is not done.
func (w *window) full(low uint32) (uint64, bool) {
	if !w.esn {
		return uint64(low), true
	}
	tl, th := uint32(w.top), uint32(w.top>>32)
	bottom := tl - uint32(w.size) + 1 // wraps when the window spans two subspaces
	hi := th
	if uint64(tl) >= w.size-1 {
		// Case A: the window lies within one subspace.
		if low < bottom {
			if th == math.MaxUint32 {
				return 0, false
			}
			hi = th + 1
		}
	} else if low >= bottom {
		// Case B: the window spans two subspaces and low is in the lower one.
		if th == 0 {
			return 0, false
		}
		hi = th - 1
	}
	return uint64(hi)<<32 | uint64(low), true
}

// fresh reports whether seq is ahead of the window or inside it and unseen.
func (w *window) fresh(seq uint64) bool {
	switch {
	case seq == 0:
		// RFC 4303 §3.3.3: the first packet has sequence number 1.
		return false
	case seq > w.top:
		return true
	case w.top-seq >= w.size:
		return false
	}
	block, bit := w.index(seq)
	return w.ring[block]&bit == 0
}

// advance moves top to seq, clearing the blocks that come into the window.
func (w *window) advance(seq uint64) {
	from, to := w.top/64, seq/64
	n := to - from
	if n > uint64(len(w.ring)) {
		n = uint64(len(w.ring))
	}
	mask := uint64(len(w.ring) - 1)
	for i := uint64(1); i <= n; i++ {
		w.ring[(from+i)&mask] = 0
	}
	w.top = seq
}

func (w *window) index(seq uint64) (block int, bit uint64) {
	return int(seq / 64 & uint64(len(w.ring)-1)), 1 << (seq % 64)
}
