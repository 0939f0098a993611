// Package udptest is an in-memory UDP network for the tunnel engine's unit
// tests: each engine sends through an Outer of its own, and what it sends
// is handed at once, on the sender's goroutine, to the ESP handler attached
// at the destination, in buffers as long as udp.Transport's.
package udptest

import (
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/vnetgw/vnetgw/internal/udp"
)

// Network connects Outers to ESP handlers.
type Network struct {
	mu  sync.Mutex // guards eps
	eps map[netip.AddrPort]*endpoint

	lost atomic.Uint64
}

// endpoint is an attached handler with its receive buffers.
type endpoint struct {
	mu   sync.Mutex // guards msgs and view, and serializes deliveries, like a read loop
	h    udp.ESPHandler
	msgs []udp.Message
	view []udp.Message // what the handler gets, which it may change
}

// batch is how many datagrams one delivery holds at most.
const batch = udp.DefaultBatchSize

// NewNetwork returns an empty network.
func NewNetwork() *Network {
	return &Network{eps: map[netip.AddrPort]*endpoint{}}
}

// Attach makes h receive what is sent to addr.
func (n *Network) Attach(addr netip.AddrPort, h udp.ESPHandler) {
	ep := &endpoint{h: h, msgs: make([]udp.Message, batch), view: make([]udp.Message, 0, batch)}
	for i, b := range udp.Buffers(batch, udp.MaxDatagram) {
		ep.msgs[i].Buf = b
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.eps[addr] = ep
}

// Lost returns how many datagrams went to addresses nothing is attached
// to.
func (n *Network) Lost() uint64 { return n.lost.Load() }

// Outer returns a new sending side for one engine.
func (n *Network) Outer() *Outer { return &Outer{n: n} }

// Outer is one engine's sending side. It implements tunnel.Outer.
type Outer struct {
	n    *Network
	sent atomic.Uint64
}

// WriteBatch delivers msgs, in order, to the handlers attached at their
// addresses; the source is local.
func (o *Outer) WriteBatch(local netip.AddrPort, msgs []udp.Message) error {
	for len(msgs) > 0 {
		dst := msgs[0].Addr
		k := 1
		for k < len(msgs) && k < batch && msgs[k].Addr == dst {
			k++
		}
		o.deliver(local, dst, msgs[:k])
		msgs = msgs[k:]
	}
	return nil
}

// KernelPathMTU fails: an in-memory network has no kernel that learns
// path MTUs.
func (o *Outer) KernelPathMTU(netip.AddrPort, netip.AddrPort) (int, error) {
	return 0, errors.ErrUnsupported
}

func (o *Outer) deliver(local, dst netip.AddrPort, msgs []udp.Message) {
	o.sent.Add(uint64(len(msgs)))
	o.n.mu.Lock()
	ep := o.n.eps[dst]
	o.n.mu.Unlock()
	if ep == nil {
		o.n.lost.Add(uint64(len(msgs)))
		return
	}
	ep.mu.Lock()
	defer ep.mu.Unlock()
	in := ep.msgs[:len(msgs)]
	for i, m := range msgs {
		in[i].N = copy(in[i].Buf, m.Buf)
		in[i].Addr = local
		in[i].TOS = m.TOS
	}
	ep.view = append(ep.view[:0], in...)
	ep.h.HandleESP(dst, ep.view)
}

// Sent returns how many datagrams were sent.
func (o *Outer) Sent() uint64 { return o.sent.Load() }
