package esp

import (
	"math/rand/v2"
	"testing"
)

// accept runs a packet through the window as Open does: check, then update.
func (w *window) accept(low uint32) (uint64, bool) {
	seq, ok := w.check(low)
	return seq, ok && w.update(seq)
}

// TestWindowRFC4303Section3_4_3 walks the window through its edge cases
// without ESN: duplicates, the last and first packet outside the window, a
// slide by less than one block, by exactly the window, and far-ahead jumps.
func TestWindowRFC4303Section3_4_3(t *testing.T) {
	type step struct {
		seq  uint32
		want bool
	}
	tests := []struct {
		name  string
		size  uint64
		steps []step
	}{
		{"zero is never valid", 64, []step{{0, false}, {1, true}, {0, false}}},
		{"duplicate", 64, []step{{1, true}, {1, false}, {2, true}, {1, false}, {2, false}}},
		{"reorder inside window", 64, []step{{10, true}, {5, true}, {9, true}, {5, false}, {1, true}}},
		{"edges of the window", 64, []step{{100, true}, {37, true}, {36, false}, {35, false}, {100, false}}},
		{"edges of a big window", 1024, []step{{5000, true}, {3977, true}, {3976, false}}},
		{"slide less than a block", 64, []step{{1, true}, {30, true}, {2, true}, {1, false}, {65, true}, {1, false}, {2, false}, {3, true}}},
		{"slide exactly the window", 64, []step{{64, true}, {128, true}, {64, false}, {65, true}, {65, false}}},
		{"far-ahead jump clears everything", 64, []step{{5, true}, {6, true}, {1_000_000, true}, {999_937, true}, {999_936, false}, {6, false}}},
		{"jump by ring size", 64, []step{{3, true}, {131, true}, {3, false}, {130, true}, {68, true}, {67, false}}},
		{"top of 32-bit space", 64, []step{{0xffffffff, true}, {0xffffffc0, true}, {0xffffffbf, false}, {0xffffffff, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWindow(tt.size, false)
			for i, st := range tt.steps {
				if _, ok := w.accept(st.seq); ok != st.want {
					t.Fatalf("step %d: seq %d accepted %v, want %v (top %d)", i, st.seq, ok, st.want, w.top)
				}
			}
		})
	}
}

// TestWindowESNAppendixA checks the reconstruction of the high-order bits
// (RFC 4303 Appendix A2.2) on both sides of a 2^32 boundary.
func TestWindowESNAppendixA(t *testing.T) {
	const W = 64
	tests := []struct {
		name string
		top  uint64
		low  uint32
		want uint64
		ok   bool
	}{
		{"A: inside, same subspace", 5<<32 | 1000, 990, 5<<32 | 990, true},
		{"A: ahead, same subspace", 5<<32 | 1000, 2000, 5<<32 | 2000, true},
		{"A: bottom edge", 5<<32 | 1000, 1000 - W + 1, 5<<32 | (1000 - W + 1), true},
		{"A: below window means next subspace", 5<<32 | 1000, 10, 6<<32 | 10, true},
		{"A: near the top wraps into next subspace", 5<<32 | 0xfffffff0, 3, 6<<32 | 3, true},
		{"A: no subspace after the last", 0xffffffff<<32 | 1000, 10, 0, false},
		{"B: low bits wrapped, previous subspace", 6<<32 | 10, 0xfffffff0, 5<<32 | 0xfffffff0, true},
		{"B: just past the boundary", 6<<32 | 10, 3, 6<<32 | 3, true},
		{"B: ahead", 6<<32 | 10, 5000, 6<<32 | 5000, true},
		{"B: no subspace before the first", 10, 0xfffffff0, 0, false},
		{"B: fresh SA", 0, 1, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWindow(W, true)
			w.top = tt.top
			got, ok := w.full(tt.low)
			if ok != tt.ok || (ok && got != tt.want) {
				t.Fatalf("full(%#x) with top %#x = %#x, %v; want %#x, %v", tt.low, tt.top, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestWindowESNWrap crosses the 2^32 boundary of the low bits with ESN,
// with packets reordered across it.
func TestWindowESNWrap(t *testing.T) {
	w := newWindow(64, true)
	w.top = 1<<32 - 40
	steps := []struct {
		low  uint32
		want uint64
		ok   bool
	}{
		{0xffffffe0, 1<<32 - 32, true},
		{2, 1<<32 + 2, true}, // crosses into subspace 1
		{0xfffffff0, 1<<32 - 16, true},
		{0xfffffff0, 0, false}, // duplicate from the old subspace
		{0xffffffe0, 0, false},
		{0, 1 << 32, true},
		{0xffffffc3, 1<<32 - 61, true}, // the bottom edge: top-W+1
		{0xffffffc4, 1<<32 - 60, true},
		{2, 0, false},
	}
	for i, st := range steps {
		seq, ok := w.accept(st.low)
		if ok != st.ok || (ok && seq != st.want) {
			t.Fatalf("step %d: low %#x = %#x, %v; want %#x, %v", i, st.low, seq, ok, st.want, st.ok)
		}
	}
	// One below the bottom edge reads as the far end of the next subspace
	// (Appendix A): only the ICV check can refuse it.
	if seq, ok := w.check(0xffffffc2); !ok || seq != 1<<32|0xffffffc2 {
		t.Fatalf("check(0xffffffc2) = %#x, %v", seq, ok)
	}
}

// TestWindowUpdateRace checks that update refuses what another update
// accepted, or moved past, after check said yes.
func TestWindowUpdateRace(t *testing.T) {
	w := newWindow(64, false)
	a, okA := w.check(5)
	b, okB := w.check(5)
	if !okA || !okB || !w.update(a) || w.update(b) {
		t.Fatal("both copies of one packet accepted")
	}
	c, ok := w.check(6)
	if !ok || !w.update(1000) || w.update(c) {
		t.Fatal("packet accepted after the window moved past it")
	}
	if w.update(0) {
		t.Fatal("update accepted 0")
	}
}

// TestWindowModel compares the bitmap ring with a plain set over random
// sequence numbers: same answers for every window size.
func TestWindowModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []uint64{64, 128, 1024, 4096} {
		w := newWindow(size, false)
		seen := map[uint64]bool{}
		var top uint64
		for i := range 200_000 {
			var seq uint64
			switch rng.IntN(10) {
			case 0:
				seq = top + uint64(rng.IntN(int(3*size))) // jump ahead
			case 1:
				seq = uint64(rng.IntN(int(top + 1))) // anywhere before
			default:
				seq = top - min(top, uint64(rng.IntN(int(size+64)))) + 1 // near the edge
			}
			seq &= 0xffffffff
			want := seq != 0 && !seen[seq] && (seq > top || top-seq < size)
			_, got := w.accept(uint32(seq))
			if got != want {
				t.Fatalf("size %d step %d: seq %d (top %d) accepted %v, want %v", size, i, seq, top, got, want)
			}
			if got {
				seen[seq] = true
				top = max(top, seq)
			}
		}
	}
}

func BenchmarkWindowInOrder(b *testing.B) {
	w := newWindow(DefaultReplayWindow, true)
	b.ReportAllocs()
	var seq uint32
	for b.Loop() {
		seq++
		if _, ok := w.accept(seq); !ok {
			b.Fatal("refused")
		}
	}
}
