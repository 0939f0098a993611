package tunnel

import (
	"errors"
	"net"
	"net/netip"
	"os"

	"github.com/vnetgw/vnetgw/internal/esp"
	"github.com/vnetgw/vnetgw/internal/tun"
	"github.com/vnetgw/vnetgw/internal/udp"
	"github.com/vnetgw/vnetgw/internal/wire/icmp"
)

const (
	// minOutBatch is the fewest buffers the outbound loop reads into: a
	// TUN device splits one GSO batch into up to this many packets.
	minOutBatch = 128
	// maxInner is the longest inner packet a buffer holds.
	maxInner = 1<<16 - 1
)

// outBatch is the outbound loop's batch: the buffers it reads into, the
// packets to seal, and the datagrams to send.
type outBatch struct {
	bufs  [][]byte
	sizes []int
	jobs  []sealJob
	msgs  []udp.Message
	par   parallel

	// The ICMP errors for packets too long for their tunnel: answers
	// are those of the batch, at innerOffset in answerBufs; quote keeps
	// the start of a packet as it was before NAT.
	answers    [][]byte
	answerBufs [][]byte
	quote      []byte
}

// sealJob is one packet to seal: its buffer (the packet at
// buf[esp.Headroom:]), its SA and sequence number, and after sealing the
// ESP packet or nil.
type sealJob struct {
	buf  []byte
	n    int
	next uint8
	tos  uint8 // the inner packet's, for the outer header
	c    *child
	q    esp.Seq
	pkt  []byte
}

func newOutBatch(n int) *outBatch {
	return &outBatch{
		bufs:  udp.Buffers(n, esp.Headroom+maxInner+esp.Tailroom),
		sizes: make([]int, n),
		jobs:  make([]sealJob, 0, n),
		msgs:  make([]udp.Message, 0, n),

		answers:    make([][]byte, 0, maxAnswers),
		answerBufs: udp.Buffers(maxAnswers, innerOffset+icmp.Max6),
		quote:      make([]byte, maxQuote),
	}
}

// do seals jobs[lo:hi]; it runs on several goroutines at once.
func (b *outBatch) do(lo, hi int) {
	for i := lo; i < hi; i++ {
		j := &b.jobs[i]
		// A refusal is counted by the SA and, when sending, by the tunnel.
		j.pkt, _ = j.c.out.SealSeq(j.q, j.buf, j.n, j.next)
	}
}

// outboundLoop reads the inner side until the engine closes, or the inner
// side fails for good (InnerGone).
func (e *Engine) outboundLoop() {
	defer e.wg.Done()
	b := e.out
	for {
		n, err := e.inner.Read(b.bufs, b.sizes, esp.Headroom)
		if n > 0 {
			e.outbound(b, n)
		}
		if err == nil {
			continue
		}
		if e.closed.Load() {
			return
		}
		if errors.Is(err, tun.ErrDeleted) {
			// Every read fails at once from now on: read again, the
			// loop would spin on a core.
			e.innerGoneWith(err)
			e.log.Error("inner TUN device deleted: the tunnels carry nothing from it", "err", err)
			return
		}
		if errors.Is(err, os.ErrClosed) || errors.Is(err, net.ErrClosed) {
			e.innerGoneWith(err)
			e.log.Error("inner side closed under the engine", "err", err)
			return
		}
		e.drops.innerReads.Add(1)
		e.log.Debug("inner read failed", "err", err)
	}
}

// outbound routes, seals and sends the n packets read into b: sequence
// numbers in order, sealing in parallel, sending in order.
func (e *Engine) outbound(b *outBatch, n int) {
	rt := e.routes.Load()
	jobs := b.jobs[:0]
	b.answers = b.answers[:0]
	var now int64 // unix seconds, for dynamic NAT and path MTUs: read once per batch
	for i := range n {
		h, ok := parseIP(b.bufs[i][esp.Headroom : esp.Headroom+b.sizes[i]])
		if !ok {
			e.drops.notIP.Add(1)
			continue
		}
		t := rt.lookup(h.dst)
		if t == nil {
			e.drops.noRoute.Add(1)
			continue
		}
		pkt := b.bufs[i][esp.Headroom : esp.Headroom+h.length]
		quote := pkt
		pmtu := e.mtu
		if v := t.pmtu.Load(); v != 0 {
			if now == 0 {
				now = e.now().Unix()
			}
			pmtu = pathMTU(v, now, e.mtu)
		}
		if nat := t.nat.Load(); nat != nil {
			if h.length > pmtu-maxOverhead { // may be too long: an ICMP error quotes it untranslated
				quote = b.quote[:copy(b.quote, pkt)]
			}
			if now == 0 && nat.dynamic != nil {
				now = e.now().Unix()
			}
			changed, drop := nat.out(pkt, now)
			if drop != dropNone {
				t.drop(drop)
				continue
			}
			if changed {
				h.src, h.dst = netip.AddrFrom4([4]byte(pkt[12:16])), netip.AddrFrom4([4]byte(pkt[16:20]))
			}
		}
		c := t.outboundChild(h.src, h.dst)
		if c == nil {
			switch {
			case !t.policy.Load():
				t.drop(dropNoSA)
			case len(*t.children.Load()) > 0:
				t.drop(dropNoSelector)
				e.acquire(t, h)
			default:
				t.drop(dropNoSA)
				e.acquire(t, h)
			}
			continue
		}
		// RFC 4301 §8.2.1, RFC 4443 §3.2: a packet too long for the SA that
		// may not be fragmented is dropped, and its sender MUST be told.
		if h.length > pmtu-maxOverhead && e.tooBig(b, c, h, quote, pmtu) {
			t.drop(dropTooBig)
			continue
		}
		q, err := c.out.NextSeq()
		if err != nil {
			t.sealDrop(c)
			continue
		}
		if cp := t.capture.Load(); cp != nil { // before sealing in place, after NAT: as the far side sees it
			cp.Packet(b.bufs[i][esp.Headroom : esp.Headroom+h.length])
		}
		jobs = append(jobs, sealJob{buf: b.bufs[i], n: h.length, next: h.next, tos: h.tos, c: c, q: q})
	}
	b.jobs = jobs
	e.pool.run(&b.par, b, len(jobs))

	// Send runs of datagrams with one outer endpoint each; msgs[k] is the
	// k-th job that sealed.
	msgs := b.msgs[:0]
	var local netip.AddrPort
	from, sent := 0, true
	for i := range jobs {
		j := &jobs[i]
		if j.pkt == nil {
			j.c.tunnel.sealDrop(j.c)
			continue
		}
		ends := j.c.ends.Load()
		if len(msgs) > from && ends.local != local {
			sent = e.send(local, msgs[from:]) && sent
			from = len(msgs)
		}
		local = ends.local
		// RFC 4301 §5.1.2.1: the outer DSCP is copied from the inner;
		// RFC 6040 §4.1: in normal mode the ECN field is copied too.
		msgs = append(msgs, udp.Message{Buf: j.pkt, Addr: ends.remote, TOS: j.tos})
	}
	if len(msgs) > from {
		sent = e.send(local, msgs[from:]) && sent
	}
	// Count what left; after a failed send, what did not has no Buf.
	var run counter // counts a run of packets of one tunnel with one atomic add
	k := 0
	for i := range jobs {
		j := &jobs[i]
		if j.pkt == nil {
			continue
		}
		m := &msgs[k]
		k++
		t := j.c.tunnel
		if !sent && m.Buf == nil {
			t.drop(dropSend)
			continue
		}
		if run.t != t {
			run.flushOut()
			run = counter{t: t}
		}
		run.packets++
		run.bytes += uint64(j.n)
	}
	run.flushOut()
	e.answerTooBig(b)
	// Let go of removed children and buffers until the next batch.
	clear(jobs)
	clear(msgs)
}

// sealDrop counts a packet that c's outbound SA refused to seal and keeps
// the SA's SPI and last sequence number for LogDrops (RFC 4303 §3.3.3, §4:
// one that would overflow is an auditable event).
func (t *tunnel) sealDrop(c *child) {
	t.drop(dropSeal)
	t.lastSealSPI.Store(c.out.SPI())
	t.lastSealSeq.Store(c.out.Seq())
}

// send sends msgs from local and reports whether all of them went; if not,
// it sets the Buf of those that did not to nil.
func (e *Engine) send(local netip.AddrPort, msgs []udp.Message) bool {
	err := e.outer.WriteBatch(local, msgs)
	if err == nil {
		return true
	}
	e.drops.sendErrors.Add(1)
	e.log.Debug("esp send failed", "local", local, "err", err)
	for i := range msgs {
		if msgs[i].N != len(msgs[i].Buf) {
			msgs[i].Buf = nil
		}
	}
	return false
}

// outboundChild picks the SA for a packet from src to dst: the newest
// child of a route-based tunnel, or the newest whose selectors hold src
// and dst in a policy-based one. A child on standby is passed over while
// an older one that fits is still there, and a child whose outbound SA
// can seal no more is passed over for any other.
func (t *tunnel) outboundChild(src, dst netip.Addr) *child {
	children, policy := *t.children.Load(), t.policy.Load()
	var standby, spent *child
	for i := len(children) - 1; i >= 0; i-- {
		c := children[i]
		if policy && !(contains(c.localTS, src) && contains(c.remoteTS, dst)) {
			continue
		}
		// RFC 4303 §3.3.3: a sender whose counter would cycle sends no
		// more on the SA, nor one past its hard lifetime (RFC 4301
		// §4.4.2.1); the peer's rekey on standby can carry the packet.
		if !c.out.Usable() {
			if spent == nil {
				spent = c
			}
			continue
		}
		if !c.ready() {
			if standby == nil {
				standby = c
			}
			continue
		}
		return c
	}
	if standby != nil {
		return standby
	}
	return spent
}

// ready tells whether the peer has shown that it can open what this child
// seals: the child is not on standby, or a packet arrived on it.
func (c *child) ready() bool { return !c.standby || c.lastIn.Load() != 0 }

// counter sums the packets and bytes of consecutive packets of one tunnel,
// so that a batch costs each counter one atomic add per run rather than per
// packet.
type counter struct {
	t              *tunnel
	packets, bytes uint64
}

func (c *counter) flushOut() {
	if c.t != nil {
		c.t.packetsOut.Add(c.packets)
		c.t.bytesOut.Add(c.bytes)
	}
}

// flushIn counts inbound packets that opened: as come in, and when, if the
// inner side took them, as dropped if not.
func (c *counter) flushIn(now int64, written bool) {
	if c.t == nil {
		return
	}
	if !written {
		c.t.drops[dropInnerWrite].Add(c.packets)
		return
	}
	c.t.packetsIn.Add(c.packets)
	c.t.bytesIn.Add(c.bytes)
	c.t.lastIn.Store(now)
}
