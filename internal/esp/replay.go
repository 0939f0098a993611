package esp

import (
	"math"
	"sync/atomic"
)

// Replay window sizes, in packets.
const (
	// DefaultReplayWindow is the window an SA gets when its Config says 0.
	DefaultReplayWindow = 1024
	// MinReplayWindow is the smallest window New accepts; RFC 4303 §3.4.3
	// asks for at least 32 and recommends 64.
	MinReplayWindow = 64
	// MaxReplayWindow is the largest window New accepts; its ring takes
	// 2*MaxReplayWindow/32 words (32 KiB).
	MaxReplayWindow = 1 << 16
)

// blockBits is the number of sequence numbers one ring word covers: its low
// half is their bitmap, its high half the tag of their block.
const blockBits = 32

// window is the receiver's anti-replay window (RFC 4303 §3.4.3). It keeps
// the bitmap as a ring of blocks twice the window size (RFC 6479), so that
// sliding it forward only replaces whole blocks and never shifts bits.
//
// It takes no lock, so that the packets of one SA can be opened on many
// goroutines at once. Each ring word packs a block's tag (the low 32 bits of
// seq/32) in its high half with the block's bitmap in its low half, so that
// one compare-and-swap records a sequence number and checks which block the
// word holds. Block b lives in word b%len(ring). A word's tag only moves
// forward and its bits are only set while its block stays, so a sequence
// number is accepted at most once: after that, its word holds its block with
// its bit set, or a later block. top, the highest accepted sequence number,
// is raised only after the bit is set. It decides what is too old, which,
// while packets race, each of them decides against the top it read.
//
// Tags compare in serial arithmetic (RFC 1982), which is right only while
// the blocks compared are less than 2^31 blocks (2^36 sequence numbers)
// apart. So whoever raises top also brings the words of the blocks it skipped
// up to date, empty, as RFC 6479 clears them; that keeps every word on one of
// the last len(ring) blocks up to top. And a sequence number given to update
// is less than 2^33 ahead of a top read before it (see full).
type window struct {
	top  atomic.Uint64   // highest sequence number that passed its ICV check; 0 before the first
	ring []atomic.Uint64 // word b%len(ring) is block b's tag<<32 | bitmap, bit s%32 set when s was accepted
	size uint64          // W: packets older than top-W+1 are refused; a power of two
	esn  bool            // extended sequence numbers: reconstruct the high 32 bits
}

func newWindow(size uint64, esn bool) *window {
	// RFC 4303 §3.4.3: the receive packet counter MUST start at zero (top).
	return &window{ring: make([]atomic.Uint64, 2*size/blockBits), size: size, esn: esn}
}

// check returns the full sequence number of a packet whose header carries
// the low 32 bits low, and whether the packet may be new. It is called before
// the ICV check and changes nothing.
func (w *window) check(low uint32) (uint64, bool) {
	top := w.top.Load()
	seq, ok := w.full(low, top)
	if !ok {
		return 0, false
	}
	if seq == 0 {
		// RFC 4303 §3.3.3: the first packet has sequence number 1.
		return 0, false
	}
	if seq > top {
		return seq, true
	}
	if top-seq >= w.size {
		return seq, false
	}
	word := w.ring[w.slot(seq)].Load()
	switch d := tagDiff(word, seq); {
	case d == 0:
		return seq, word&bit(seq) == 0
	case d > 0:
		// A later block replaced seq's: seq fell out of the window.
		return seq, false
	}
	return seq, true
}

// update records seq as received after its ICV verified. It reports false
// if seq is a duplicate or fell out of the window meanwhile (another
// goroutine accepted it, or moved the window past it).
func (w *window) update(seq uint64) bool {
	if seq == 0 {
		return false
	}
	word := &w.ring[w.slot(seq)]
	for {
		old := word.Load()
		// Read top after the word: the update that put the word's block
		// there read top before it did, which bounds how far ahead of this
		// top that block can be (see window).
		if top := w.top.Load(); seq <= top && top-seq >= w.size {
			return false
		}
		var next uint64
		switch d := tagDiff(old, seq); {
		case d == 0:
			if old&bit(seq) != 0 {
				return false
			}
			next = old | bit(seq)
		case d > 0:
			return false
		default:
			// An older block is at least len(ring) blocks behind seq's,
			// out of the window once seq is accepted: its bits go with it.
			next = tag(seq) | bit(seq)
		}
		// RFC 4303 §3.4.3: the receiver MUST verify that seq duplicates no
		// other packet's received during the life of the SA.
		if word.CompareAndSwap(old, next) {
			break
		}
	}
	w.raise(seq)
	return true
}

// raise moves top up to seq, if seq is higher, and brings the words of the
// blocks between the old top and seq up to date.
func (w *window) raise(seq uint64) {
	for {
		top := w.top.Load()
		if seq <= top {
			return
		}
		if !w.top.CompareAndSwap(top, seq) {
			continue
		}
		// The blocks strictly between top's and seq's; of those, only the
		// last len(ring)-1 have words of their own.
		from, to := top/blockBits+1, seq/blockBits
		if to > from+uint64(len(w.ring))-1 {
			from = to - uint64(len(w.ring)) + 1
		}
		for b := from; b < to; b++ {
			w.skip(b * blockBits)
		}
		return
	}
}

// skip puts seq's block, empty, into its word unless the word holds it or a
// later block already.
func (w *window) skip(seq uint64) {
	word := &w.ring[w.slot(seq)]
	for {
		old := word.Load()
		if tagDiff(old, seq) >= 0 || word.CompareAndSwap(old, tag(seq)) {
			return
		}
	}
}

// full reconstructs the sequence number from its low 32 bits, given a
// snapshot of top. Without ESN the high bits are zero. With ESN it follows
// RFC 4303 Appendix A2.2: the high bits are those of top, or the next or
// previous value when the low bits fall on the other side of a 2^32 boundary
// from the window. It reports false when that would go below zero or above
// 2^64-1; the ICV could not verify. RFC 4303 Appendix A3's resynchronization
// after 2^32 lost packets (a MAY) is not done.
func (w *window) full(low uint32, top uint64) (uint64, bool) {
	if !w.esn {
		return uint64(low), true
	}
	tl, th := uint32(top), uint32(top>>32)
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

// slot is the index of seq's word in the ring.
func (w *window) slot(seq uint64) uint64 {
	return seq / blockBits & uint64(len(w.ring)-1)
}

// tag is the high half of the word that holds seq's block.
func tag(seq uint64) uint64 {
	return seq / blockBits << 32
}

// bit is seq's bit in the low half of its block's word.
func bit(seq uint64) uint64 {
	return 1 << (seq % blockBits)
}

// tagDiff compares the block in word with seq's block in serial arithmetic:
// negative when the word holds an older block, zero for seq's, positive for
// a later one.
func tagDiff(word, seq uint64) int32 {
	return int32(uint32(word>>32) - uint32(seq/blockBits))
}
