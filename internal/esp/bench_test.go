package esp

import (
	"fmt"
	"sync/atomic"
	"testing"
)

var benchSuites = []struct {
	name string
	s    suite
}{
	{"aes128gcm16", suite{AESGCM16, NoIntegrity, 16}},
	{"aes256gcm16", suite{AESGCM16, NoIntegrity, 32}},
	{"aes256-sha256", suite{AESCBC, HMACSHA256, 32}},
	{"aes128-sha1", suite{AESCBC, HMACSHA1, 16}},
}

var benchSizes = []int{64, 1400, 9000}

// BenchmarkSeal seals inner packets of 64, 1400 and 9000 bytes in place.
func BenchmarkSeal(b *testing.B) {
	for _, bs := range benchSuites {
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("%s/%d", bs.name, n), func(b *testing.B) {
				sa, err := New(configFor(bs.s, false))
				if err != nil {
					b.Fatal(err)
				}
				buf := packetBuf(innerPacket(n))
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := sa.Seal(buf, n, 4); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkSealParallel seals from all Ps on one SA, sharing its sequence
// counter.
func BenchmarkSealParallel(b *testing.B) {
	for _, bs := range benchSuites {
		b.Run(bs.name+"/1400", func(b *testing.B) {
			sa, err := New(configFor(bs.s, false))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(1400)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				buf := packetBuf(innerPacket(1400))
				for pb.Next() {
					if _, err := sa.Seal(buf, 1400, 4); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkOpen opens packets of 64, 1400 and 9000 bytes. Open decrypts in
// place, so each iteration first copies a pristine packet into place (a
// memmove of the packet's size, included in the figure); every 256 packets
// the replay window is reset in place so that the same packets open again.
func BenchmarkOpen(b *testing.B) {
	const ring = 256
	for _, bs := range benchSuites {
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("%s/%d", bs.name, n), func(b *testing.B) {
				out, in := pair(b, configFor(bs.s, false))
				pristine := make([][]byte, ring)
				for i := range pristine {
					pkt, err := out.Seal(packetBuf(innerPacket(n)), n, 4)
					if err != nil {
						b.Fatal(err)
					}
					pristine[i] = pkt
				}
				work := make([]byte, len(pristine[0]))
				b.SetBytes(int64(n))
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if i == ring {
						i = 0
						in.replay.reset(0)
					}
					copy(work, pristine[i])
					if _, _, err := in.Open(work); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		}
	}
}

// BenchmarkBaselineGCM is bare crypto/cipher AES-256-GCM over the same
// sizes, in place, so that Seal's own overhead can be read off in one run.
func BenchmarkBaselineGCM(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			g, _ := ref{configFor(suite{AESGCM16, NoIntegrity, 32}, false)}.aead()
			buf := make([]byte, n+2+16+2)
			nonce := make([]byte, 12)
			aad := make([]byte, 8)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				g.Seal(buf[:0], nonce, buf[:n+2], aad)
			}
		})
	}
}

// BenchmarkOpenParallel opens from all Ps on one SA, as parallel decryption
// of one SA's packets does, so that the replay window is shared. The packets
// are a pre-sealed stream of consecutive sequence numbers handed out in
// order; a stream opens once per window, so each stream length of
// iterations moves to the next of b.N/stream SAs made beforehand (the
// goroutines share one SA at a time). Each iteration copies a pristine
// packet into place, as BenchmarkOpen does. A goroutine held up for more than
// a window of packets sees ErrReplay; those are counted as replays/op.
func BenchmarkOpenParallel(b *testing.B) {
	const stream = 1 << 14
	for _, bs := range benchSuites {
		for _, n := range []int{64, 1400} {
			b.Run(fmt.Sprintf("%s/%d", bs.name, n), func(b *testing.B) {
				cfg := configFor(bs.s, false)
				out, err := New(cfg)
				if err != nil {
					b.Fatal(err)
				}
				pristine := make([][]byte, stream)
				for i := range pristine {
					if pristine[i], err = out.Seal(packetBuf(innerPacket(n)), n, 4); err != nil {
						b.Fatal(err)
					}
				}
				ins := make([]*SA, b.N/stream+1)
				for i := range ins {
					if ins[i], err = New(cfg); err != nil {
						b.Fatal(err)
					}
				}
				var next, replays atomic.Uint64
				b.SetBytes(int64(n))
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					work := make([]byte, len(pristine[0]))
					for pb.Next() {
						i := next.Add(1) - 1
						copy(work, pristine[i%stream])
						if _, _, err := ins[i/stream].Open(work); err == ErrReplay {
							replays.Add(1)
						} else if err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(replays.Load())/float64(b.N), "replays/op")
			})
		}
	}
}
