package fabric

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vnetgw/vnetgw/internal/pcap"
	"github.com/vnetgw/vnetgw/internal/sparselog"
)

// GatewayPort joins a gateway to a VNet router. The router delivers the
// packets routed to the gateway a run at a time (DeliverBatch); the
// gateway's tunnel engine reads them in batches (Read) and writes what
// arrives through its tunnels (Write), which the router forwards: to a host
// of the VNet, or back into a tunnel for transit between sites (R37). Its
// Read and Write have the shape of a TUN device's, so the tunnel engine
// takes it as its inner side.
//
// Toward the gateway a packet is copied once when a Read is waiting: the
// sender copies it straight into the reader's buffers. Otherwise the
// sender appends it to a bounded queue (packets back to back in one
// buffer) and Read copies it out; Read swaps the whole queue for its
// empty one, so each side takes the lock once per batch, not per packet.
// When the queue is full, packets are dropped and counted (Dropped), and
// logged off the data path (LogDrops).
//
// Lock order: logMu, rmu, then mu.
type GatewayPort struct {
	router Forwarder

	rmu sync.Mutex  // held by Read: one reader at a time; guards out and req
	out packetQueue // the packets Read is taking
	req readRequest // a waiting Read's buffers; while waiter is &req, senders fill it under mu

	mu      sync.Mutex   // guards pending, waiter, closed, drained and last
	pending packetQueue  // the packets no Read has taken yet
	waiter  *readRequest // a Read waiting for packets, or nil
	closed  bool
	drained []chan struct{} // Drains waiting, closed when a Read next waits

	// ready wakes the waiting Read: its buffers are filled, or the port
	// closed. It holds at most one token: it is sent to only when a waiter
	// is cleared, and the waiter takes the token before it waits again.
	ready chan struct{}
	full  atomic.Uint64 // packets dropped
	last  lastDrop      // the addresses of the last packet dropped

	logMu sync.Mutex // guards line: LogDrops's state
	line  sparselog.Log

	capture atomic.Pointer[pcap.Capture] // a packet capture, both ways, or nil
}

// readRequest is a waiting Read's buffers, filled by the senders.
type readRequest struct {
	bufs   [][]byte
	sizes  []int
	offset int
	n      int // packets filled in
}

// packetQueue is packets back to back in one buffer.
type packetQueue struct {
	data []byte
	ends []int // where each packet ends in data
	next int   // the next packet to take
}

// Sizes of a gateway port. The queue holds a thousand packets of the
// fabric's MTU (DefaultMTU, tun.DefaultMTU); packets from tunnels can be
// longer, so it is bounded in bytes too. A port keeps its two queues (the
// pending one and Read's) at the largest size they grew to, at most about
// 2 × portQueueBytes, so that the steady state allocates nothing.
const (
	portQueue      = 1024
	portQueueBytes = 2 << 20
	portBatch      = 128
	portBufSize    = 65535
)

var _ batchPort = (*GatewayPort)(nil)

// NewGatewayPort returns a port whose written packets go to router: a
// Router, or the Ingress of the gateway's subnet when user-defined routes
// apply to what arrives through the tunnels (R26).
func NewGatewayPort(router Forwarder) *GatewayPort {
	return &GatewayPort{
		router:  router,
		out:     packetQueue{ends: make([]int, 0, portQueue)},
		pending: packetQueue{ends: make([]int, 0, portQueue)},
		ready:   make(chan struct{}, 1),
	}
}

// add appends pkt, or reports that the queue is full.
func (q *packetQueue) add(pkt []byte) bool {
	if len(q.ends) == portQueue || len(q.data)+len(pkt) > portQueueBytes {
		return false
	}
	q.data = append(q.data, pkt...)
	q.ends = append(q.ends, len(q.data))
	return true
}

// take returns the next packet; ok is false when there is none.
func (q *packetQueue) take() (pkt []byte, ok bool) {
	if q.next == len(q.ends) {
		return nil, false
	}
	start := 0
	if q.next > 0 {
		start = q.ends[q.next-1]
	}
	q.next++
	return q.data[start:q.ends[q.next-1]], true
}

func (q *packetQueue) reset() {
	q.data, q.ends, q.next = q.data[:0], q.ends[:0], 0
}

// Deliver implements Port: the packet goes to a waiting Read or into the
// queue, or is dropped and counted when the queue is full.
func (p *GatewayPort) Deliver(pkt []byte) {
	p.mu.Lock()
	if !p.add(pkt) {
		p.full.Add(1)
		p.last = addrsOf(pkt)
	}
	p.wake()
	p.mu.Unlock()
}

// DeliverBatch delivers the packets at bufs[i][offset:] as Deliver does,
// in order, taking the lock once.
func (p *GatewayPort) DeliverBatch(bufs [][]byte, offset int) {
	dropped := 0
	p.mu.Lock()
	for _, b := range bufs {
		if !p.add(b[offset:]) {
			dropped++
			p.last = addrsOf(b[offset:])
		}
	}
	p.wake()
	p.mu.Unlock()
	if dropped > 0 {
		p.full.Add(uint64(dropped))
	}
}

// add copies pkt into the waiting Read's buffers or onto the queue. It
// reports false when the packet is dropped. p.mu is held.
func (p *GatewayPort) add(pkt []byte) bool {
	if p.closed || len(pkt) > portBufSize {
		return false
	}
	// A waiter exists only while the queue is empty, so a packet that
	// goes past it to the queue (its buffers are full) keeps the order.
	if w := p.waiter; w != nil && w.n < len(w.bufs) {
		b := w.bufs[w.n]
		if len(pkt) > len(b)-w.offset {
			return false
		}
		w.sizes[w.n] = copy(b[w.offset:], pkt)
		w.n++
		return true
	}
	return p.pending.add(pkt)
}

// wake hands the waiting Read what it was given. p.mu is held.
func (p *GatewayPort) wake() {
	if w := p.waiter; w != nil && w.n > 0 {
		p.waiter = nil
		p.ready <- struct{}{}
	}
}

// Read blocks for at least one packet and returns up to len(bufs) of them,
// each at bufs[i][offset:]. A packet longer than its buffer is dropped and
// counted. Concurrent Reads take turns.
func (p *GatewayPort) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	if len(bufs) == 0 {
		return 0, nil
	}
	p.rmu.Lock()
	defer p.rmu.Unlock()
	n := 0
	for n < len(bufs) {
		if pkt, ok := p.out.take(); ok {
			if len(pkt) > len(bufs[n])-offset {
				p.mu.Lock()
				p.last = addrsOf(pkt)
				p.mu.Unlock()
				p.full.Add(1)
				continue
			}
			sizes[n] = copy(bufs[n][offset:], pkt)
			n++
			continue
		}
		p.mu.Lock()
		if len(p.pending.ends) > 0 {
			p.out.reset()
			p.out, p.pending = p.pending, p.out
			p.mu.Unlock()
			continue
		}
		if n > 0 || p.closed {
			p.mu.Unlock()
			break
		}
		// Nothing queued: wait, and let the senders copy straight into
		// bufs.
		p.req = readRequest{bufs: bufs, sizes: sizes, offset: offset}
		p.waiter = &p.req
		p.wakeDrains()
		p.mu.Unlock()
		<-p.ready
		n = p.req.n
		p.req = readRequest{}
		break
	}
	if n == 0 {
		return 0, os.ErrClosed
	}
	if c := p.capture.Load(); c != nil {
		for i := range n {
			c.Packet(bufs[i][offset : offset+sizes[i]])
		}
	}
	return n, nil
}

// Write hands the packets at bufs[i][offset:] to the router. It may change
// the slices in bufs, as a TUN device's Write does.
func (p *GatewayPort) Write(bufs [][]byte, offset int) (int, error) {
	if c := p.capture.Load(); c != nil {
		for _, b := range bufs {
			c.Packet(b[offset:])
		}
	}
	p.router.ForwardBatch(bufs, offset)
	return len(bufs), nil
}

// BatchSize is the most packets one Read returns.
func (p *GatewayPort) BatchSize() int { return portBatch }

// Close makes a blocked Read return. Packets still queued can be read;
// packets delivered later are dropped.
func (p *GatewayPort) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	p.wakeDrains()
	if p.waiter != nil {
		p.waiter = nil
		p.ready <- struct{}{}
	}
	return nil
}

// Drain waits until the gateway has taken every packet queued for it and
// come back for more (its engine reads the next batch only once it sent
// the last one), the port is closed, or ctx ends. A gateway that stops
// drains its port before its tunnels go, so that the last packets its
// VNet sent (a BGP speaker's Cease and its connection's end) are sent
// through them, not dropped with them.
func (p *GatewayPort) Drain(ctx context.Context) error {
	p.mu.Lock()
	if p.closed || p.waiter != nil {
		p.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	p.drained = append(p.drained, ch)
	p.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// wakeDrains ends the Drains waiting. p.mu is held.
func (p *GatewayPort) wakeDrains() {
	for _, ch := range p.drained {
		close(ch)
	}
	p.drained = nil
}

// SetCapture records what passes the port, both ways, in c until it is set
// to nil. Without a capture the packet path pays one atomic load a batch.
func (p *GatewayPort) SetCapture(c *pcap.Capture) { p.capture.Store(c) }

// Dropped counts packets the gateway did not take: its queue was full (the
// engine fell behind), the packet did not fit a buffer, or the port was
// closed.
func (p *GatewayPort) Dropped() uint64 { return p.full.Load() }

// LogDrops logs into log (which names the gateway) the packets the
// gateway did not take since the line before (Dropped): a line "packets
// dropped" with reason queue_full, as the metrics name it, once a minute
// at most (sparselog.Every), with their count and the source and
// destination address of the last one. now is the time of the lines'
// limit. The owner calls it every few seconds; the data path only
// counts and keeps the addresses.
func (p *GatewayPort) LogDrops(now time.Time, log *slog.Logger) { p.logLine(now, false, log) }

// LogRest logs into log the packets the gateway did not take that no
// line counted yet, whatever the minute's limit says: the last line, for
// its owner to call as the gateway goes.
func (p *GatewayPort) LogRest(log *slog.Logger) { p.logLine(time.Time{}, true, log) }

func (p *GatewayPort) logLine(now time.Time, rest bool, log *slog.Logger) {
	p.logMu.Lock()
	defer p.logMu.Unlock()
	n, due := p.line.Take(p.full.Load(), now, rest)
	if !due {
		return
	}
	p.mu.Lock()
	d := p.last
	p.mu.Unlock()
	log.LogAttrs(context.Background(), slog.LevelWarn, "packets dropped", slog.String("reason", "queue_full"), slog.Int("count", n),
		slog.String("src", d.src.String()), slog.String("dst", d.dst.String()))
}
