// Package insights keeps the history of the tunnel counters of what a node
// runs, sampled at an interval, and answers Azure Monitor's metrics
// queries (Microsoft.Insights/metrics) from it: the bytes, packets and
// drops of each connection, its security associations and NAT flows, and
// bandwidths over the gateway and its connections.
package insights

import (
	"fmt"
	"math/bits"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"
)

// Counters are a connection's counters as the data plane reports them:
// counts since its tunnels started (inner packets and their bytes both
// ways, drops), and gauges of the moment.
type Counters struct {
	Ingress, Egress               uint64
	IngressPackets, EgressPackets uint64
	Drops                         Drops
	// Gauges are values of the moment, by the series' kind (the Gauge
	// constants).
	Gauges [3]uint32
	// Gateway and Name are, of a connection's series, the id of the
	// gateway it is of and its name, as they were when sampled: the
	// gateway's metrics count it after it is deleted.
	Gateway, Name string
}

// The gauges of a connection's series: its established IKE SAs (Azure:
// MMSA), its child SA pairs (QMSA) and the flows of its Dynamic NAT rules;
// of a gateway's point-to-site series (P2SSeries): its connected clients;
// of a BGP peer's series (BGPSeries): 1 while the session is established,
// the routes learned from the peer and those advertised to it.
const (
	GaugeIKESAs, GaugeChildSAs, GaugeNATFlows              = 0, 1, 2
	GaugeClients                                           = 0
	GaugePeerUp, GaugeRoutesLearned, GaugeRoutesAdvertised = 0, 1, 2
)

// P2SProtocols are the values of the point-to-site metrics' Protocol
// dimension.
var P2SProtocols = []string{"SSTP", "IKEv2", "OpenVPN"}

// P2SSeries is the id under which a gateway's point-to-site traffic over
// protocol is recorded (as one connection's). SSTP's keeps the id it had
// before there was IKEv2, so that a history saved then still counts.
func P2SSeries(gatewayID, protocol string) string {
	id := strings.ToLower(gatewayID) + "/p2s"
	if !strings.EqualFold(protocol, "SSTP") {
		id += "/" + strings.ToLower(protocol)
	}
	return id
}

// P2SSeriesOf returns the point-to-site series of a gateway with the
// protocol of each.
func P2SSeriesOf(gatewayID string) map[string]string {
	out := map[string]string{}
	for _, p := range P2SProtocols {
		out[P2SSeries(gatewayID, p)] = p
	}
	return out
}

// BGPSeries is the id under which the BGP session of a gateway's instance
// with peer is recorded.
func BGPSeries(gatewayID string, instance int, peer netip.Addr) string {
	return fmt.Sprintf("%s/bgp/%d/%s", strings.ToLower(gatewayID), instance, peer)
}

// Drops count the packets a connection's tunnels dropped, coming in and
// going out; of those, the ones outside the traffic selectors (Azure's TS
// mismatch); and the ones NAT rules dropped.
type Drops struct {
	Ingress, Egress, IngressTS, EgressTS, NAT uint64
}

// Plus returns d and o added, count by count.
func (d Drops) Plus(o Drops) Drops {
	return Drops{d.Ingress + o.Ingress, d.Egress + o.Egress, d.IngressTS + o.IngressTS, d.EgressTS + o.EgressTS, d.NAT + o.NAT}
}

// History holds samples of each connection's counters for a retention
// period, at most as many as fit in it at the sampling interval.
type History struct {
	every time.Duration
	max   int // samples per connection

	mu     sync.Mutex
	series map[string]*series // by connection id (lower case)
}

// series is one connection's samples, oldest first. Its drops are kept
// beside them, one per sample, once a sample has one: most tunnels drop
// nothing.
type series struct {
	samples []sample
	drops   []Drops // nil, or as long as samples
	// restarted tells that the last sample is a restart's (Load's
	// zeros), not one Record took.
	restarted bool
	// absent is when Record last took samples without this series (unix
	// seconds; 0 once it has it again): its connection was not run here
	// then (deleted and made again, or its VNet on another node).
	absent uint32
	// gateway (lower case) and name are a connection's as last recorded
	// (Counters); "" in a history saved before they were.
	gateway, name string
}

// stale tells whether s was last recorded longer ago than the retention
// before now: its connection is no longer run here.
func (h *History) stale(s *series, now time.Time) bool {
	last := s.samples[len(s.samples)-1].t
	if s.restarted && len(s.samples) > 1 {
		last = s.samples[len(s.samples)-2].t
	}
	return now.Sub(time.Unix(int64(last), 0)) > time.Duration(h.max)*h.every
}

// sample is 48 bytes: a node with 10,000 tunnels keeps 6 hours at one a
// minute in 173 MB (and 40 bytes more per sample of a tunnel that drops).
type sample struct {
	ingress, egress               uint64
	ingressPackets, egressPackets uint64
	t                             uint32 // unix seconds (until 2106)
	gauges                        [3]uint32
}

func newSample(t time.Time, c Counters) sample {
	return sample{t: uint32(t.Unix()), ingress: c.Ingress, egress: c.Egress, ingressPackets: c.IngressPackets, egressPackets: c.EgressPackets, gauges: c.Gauges}
}

// BGPPeers returns the series of gateway gatewayID's BGP sessions
// (BGPSeries) and their peers' addresses.
func (h *History) BGPPeers(gatewayID string) map[string]string {
	prefix := strings.ToLower(gatewayID) + "/bgp/"
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]string{}
	for id := range h.series {
		if rest, ok := strings.CutPrefix(id, prefix); ok {
			if _, peer, ok := strings.Cut(rest, "/"); ok {
				out[id] = peer
			}
		}
	}
	return out
}

// ConnectionsOf returns the series recorded as connections of gateway
// gatewayID, deleted ones too until they age out, with the names they
// had.
func (h *History) ConnectionsOf(gatewayID string) map[string]string {
	gw := strings.ToLower(gatewayID)
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]string{}
	for id, s := range h.series {
		if s.gateway == gw {
			out[id] = s.name
		}
	}
	return out
}

// New returns an empty history sampled every every and kept for
// retention.
func New(every, retention time.Duration) *History {
	return &History{every: every, max: max(int(retention/every), 2), series: map[string]*series{}}
}

// Every is the sampling interval.
func (h *History) Every() time.Duration { return h.every }

// Next is when the sample after now is taken: the next boundary of the
// interval (on the minute, for a minute), where the buckets of a query
// begin, so that what the sample counts lies in one bucket.
func (h *History) Next(now time.Time) time.Time { return now.Truncate(h.every).Add(h.every) }

// Record adds the counters of the connections the node runs at t. A
// connection it no longer runs keeps its history until that ages out.
func (h *History) Record(t time.Time, byConn map[string]Counters) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, c := range byConn {
		s := h.series[id]
		if s == nil {
			// A connection seen first: its counters started at zero with
			// its tunnels, since the last sample.
			s = &series{samples: []sample{{t: uint32(t.Unix())}}}
			h.series[id] = s
		} else if s.absent != 0 {
			// Back after samples without it: what its counters grew
			// since the last of those is traffic of the time after it,
			// not of the gap (a sample there with the counters it had,
			// of no gauges: it was not run).
			last := s.samples[len(s.samples)-1]
			s.samples = append(s.samples, sample{t: max(s.absent, last.t), ingress: last.ingress, egress: last.egress,
				ingressPackets: last.ingressPackets, egressPackets: last.egressPackets})
			if s.drops != nil {
				s.drops = append(s.drops, s.drops[len(s.drops)-1])
			}
		}
		s.absent = 0
		if c.Gateway != "" {
			s.gateway, s.name = strings.ToLower(c.Gateway), c.Name
		}
		if s.drops == nil && c.Drops != (Drops{}) {
			s.drops = make([]Drops, len(s.samples), cap(s.samples))
		}
		s.samples = append(s.samples, newSample(t, c))
		s.restarted = false
		if s.drops != nil {
			s.drops = append(s.drops, c.Drops)
		}
		if n := len(s.samples); n > h.max {
			s.samples = append(s.samples[:0:0], s.samples[n-h.max:]...)
			if s.drops != nil {
				s.drops = append(s.drops[:0:0], s.drops[n-h.max:]...)
			}
		}
	}
	for id, s := range h.series {
		if h.stale(s, t) {
			delete(h.series, id)
		} else if _, ok := byConn[id]; !ok {
			s.absent = uint32(t.Unix())
		}
	}
}

// Bucket is what a connection did in [Start, End): the traffic and drops
// its counters grew by in that time, and its gauges' means over the
// samples in it. End is Start and the interval, or the end of the
// timespan asked for when that comes first. Has is false when no sample
// lies in it and no two tell of any of its time.
type Bucket struct {
	Start, End                    time.Time
	Ingress, Egress               uint64
	IngressPackets, EgressPackets uint64
	Drops                         Drops
	Gauges                        [3]float64
	// PeakPPS is the highest packet rate, both ways, between two
	// samples that tell of its time.
	PeakPPS float64
	Has     bool
	// Gauged tells that a sample of the gauges lies in it (Has may be
	// for traffic alone: a series' first sample counts its traffic in
	// the second before it).
	Gauged bool
	// Told is the end of the time two samples tell of in it: End, or
	// less in the bucket under way (before its traffic's next sample).
	Told time.Time
}

// Buckets returns connection id's traffic in the intervals from from to
// to, the last one cut at to. What the counters grew between two samples
// happened between them: it is credited to the buckets of that time, in
// proportion to the time of each, as Azure Monitor's timestamp is the
// start of the minute its values happened in. The server samples on the
// interval's boundaries (every minute on the minute), so that it all lands
// in one bucket; a history sampled otherwise (saved before, or a sample
// late by a second) is split. Counters that went down (the tunnel started
// again) count from zero.
func (h *History) Buckets(id string, from, to time.Time, interval time.Duration) []Bucket {
	h.mu.Lock()
	var s series
	if p := h.series[id]; p != nil {
		s = *p // Record replaces, never changes, what the slices hold
	}
	h.mu.Unlock()
	var out []Bucket
	for start := from; start.Before(to); start = start.Add(interval) {
		b := Bucket{Start: start, End: start.Add(interval)}
		if b.End.After(to) {
			b.End = to
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		return out
	}
	// bucket returns the index of the bucket that holds t (unix
	// nanoseconds), which is in [from, to).
	fromNS, toNS := from.UnixNano(), to.UnixNano()
	bucket := func(t int64) int { return min(int((t-fromNS)/int64(interval)), len(out)-1) }
	// One walk over the samples from the first that tells of the time
	// asked for (a query costs its buckets, not the history's length
	// times them).
	lo0 := uint32(max(from.Unix(), 0))
	n := make([]int, len(out)) // gauge samples by bucket
	for i := max(sort.Search(len(s.samples), func(i int) bool { return s.samples[i].t >= lo0 }), 1); i < len(s.samples); i++ {
		prev, cur := &s.samples[i-1], &s.samples[i]
		// The growth from prev to cur happened in (pt, ct]; one of no
		// time (a tunnel seen first, counting from zero; a clock set
		// back) in the second before cur.
		ct := int64(cur.t) * int64(time.Second)
		pt := min(int64(prev.t), int64(cur.t)-1) * int64(time.Second)
		if pt >= toNS {
			break
		}
		if ct >= fromNS && ct < toNS {
			// A gauge is the value of the moment of its sample.
			k := bucket(ct)
			out[k].Has, out[k].Gauged = true, true
			for g, v := range cur.gauges {
				out[k].Gauges[g] += float64(v)
			}
			n[k]++
		}
		if ct <= fromNS {
			continue
		}
		var drops [2]Drops
		if s.drops != nil {
			drops = [2]Drops{s.drops[i-1], s.drops[i]}
		}
		var pps float64
		if cur.t > prev.t {
			pps = float64(grown(prev.ingressPackets, cur.ingressPackets)+grown(prev.egressPackets, cur.egressPackets)) / (float64(cur.t) - float64(prev.t))
		}
		for k := bucket(max(pt, fromNS)); k < len(out); k++ {
			b := &out[k]
			a, e := max(pt, b.Start.UnixNano()), min(ct, b.End.UnixNano())
			if a >= e {
				break
			}
			part := func(x, y uint64) uint64 { return share(grown(x, y), a-pt, e-pt, ct-pt) }
			b.Has = true
			b.Ingress += part(prev.ingress, cur.ingress)
			b.Egress += part(prev.egress, cur.egress)
			b.IngressPackets += part(prev.ingressPackets, cur.ingressPackets)
			b.EgressPackets += part(prev.egressPackets, cur.egressPackets)
			p, c := drops[0], drops[1]
			b.Drops.Ingress += part(p.Ingress, c.Ingress)
			b.Drops.Egress += part(p.Egress, c.Egress)
			b.Drops.IngressTS += part(p.IngressTS, c.IngressTS)
			b.Drops.EgressTS += part(p.EgressTS, c.EgressTS)
			b.Drops.NAT += part(p.NAT, c.NAT)
			b.PeakPPS = max(b.PeakPPS, pps)
			if told := time.Unix(0, e); told.After(b.Told) {
				b.Told = told
			}
		}
	}
	for k := range out {
		for g := range out[k].Gauges {
			if n[k] > 0 {
				out[k].Gauges[g] /= float64(n[k])
			}
		}
	}
	return out
}

// share is what of growth g over a time d happened between a and e into
// it: g's part up to e less its part up to a, so that the shares of
// consecutive times add up to g exactly.
func share(g uint64, a, e, d int64) uint64 {
	upTo := func(x int64) uint64 {
		hi, lo := bits.Mul64(g, uint64(x))
		q, _ := bits.Div64(hi, lo, uint64(d)) // x <= d: the quotient fits
		return q
	}
	return upTo(e) - upTo(a)
}

// grown is how much a counter grew from a to b; one that went down started
// again from zero.
func grown(a, b uint64) uint64 {
	if b < a {
		return b
	}
	return b - a
}
