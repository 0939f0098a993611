package fabric

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vnetgw/vnetgw/internal/sparselog"
	"github.com/vnetgw/vnetgw/internal/tun"
)

// TUNHost is a network interface realised as a TUN device in a network
// namespace (root only): the namespace's programs (ping, iperf3, a web
// server) are the host. The device gets the interface's address and a
// default route, so that everything the host sends enters the VNet router,
// which decides (R43).
type TUNHost struct {
	dev    *tun.Device
	netns  string    // the namespace's path
	nsID   [2]uint64 // its device and inode when the device was made
	router Forwarder
	log    *slog.Logger
	wg     sync.WaitGroup // the read loop

	dropped atomic.Uint64 // packets the device did not take
	lastMu  sync.Mutex    // guards last and lastErr
	last    lastDrop      // the addresses of the last write that failed
	lastErr error         // its error
	logMu   sync.Mutex    // guards line: LogDrops's state; taken before lastMu
	line    sparselog.Log

	mu  sync.Mutex // guards buf, used by Deliver
	buf []byte
}

var _ batchPort = (*TUNHost)(nil)

// NewTUNHost makes the TUN device of address addr in the namespace netns
// (a name under /run/netns) and starts moving its packets to router.
// routes are routed into the device; none means a default route. log gets
// the lines of the packets the device does not take (LogDrops); nil
// discards them.
func NewTUNHost(netns string, addr netip.Addr, router Forwarder, log *slog.Logger, routes ...netip.Prefix) (*TUNHost, error) {
	return NewTUNHostMTU(netns, addr, 0, router, log, routes...)
}

// NewTUNHostMTU is NewTUNHost with a device of MTU mtu (0: tun.DefaultMTU).
func NewTUNHostMTU(netns string, addr netip.Addr, mtu int, router Forwarder, log *slog.Logger, routes ...netip.Prefix) (*TUNHost, error) {
	path := filepath.Join("/run/netns", netns)
	id, err := namespaceID(path)
	if err != nil {
		return nil, fmt.Errorf("network namespace %q: %w", netns, err)
	}
	if len(routes) == 0 {
		routes = []netip.Prefix{netip.PrefixFrom(netip.IPv4Unspecified(), 0)}
		if addr.Is6() {
			routes = []netip.Prefix{netip.PrefixFrom(netip.IPv6Unspecified(), 0)}
		}
	}
	dev, err := tun.Create(tun.Config{NetNS: path, MTU: mtu, Addrs: []netip.Prefix{netip.PrefixFrom(addr, addr.BitLen())}, Routes: routes})
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &TUNHost{dev: dev, netns: path, nsID: id, router: router, log: log, buf: make([]byte, tun.WriteOffset+portBufSize)}
	h.wg.Go(h.pump)
	return h, nil
}

// namespaceID returns the device and inode of the namespace at path,
// which tell one namespace from another made later under its name.
func namespaceID(path string) ([2]uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return [2]uint64{}, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	return [2]uint64{uint64(st.Dev), st.Ino}, nil
}

// InPlace returns nil while the namespace of the host's name is the one
// its device was made in, and an error once that namespace was deleted
// (ip netns del), or replaced by another of its name: the device lives on
// in the deleted namespace, out of reach, as long as it is open. So too
// once the device's interface was deleted (ip link del): the host has
// none left.
func (h *TUNHost) InPlace() error {
	if h.dev.Deleted() {
		return fmt.Errorf("its device %s in network namespace %q was deleted", h.dev.Name(), filepath.Base(h.netns))
	}
	id, err := namespaceID(h.netns)
	if err != nil {
		return fmt.Errorf("network namespace %q: %w", filepath.Base(h.netns), err)
	}
	if id != h.nsID {
		return fmt.Errorf("network namespace %q was made again after the device", filepath.Base(h.netns))
	}
	return nil
}

// Name returns the device's name inside its namespace.
func (h *TUNHost) Name() string { return h.dev.Name() }

// pump moves what the host sends to the router, a batch at a time, until
// the device closes. The packets keep room for a virtio-net header in
// front, so that a TUN host they are routed to writes them as they are. A
// read that fails otherwise loses what it could not read and no more: a
// segment batch (TSO) of more segments than the batch takes (a TCP
// connection of a small MSS) comes with an error after the segments that
// fit, which TCP sends again. A device whose interface was deleted
// fails every read at once: the loop ends (InPlace says why).
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
		if errors.Is(err, os.ErrClosed) || errors.Is(err, tun.ErrDeleted) {
			return
		}
	}
}

// Deliver implements Port: the packet is written to the device.
func (h *TUNHost) Deliver(pkt []byte) {
	if len(pkt) > portBufSize {
		h.count(1, 0, errTooLong, pkt)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	b := h.buf[:tun.WriteOffset+copy(h.buf[tun.WriteOffset:], pkt)]
	n, err := h.dev.Write([][]byte{b}, tun.WriteOffset)
	h.count(1, n, err, pkt)
}

var errTooLong = errors.New("packet longer than a TUN host's buffer")

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
	if len(bufs) == 0 {
		return
	}
	n, err := h.dev.Write(bufs, offset)
	h.count(len(bufs), n, err, bufs[0][offset:])
}

// Dropped returns how many packets routed to the host the device did not
// take (it is down, say).
func (h *TUNHost) Dropped() uint64 { return h.dropped.Load() }

// count counts the packets of a write of k packets that failed with err
// after n bytes were written: all k when none was written, else one for
// each of the device's writes that failed (a write carries one packet, or
// several coalesced). It keeps the addresses of pkt, the write's first
// packet, and err for LogDrops; it allocates nothing.
func (h *TUNHost) count(k, n int, err error, pkt []byte) {
	if err == nil {
		return
	}
	lost := k
	if j, ok := err.(interface{ Unwrap() []error }); ok && n > 0 {
		lost = len(j.Unwrap())
	}
	h.dropped.Add(uint64(lost))
	d := addrsOf(pkt)
	h.lastMu.Lock()
	h.last, h.lastErr = d, err
	h.lastMu.Unlock()
}

// LogDrops logs the packets routed to the host that its device did not
// take since the line before (it is down, say): a line "packets dropped"
// with reason undeliverable once a minute at most (sparselog.Every), with
// their count, the source and destination address of a packet of the
// last write that failed, the device and the write's error. now is the
// time of the lines' limit. The owner calls it every few seconds; the
// data path only counts. Close logs what is left.
func (h *TUNHost) LogDrops(now time.Time) { h.logLine(now, false) }

// logLine logs the line due at now or, when rest, whatever no line
// counted yet.
func (h *TUNHost) logLine(now time.Time, rest bool) {
	h.logMu.Lock()
	defer h.logMu.Unlock()
	n, due := h.line.Take(h.dropped.Load(), now, rest)
	if !due {
		return
	}
	h.lastMu.Lock()
	d, err := h.last, h.lastErr
	h.lastMu.Unlock()
	h.log.LogAttrs(context.Background(), slog.LevelWarn, "packets dropped", slog.String("reason", "undeliverable"), slog.Int("count", n),
		slog.String("src", d.src.String()), slog.String("dst", d.dst.String()), slog.String("dev", h.dev.Name()), slog.Any("err", err))
}

// Close removes the device and logs the packets it did not take that no
// line counted yet (LogDrops).
func (h *TUNHost) Close() error {
	err := h.dev.Close()
	h.wg.Wait()
	h.logLine(time.Time{}, true)
	return err
}
