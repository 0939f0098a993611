package fabric

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"
)

// numbered returns an IPv4 packet to dst of size bytes whose IP ID and
// payload say it is the i-th.
func numbered(dst string, i, size int) []byte {
	p := make([]byte, size)
	copy(p, ipv4Packet(dst, 64))
	p[2], p[3] = byte(size>>8), byte(size)
	p[4], p[5] = byte(i>>8), byte(i)
	for j := 20; j < size; j++ {
		p[j] = byte(i + j)
	}
	return rechecksum(p)
}

// batches splits pkts into batches of n with headroom off in front of
// each packet, as a TUN host's pump hands them to the router.
func batches(pkts [][]byte, n, off int) [][][]byte {
	var out [][][]byte
	for i := 0; i < len(pkts); i += n {
		var b [][]byte
		for _, p := range pkts[i:min(i+n, len(pkts))] {
			b = append(b, append(make([]byte, off), p...))
		}
		out = append(out, b)
	}
	return out
}

// waitForRead waits until a Read is blocked in p, waiting for packets.
func waitForRead(t *testing.T, p *GatewayPort) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		p.mu.Lock()
		w := p.waiter
		p.mu.Unlock()
		if w != nil {
			return
		}
	}
	t.Fatal("no Read waits")
}

// readAll reads from p until it has n packets, into buffers of batch
// packets, and returns copies of them; if they have not all come within
// 30 s (a packet dropped), it closes p and returns what came, with an
// error, rather than wait for ever.
func readAll(p *GatewayPort, n, batch int) ([][]byte, error) {
	const off = 48
	stop := time.AfterFunc(30*time.Second, func() { p.Close() })
	defer stop.Stop()
	bufs := make([][]byte, batch)
	for i := range bufs {
		bufs[i] = make([]byte, off+9000)
	}
	sizes := make([]int, batch)
	var got [][]byte
	for len(got) < n {
		k, err := p.Read(bufs, sizes, off)
		for i := range k {
			got = append(got, bytes.Clone(bufs[i][off:off+sizes[i]]))
		}
		if err != nil {
			return got, err
		}
	}
	return got, nil
}

// TestGatewayPortBatchArrivesInOrder: batches the router hands the
// gateway port arrive complete and in order through Read, whether they
// are queued or copied straight into a Read that waits, and packets to
// others in a batch do not reach the gateway.
func TestGatewayPortBatchArrivesInOrder(t *testing.T) {
	tests := []struct {
		name    string
		waiting bool // a Read waits before the first batch
	}{
		{"queued", false},
		{"to a waiting Read", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRouter()
			p := NewGatewayPort(r)
			host := &recorder{}
			r.SetRoutes([]Route{{netip.MustParsePrefix("192.168.0.0/16"), p}, {netip.MustParsePrefix("10.1.0.5/32"), host}})
			var pkts, want [][]byte
			for i := range 300 {
				dst := "192.168.1.1"
				if i%50 == 7 {
					dst = "10.1.0.5" // ends a run to the port
				}
				pkt := numbered(dst, i, 20+(i*37)%1400)
				pkts = append(pkts, pkt)
				if dst != "10.1.0.5" {
					w := bytes.Clone(pkt)
					decrementTTL(w)
					want = append(want, w)
				}
			}
			var got [][]byte
			var err error
			var wg sync.WaitGroup
			if tc.waiting {
				wg.Go(func() { got, err = readAll(p, len(want), 64) })
				waitForRead(t, p)
			}
			for _, b := range batches(pkts, 128, 10) {
				r.ForwardBatch(b, 10)
			}
			if tc.waiting {
				wg.Wait()
			} else {
				got, err = readAll(p, len(want), 64)
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("read %d packets, want %d", len(got), len(want))
			}
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("packet %d: read %d bytes %x..., want %d bytes %x...", i, len(got[i]), got[i][:8], len(want[i]), want[i][:8])
				}
			}
			if len(host.pkts) != 6 || p.Dropped() != 0 {
				t.Fatalf("the host got %d packets, want 6; %d dropped", len(host.pkts), p.Dropped())
			}
		})
	}
}

// TestGatewayPortDropsWhenReaderStalls: while the gateway does not read,
// the queue fills up to its packet or byte limit and the rest is dropped
// and counted; what was queued is read in order afterwards, and the queue
// takes packets again.
func TestGatewayPortDropsWhenReaderStalls(t *testing.T) {
	tests := []struct {
		name        string
		n, size     int
		wantDropped int
	}{
		{"packet limit", portQueue + 100, 64, 100},
		{"byte limit", 300, 8192, 300 - portQueueBytes/8192},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRouter()
			p := NewGatewayPort(r)
			r.SetRoutes([]Route{{netip.MustParsePrefix("192.168.0.0/16"), p}})
			var pkts [][]byte
			for i := range tc.n {
				pkts = append(pkts, numbered("192.168.1.1", i, tc.size))
			}
			for _, b := range batches(pkts, 128, 10) {
				r.ForwardBatch(b, 10)
			}
			if got := int(p.Dropped()); got != tc.wantDropped {
				t.Fatalf("dropped %d, want %d", got, tc.wantDropped)
			}
			if s := r.Stats(); s.Forwarded != uint64(tc.n) {
				t.Fatalf("router forwarded %d, want %d", s.Forwarded, tc.n)
			}
			queued := tc.n - tc.wantDropped
			bufs := [][]byte{make([]byte, 16+tc.size)}
			got, err := readAll(p, queued, 128)
			if err != nil {
				t.Fatal(err)
			}
			for i, pkt := range got {
				if id := int(pkt[4])<<8 | int(pkt[5]); id != i {
					t.Fatalf("packet %d read is number %d", i, id)
				}
			}
			// Drained, the queue takes packets again.
			r.ForwardBatch(batches(pkts[:1], 1, 10)[0], 10)
			if n, err := p.Read(bufs, make([]int, 1), 16); n != 1 || err != nil || p.Dropped() != uint64(tc.wantDropped) {
				t.Fatalf("after draining: Read = %d, %v; dropped %d", n, err, p.Dropped())
			}
		})
	}
}

// TestGatewayPortClose: Close wakes a waiting Read with os.ErrClosed, and
// packets delivered after it are dropped and counted.
func TestGatewayPortClose(t *testing.T) {
	p := NewGatewayPort(NewRouter())
	var err error
	var wg sync.WaitGroup
	wg.Go(func() { _, err = readAll(p, 1, 8) })
	waitForRead(t, p)
	p.Close()
	wg.Wait()
	if !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
	p.DeliverBatch([][]byte{ipv4Packet("192.168.1.1", 63)}, 0)
	if p.Dropped() != 1 {
		t.Fatalf("dropped %d after Close, want 1", p.Dropped())
	}
	if _, err := p.Read(make([][]byte, 1), make([]int, 1), 0); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
}

// TestGatewayPortPacketLongerThanBuffer: a packet longer than the
// reader's buffer is dropped and counted, not cut short.
func TestGatewayPortPacketLongerThanBuffer(t *testing.T) {
	for _, waiting := range []bool{false, true} {
		p := NewGatewayPort(NewRouter())
		bufs, sizes := [][]byte{make([]byte, 16+50), make([]byte, 16+50)}, make([]int, 2)
		var n int
		var err error
		var wg sync.WaitGroup
		if waiting {
			wg.Go(func() { n, err = p.Read(bufs, sizes, 16) })
			waitForRead(t, p)
		}
		p.DeliverBatch([][]byte{numbered("192.168.1.1", 1, 100), numbered("192.168.1.1", 2, 20)}, 0)
		if waiting {
			wg.Wait()
		} else {
			n, err = p.Read(bufs, sizes, 16)
		}
		if n != 1 || err != nil || sizes[0] != 20 || bufs[0][16+5] != 2 || p.Dropped() != 1 {
			t.Errorf("waiting %v: Read = %d, %v, sizes %v; dropped %d", waiting, n, err, sizes[:n], p.Dropped())
		}
		p.Close()
	}
}

// TestGatewayPortZeroAllocs: in the steady state a batch routed to the
// gateway port and read from it allocates nothing, whether it is queued
// or copied straight into a waiting Read (STYLE.md, data path).
func TestGatewayPortZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	const batch = 128
	t.Run("queued", func(t *testing.T) {
		g := newToGateway(batch, 1400)
		defer g.p.Close()
		run := func() {
			g.forward(batch)
			for got := 0; got < batch; {
				n, err := g.p.Read(g.out, g.sizes, readHeadroom)
				if err != nil {
					t.Fatal(err)
				}
				got += n
			}
		}
		for range 3 { // both queues grow to their working size
			run()
		}
		if allocs := testing.AllocsPerRun(100, run); allocs != 0 {
			t.Errorf("%v allocations per batch, want 0", allocs)
		}
	})
	t.Run("to a waiting Read", func(t *testing.T) {
		g := newToGateway(batch, 1400)
		read := make(chan int, batch)
		var wg sync.WaitGroup
		wg.Go(func() {
			for {
				n, err := g.p.Read(g.out, g.sizes, readHeadroom)
				if err != nil {
					return
				}
				read <- n
			}
		})
		defer wg.Wait()
		defer g.p.Close()
		run := func() {
			g.forward(batch)
			for got := 0; got < batch; {
				got += <-read
			}
		}
		for range 3 {
			run()
		}
		if allocs := testing.AllocsPerRun(100, run); allocs != 0 {
			t.Errorf("%v allocations per batch, want 0", allocs)
		}
	})
}
