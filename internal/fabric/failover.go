package fabric

import (
	"net/netip"
	"slices"
)

// Failover is the Port of an active-active gateway's instances: it hands a
// packet to the first instance whose tunnels can carry it (to its
// destination, from its source where a tunnel's prefix pairs choose), and
// to the first instance when none can (where it is dropped and counted,
// as with one instance). Its choice is made per packet, so traffic moves
// to the other instance as soon as a tunnel goes down, and back when it
// comes up again.
type Failover struct {
	ports   []Port
	carries []func(src, dst netip.Addr) bool
}

// NewFailover returns a Failover over ports, in order of preference;
// carries[i] tells whether ports[i] can carry a packet from src to dst
// now. It is called on the data path and must be cheap and lock-free.
func NewFailover(ports []Port, carries []func(src, dst netip.Addr) bool) *Failover {
	return &Failover{ports: ports, carries: carries}
}

// pick returns the port for pkt.
func (f *Failover) pick(pkt []byte) Port {
	if src, dst, ok := ends(pkt); ok {
		for i, carries := range f.carries {
			if carries(src, dst) {
				return f.ports[i]
			}
		}
	}
	return f.ports[0]
}

// Deliver implements Port.
func (f *Failover) Deliver(pkt []byte) { f.pick(pkt).Deliver(pkt) }

// DeliverBatch hands each port its runs of the packets at bufs[i][offset:].
func (f *Failover) DeliverBatch(bufs [][]byte, offset int) {
	var port Port
	start := 0
	for i, b := range bufs {
		p := f.pick(b[offset:])
		if p == port {
			continue
		}
		deliverRun(port, bufs[start:i], offset)
		port, start = p, i
	}
	deliverRun(port, bufs[start:], offset)
}

// OwnFirst is the way of a gateway instance's own endpoints (its BGP
// speaker, its RADIUS source) into its VNet's router: what the router
// sends to a Failover over the instance's port goes into the instance's
// own tunnels when they carry it, as each instance of Azure's
// active-active gateway speaks BGP with a site through its own tunnel
// (a site's device routes each instance's address back through that
// tunnel, and may drop what comes in through the other); else where the
// router sends it. The VNet's hosts' packets do not pass it.
type OwnFirst struct {
	r       *Router
	port    Port
	carries func(src, dst netip.Addr) bool
}

// NewOwnFirst returns the way into r of the endpoints of the instance
// whose port is port and whose tunnels carry what carries tells.
func NewOwnFirst(r *Router, port Port, carries func(src, dst netip.Addr) bool) *OwnFirst {
	return &OwnFirst{r: r, port: port, carries: carries}
}

// Forward routes pkt as Router.Forward does, into the instance's own
// tunnels where they carry what the router sends to its gateway.
func (o *OwnFirst) Forward(pkt []byte) {
	p, pkt := o.r.route(o.r.table.Load(), "", false, pkt)
	if p == nil {
		return
	}
	if f, ok := p.(*Failover); ok && slices.Contains(f.ports, o.port) {
		if src, dst, ok := ends(pkt); ok && o.carries(src, dst) {
			p = o.port
		}
	}
	p.Deliver(pkt)
}

// ForwardBatch forwards the packets at bufs[i][offset:] one by one: an
// instance's own endpoints send little.
func (o *OwnFirst) ForwardBatch(bufs [][]byte, offset int) {
	for _, b := range bufs {
		o.Forward(b[offset:])
	}
}

// ends returns the source and destination addresses of an IP packet.
func ends(pkt []byte) (src, dst netip.Addr, ok bool) {
	switch {
	case len(pkt) >= 20 && pkt[0]>>4 == 4:
		return netip.AddrFrom4([4]byte(pkt[12:16])), netip.AddrFrom4([4]byte(pkt[16:20])), true
	case len(pkt) >= 40 && pkt[0]>>4 == 6:
		return netip.AddrFrom16([16]byte(pkt[8:24])), netip.AddrFrom16([16]byte(pkt[24:40])), true
	}
	return netip.Addr{}, netip.Addr{}, false
}
