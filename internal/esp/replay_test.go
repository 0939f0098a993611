package esp

import (
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// accept runs a packet through the window as Open does: check, then update.
func (w *window) accept(low uint32) (uint64, bool) {
	seq, ok := w.check(low)
	return seq, ok && w.update(seq)
}

// acceptAuthentic runs the packet with sequence number seq through the
// window as Open does, with the ICV check in between: only the low 32 bits
// travel, and a reconstruction (RFC 4303 Appendix A2.2) other than seq fails
// the ICV.
func (w *window) acceptAuthentic(seq uint64) bool {
	full, ok := w.check(uint32(seq))
	return ok && full == seq && w.update(seq)
}

// reset empties the window and puts its top at top, as if the packets up to
// top had all been lost: every word holds the latest block up to top's that
// belongs in it, empty. Not safe for concurrent use.
func (w *window) reset(top uint64) {
	w.top.Store(top)
	n := uint64(len(w.ring))
	for i := range w.ring {
		b := top/blockBits - (top/blockBits-uint64(i))%n
		w.ring[i].Store(tag(b * blockBits))
	}
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
					t.Fatalf("step %d: seq %d accepted %v, want %v (top %d)", i, st.seq, ok, st.want, w.top.Load())
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
			got, ok := w.full(tt.low, tt.top)
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
	w.reset(1<<32 - 40)
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

// TestWindowFarJumps jumps with ESN by 2^31 at a time, always into the same
// ring word, until the other words' blocks would be 2^31 blocks behind, more
// than their 32-bit tags can tell apart. Raising top brings the skipped
// blocks' words up to date, as RFC 6479 clears them, so the next block is
// still new.
func TestWindowFarJumps(t *testing.T) {
	w := newWindow(64, true)
	seq := uint64(128)
	for range 40 {
		if !w.acceptAuthentic(seq) {
			t.Fatalf("jump to %#x refused", seq)
		}
		seq += 1 << 31
	}
	seq -= 1 << 31
	steps := []struct {
		seq uint64
		ok  bool
	}{{seq - 63, true}, {seq - 1, true}, {seq - 64, false}, {seq + 32, true}, {seq - 1, false}}
	for i, st := range steps {
		if ok := w.acceptAuthentic(st.seq); ok != st.ok {
			t.Fatalf("step %d: %#x after a jump to %#x accepted %v, want %v", i, st.seq, seq, ok, st.ok)
		}
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

// TestWindowConcurrent feeds the window from many goroutines at once, as
// parallel decryption of one SA does, in rounds: each round is a shuffled
// mix of new sequence numbers (sometimes after a far-ahead jump), older ones
// left out until now that are still in the window, duplicates, too-old ones
// and zero, each delivered several times. Every sequence number that is new
// and in the window at the end of its round must be accepted exactly once
// (RFC 4303 §3.4.3), all else refused. Rounds are what make the expected
// answers exact: within one, no packet can push another out of the window.
func TestWindowConcurrent(t *testing.T) {
	tests := []struct {
		name  string
		size  uint64
		esn   bool
		start uint64
	}{
		{"64", 64, false, 0},
		{"1024", 1024, false, 0},
		{"4096 ESN across 2^32", 4096, true, 1<<32 - 20_000},
	}
	const workers, copies, rounds = 8, 3, 200
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			w := newWindow(tt.size, tt.esn)
			w.reset(tt.start)
			top := tt.start       // highest accepted
			last := tt.start      // highest sent or held
			var held []uint64     // skipped so far, never delivered
			var accepted []uint64 // the latest accepted, for duplicates
			for round := range rounds {
				lo := last + 1
				if rng.IntN(8) == 0 {
					lo += []uint64{tt.size, 3 * tt.size, 1 << 20}[rng.IntN(3)]
				}
				last = lo + rng.Uint64N(tt.size/2)
				var want, refuse, fresh []uint64
				for s := lo; s <= last; s++ {
					if rng.IntN(10) == 0 {
						fresh = append(fresh, s)
					} else {
						want = append(want, s)
					}
				}
				end := top // top at the end of the round
				if len(want) > 0 {
					end = max(top, want[len(want)-1])
				}
				// Held ones too old at the start are refused; those still in
				// the window at the end may be sent; those in between wait for
				// the next round, where they are too old.
				held = slices.DeleteFunc(held, func(s uint64) bool {
					switch {
					case s <= top && top-s >= tt.size:
						refuse = append(refuse, s)
						return true
					case s <= end && end-s < tt.size && rng.IntN(2) == 0:
						want = append(want, s)
						return true
					}
					return false
				})
				held = append(held, fresh...)
				for range 20 {
					if len(accepted) > 0 {
						refuse = append(refuse, accepted[rng.IntN(len(accepted))])
					}
				}
				refuse = append(refuse, 0)
				var stream []uint64
				for range copies {
					stream = append(stream, want...)
					stream = append(stream, refuse...)
				}
				rng.Shuffle(len(stream), func(i, j int) { stream[i], stream[j] = stream[j], stream[i] })

				var next atomic.Int64
				got := make([][]uint64, workers)
				var wg sync.WaitGroup
				for i := range workers {
					wg.Go(func() {
						for {
							j := next.Add(1) - 1
							if j >= int64(len(stream)) {
								return
							}
							if w.acceptAuthentic(stream[j]) {
								got[i] = append(got[i], stream[j])
							}
						}
					})
				}
				wg.Wait()

				times := make(map[uint64]int)
				for _, g := range got {
					for _, s := range g {
						times[s]++
					}
				}
				for _, s := range want {
					if times[s] != 1 {
						t.Fatalf("round %d: seq %d (top %d) accepted %d times, want once", round, s, top, times[s])
					}
				}
				for _, s := range refuse {
					if times[s] != 0 {
						t.Fatalf("round %d: seq %d (top %d) accepted %d times, want refused", round, s, top, times[s])
					}
				}
				top = end
				if got := w.top.Load(); got != top {
					t.Fatalf("round %d: top %d, want %d", round, got, top)
				}
				accepted = append(accepted, want...)
				if n := len(accepted); n > 4*int(tt.size) {
					accepted = accepted[n-4*int(tt.size):]
				}
			}
			if tt.esn && top < 1<<32 {
				t.Fatalf("top %#x did not cross 2^32", top)
			}
		})
	}
}

// TestWindowConcurrentFree lets goroutines race without rounds, on a small
// window whose words are reused all the time, around a front that jumps
// ahead now and then. Whatever the interleaving, no sequence number is
// accepted twice, and every one delivered that is in the final window was
// accepted (nothing newer could have pushed it out).
func TestWindowConcurrentFree(t *testing.T) {
	const size, workers, each = 64, 8, 20_000
	w := newWindow(size, false)
	var front atomic.Uint64
	front.Store(1000)
	got := make([][]uint64, workers)
	sent := make([][]uint64, workers)
	var wg sync.WaitGroup
	for i := range workers {
		rng := rand.New(rand.NewPCG(5, uint64(i)))
		wg.Go(func() {
			for range each {
				f := front.Load()
				if rng.IntN(200) == 0 {
					front.CompareAndSwap(f, f+uint64(rng.IntN(10*size)))
				}
				s := f + uint64(rng.IntN(size)) - 2*size
				if rng.IntN(4) == 0 {
					f = front.Add(1)
					s = f
				}
				sent[i] = append(sent[i], s)
				if _, ok := w.accept(uint32(s)); ok {
					got[i] = append(got[i], s)
				}
			}
		})
	}
	wg.Wait()
	times := make(map[uint64]int)
	for _, g := range got {
		for _, s := range g {
			if times[s]++; times[s] > 1 || s == 0 {
				t.Fatalf("seq %d accepted %d times", s, times[s])
			}
		}
	}
	top := w.top.Load()
	for _, ss := range sent {
		for _, s := range ss {
			if s <= top && top-s < size && times[s] != 1 {
				t.Fatalf("seq %d in the final window (top %d) accepted %d times", s, top, times[s])
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

// BenchmarkWindowParallel runs one SA's packets, in order, through its
// window from all Ps at once, as parallel decryption does: the window's
// share of BenchmarkOpenParallel, without the cryptography. Packets that a
// goroutine held up for more than a window are counted as replays/op.
func BenchmarkWindowParallel(b *testing.B) {
	w := newWindow(DefaultReplayWindow, true)
	var next, replays atomic.Uint64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := w.accept(uint32(next.Add(1))); !ok {
				replays.Add(1)
			}
		}
	})
	b.ReportMetric(float64(replays.Load())/float64(b.N), "replays/op")
}
