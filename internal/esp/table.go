package esp

import (
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
)

// ErrSPIInUse means Table.Add found the SPI taken.
var ErrSPIInUse = errors.New("esp: spi in use")

const tableShardBits = 8

// Table finds inbound SAs, or whatever the caller keeps with them, by SPI.
// Lookup takes no lock: the table is split into shards, each an immutable
// map behind an atomic pointer, and Add and Remove replace the one map they
// change with a copy. A change costs a copy of about 1/256 of the table.
//
// The zero Table is empty and ready to use. A Table must not be copied.
type Table[V any] struct {
	// mu serializes Add and Remove, the only writers of shards and n.
	// Lookup never takes it.
	mu     sync.Mutex
	n      int
	shards [1 << tableShardBits]atomic.Pointer[map[uint32]V]
}

// shard spreads SPIs over the shards with a multiplicative hash, so that
// SPIs that differ only in their high bits do not share one.
func shard(spi uint32) uint32 {
	return (spi * 0x9e3779b1) >> (32 - tableShardBits)
}

// Lookup returns the value added for spi.
func (t *Table[V]) Lookup(spi uint32) (V, bool) {
	m := t.shards[shard(spi)].Load()
	if m == nil {
		var zero V
		return zero, false
	}
	v, ok := (*m)[spi]
	return v, ok
}

// Add adds v under spi. It fails with ErrSPIInUse if spi is taken: the
// caller allocates SPIs and a clash is its bug.
func (t *Table[V]) Add(spi uint32, v V) error {
	if spi == 0 {
		return errors.New("esp: add to table: spi is zero")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	p := &t.shards[shard(spi)]
	old := p.Load()
	if old == nil {
		p.Store(&map[uint32]V{spi: v})
		t.n++
		return nil
	}
	if _, ok := (*old)[spi]; ok {
		return fmt.Errorf("esp: add 0x%08x to table: %w", spi, ErrSPIInUse)
	}
	m := maps.Clone(*old)
	m[spi] = v
	p.Store(&m)
	t.n++
	return nil
}

// Remove removes spi and returns what was added under it. Lookups that
// started before may still return it.
func (t *Table[V]) Remove(spi uint32) (V, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := &t.shards[shard(spi)]
	old := p.Load()
	var v V
	if old == nil {
		return v, false
	}
	v, ok := (*old)[spi]
	if !ok {
		return v, false
	}
	m := maps.Clone(*old)
	delete(m, spi)
	p.Store(&m)
	t.n--
	return v, true
}

// Len returns the number of SPIs in the table.
func (t *Table[V]) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}
