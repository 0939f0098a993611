package esp

import (
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
)

func TestTable(t *testing.T) {
	var tab Table[*SA]
	if _, ok := tab.Lookup(1); ok || tab.Len() != 0 {
		t.Fatal("zero Table not empty")
	}
	sas := map[uint32]*SA{}
	for _, spi := range []uint32{1, 2, 0xc0ffee01, 0xffffffff, 1 << 24, 2 << 24} {
		cfg := configFor(suite{AESGCM16, NoIntegrity, 16}, false)
		cfg.SPI = spi
		sa, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := tab.Add(spi, sa); err != nil {
			t.Fatal(err)
		}
		sas[spi] = sa
	}
	if err := tab.Add(2, sas[1]); !errors.Is(err, ErrSPIInUse) {
		t.Fatalf("Add of a taken SPI: %v", err)
	}
	if err := tab.Add(0, sas[1]); err == nil {
		t.Fatal("Add of SPI 0 accepted")
	}
	for spi, sa := range sas {
		if got, ok := tab.Lookup(spi); !ok || got != sa {
			t.Fatalf("Lookup(%#x) = %v, %v", spi, got, ok)
		}
	}
	if tab.Len() != len(sas) {
		t.Fatalf("Len = %d", tab.Len())
	}
	if got, ok := tab.Remove(2); !ok || got != sas[2] {
		t.Fatalf("Remove(2) = %v, %v", got, ok)
	}
	if _, ok := tab.Remove(2); ok {
		t.Fatal("second Remove(2) found it")
	}
	if _, ok := tab.Remove(12345); ok {
		t.Fatal("Remove of a never-added SPI found it")
	}
	if _, ok := tab.Lookup(2); ok || tab.Len() != len(sas)-1 {
		t.Fatal("2 still there")
	}
	if err := tab.Add(2, sas[2]); err != nil {
		t.Fatalf("re-Add after Remove: %v", err)
	}
}

// TestTableConcurrent runs lookups while writers add and remove SPIs (run
// with -race): a lookup sees an SPI either absent or with its own value, and
// SPIs nobody touches are always there.
func TestTableConcurrent(t *testing.T) {
	var tab Table[uint32]
	for spi := uint32(1); spi <= 1000; spi++ {
		if err := tab.Add(spi, spi); err != nil {
			t.Fatal(err)
		}
	}
	var stop atomic.Bool
	var writers, readers sync.WaitGroup
	for w := range 2 {
		writers.Go(func() {
			base := uint32(10_000 * (w + 1))
			for i := uint32(0); !stop.Load(); i = (i + 1) % 500 {
				if err := tab.Add(base+i, base+i); err != nil {
					t.Error(err)
					return
				}
				if _, ok := tab.Remove(base + i); !ok {
					t.Error("lost an SPI")
					return
				}
			}
		})
	}
	for r := range 4 {
		readers.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 0))
			for range 20_000 {
				spi := uint32(rng.IntN(1000)) + 1
				if v, ok := tab.Lookup(spi); !ok || v != spi {
					t.Errorf("Lookup(%d) = %d, %v", spi, v, ok)
					return
				}
				churn := uint32(10_000*(1+rng.IntN(2))) + uint32(rng.IntN(500))
				if v, ok := tab.Lookup(churn); ok && v != churn {
					t.Errorf("Lookup(%d) = %d", churn, v)
					return
				}
			}
		})
	}
	readers.Wait()
	stop.Store(true)
	writers.Wait()
	if tab.Len() != 1000 {
		t.Fatalf("Len = %d after the churn, want 1000", tab.Len())
	}
}

// TestTableNoAllocs checks that Lookup allocates nothing.
func TestTableNoAllocs(t *testing.T) {
	var tab Table[*SA]
	sa, err := New(configFor(suite{AESGCM16, NoIntegrity, 16}, false))
	if err != nil {
		t.Fatal(err)
	}
	if err := tab.Add(7, sa); err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(100, func() { tab.Lookup(7); tab.Lookup(8) }); a != 0 {
		t.Fatalf("Lookup: %v allocs", a)
	}
}

// tableOf returns a table of n SAs under random SPIs, and the SPIs.
func tableOf(b *testing.B, n int) (*Table[*SA], []uint32) {
	var tab Table[*SA]
	rng := rand.New(rand.NewPCG(1, 1))
	sa, err := New(configFor(suite{AESGCM16, NoIntegrity, 16}, false))
	if err != nil {
		b.Fatal(err)
	}
	spis := make([]uint32, 0, n)
	for len(spis) < n {
		spi := rng.Uint32()
		if spi == 0 {
			continue
		}
		if err := tab.Add(spi, sa); err == nil {
			spis = append(spis, spi)
		}
	}
	return &tab, spis
}

// BenchmarkTableLookup10000 looks up SAs in a table of 10,000.
func BenchmarkTableLookup10000(b *testing.B) {
	tab, spis := tableOf(b, 10_000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, ok := tab.Lookup(spis[i%len(spis)]); !ok {
			b.Fatal("missing")
		}
		i++
	}
}

func BenchmarkTableLookup10000Parallel(b *testing.B) {
	tab, spis := tableOf(b, 10_000)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, ok := tab.Lookup(spis[i%len(spis)]); !ok {
				b.Error("missing")
				return
			}
			i += 7
		}
	})
}

// BenchmarkTableAddRemove10000 measures a writer's cost with 10,000 SAs in
// the table: each Add and each Remove copies one shard.
func BenchmarkTableAddRemove10000(b *testing.B) {
	tab, spis := tableOf(b, 10_000)
	sa, _ := tab.Lookup(spis[0])
	b.ReportAllocs()
	for b.Loop() {
		if err := tab.Add(42, sa); err != nil {
			b.Fatal(err)
		}
		tab.Remove(42)
	}
}
