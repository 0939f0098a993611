package tunnel

import (
	"encoding/binary"
	"net/netip"

	"github.com/vnetgw/vnetgw/internal/esp"
	"github.com/vnetgw/vnetgw/internal/udp"
	espwire "github.com/vnetgw/vnetgw/internal/wire/esp"
)

// inBatch is HandleESP's scratch: the packets to open and what goes to the
// inner side.
type inBatch struct {
	msgs []udp.Message
	jobs []openJob
	bufs [][]byte
	par  parallel
}

// openJob is one ESP packet, msgs[msg], for child c. Once opened, the
// inner packet is msgs[msg].Buf[start:start+length], or drop says why not;
// opened says it authenticated and is no replay, whatever became of it
// after (its padding wrong, say); moved says that it opened without error
// and came from elsewhere than the child's remote endpoint.
type openJob struct {
	c             *child
	msg           int
	start, length int
	seq           uint32 // the packet's, for the drop log
	drop          dropReason
	opened, moved bool
}

func newInBatch(n int) *inBatch {
	return &inBatch{jobs: make([]openJob, 0, n), bufs: make([][]byte, 0, n)}
}

// do opens jobs[lo:hi] and checks what they carry; it runs on several
// goroutines at once.
func (b *inBatch) do(lo, hi int) {
	for i := lo; i < hi; i++ {
		j := &b.jobs[i]
		m := &b.msgs[j.msg]
		inner, next, err := j.c.in.Open(m.Buf[:m.N])
		if err != nil {
			j.drop = openDrop(err)
			// Bad padding is found only after the packet passed its
			// integrity and replay checks (esp.SA.Open): the peer sent
			// it, and it proves the peer alive as a dummy does.
			j.opened = err == esp.ErrPadding
			continue
		}
		j.opened = true
		// RFC 7296 §2.23: ESP in UDP that passed its integrity check and
		// is newer than any before it (a replay could come from anywhere)
		// shows where the peer's NAT maps it now. Raw ESP has port 0: it
		// neither moves nor is moved to a child in UDP.
		if ends := j.c.ends.Load(); m.Addr != ends.remote && ends.remote.Port() != 0 && m.Addr.Port() != 0 {
			j.moved = j.c.in.Newest(m.Buf)
		}
		// RFC 4303 §2.6: a dummy packet MUST be discarded.
		if next == espwire.NextHeaderNone {
			j.drop = dropDummy
			continue
		}
		h, ok := parseIP(inner)
		if !ok || h.next != next {
			j.drop = dropMalformed
			continue
		}
		// RFC 4301 §5.2: a packet that does not match the SA's selectors
		// MUST be discarded.
		if !contains(j.c.remoteTS, h.src) || !contains(j.c.localTS, h.dst) {
			j.drop = dropSelector
			continue
		}
		// RFC 6040 §4.2: the outer ECN field is combined into the inner;
		// CE on a packet that is not ECN-capable MUST drop it.
		if !decapECN(inner, h.tos, m.TOS) {
			j.drop = dropECN
			continue
		}
		// Open decrypts in place: the inner packet follows the ESP header
		// and IV. Its IP length leaves out TFC padding (RFC 4303 §2.7).
		j.start, j.length = j.c.in.HeaderLen(), h.length
	}
}

// openDrop is why the inbound SA refused a packet, as the tunnel counts
// it: the tunnel's counters outlive the child SAs replaced at each rekey.
func openDrop(err error) dropReason {
	switch err {
	case esp.ErrReplay:
		return dropReplay
	case esp.ErrAuth:
		return dropIntegrity
	case esp.ErrPadding:
		return dropPadding
	case esp.ErrExpired:
		return dropExpired
	}
	// esp.ErrLength; esp.ErrSPI cannot come, as the child was found by
	// the packet's SPI.
	return dropLength
}

// HandleESP opens a batch of ESP packets that arrived at local and writes
// what they carry to the inner side. It implements udp.ESPHandler: it
// decrypts in the buffers of msgs, and the inner side may coalesce packets
// into their spare capacity.
func (e *Engine) HandleESP(local netip.AddrPort, msgs []udp.Message) {
	e.inMu.Lock()
	defer e.inMu.Unlock()
	if e.inClosed {
		return
	}
	b := e.in
	b.msgs = msgs
	jobs := b.jobs[:0]
	for i := range msgs {
		m := &msgs[i]
		if m.N < espwire.HeaderLen {
			e.drops.short.Add(1)
			e.lastShort = espDrop{peer: m.Addr, local: local}
			continue
		}
		spi, seq := binary.BigEndian.Uint32(m.Buf[:4]), binary.BigEndian.Uint32(m.Buf[4:8])
		c, ok := e.spis.Lookup(spi)
		if !ok {
			// RFC 4303 §3.4.2: the receiver MUST discard a packet of no
			// SA; LogDrops makes it the auditable event it is.
			e.drops.unknownSPI.Add(1)
			e.lastUnknown = espDrop{spi: spi, seq: seq, peer: m.Addr, local: local}
			continue
		}
		jobs = append(jobs, openJob{c: c, msg: i, seq: seq})
	}
	b.jobs = jobs
	e.pool.run(&b.par, b, len(jobs))

	now := e.now().UnixNano()
	bufs := b.bufs[:0]
	var last *child
	for i := range jobs {
		j := &jobs[i]
		t := j.c.tunnel
		if j.moved {
			e.peerMoved(j.c, msgs[j.msg].Addr, now)
		}
		// RFC 7296 §2.4: a packet that authenticated proves the peer
		// alive, though dropped (its padding wrong, a dummy, one outside
		// the selectors): dead peer detection reads this clock. One store
		// per run of a child's packets in the batch.
		if j.opened && j.c != last {
			j.c.lastIn.Store(now)
			last = j.c
		}
		if j.drop != dropNone {
			t.drop(j.drop)
			// RFC 4303 §3.4.3, §3.4.4: a packet that fails the
			// anti-replay or the integrity check is an auditable event
			// (LogDrops), as are the other refusals here.
			t.lastESP[j.drop-dropReplay] = espDrop{spi: j.c.in.SPI(), seq: j.seq, peer: msgs[j.msg].Addr, local: local}
			if j.drop == dropSelector {
				j.c.selectorDrops.Add(1)
			}
			continue
		}
		inner := msgs[j.msg].Buf[j.start : j.start+j.length]
		if cp := t.capture.Load(); cp != nil {
			cp.Packet(inner)
		}
		// After the selectors and the capture, which see the far side's
		// own addresses.
		if nat := t.nat.Load(); nat != nil {
			if _, drop := nat.in(inner, now/1e9); drop != dropNone {
				t.drop(drop)
				j.drop = drop
				continue
			}
		}
		bufs = append(bufs, msgs[j.msg].Buf[j.start-innerOffset:j.start+j.length])
	}
	written := true
	if len(bufs) > 0 {
		if _, err := e.inner.Write(bufs, innerOffset); err != nil {
			e.drops.innerWrites.Add(1)
			e.log.Debug("inner write failed", "err", err)
			written = false
		}
	}
	// Count what went to the inner side, or what it refused.
	var run counter
	for i := range jobs {
		j := &jobs[i]
		if j.drop != dropNone {
			continue
		}
		if t := j.c.tunnel; run.t != t {
			run.flushIn(now, written)
			run = counter{t: t}
		}
		run.packets++
		run.bytes += uint64(j.length)
	}
	run.flushIn(now, written)
	clear(jobs)
	clear(bufs)
	b.bufs = bufs
	b.msgs = nil
}
