package ikev1

import (
	"math"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/esp"
	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev1"
)

// quickProposal opens quick mode message 1 of m's one ISAKMP SA, sa (the
// initiator's or the responder's: their keys are the same), and returns
// its payloads with the SA payload's transforms.
func quickProposal(t *testing.T, m *Manager, sa *isakmpSA, msg []byte) (wire.Header, []wire.Payload, wire.SA) {
	t.Helper()
	h, err := wire.ParseHeader(msg)
	if err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	ps, _, err := sa.decrypt(h, msg, sa.s.Hash.phase2IV(sa.p1iv, h.MessageID), nil)
	m.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	p, ok := wire.Find(ps, wire.PayloadSA)
	if !ok {
		t.Fatal("quick mode message 1 without an SA payload")
	}
	in, err := wire.ParseSA(p.Body)
	if err != nil || len(in.Proposals) == 0 {
		t.Fatalf("quick mode message 1's SA payload: %v", err)
	}
	return h, ps, in
}

// withLifetimes runs a connection whose initiator's first quick mode
// message 1 proposes lifetimes life instead of its own (the SA Life
// attributes replaced: a peer that states these, or none), and returns
// the managers once both have a child.
func withLifetimes(t *testing.T, tweak func(pi, pr *ikev2.PeerConfig), life []wire.Attr) (mi, mr *Manager, ri, rr *recorder) {
	t.Helper()
	return rewriteQuick(t, tweak, true, nil, func(in *wire.SA) {
		for i := range in.Proposals[0].Transforms {
			tr := &in.Proposals[0].Transforms[i]
			attrs := append([]wire.Attr{}, life...)
			for _, a := range tr.Attrs {
				if a.Type != wire.AttrSALifeType && a.Type != wire.AttrSALifeValue {
					attrs = append(attrs, a)
				}
			}
			tr.Attrs = attrs
		}
	})
}

// rewriteQuick runs a connection whose first quick mode message 1 (the
// initiator's, fromI) or message 2 (the responder's) has its SA payload
// changed by edit on the way, sent as the sender's own from then on, and
// returns the managers once both have a child, or nothing moves. watch,
// when set, sees each message sent after that (fi: the initiator's)
// and loses it when it says so.
func rewriteQuick(t *testing.T, tweak func(pi, pr *ikev2.PeerConfig), fromI bool, watch func(fi bool, msg []byte) (lose bool), edit func(*wire.SA)) (mi, mr *Manager, ri, rr *recorder) {
	t.Helper()
	mi, mr, ri, rr = twoManagers(t, tweak)
	var qm1 []byte // message 1 as the responder got it
	done := false
	// rewrite re-encrypts ps, msg's payloads after its HASH, with edit's
	// SA, as m's sa sends it with iv and HASH prefix.
	rewrite := func(m *Manager, sa *isakmpSA, msg []byte, ps []wire.Payload, iv, prefix []byte) []byte {
		for i := range ps {
			if ps[i].Type == wire.PayloadSA {
				in, err := wire.ParseSA(ps[i].Body)
				if err != nil {
					t.Fatal(err)
				}
				edit(&in)
				ps[i].Body = in.Append(nil)
			}
		}
		h, _ := wire.ParseHeader(msg)
		m.mu.Lock()
		defer m.mu.Unlock()
		out, next := sa.encrypted(wire.ExchangeQuick, h.MessageID, iv, prefix, ps)
		q := sa.qms[h.MessageID]
		q.iv, q.out.msg = next, out
		if a, ok := sa.answered[h.MessageID]; ok {
			a.reply = out
			sa.answered[h.MessageID] = a
		}
		return out
	}
	shuttle(mi, mr, ri, rr, func(fi bool, msg []byte, from, to netip.AddrPort) bool {
		switch {
		case done && watch != nil:
			return watch(fi, msg)
		case done || msg[18] != wire.ExchangeQuick:
			return false
		case fi && qm1 == nil && !fromI:
			qm1 = msg
			return false
		case fi && qm1 == nil:
			si := onlySA(t, mi)
			h, ps, _ := quickProposal(t, mi, si, msg)
			mi.mu.Lock()
			iv := si.s.Hash.phase2IV(si.p1iv, h.MessageID)
			mi.mu.Unlock()
			qm1, done = rewrite(mi, si, msg, ps, iv, nil), true
			mr.handle(to, from, qm1)
			return true
		case !fi && qm1 != nil && !fromI:
			// Message 2 is encrypted on from message 1's last block.
			sr := onlySA(t, mr)
			h, _ := wire.ParseHeader(msg)
			iv := qm1[len(qm1)-blockSize:]
			mr.mu.Lock()
			pt, _, err := open(sr.encKey, iv, msg[wire.HeaderLen:])
			ni := sr.qms[h.MessageID].ni
			mr.mu.Unlock()
			ps, err2 := wire.ParsePayloads(h.Next, pt)
			if err != nil || err2 != nil || len(ps) == 0 {
				t.Fatalf("quick mode message 2 does not open: %v %v", err, err2)
			}
			done = true
			mi.handle(to, from, rewrite(mr, sr, msg, ps[1:], iv, ni))
			return true
		}
		return false
	})
	if !done {
		t.Fatal("no quick mode message to rewrite")
	}
	return mi, mr, ri, rr
}

// rekeysBy tells whether m's child, installed at least installed, is
// rekeyed d after that: a quick mode starts.
func rekeysBy(m *Manager, r *recorder, installed time.Time, d time.Duration) bool {
	r.take()
	m.mu.Lock()
	m.timers(installed.Add(d))
	m.mu.Unlock()
	msgs, _, _ := r.take()
	for _, msg := range msgs {
		if msg[18] == wire.ExchangeQuick {
			return true
		}
	}
	return false
}

// TestQuickModeLifetimeOmitted: a peer's quick mode proposal without SA
// Life attributes means 28800 seconds (RFC 2407 §4.5), not an hour: the
// child is not rekeyed after an hour or four, neither by the responder
// (which takes the shorter of 28800 s and its own 10 h) nor by the
// initiator (whose answer came without a lifetime too: the shorter of
// 28800 s and the 27000 s it asked for); each rekeys it before its
// lifetime ends.
func TestQuickModeLifetimeOmitted(t *testing.T) {
	mi, mr, ri, rr := withLifetimes(t, func(pi, pr *ikev2.PeerConfig) {
		pi.IKELifetime, pr.IKELifetime = 24*time.Hour, 24*time.Hour
		pr.ChildLifetime = 10 * time.Hour
	}, nil)
	for _, c := range []struct {
		name string
		m    *Manager
		r    *recorder
		life time.Duration
	}{{"responder", mr, rr, 28800 * time.Second}, {"initiator", mi, ri, 27000 * time.Second}} {
		installed := time.Now()
		if early := rekeysBy(c.m, c.r, installed, 4*time.Hour); early {
			t.Errorf("%s: the child is rekeyed within 4 h, want %v less a margin", c.name, c.life)
		}
		if !rekeysBy(c.m, c.r, installed, c.life-time.Minute) {
			t.Errorf("%s: the child is not rekeyed a minute before %v, its lifetime", c.name, c.life)
		}
	}
}

// quickLifetimes shuttles the exchanges between mi and mr and returns the lifetime attributes of the initiator's first quick mode proposal.
func quickLifetimes(t *testing.T, mi, mr *Manager, ri, rr *recorder) []wire.Attr {
	t.Helper()
	var life []wire.Attr
	shuttle(mi, mr, ri, rr, func(fromI bool, msg []byte, from, to netip.AddrPort) bool {
		if fromI && life == nil && msg[18] == wire.ExchangeQuick {
			_, _, in := quickProposal(t, mi, onlySA(t, mi), msg)
			for _, a := range in.Proposals[0].Transforms[0].Attrs {
				if a.Type == wire.AttrSALifeType || a.Type == wire.AttrSALifeValue {
					life = append(life, a)
				}
			}
		}
		return false
	})
	return life
}

// TestQuickModeLifetimeStated: our quick mode proposal states the child's
// lifetime both in seconds and in kilobytes (by default Azure's 27000 s
// and 102400000 KB), so that a peer that reads none of them does not take
// 28800 s and no byte limit; a peer's lifetime in kilobytes shorter than
// ours holds on both sides, in the data path's limits.
func TestQuickModeLifetimeStated(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, nil)
	life := quickLifetimes(t, mi, mr, ri, rr)
	want := []wire.Attr{{Type: wire.AttrSALifeType, Value: wire.LifeSeconds}, {Type: wire.AttrSALifeValue, Value: 27000},
		{Type: wire.AttrSALifeType, Value: wire.LifeKilobytes}, {Type: wire.AttrSALifeValue, Value: 102400000}}
	if len(life) != len(want) || (len(life) == len(want) && [4]wire.Attr(life) != [4]wire.Attr(want)) {
		t.Errorf("our quick mode proposal states the lifetimes %v, want %v", life, want)
	}

	_, _, ri, rr = withLifetimes(t, nil, []wire.Attr{{Type: wire.AttrSALifeType, Value: wire.LifeKilobytes}, {Type: wire.AttrSALifeValue, Value: 1000}})
	for _, c := range []struct {
		name string
		r    *recorder
	}{{"responder", rr}, {"initiator", ri}} {
		c.r.mu.Lock()
		if len(c.r.children) != 1 {
			t.Errorf("%s: %d children", c.name, len(c.r.children))
		} else if ch := c.r.children[0]; ch.In.Limits.HardBytes != 1000*1024 || ch.Out.Limits.HardBytes != 1000*1024 || ch.Out.Limits.SoftBytes != 900*1024 {
			t.Errorf("%s: a peer's lifetime of 1000 KB gives the data path the limits %+v in, %+v out; want 1000 KB, rekeyed at 900", c.name, ch.In.Limits, ch.Out.Limits)
		}
		c.r.mu.Unlock()
	}
}

// TestQuickModeNoByteLifetime: a connection whose child SAs have no
// lifetime in bytes (a custom policy's saDataSizeKilobytes of 0) proposes
// its lifetime in seconds only, and its child SAs carry data without a
// byte limit, on both sides; on the old code the quick mode stated
// 4,294,967,295 KB.
func TestQuickModeNoByteLifetime(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, func(pi, pr *ikev2.PeerConfig) {
		pi.ChildLimits = esp.Limits{HardBytes: math.MaxUint64}
		pr.ChildLimits = esp.Limits{HardBytes: math.MaxUint64}
	})
	life := quickLifetimes(t, mi, mr, ri, rr)
	want := []wire.Attr{{Type: wire.AttrSALifeType, Value: wire.LifeSeconds}, {Type: wire.AttrSALifeValue, Value: 27000}}
	if !slices.Equal(life, want) {
		t.Errorf("our quick mode proposal states the lifetimes %v, want %v", life, want)
	}
	for _, c := range []struct {
		name string
		r    *recorder
	}{{"responder", rr}, {"initiator", ri}} {
		c.r.mu.Lock()
		if len(c.r.children) != 1 {
			t.Errorf("%s: %d children", c.name, len(c.r.children))
		} else if ch := c.r.children[0]; ch.In.Limits.HardBytes != math.MaxUint64 || ch.Out.Limits.HardBytes != math.MaxUint64 {
			t.Errorf("%s: the data path's limits are %+v in, %+v out; want no byte limit", c.name, ch.In.Limits, ch.Out.Limits)
		}
		c.r.mu.Unlock()
	}
}

// TestMainModeLifetimeAfterKilobytes: a phase 1 transform may state its
// lifetime in kilobytes before the one in seconds (RFC 2409 Appendix A:
// each duration is of the life type before it); the seconds hold, not
// the default 8 hours, so that the ISAKMP SA is renewed before the peer's
// ends.
func TestMainModeLifetimeAfterKilobytes(t *testing.T) {
	base := []wire.Attr{{Type: wire.AttrEncryption, Value: wire.EncrAESCBC}, {Type: wire.AttrKeyLength, Value: 256},
		{Type: wire.AttrHash, Value: wire.Hash256}, {Type: wire.AttrAuthMethod, Value: wire.AuthPSK}, {Type: wire.AttrGroup, Value: 14}}
	for _, c := range []struct {
		name string
		life []wire.Attr
		want time.Duration
	}{
		{"seconds", []wire.Attr{{Type: wire.AttrLifeType, Value: wire.LifeSeconds}, {Type: wire.AttrLifeValue, Value: 3600}}, time.Hour},
		{"kilobytes, then seconds", []wire.Attr{{Type: wire.AttrLifeType, Value: wire.LifeKilobytes}, {Type: wire.AttrLifeValue, Value: 4608000},
			{Type: wire.AttrLifeType, Value: wire.LifeSeconds}, {Type: wire.AttrLifeValue, Value: 3600}}, time.Hour},
		{"kilobytes only", []wire.Attr{{Type: wire.AttrLifeType, Value: wire.LifeKilobytes}, {Type: wire.AttrLifeValue, Value: 3600}}, 8 * time.Hour},
		{"none", nil, 8 * time.Hour},
	} {
		tr := wire.Transform{Number: 1, ID: wire.TransformKeyIKE, Attrs: append(append([]wire.Attr{}, base...), c.life...)}
		if s, ok := p1FromTransform(tr); !ok || s.Life != c.want {
			t.Errorf("%s: chosen %v, lifetime %v, want %v", c.name, ok, s.Life, c.want)
		}
	}
}

// TestChildExpiresWithoutRekey: a child whose rekeys fail (the peer no
// longer answers quick mode, its ISAKMP SA still does) goes at the end of
// its lifetime, and the peer is told: its keys are not used past the
// lifetime both sides agreed on (RFC 2407 §4.5), after which the peer has
// dropped its copy and what we send with it goes nowhere.
func TestChildExpiresWithoutRekey(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, func(pi, pr *ikev2.PeerConfig) {
		pi.ChildLifetime = time.Hour
	})
	shuttle(mi, mr, ri, rr, nil)
	installed := time.Now()
	ri.mu.Lock()
	in, out := ri.children[0].In.SPI, ri.children[0].Out.SPI
	ri.mu.Unlock()
	ri.take()
	// The rekey is tried, and goes unanswered.
	if !rekeysBy(mi, ri, installed, time.Hour-time.Minute) {
		t.Fatal("no rekey a minute before the child's lifetime ends")
	}
	mi.mu.Lock()
	mi.timers(installed.Add(time.Hour + time.Second))
	mi.mu.Unlock()
	msgs, from, to := ri.take()
	for i, m := range msgs {
		if m[18] == wire.ExchangeInfo {
			mr.handle(to[i], from[i], m)
		}
	}
	ri.mu.Lock()
	removed := slices.Contains(ri.removed, in)
	ri.mu.Unlock()
	rr.mu.Lock()
	// The peer, whose copy is within its lifetime still, drains it.
	told := slices.Contains(rr.removed, out) || slices.Contains(rr.drained, out)
	rr.mu.Unlock()
	if !removed || !told {
		t.Errorf("a second past the child's lifetime of an hour, not rekeyed: removed %v, by the peer too (told with a Delete) %v", removed, told)
	}
	if st := mi.Status(); len(st) != 1 || len(st[0].IKESAs) == 0 || len(st[0].IKESAs[0].Children) != 0 {
		t.Errorf("status past the child's lifetime: %+v", st)
	}
}

// TestQuickModeLifetimeEightBytes: a quick mode proposal whose lifetimes
// are stated in eight bytes (variable attributes, RFC 2407 §4.5), here
// longer than any of ours, gets a child: the lifetime is read, and ours,
// the shorter, holds on both sides (27000 s and 102400000 KB), where the
// whole proposal was refused as malformed.
func TestQuickModeLifetimeEightBytes(t *testing.T) {
	mi, mr, ri, rr := withLifetimes(t, nil, []wire.Attr{{Type: wire.AttrSALifeType, Value: wire.LifeSeconds}, {Type: wire.AttrSALifeValue, Value: 1 << 40},
		{Type: wire.AttrSALifeType, Value: wire.LifeKilobytes}, {Type: wire.AttrSALifeValue, Value: 1 << 60}})
	for _, c := range []struct {
		name string
		m    *Manager
		r    *recorder
	}{{"responder", mr, rr}, {"initiator", mi, ri}} {
		c.r.mu.Lock()
		n := len(c.r.children)
		var hard uint64
		if n == 1 {
			hard = c.r.children[0].Out.Limits.HardBytes
		}
		c.r.mu.Unlock()
		if n != 1 || hard != 102400000*1024 {
			t.Errorf("%s: %d children, with a byte limit of %d; want one of 102400000 KB", c.name, n, hard)
			continue
		}
		installed := time.Now()
		if rekeysBy(c.m, c.r, installed, 4*time.Hour) || !rekeysBy(c.m, c.r, installed, 27000*time.Second-time.Minute) {
			t.Errorf("%s: the child is not rekeyed between 4 h and a minute before 27000 s", c.name)
		}
	}
}

// TestGroupBeyondItsType: a DH group (or hash) number in a variable
// attribute too large for its type is no group vnetgw knows: it does not
// wrap onto one (65550 is not group 14).
func TestGroupBeyondItsType(t *testing.T) {
	p1 := wire.Transform{Number: 1, ID: wire.TransformKeyIKE, Attrs: []wire.Attr{{Type: wire.AttrEncryption, Value: wire.EncrAESCBC}, {Type: wire.AttrKeyLength, Value: 256},
		{Type: wire.AttrHash, Value: wire.Hash256}, {Type: wire.AttrAuthMethod, Value: wire.AuthPSK}, {Type: wire.AttrGroup, Value: 1<<16 + 14}}}
	if s, ok := p1FromTransform(p1); ok {
		t.Errorf("phase 1 group 65550 chosen as %v", s)
	}
	p1.Attrs[4].Value, p1.Attrs[2].Value = 14, 1<<32+wire.Hash256
	if s, ok := p1FromTransform(p1); ok {
		t.Errorf("phase 1 hash 2^32+4 chosen as %v", s)
	}
	p2 := wire.Transform{Number: 1, ID: wire.ESPAESCBC, Attrs: []wire.Attr{{Type: wire.AttrESPKeyLen, Value: 256}, {Type: wire.AttrAuthAlg, Value: wire.AuthHMACSHA256},
		{Type: wire.AttrPFSGroup, Value: 1<<16 + 14}}}
	if s, ok := p2FromTransform(p2); ok {
		t.Errorf("PFS group 65550 chosen as %v", s)
	}
}

// TestResponderLifetime: a responder whose lifetimes are shorter than the
// initiator offered says so in quick mode message 2, with a
// RESPONDER-LIFETIME (RFC 2407 §4.5.4, §4.6.3.1), and the initiator takes
// them: its child is rekeyed before the responder's hour ends, and its
// data path stops at the responder's 1000 KB. It answered with the
// initiator's own transform only, so that the initiator kept its 27000 s
// and 102400000 KB, and the responder's copy ended first. A responder
// whose lifetimes are the initiator's sends none.
func TestResponderLifetime(t *testing.T) {
	for _, c := range []struct {
		name  string
		tweak func(pi, pr *ikev2.PeerConfig)
		want  []wire.Attr // the RESPONDER-LIFETIME's, nil for none
	}{
		{"the same lifetimes", nil, nil},
		{"the responder's shorter", func(_, pr *ikev2.PeerConfig) {
			pr.ChildLifetime, pr.ChildLimits = time.Hour, esp.Limits{SoftBytes: 900 * 1024, HardBytes: 1000 * 1024}
		}, []wire.Attr{{Type: wire.AttrSALifeType, Value: wire.LifeSeconds}, {Type: wire.AttrSALifeValue, Value: 3600},
			{Type: wire.AttrSALifeType, Value: wire.LifeKilobytes}, {Type: wire.AttrSALifeValue, Value: 1000}}},
	} {
		mi, mr, ri, rr := twoManagers(t, c.tweak)
		var qm1, qm2 []byte
		shuttle(mi, mr, ri, rr, func(fromI bool, msg []byte, _, _ netip.AddrPort) bool {
			switch {
			case msg[18] != wire.ExchangeQuick:
			case fromI && qm1 == nil:
				qm1 = msg
			case !fromI && qm2 == nil:
				qm2 = msg
			}
			return false
		})
		ri.mu.Lock()
		n := len(ri.children)
		var hard uint64
		if n == 1 {
			hard = ri.children[0].Out.Limits.HardBytes
		}
		ri.mu.Unlock()
		if qm2 == nil || n != 1 {
			t.Fatalf("%s: no quick mode message 2 (%v), or %d children", c.name, qm2 == nil, n)
		}
		installed := time.Now()
		// Quick mode message 2 is encrypted on from message 1's last block.
		sr := onlySA(t, mr)
		h, _ := wire.ParseHeader(qm2)
		mr.mu.Lock()
		pt, _, err := open(sr.encKey, qm1[len(qm1)-blockSize:], qm2[wire.HeaderLen:])
		mr.mu.Unlock()
		ps, err2 := wire.ParsePayloads(h.Next, pt)
		if err != nil || err2 != nil {
			t.Fatalf("%s: quick mode message 2 does not open: %v %v", c.name, err, err2)
		}
		var got []wire.Attr
		for _, p := range ps {
			if n, err := wire.ParseNotify(p.Body); p.Type == wire.PayloadNotify && err == nil && n.Type == wire.NotifyResponderLifetime {
				if got, err = wire.ParseAttrs(n.Data); err != nil || n.Protocol != wire.ProtocolESP || len(n.SPI) != 4 {
					t.Errorf("%s: RESPONDER-LIFETIME %+v: %v", c.name, n, err)
				}
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: quick mode message 2 states the responder's lifetimes %v, want %v", c.name, got, c.want)
		}
		if c.want == nil {
			continue
		}
		if hard != 1000*1024 {
			t.Errorf("%s: the initiator's data path stops at %d bytes, want the responder's 1000 KB", c.name, hard)
		}
		if !rekeysBy(mi, ri, installed, time.Hour-time.Minute) {
			t.Errorf("%s: the initiator does not rekey its child before the responder's hour ends", c.name)
		}
	}
}

// TestMainModeAnswerLongerLifetime: a responder that answers main mode
// with a longer lifetime than offered (10 hours for the hour asked) does
// not make the initiator's ISAKMP SA outlive its own lifetime: the
// shorter holds, and the initiator renews the SA before the hour.
func TestMainModeAnswerLongerLifetime(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, func(pi, pr *ikev2.PeerConfig) { pi.IKELifetime = time.Hour })
	rewritten := false
	shuttle(mi, mr, ri, rr, func(fromI bool, msg []byte, from, to netip.AddrPort) bool {
		h, err := wire.ParseHeader(msg)
		if fromI || rewritten || err != nil || h.Exchange != wire.ExchangeMain || h.Flags&wire.FlagEncryption != 0 {
			return false
		}
		ps, err := wire.ParsePayloads(h.Next, msg[wire.HeaderLen:])
		if err != nil {
			t.Fatal(err)
		}
		for i := range ps {
			if ps[i].Type != wire.PayloadSA {
				continue
			}
			in, err := wire.ParseSA(ps[i].Body)
			if err != nil {
				t.Fatal(err)
			}
			for j, a := range in.Proposals[0].Transforms[0].Attrs {
				if a.Type == wire.AttrLifeValue {
					in.Proposals[0].Transforms[0].Attrs[j].Value = 36000
					rewritten = true
				}
			}
			ps[i].Body = in.Append(nil)
		}
		body, first := wire.AppendPayloads(nil, ps)
		h.Next, h.Length = first, uint32(wire.HeaderLen+len(body))
		mi.handle(to, from, append(h.Append(nil), body...))
		return true
	})
	if !rewritten {
		t.Fatal("no main mode message 2 with a lifetime to rewrite")
	}
	sa := onlySA(t, mi)
	ri.take()
	mi.mu.Lock()
	life, established := sa.s.Life, sa.established
	mi.timers(established.Add(time.Hour - time.Second))
	mi.mu.Unlock()
	if life != time.Hour {
		t.Errorf("the initiator's ISAKMP SA has a lifetime of %v, want the hour it offered", life)
	}
	renewed := false
	msgs, _, _ := ri.take()
	for _, m := range msgs {
		if h, err := wire.ParseHeader(m); err == nil && h.Exchange == wire.ExchangeMain && h.RCookie == 0 {
			renewed = true
		}
	}
	if !renewed {
		t.Error("no new main mode before the initiator's lifetime of an hour ended")
	}
}
