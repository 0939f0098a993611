package udp

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"
)

// pair opens two Conns on loopback.
func pair(t testing.TB) (a, b *Conn) {
	t.Helper()
	var err error
	if a, err = Listen(netip.MustParseAddrPort("127.0.0.1:0")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	if b, err = Listen(netip.MustParseAddrPort("127.0.0.1:0")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return a, b
}

func payload(i, n int) []byte {
	b := make([]byte, n)
	for j := range b {
		b[j] = byte(i + j)
	}
	return b
}

func newMsgs(n, size int) []Message {
	msgs := make([]Message, n)
	for i := range msgs {
		msgs[i].Buf = make([]byte, size)
	}
	return msgs
}

// readAll reads until want datagrams arrived or the deadline passes.
func readAll(t testing.TB, c *Conn, msgs []Message, want int) [][]byte {
	t.Helper()
	c.sock.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer c.sock.SetReadDeadline(time.Time{})
	var got [][]byte
	for len(got) < want {
		n, err := c.ReadBatch(msgs)
		if err != nil {
			t.Fatalf("ReadBatch after %d of %d: %v", len(got), want, err)
		}
		for _, m := range msgs[:n] {
			got = append(got, bytes.Clone(m.Buf[:m.N]))
		}
	}
	return got
}

// TestConnBatch sends batches that GSO can and cannot coalesce and checks
// that every datagram arrives whole, in order, from the right address.
func TestConnBatch(t *testing.T) {
	tests := []struct {
		name  string
		sizes []int
		batch int // receive batch
	}{
		{name: "one", sizes: []int{100}, batch: 8},
		{name: "same size run", sizes: repeat(1400, 100), batch: 128},
		{name: "run ends shorter", sizes: append(repeat(1400, 10), 700), batch: 128},
		{name: "mixed sizes", sizes: []int{1400, 1400, 1500, 20, 20, 1400, 1, 1400}, batch: 128},
		{name: "zero length", sizes: []int{0, 10, 0}, batch: 8},
		{name: "more than 64 segments", sizes: repeat(200, 150), batch: 128},
		{name: "receive batch smaller than a GRO read", sizes: repeat(1000, 90), batch: 3},
		{name: "large datagrams", sizes: []int{60000, 9000, 9000}, batch: 8},
	}
	for _, tt := range tests {
		for _, gso := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s gso=%v", tt.name, gso), func(t *testing.T) {
				a, b := pair(t)
				a.gso.Store(gso && a.gso.Load())
				out := make([]Message, len(tt.sizes))
				for i, n := range tt.sizes {
					out[i] = Message{Buf: payload(i, n), Addr: b.LocalAddr()}
				}
				if err := a.WriteBatch(out); err != nil {
					t.Fatal(err)
				}
				got := readAll(t, b, newMsgs(tt.batch, MaxDatagram), len(tt.sizes))
				for i := range out {
					if !bytes.Equal(got[i], out[i].Buf) {
						t.Fatalf("datagram %d: got %d bytes, want %d", i, len(got[i]), len(out[i].Buf))
					}
				}
			})
		}
	}
}

func repeat(v, n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = v
	}
	return s
}

// TestConnReadAddr checks that the sender's address comes with each
// datagram and that two senders are not mixed up.
func TestConnReadAddr(t *testing.T) {
	a, b := pair(t)
	c, err := Listen(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := a.WriteBatch([]Message{{Buf: []byte("from a"), Addr: b.LocalAddr()}}); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteBatch([]Message{{Buf: []byte("from c"), Addr: b.LocalAddr()}}); err != nil {
		t.Fatal(err)
	}
	msgs := newMsgs(8, 100)
	b.sock.SetReadDeadline(time.Now().Add(5 * time.Second))
	seen := map[string]netip.AddrPort{}
	for len(seen) < 2 {
		n, err := b.ReadBatch(msgs)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs[:n] {
			seen[string(m.Buf[:m.N])] = m.Addr
		}
	}
	if seen["from a"] != a.LocalAddr() || seen["from c"] != c.LocalAddr() {
		t.Fatalf("addresses %v, want a=%v c=%v", seen, a.LocalAddr(), c.LocalAddr())
	}
}

// TestConnTruncated gives ReadBatch a buffer too short for the datagram:
// it is dropped and counted, and the next one still arrives.
func TestConnTruncated(t *testing.T) {
	a, b := pair(t)
	out := []Message{{Buf: payload(0, 500), Addr: b.LocalAddr()}, {Buf: payload(1, 50), Addr: b.LocalAddr()}}
	for i := range out {
		// One at a time, so that GRO cannot join them.
		if err := a.WriteBatch(out[i : i+1]); err != nil {
			t.Fatal(err)
		}
	}
	got := readAll(t, b, newMsgs(4, 100), 1)
	if !bytes.Equal(got[0], out[1].Buf) || b.Truncated() != 1 {
		t.Fatalf("got %x, truncated %d; want the short datagram and 1", got[0], b.Truncated())
	}
}

func TestConnWriteUnreachableFamily(t *testing.T) {
	a, b := pair(t)
	out := []Message{
		{Buf: []byte("x"), Addr: netip.MustParseAddrPort("[::1]:4500")},
		{Buf: []byte("y"), Addr: b.LocalAddr()},
	}
	if err := a.WriteBatch(out); err == nil {
		t.Fatal("WriteBatch to an IPv6 address from an IPv4 socket succeeded")
	}
	if got := readAll(t, b, newMsgs(4, 100), 1); string(got[0]) != "y" {
		t.Fatalf("got %q, want the datagram after the bad one", got[0])
	}
}

// TestConnWriteReportsWhatWasSent: WriteBatch tells, datagram by
// datagram, which it sent, so that the sender counts only those as sent.
func TestConnWriteReportsWhatWasSent(t *testing.T) {
	a, b := pair(t)
	out := []Message{
		{Buf: []byte("first"), Addr: b.LocalAddr()},
		{Buf: []byte("x"), Addr: netip.MustParseAddrPort("[::1]:4500")}, // not from an IPv4 socket
		{Buf: make([]byte, MaxDatagram), Addr: b.LocalAddr()},           // EMSGSIZE: past what IPv4 carries
		{Buf: []byte("last"), Addr: b.LocalAddr(), N: 99},
	}
	if err := a.WriteBatch(out); err == nil {
		t.Fatal("WriteBatch reported no error")
	}
	for i, want := range []int{5, 0, 0, 4} {
		if out[i].N != want {
			t.Errorf("datagram %d: N %d, want %d", i, out[i].N, want)
		}
	}
	if got := readAll(t, b, newMsgs(4, 100), 2); string(got[0]) != "first" || string(got[1]) != "last" {
		t.Fatalf("got %q, want the two good datagrams", got)
	}
}

func TestConnIPv6(t *testing.T) {
	a, err := Listen(netip.MustParseAddrPort("[::1]:0"))
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer a.Close()
	b, err := Listen(netip.MustParseAddrPort("[::1]:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	out := make([]Message, 20)
	for i := range out {
		out[i] = Message{Buf: payload(i, 1200), Addr: b.LocalAddr()}
	}
	if err := a.WriteBatch(out); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, b, newMsgs(32, MaxDatagram), len(out))
	for i := range out {
		if !bytes.Equal(got[i], out[i].Buf) {
			t.Fatalf("datagram %d differs", i)
		}
	}
}

func TestConnCloseUnblocksRead(t *testing.T) {
	_, b := pair(t)
	errc := make(chan error, 1)
	go func() {
		_, err := b.ReadBatch(newMsgs(1, 10))
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	b.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("ReadBatch after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadBatch still blocked after Close")
	}
}

// TestConnZeroAlloc checks that a batch round trip allocates nothing.
func TestConnZeroAlloc(t *testing.T) {
	a, b := pair(t)
	out := make([]Message, 32)
	for i := range out {
		out[i] = Message{Buf: payload(i, 1400), Addr: b.LocalAddr()}
	}
	in := newMsgs(64, MaxDatagram)
	allocs := testing.AllocsPerRun(50, func() {
		if err := a.WriteBatch(out); err != nil {
			t.Fatal(err)
		}
		for got := 0; got < len(out); {
			n, err := b.ReadBatch(in)
			if err != nil {
				t.Fatal(err)
			}
			got += n
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per batch round trip, want 0", allocs)
	}
}

// BenchmarkConnBatch measures a 64-datagram batch of 1400 bytes through
// loopback: one sendmmsg (GSO where it is on) and the reads it takes.
func BenchmarkConnBatch(b *testing.B) {
	for _, gso := range []bool{true, false} {
		name := "gso"
		if !gso {
			name = "nogso"
		}
		b.Run(name, func(b *testing.B) {
			x, y := pair(b)
			x.gso.Store(gso && x.gso.Load())
			out := make([]Message, 64)
			for i := range out {
				out[i] = Message{Buf: payload(i, 1400), Addr: y.LocalAddr()}
			}
			in := newMsgs(128, MaxDatagram)
			b.ReportAllocs()
			b.SetBytes(int64(len(out) * 1400))
			for b.Loop() {
				if err := x.WriteBatch(out); err != nil {
					b.Fatal(err)
				}
				for got := 0; got < len(out); {
					n, err := y.ReadBatch(in)
					if err != nil {
						b.Fatal(err)
					}
					got += n
				}
			}
		})
	}
}
