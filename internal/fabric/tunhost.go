package fabric

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vnetgw/vnetgw/internal/tun"
)

// TUNHost is a network interface realised as a TUN device in a network
// namespace (root only): the namespace's programs (ping, iperf3, a web
// server) are the host. The device gets the interface's address and a
// default route, so that everything the host sends enters the VNet router,
// which decides (R43).
type TUNHost struct {
	dev    *tun.Device
	router Forwarder
	log    *slog.Logger
	wg     sync.WaitGroup // the read loop

	dropped  atomic.Uint64 // packets the device did not take
	loggedAt atomic.Int64  // when a drop was last logged, in Unix nanoseconds

	mu  sync.Mutex // guards buf, used by Deliver
	buf []byte
}

var _ batchPort = (*TUNHost)(nil)

// NewTUNHost makes the TUN device of address addr in the namespace netns
// (a name under /run/netns) and starts moving its packets to router.
// routes are routed into the device; none means a default route. log gets
// the packets the device does not take, once a minute at most; nil
// discards them.
func NewTUNHost(netns string, addr netip.Addr, router Forwarder, log *slog.Logger, routes ...netip.Prefix) (*TUNHost, error) {
	path := filepath.Join("/run/netns", netns)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("network namespace %q: %w", netns, err)
	}
	if len(routes) == 0 {
		routes = []netip.Prefix{netip.PrefixFrom(netip.IPv4Unspecified(), 0)}
		if addr.Is6() {
			routes = []netip.Prefix{netip.PrefixFrom(netip.IPv6Unspecified(), 0)}
		}
	}
	dev, err := tun.Create(tun.Config{NetNS: path, Addrs: []netip.Prefix{netip.PrefixFrom(addr, addr.BitLen())}, Routes: routes})
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &TUNHost{dev: dev, router: router, log: log, buf: make([]byte, tun.WriteOffset+portBufSize)}
	h.wg.Go(h.pump)
	return h, nil
}

// Name returns the device's name inside its namespace.
func (h *TUNHost) Name() string { return h.dev.Name() }

// pump moves what the host sends to the router, a batch at a time, until
// the device closes. The packets keep room for a virtio-net header in
// front, so that a TUN host they are routed to writes them as they are. A
// read that fails otherwise loses what it could not read and no more: a
// segment batch (TSO) of more segments than the batch takes (a TCP
// connection of a small MSS) comes with an error after the segments that
// fit, which TCP sends again.
func (h *TUNHost) pump() {
	n := h.dev.BatchSize()
	full := make([][]byte, n)
	for i := range full {
		full[i] = make([]byte, tun.WriteOffset+portBufSize)
	}
	bufs := make([][]byte, n)
	sizes := make([]int, n)
	for {
		// The last batch's receivers may have changed the slices.
		copy(bufs, full)
		k, err := h.dev.Read(bufs, sizes, tun.WriteOffset)
		for i := range k {
			bufs[i] = bufs[i][:tun.WriteOffset+sizes[i]]
		}
		if k > 0 {
			h.router.ForwardBatch(bufs[:k], tun.WriteOffset)
		}
		if errors.Is(err, os.ErrClosed) {
			return
		}
	}
}

// Deliver implements Port: the packet is written to the device.
func (h *TUNHost) Deliver(pkt []byte) {
	if len(pkt) > portBufSize {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	b := h.buf[:tun.WriteOffset+copy(h.buf[tun.WriteOffset:], pkt)]
	n, err := h.dev.Write([][]byte{b}, tun.WriteOffset)
	h.count(1, n, err)
}

// DeliverBatch writes the packets at bufs[i][offset:] to the device in
// one call, which coalesces those of one TCP or UDP flow (GRO) into the
// spare capacity of their buffers.
func (h *TUNHost) DeliverBatch(bufs [][]byte, offset int) {
	if offset < tun.WriteOffset {
		for _, b := range bufs {
			h.Deliver(b[offset:])
		}
		return
	}
	n, err := h.dev.Write(bufs, offset)
	h.count(len(bufs), n, err)
}

// Dropped returns how many packets routed to the host the device did not
// take (it is down, say).
func (h *TUNHost) Dropped() uint64 { return h.dropped.Load() }

// count counts the packets of a write of k packets that failed with err
// after n bytes were written: all k when none was written, else one for
// each of the device's writes that failed (a write carries one packet, or
// several coalesced). It logs them once a minute at most, but not those
// of a host being removed (its device closed).
func (h *TUNHost) count(k, n int, err error) {
	if err == nil {
		return
	}
	lost := k
	if j, ok := err.(interface{ Unwrap() []error }); ok && n > 0 {
		lost = len(j.Unwrap())
	}
	total := h.dropped.Add(uint64(lost))
	if errors.Is(err, os.ErrClosed) {
		return
	}
	now := time.Now().UnixNano()
	last := h.loggedAt.Load()
	if last != 0 && now-last < int64(time.Minute) || !h.loggedAt.CompareAndSwap(last, now) {
		return
	}
	h.log.Warn("packets to a TUN host dropped: its device did not take them", "dev", h.dev.Name(), "dropped", total, "err", err)
}

// Close removes the device.
func (h *TUNHost) Close() error {
	err := h.dev.Close()
	h.wg.Wait()
	return err
}
