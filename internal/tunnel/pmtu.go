package tunnel

import (
	"net/netip"
	"time"

	"github.com/vnetgw/vnetgw/internal/esp"
	"github.com/vnetgw/vnetgw/internal/udp"
	espwire "github.com/vnetgw/vnetgw/internal/wire/esp"
	"github.com/vnetgw/vnetgw/internal/wire/icmp"
)

// ICMP error rate of an engine: a token bucket refilled at icmpRate a
// second up to icmpBurst (RFC 4443 §2.4(f), RFC 1812 §4.3.2.8).
const (
	icmpRate  = 100
	icmpBurst = 50
)

const (
	// maxAnswers is the most ICMP errors one outbound batch writes.
	maxAnswers = 8
	// maxOverhead is the most an ESP packet adds to its inner packet:
	// an IPv6 outer header, UDP, the ESP header and the longest IV, the
	// longest padding, trailer and ICV.
	maxOverhead = 40 + 8 + esp.Headroom - esp.OuterRoom + esp.Tailroom
	// maxQuote is the most of a packet an ICMP error quotes.
	maxQuote = icmp.Max6 - 48
)

// minPathMTU4 is the least IPv4 path MTU taken, as Linux takes none below
// it (net.ipv4.route.min_pmtu): the kernel sends longer packets on such a
// path without Don't Fragment, and no error, forged or not, makes a
// tunnel smaller than that.
const minPathMTU4 = 552

// pmtuLifetime is how long a path MTU learned from an ICMP error holds:
// RFC 1191 §6.3 suggests 10 minutes, as long as Linux keeps its own.
const pmtuLifetime = 10 * time.Minute

// PathMTU records that the path from local to remote carries packets of at
// most mtu bytes, as a router's Fragmentation Needed or Packet Too Big about
// an ESP packet said (udp.PathMTUHandler), or the kernel (LearnPathMTUs).
// For pmtuLifetime the tunnels with a child SA on that path treat inner
// packets that would make longer ESP packets as too big: those with Don't
// Fragment, and IPv6, are dropped and their senders told the MTU that
// fits (RFC 4301 §8.2.1: the PMTU is kept per SA and reported to the
// originators of later packets that exceed it). The others are sent, and
// the kernel fragments their ESP packets. A larger MTU than one in force
// is not taken: it may come late; the same one holds for pmtuLifetime
// from then; an IPv4 MTU below minPathMTU4 is taken as minPathMTU4. A
// lower MTU is logged as "path MTU lowered".
func (e *Engine) PathMTU(local, remote netip.AddrPort, mtu int) {
	if remote.Addr().Unmap().Is4() {
		mtu = max(mtu, minPathMTU4)
	}
	if mtu >= e.mtu {
		return
	}
	now := e.now().Unix()
	v := uint64(now+int64(pmtuLifetime/time.Second))<<16 | uint64(mtu)
	e.mu.Lock()
	defer e.mu.Unlock()
	for t := range e.paths[outerEnds{local, remote}] {
		old := pathMTU(t.pmtu.Load(), now, e.mtu)
		if old < mtu {
			continue
		}
		t.pmtu.Store(v)
		if old > mtu {
			e.log.Info("path MTU lowered", "conn", t.name, "local", local, "peer", remote, "mtu", mtu)
		}
	}
}

// LearnPathMTUs takes, for each path of the tunnels' child SAs that
// carried ESP since the last call, the path MTU the kernel keeps
// (Outer.KernelPathMTU), as PathMTU does. The kernel keeps one per
// destination for the whole node and learns it from the ICMP errors
// about any socket's packets: another gateway instance's, another
// process's, or the engine's own when its Outer side cannot read ICMP.
// Once the kernel knows it, a longer ESP packet leaves in fragments and
// draws no error the Outer side could read: this is how the tunnels
// learn it then. AddChild and MoveChild read the child's path at once;
// the owner calls LearnPathMTUs every few seconds. Each path read costs
// two syscalls: a path that sent nothing is not read, as an MTU matters
// only to what it sends (of 10,000 idle tunnels, read every 5 s, that
// was 4,000 syscalls a second for nothing).
func (e *Engine) LearnPathMTUs() {
	busy := map[outerEnds]bool{}
	e.mu.Lock()
	for _, t := range e.tunnels {
		for _, c := range *t.children.Load() {
			if seq := c.out.Seq(); seq != c.learnedAt {
				c.learnedAt = seq
				busy[*c.ends.Load()] = true
			}
		}
	}
	e.mu.Unlock()
	for p := range busy {
		e.learnPathMTU(p)
	}
}

// learnPathMTU takes the kernel's path MTU of p (LearnPathMTUs).
func (e *Engine) learnPathMTU(p outerEnds) {
	mtu, err := e.outer.KernelPathMTU(p.local, p.remote)
	if err != nil {
		e.log.Debug("kernel path MTU unknown", "local", p.local, "peer", p.remote, "err", err)
		return
	}
	e.PathMTU(p.local, p.remote, mtu)
}

// joinPath counts a child of t on path p; leavePath uncounts it. e.mu is
// held.
func (e *Engine) joinPath(p outerEnds, t *tunnel) {
	if e.paths[p] == nil {
		e.paths[p] = map[*tunnel]int{}
	}
	e.paths[p][t]++
}

func (e *Engine) leavePath(p outerEnds, t *tunnel) {
	if e.paths[p][t]--; e.paths[p][t] <= 0 {
		delete(e.paths[p], t)
	}
	if len(e.paths[p]) == 0 {
		delete(e.paths, p)
	}
}

// pathMTU is the outer MTU of a tunnel whose pmtu is v at unix second now:
// the one learned until it expires, mtu after.
func pathMTU(v uint64, now int64, mtu int) int {
	if v == 0 || int64(v>>16) <= now {
		return mtu
	}
	return int(v & 0xffff)
}

// outerLen is the length of the outer headers of an ESP packet to
// remote: IPv4 or IPv6, and UDP unless it travels as IP protocol 50
// (port 0).
func outerLen(remote netip.AddrPort) int {
	n := 20
	if !remote.Addr().Unmap().Is4() {
		n = 40
	}
	if remote.Port() != 0 {
		n += 8 // RFC 3948 §2.1
	}
	return n
}

// tooBig tells whether the inner packet h, to be sealed by c, is too long
// for the tunnel, whose outer path MTU is pmtu, and must be dropped (RFC
// 4301 §8.2.1); if so, its sender is answered, rate-limited, with the
// tunnel's MTU (RFC 1191 §4, RFC 4443 §3.2), an answer that b keeps for
// answerTooBig. quote is the packet as it came from its sender, before
// NAT.
func (e *Engine) tooBig(b *outBatch, c *child, h ipHeader, quote []byte, pmtu int) bool {
	outer := outerLen(c.ends.Load().remote)
	if c.out.SealedLen(h.length)+outer <= pmtu {
		return false
	}
	v6 := h.next == espwire.NextHeaderIPv6
	from, sender := e.icmpFrom4, netip.AddrFrom4([4]byte(quote[12:16]))
	if v6 {
		from, sender = e.icmpFrom6, netip.AddrFrom16([16]byte(quote[8:24]))
	}
	// RFC 791: without Don't Fragment the ESP packet may be fragmented;
	// without an address to answer from, dropping it would leave its
	// sender to wait for ever.
	if !from.IsValid() || !v6 && quote[6]&0x40 == 0 {
		return false
	}
	// The longest inner packet that fits: less padding to the cipher's
	// block (up to 15 bytes) may let a few more bytes in.
	mtu := min(h.length-1, h.length-(c.out.SealedLen(h.length)+outer-pmtu)+15)
	for mtu > 0 && c.out.SealedLen(mtu)+outer > pmtu {
		mtu--
	}
	// RFC 8200 §5: a link carries 1280 bytes, fragmenting below it if it
	// must; RFC 791: 68.
	mtu = max(mtu, icmp.MinMTU(v6))
	if h.length <= mtu {
		return false
	}
	if len(b.answers) == maxAnswers {
		return true
	}
	if v6 && !icmp.Answers6(quote) || !v6 && !icmp.Answers4(quote) || !e.icmpLimit.Allow() {
		return true
	}
	buf := b.answerBufs[len(b.answers)]
	var msg []byte
	if v6 {
		// RFC 4443 §3.2: Packet Too Big, the MTU in the second word.
		msg = icmp.Error6(buf[innerOffset:], icmp.TypePacketTooBig6, 0, uint32(mtu), from, sender, quote)
	} else {
		// RFC 1191 §4: Fragmentation Needed and DF Set, the MTU in the
		// low 16 bits of the second word.
		msg = icmp.Error4(buf[innerOffset:innerOffset+icmp.Max4], icmp.TypeUnreachable4, icmp.CodeFragNeeded, uint32(mtu), from, sender, quote)
	}
	b.answers = append(b.answers, buf[:innerOffset+len(msg)])
	return true
}

// answerTooBig writes the batch's ICMP errors to the inner side.
func (e *Engine) answerTooBig(b *outBatch) {
	if len(b.answers) == 0 {
		return
	}
	e.inMu.Lock()
	defer e.inMu.Unlock()
	if e.inClosed {
		return
	}
	if _, err := e.inner.Write(b.answers, innerOffset); err != nil {
		e.drops.innerWrites.Add(1)
		e.log.Debug("inner write of icmp errors failed", "err", err)
	}
}

// The engine learns path MTUs from the ICMP errors its Outer side reads.
var _ udp.PathMTUHandler = (*Engine)(nil)
