package fabric

import (
	"os"
	"sync"
	"sync/atomic"
)

// GatewayPort joins a gateway to a VNet router. The router delivers the
// packets routed to the gateway (Deliver); the gateway's tunnel engine
// reads them in batches (Read) and writes what arrives through its tunnels
// (Write), which the router forwards: to a host of the VNet, or back into a
// tunnel for transit between sites (R37). Its Read and Write have the shape
// of a TUN device's, so the tunnel engine takes it as its inner side.
type GatewayPort struct {
	router *Router
	queue  chan *[]byte // packets waiting for the engine; bounded
	free   sync.Pool    // *[]byte buffers of portBufSize
	done   chan struct{}
	once   sync.Once
	full   atomic.Uint64 // packets dropped because the engine fell behind
}

// Sizes of a gateway port.
const (
	portQueue   = 1024
	portBatch   = 128
	portBufSize = 65535
)

var _ Port = (*GatewayPort)(nil)

// NewGatewayPort returns a port whose written packets go to router.
func NewGatewayPort(router *Router) *GatewayPort {
	p := &GatewayPort{router: router, queue: make(chan *[]byte, portQueue), done: make(chan struct{})}
	p.free.New = func() any { b := make([]byte, portBufSize); return &b }
	return p
}

// Deliver implements Port: the packet is queued for the engine, or dropped
// and counted when the queue is full.
func (p *GatewayPort) Deliver(pkt []byte) {
	if len(pkt) > portBufSize {
		p.full.Add(1)
		return
	}
	b := p.free.Get().(*[]byte)
	*b = (*b)[:copy((*b)[:cap(*b)], pkt)]
	select {
	case p.queue <- b:
	default:
		p.full.Add(1)
		p.put(b)
	}
}

func (p *GatewayPort) put(b *[]byte) {
	*b = (*b)[:cap(*b)]
	p.free.Put(b)
}

// Read blocks for at least one packet and returns up to len(bufs) of them,
// each at bufs[i][offset:].
func (p *GatewayPort) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	var b *[]byte
	select {
	case b = <-p.queue:
	case <-p.done:
		return 0, os.ErrClosed
	}
	n := 0
	for {
		sizes[n] = copy(bufs[n][offset:], *b)
		p.put(b)
		n++
		if n == len(bufs) {
			return n, nil
		}
		select {
		case b = <-p.queue:
		default:
			return n, nil
		}
	}
}

// Write hands the packets at bufs[i][offset:] to the router. It may change
// the slices in bufs, as a TUN device's Write does.
func (p *GatewayPort) Write(bufs [][]byte, offset int) (int, error) {
	p.router.ForwardBatch(bufs, offset)
	return len(bufs), nil
}

// BatchSize is the most packets one Read returns.
func (p *GatewayPort) BatchSize() int { return portBatch }

// Close makes a blocked Read return.
func (p *GatewayPort) Close() error {
	p.once.Do(func() { close(p.done) })
	return nil
}

// Dropped counts packets the engine was too slow to take.
func (p *GatewayPort) Dropped() uint64 { return p.full.Load() }
