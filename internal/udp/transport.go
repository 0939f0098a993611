package udp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vnetgw/vnetgw/internal/sparselog"
	espwire "github.com/vnetgw/vnetgw/internal/wire/esp"
)

// Defaults of Config.
const (
	// DefaultKeepaliveInterval is how often a NAT-keepalive goes out on each
	// path that asks for one (RFC 3948 §4 suggests 20 seconds).
	DefaultKeepaliveInterval = 20 * time.Second
	// DefaultBatchSize is how many datagrams one read of a NAT-T endpoint
	// hands over.
	DefaultBatchSize = 128
	// ikeBatchSize is the batch of an IKE-only endpoint, which sees little
	// traffic.
	ikeBatchSize = 8
)

// IKEHandler gets each IKE message that arrives at local from remote,
// without its non-ESP marker, and each NAT-keepalive, as the single byte
// 0xFF (espwire.Keepalive; no IKE message is that short, RFC 7296 §3.1).
// msg is valid only during the call: the handler copies what it keeps. It
// runs on the endpoint's read loop and must not block.
type IKEHandler func(local, remote netip.AddrPort, msg []byte)

// ESPHandler gets the ESP packets that arrive at a NAT-T endpoint, a batch
// at a time, on the endpoint's read loop. It may change msgs and the bytes
// of their buffers (to decrypt in place): both are the endpoint's and are
// reused once HandleESP returns. Each Buf is MaxDatagram long; the packet
// is Buf[:N], which may be shorter than an ESP header: the handler checks
// and counts it.
type ESPHandler interface {
	HandleESP(local netip.AddrPort, msgs []Message)
}

// Path is a pair of outer endpoints.
type Path struct {
	Local, Remote netip.AddrPort
}

// Config configures a Transport.
type Config struct {
	// IKE gets IKE messages and NAT-keepalives. Nil drops them.
	IKE IKEHandler
	// Logger gets errors of the read loops; nil discards them.
	Logger *slog.Logger
	// KeepaliveInterval is the NAT-keepalive period; 0 means
	// DefaultKeepaliveInterval.
	KeepaliveInterval time.Duration
	// BatchSize is the number of datagrams one read of a NAT-T endpoint
	// hands over; 0 means DefaultBatchSize. Each takes MaxDatagram bytes.
	BatchSize int
}

// Transport is vnetgw's set of UDP endpoints: each bound to one local
// address and port, read by a goroutine of its own that hands what arrives
// to the IKE daemon or the tunnel engine. Its methods are safe for
// concurrent use.
type Transport struct {
	ike      IKEHandler
	log      *slog.Logger
	interval time.Duration
	batch    int

	// mu guards closed and serializes writers of eps. Senders read eps
	// without it.
	mu     sync.Mutex
	closed bool
	eps    atomic.Pointer[map[netip.AddrPort]*endpoint]

	// kaMu guards keepalives.
	kaMu       sync.Mutex
	keepalives []Path

	ikeIn, keepalivesIn, espIn        atomic.Uint64
	malformed, noHandler, readErrors  atomic.Uint64
	keepalivesOut, keepaliveSendFails atomic.Uint64
	tooBigIn                          atomic.Uint64

	watches []*net.IPConn // of WatchPathMTU; guarded by mu

	wg   sync.WaitGroup // the read loops and the keepalive loop
	done chan struct{}

	// logMu guards the endpoints' lines: LogDrops's state.
	logMu sync.Mutex
}

// endpoint is one bound socket and what its read loop delivers to.
type endpoint struct {
	conn *Conn
	natt bool // a NAT-T port: IKE, keepalives and ESP (RFC 3948 §2)
	raw  bool // IP protocol 50: ESP only
	esp  ESPHandler
	// probe reads the kernel's path MTUs (KernelPathMTU) of an endpoint
	// with an ESP handler; nil for others.
	probe *probe

	// The endpoint's own drops, for LogDrops (the Transport's counters
	// keep those of closed endpoints too), and where the last came from.
	drops   [readErrors + 1]atomic.Uint64 // by dropReason but those the Conn counts
	lastMu  sync.Mutex                    // guards last and lastErr
	last    [dropCount]netip.AddrPort
	lastErr error
	lines   [dropCount]sparselog.Log // guarded by Transport.logMu
}

// New starts a Transport with no endpoints.
func New(cfg Config) *Transport {
	t := &Transport{
		ike:      cfg.IKE,
		log:      cfg.Logger,
		interval: cfg.KeepaliveInterval,
		batch:    cfg.BatchSize,
		done:     make(chan struct{}),
	}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	if t.interval <= 0 {
		t.interval = DefaultKeepaliveInterval
	}
	if t.batch <= 0 {
		t.batch = DefaultBatchSize
	}
	t.eps.Store(&map[netip.AddrPort]*endpoint{})
	t.wg.Add(1)
	go t.keepaliveLoop()
	return t
}

// ListenIKE binds an IKE endpoint (port 500): everything that arrives is
// IKE.
func (t *Transport) ListenIKE(local netip.AddrPort) (netip.AddrPort, error) {
	return t.listen(local, false, nil)
}

// ListenESP opens a raw ESP endpoint on local (IP protocol 50, RFC 4303;
// see ListenESP of Conn): everything that arrives is ESP and goes to esp.
// Its address, for WriteBatch, is local with port 0.
func (t *Transport) ListenESP(local netip.Addr, esp ESPHandler) (netip.AddrPort, error) {
	c, err := ListenESP(local)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return t.add(&endpoint{conn: c, raw: true, esp: esp}, t.batch)
}

// ListenNATT binds a NAT-T endpoint (port 4500): what arrives is
// demultiplexed as RFC 3948 §2 says, and ESP goes to esp. A nil esp drops
// ESP (counted as NoHandler). It returns the bound address, whose port
// differs from local's if that was 0.
func (t *Transport) ListenNATT(local netip.AddrPort, esp ESPHandler) (netip.AddrPort, error) {
	return t.listen(local, true, esp)
}

func (t *Transport) listen(local netip.AddrPort, natt bool, esp ESPHandler) (netip.AddrPort, error) {
	c, err := Listen(local)
	if err != nil {
		return netip.AddrPort{}, err
	}
	batch := ikeBatchSize
	if natt {
		batch = t.batch
	}
	return t.add(&endpoint{conn: c, natt: natt, esp: esp}, batch)
}

// add starts reading ep, or closes it if t is closed or its address
// taken. An endpoint with an ESP handler gets its probe here, where it was
// opened.
func (t *Transport) add(ep *endpoint, batch int) (netip.AddrPort, error) {
	local := ep.conn.LocalAddr()
	if ep.esp != nil {
		var err error
		if ep.probe, err = newProbe(local.Addr()); err != nil {
			ep.conn.Close()
			return netip.AddrPort{}, err
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		ep.close()
		return netip.AddrPort{}, fmt.Errorf("udp: listen on %v: %w", local, net.ErrClosed)
	}
	if _, dup := (*t.eps.Load())[local]; dup {
		ep.close()
		return netip.AddrPort{}, fmt.Errorf("udp: listen on %v: an endpoint is bound there already", local)
	}
	eps := maps.Clone(*t.eps.Load())
	eps[local] = ep
	t.eps.Store(&eps)
	t.wg.Add(1)
	go t.readLoop(ep, batch)
	return local, nil
}

// close closes ep's socket and probe.
func (ep *endpoint) close() error {
	err := ep.conn.Close()
	if ep.probe != nil {
		err = errors.Join(err, ep.probe.close())
	}
	return err
}

// Offloads reports the GSO and GRO state of the endpoint bound to local.
func (t *Transport) Offloads(local netip.AddrPort) (gso, gro, ok bool) {
	ep, ok := (*t.eps.Load())[local]
	if !ok {
		return false, false, false
	}
	gso, gro = ep.conn.Offloads()
	return gso, gro, true
}

// SendIKE sends an IKE message from local to remote, after a non-ESP marker
// when either end is a NAT-T port (RFC 3948 §2.2, RFC 7296 §2.23).
func (t *Transport) SendIKE(local, remote netip.AddrPort, msg []byte) error {
	ep, ok := (*t.eps.Load())[local]
	if !ok {
		return fmt.Errorf("udp: send ike from %v: no such endpoint", local)
	}
	b := msg
	if ep.natt || remote.Port() == espwire.Port {
		b = append(espwire.AppendNonESPMarker(make([]byte, 0, espwire.NonESPMarkerLen+len(msg))), msg...)
	}
	if err := ep.conn.WriteBatch([]Message{{Buf: b, Addr: remote}}); err != nil {
		return fmt.Errorf("udp: send ike: %w", err)
	}
	return nil
}

// WriteBatch sends datagrams (ESP packets) from the endpoint bound to
// local; each Message's N tells whether its datagram was sent, as with
// Conn.WriteBatch. It allocates nothing.
func (t *Transport) WriteBatch(local netip.AddrPort, msgs []Message) error {
	ep, ok := (*t.eps.Load())[local]
	if !ok {
		for i := range msgs {
			msgs[i].N = 0
		}
		return errNoEndpoint
	}
	return ep.conn.WriteBatch(msgs)
}

var errNoEndpoint = errors.New("udp: no endpoint bound to that address")

// SetKeepalives replaces the paths that get a NAT-keepalive every
// KeepaliveInterval: those whose local end is behind a NAT (RFC 3948 §4).
func (t *Transport) SetKeepalives(paths []Path) {
	t.kaMu.Lock()
	defer t.kaMu.Unlock()
	t.keepalives = append(t.keepalives[:0], paths...)
}

// Close closes every endpoint, waits for the read loops and the
// keepalive loop to stop, and logs the endpoints' drops not yet logged
// (LogDrops).
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	var errs []error
	eps := slices.Collect(maps.Values(*t.eps.Load()))
	for _, ep := range eps {
		errs = append(errs, ep.close())
	}
	for _, c := range t.watches {
		errs = append(errs, c.Close())
	}
	t.eps.Store(&map[netip.AddrPort]*endpoint{})
	close(t.done)
	t.mu.Unlock()
	t.wg.Wait()
	t.logLines(eps, time.Time{}, true)
	return errors.Join(errs...)
}

// Stats counts what the endpoints received and refused.
type Stats struct {
	// IKE, Keepalives and ESP count datagrams received by kind.
	IKE, Keepalives, ESP uint64
	// KeepalivesSent counts NAT-keepalives sent, KeepaliveSendFails those
	// that could not be.
	KeepalivesSent, KeepaliveSendFails uint64
	// TooBig counts the Fragmentation Needed and Packet Too Big handed
	// to a PathMTUHandler (WatchPathMTU).
	TooBig uint64
	Drops  Drops
}

// Drops counts datagrams refused, by reason.
type Drops struct {
	// Malformed: on a NAT-T port, an empty datagram or a non-ESP marker
	// without an IKE message after it (RFC 3948 §2); on a raw ESP
	// endpoint, not an IPv4 packet. ESP shorter than its header goes to
	// the ESP handler, which counts it.
	Malformed uint64
	// NoHandler: ESP on an endpoint without an ESP handler.
	NoHandler uint64
	// Truncated: longer than the read buffer.
	Truncated uint64
	// ReadErrors: failed reads (not datagrams).
	ReadErrors uint64
}

// Stats returns a snapshot of the counters. Truncated, and Malformed of raw
// ESP endpoints, count the endpoints still open.
func (t *Transport) Stats() Stats {
	var trunc, malformed uint64
	for _, ep := range *t.eps.Load() {
		trunc += ep.conn.Truncated()
		malformed += ep.conn.Malformed()
	}
	return Stats{
		IKE:                t.ikeIn.Load(),
		Keepalives:         t.keepalivesIn.Load(),
		ESP:                t.espIn.Load(),
		KeepalivesSent:     t.keepalivesOut.Load(),
		KeepaliveSendFails: t.keepaliveSendFails.Load(),
		TooBig:             t.tooBigIn.Load(),
		Drops: Drops{
			Malformed:  t.malformed.Load() + malformed,
			NoHandler:  t.noHandler.Load(),
			Truncated:  trunc,
			ReadErrors: t.readErrors.Load(),
		},
	}
}

// readLoop reads ep until it is closed.
// readErrorPause is how long a read loop waits after a failed read
// (rather than at once reading again): ICMP errors reported on the socket
// come one per read, and anything that persists would spin a core.
const readErrorPause = time.Millisecond

func (t *Transport) readLoop(ep *endpoint, batch int) {
	defer t.wg.Done()
	msgs := make([]Message, batch)
	for i, b := range Buffers(batch, MaxDatagram) {
		msgs[i].Buf = b
	}
	esp := make([]Message, 0, batch)
	local := ep.conn.LocalAddr()
	for {
		n, err := ep.conn.ReadBatch(msgs)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			t.readErrors.Add(1)
			ep.dropped(readErrors, netip.AddrPort{}, err)
			t.log.Debug("udp read failed", "local", local, "err", err)
			time.Sleep(readErrorPause) // an error that persists does not spin a core
			continue
		}
		esp = t.demux(ep, local, msgs[:n], esp[:0])
		if len(esp) > 0 {
			ep.esp.HandleESP(local, esp)
		}
	}
}

// demux hands IKE messages and keepalives to the IKE handler and returns
// the ESP packets appended to esp.
func (t *Transport) demux(ep *endpoint, local netip.AddrPort, msgs []Message, esp []Message) []Message {
	for _, m := range msgs {
		b := m.Buf[:m.N]
		if ep.raw {
			// IP protocol 50 is ESP and nothing else.
			if ep.esp == nil {
				t.noHandler.Add(1)
				ep.dropped(noHandler, m.Addr, nil)
				continue
			}
			t.espIn.Add(1)
			esp = append(esp, m)
			continue
		}
		if !ep.natt {
			if len(b) == 1 && b[0] == espwire.Keepalive {
				// RFC 3948 §2.3's NAT-keepalive belongs on the NAT-T
				// port; one a peer sends here is taken as one too, not
				// as an IKE message, which no single octet is (RFC 7296
				// §3.1).
				t.keepalivesIn.Add(1)
				t.deliverIKE(local, m.Addr, b)
				continue
			}
			// A peer sent NAT-T's framing here (strongSwan does from its
			// port 4500 when the gateway's IKE port is not 500). An IKE
			// message may start with four zero bytes too: its initiator's
			// SPI is eight, of which only all zero is refused (RFC 7296
			// §3.1). One whose header's Length is the datagram's is taken
			// as it is.
			if len(b) > espwire.NonESPMarkerLen && [4]byte(b) == [4]byte{} && !ikeLengthFits(b) {
				b = b[espwire.NonESPMarkerLen:]
			}
			t.ikeIn.Add(1)
			t.deliverIKE(local, m.Addr, b)
			continue
		}
		kind, err := espwire.Classify(b)
		if err != nil {
			if len(b) == 0 || len(b) >= espwire.NonESPMarkerLen && [4]byte(b) == [4]byte{} {
				t.malformed.Add(1) // nothing, or a non-ESP marker and no IKE message
				ep.dropped(malformed, m.Addr, nil)
				continue
			}
			// RFC 3948 §2.1: what is neither a keepalive nor after a
			// non-ESP marker is ESP. One shorter than its header goes to
			// the engine, which counts it where a user sees it (Short).
			kind = espwire.KindESP
		}
		switch kind {
		case espwire.KindIKE:
			t.ikeIn.Add(1)
			t.deliverIKE(local, m.Addr, b[espwire.NonESPMarkerLen:])
		case espwire.KindKeepalive:
			// RFC 3948 §2.3: the receiver ignores keepalives; the IKE
			// daemon may take them as a sign of life.
			t.keepalivesIn.Add(1)
			t.deliverIKE(local, m.Addr, b)
		case espwire.KindESP:
			if ep.esp == nil {
				t.noHandler.Add(1)
				ep.dropped(noHandler, m.Addr, nil)
				continue
			}
			t.espIn.Add(1)
			esp = append(esp, m)
		}
	}
	return esp
}

// ikeLengthFits reports whether b reads as an IKE message (IKEv2 or
// IKEv1) without a marker: the Length of its header, at octet 24 in both
// versions (RFC 7296 §3.1, RFC 2408 §3.1), is the length of b.
func ikeLengthFits(b []byte) bool {
	return len(b) >= ikeHeaderLen && binary.BigEndian.Uint32(b[24:28]) == uint32(len(b))
}

// ikeHeaderLen is the length of an IKE header (RFC 7296 §3.1).
const ikeHeaderLen = 28

func (t *Transport) deliverIKE(local, remote netip.AddrPort, msg []byte) {
	if t.ike != nil {
		t.ike(local, remote, msg)
	}
}

// keepaliveLoop sends a NAT-keepalive on each path every interval
// (RFC 3948 §2.3: one byte, 0xFF).
func (t *Transport) keepaliveLoop() {
	defer t.wg.Done()
	tick := time.NewTicker(t.interval)
	defer tick.Stop()
	ka := []Message{{Buf: []byte{espwire.Keepalive}}}
	var paths []Path
	for {
		select {
		case <-t.done:
			return
		case <-tick.C:
		}
		t.kaMu.Lock()
		paths = append(paths[:0], t.keepalives...)
		t.kaMu.Unlock()
		for _, p := range paths {
			ka[0].Addr = p.Remote
			if err := t.WriteBatch(p.Local, ka); err != nil {
				t.keepaliveSendFails.Add(1)
				t.log.Debug("nat keepalive failed", "local", p.Local, "peer", p.Remote, "err", err)
				continue
			}
			t.keepalivesOut.Add(1)
		}
	}
}
