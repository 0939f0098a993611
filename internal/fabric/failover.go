package fabric

import "net/netip"

// Failover is the Port of an active-active gateway's instances: it hands a
// packet to the first instance whose tunnels can carry it to its
// destination, and to the first instance when none can (where it is
// dropped and counted, as with one instance). Its choice is made per
// packet, so traffic moves to the other instance as soon as a tunnel goes
// down, and back when it comes up again.
type Failover struct {
	ports   []Port
	carries []func(dst netip.Addr) bool
}

// NewFailover returns a Failover over ports, in order of preference;
// carries[i] tells whether ports[i] can carry a packet to dst now. It is
// called on the data path and must be cheap and lock-free.
func NewFailover(ports []Port, carries []func(dst netip.Addr) bool) *Failover {
	return &Failover{ports: ports, carries: carries}
}

// pick returns the port for pkt.
func (f *Failover) pick(pkt []byte) Port {
	if dst, ok := destination(pkt); ok {
		for i, carries := range f.carries {
			if carries(dst) {
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

// destination returns the destination address of an IP packet.
func destination(pkt []byte) (netip.Addr, bool) {
	switch {
	case len(pkt) >= 20 && pkt[0]>>4 == 4:
		return netip.AddrFrom4([4]byte(pkt[16:20])), true
	case len(pkt) >= 40 && pkt[0]>>4 == 6:
		return netip.AddrFrom16([16]byte(pkt[24:40])), true
	}
	return netip.Addr{}, false
}
