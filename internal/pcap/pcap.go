// Package pcap records IP packets in the classic pcap file format, with
// the filters of Azure's gateway packet capture (its filterData).
package pcap

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"
)

// Limits of a capture.
const (
	// DefaultSnapLen keeps whole packets (the gateway's inner packets may
	// be coalesced TCP segments of up to 64 KiB).
	DefaultSnapLen = 65535
	// DefaultMaxBytes and MaxMaxBytes bound the file in memory.
	DefaultMaxBytes = 100 << 20
	MaxMaxBytes     = 500 << 20
)

// UploadTimeout bounds the upload of a stopped capture to a sasUrl: the
// API's stopPacketCapture answers within it (a failed upload keeps the
// capture for download), and the CLI waits as long for that answer on top
// of its usual wait. A variable for the tests.
var UploadTimeout = 5 * time.Minute

// linkTypeRaw is LINKTYPE_RAW: each record is an IPv4 or IPv6 packet.
const linkTypeRaw = 101

// Filter selects packets, as one of Azure's filterData Filters: by source
// and destination prefix, IP protocol and TCP/UDP port, each "any" when
// empty; both directions unless OneWay.
type Filter struct {
	Src, Dst           []netip.Prefix
	Protocols          []uint8
	SrcPorts, DstPorts []uint16
	// TCPFlags, when not 0, keeps the TCP packets with any of these flags
	// (FIN 1, SYN 2, RST 4, PSH 8, ACK 16, URG 32, ECE 64, CWR 128).
	TCPFlags uint8
	OneWay   bool
}

// Config configures a capture.
type Config struct {
	// SnapLen is the most bytes kept of each packet; MaxBytes the most
	// bytes of the file, after which packets are counted, not kept.
	SnapLen, MaxBytes int
	// Filters select the packets kept: those any filter matches; all
	// without filters.
	Filters []Filter
}

// filterData is Azure's filterData, a JSON string.
type filterData struct {
	TracingFlags        *int `json:"TracingFlags"`
	MaxPacketBufferSize *int `json:"MaxPacketBufferSize"`
	MaxFileSize         *int `json:"MaxFileSize"` // MiB
	Filters             []struct {
		SourceSubnets                     []string `json:"SourceSubnets"`
		DestinationSubnets                []string `json:"DestinationSubnets"`
		SourcePort                        ints     `json:"SourcePort"`
		DestinationPort                   ints     `json:"DestinationPort"`
		Protocol                          ints     `json:"Protocol"`
		TCPFlags                          *int     `json:"TcpFlags"`
		CaptureSingleDirectionTrafficOnly bool     `json:"CaptureSingleDirectionTrafficOnly"`
	} `json:"Filters"`
}

// ints is a list of numbers, or one number alone (Azure's own example
// gives "Protocol": 6); null is none, as for any list.
type ints []int

func (l *ints) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*l = nil
		return nil
	}
	var one int
	if err := json.Unmarshal(b, &one); err == nil {
		*l = ints{one}
		return nil
	}
	err := json.Unmarshal(b, (*[]int)(l))
	if te := (*json.UnmarshalTypeError)(nil); errors.As(err, &te) {
		// The list's type, not that of the list or number tried.
		return &json.UnmarshalTypeError{Value: te.Value, Type: reflect.TypeFor[ints](), Offset: te.Offset}
	}
	return err
}

// ParseFilterData reads Azure's filterData: MaxPacketBufferSize (bytes
// kept per packet), MaxFileSize (MiB) and Filters with SourceSubnets,
// DestinationSubnets, SourcePort, DestinationPort, Protocol and
// CaptureSingleDirectionTrafficOnly. TracingFlags is accepted and has no
// effect; TcpFlags -1 is any packet, else the TCP packets with any of its
// flags. Empty is the defaults.
// Single quotes stand for double ones, as in Azure's examples, and a
// list of one number may be the number alone.
func ParseFilterData(s string) (Config, error) {
	cfg := Config{SnapLen: DefaultSnapLen, MaxBytes: DefaultMaxBytes}
	if strings.TrimSpace(s) == "" {
		return cfg, nil
	}
	// Azure's REST example and docs write it with single quotes, which
	// Azure takes: a document without a double quote has them as its.
	if !strings.Contains(s, `"`) {
		s = strings.ReplaceAll(s, "'", `"`)
	}
	var fd filterData
	if err := json.Unmarshal([]byte(s), &fd); err != nil {
		return Config{}, fmt.Errorf("filterData is not JSON of Azure's packet capture filter: %v", jsonError(err))
	}
	if p := fd.MaxPacketBufferSize; p != nil {
		if *p < 1 || *p > DefaultSnapLen {
			return Config{}, fmt.Errorf("MaxPacketBufferSize %d: from 1 to %d bytes", *p, DefaultSnapLen)
		}
		cfg.SnapLen = *p
	}
	if m := fd.MaxFileSize; m != nil {
		if *m < 1 || *m > MaxMaxBytes>>20 {
			return Config{}, fmt.Errorf("MaxFileSize %d: from 1 to %d MiB", *m, MaxMaxBytes>>20)
		}
		cfg.MaxBytes = *m << 20
	}
	if len(fd.Filters) > 100 {
		return Config{}, fmt.Errorf("%d Filters: at most 100", len(fd.Filters))
	}
	for i, in := range fd.Filters {
		var f Filter
		var err error
		if f.Src, err = prefixes(in.SourceSubnets); err != nil {
			return Config{}, fmt.Errorf("Filters[%d].SourceSubnets: %w", i, err)
		}
		if f.Dst, err = prefixes(in.DestinationSubnets); err != nil {
			return Config{}, fmt.Errorf("Filters[%d].DestinationSubnets: %w", i, err)
		}
		if f.SrcPorts, err = ports(in.SourcePort); err != nil {
			return Config{}, fmt.Errorf("Filters[%d].SourcePort: %w", i, err)
		}
		if f.DstPorts, err = ports(in.DestinationPort); err != nil {
			return Config{}, fmt.Errorf("Filters[%d].DestinationPort: %w", i, err)
		}
		for _, p := range in.Protocol {
			if p < 0 || p > 255 {
				return Config{}, fmt.Errorf("Filters[%d].Protocol %d: an IP protocol number, 0 to 255", i, p)
			}
			f.Protocols = append(f.Protocols, uint8(p))
		}
		if t := in.TCPFlags; t != nil && *t != -1 {
			if *t < 1 || *t > 255 {
				return Config{}, fmt.Errorf("Filters[%d].TcpFlags %d: -1 (any) or the flags of the packets to keep, 1 to 255 (FIN 1, SYN 2, RST 4, PSH 8, ACK 16, URG 32, ECE 64, CWR 128)", i, *t)
			}
			f.TCPFlags = uint8(*t)
		}
		f.OneWay = in.CaptureSingleDirectionTrafficOnly
		cfg.Filters = append(cfg.Filters, f)
	}
	return cfg, nil
}

func prefixes(ss []string) ([]netip.Prefix, error) {
	if len(ss) > 1000 {
		return nil, fmt.Errorf("%d prefixes: at most 1000", len(ss))
	}
	var out []netip.Prefix
	for _, s := range ss {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				if len(s) > 64 {
					s = s[:64] + "..."
				}
				return nil, fmt.Errorf("%q is not a prefix or an address", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func ports(ps []int) ([]uint16, error) {
	if len(ps) > 1000 {
		return nil, fmt.Errorf("%d ports: at most 1000", len(ps))
	}
	var out []uint16
	for _, p := range ps {
		if p < 0 || p > 65535 {
			return nil, fmt.Errorf("%d is not a port", p)
		}
		out = append(out, uint16(p))
	}
	return out, nil
}

// jsonError describes a decoding error without quoting the input: the
// field and the JSON it takes, not Go's types.
func jsonError(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "filterData"
		}
		got, _, _ := strings.Cut(te.Value, " ") // "number 1.5": not the number
		return fmt.Sprintf("%s must be %s, not %s", field, jsonKind(te.Type), got)
	}
	return "malformed JSON"
}

// jsonKind names the JSON that decodes into a value of type t.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == reflect.TypeFor[ints]():
		return "an integer or an array of integers"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		return "an array of objects"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		return "an array of strings"
	case t.Kind() == reflect.Slice:
		return "an array"
	case t.Kind() == reflect.Struct:
		return "an object"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() == reflect.String:
		return "a string"
	}
	return "an integer"
}

// Capture records packets while it runs. Packet may be called from any
// goroutine.
type Capture struct {
	cfg Config

	mu sync.Mutex
	// file is the pcap file; its capacity doubles as it grows, up to
	// cfg.MaxBytes and no further.
	file     []byte
	captured uint64 // packets kept
	missed   uint64 // packets that matched after the file was full
	// full is set by the first packet that did not fit: the file ends
	// there, with no later packet that would have fitted after it.
	full    bool
	stopped bool
}

// Start starts a capture; the file's header is written at once.
func Start(cfg Config) *Capture {
	if cfg.SnapLen <= 0 || cfg.SnapLen > DefaultSnapLen {
		cfg.SnapLen = DefaultSnapLen
	}
	if cfg.MaxBytes <= 0 || cfg.MaxBytes > MaxMaxBytes {
		cfg.MaxBytes = DefaultMaxBytes
	}
	c := &Capture{cfg: cfg}
	var h [24]byte
	binary.LittleEndian.PutUint32(h[0:], 0xa1b2c3d4) // microsecond timestamps
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], uint32(cfg.SnapLen))
	binary.LittleEndian.PutUint32(h[20:], linkTypeRaw)
	c.file = append(make([]byte, 0, min(64<<10, max(cfg.MaxBytes, len(h)))), h[:]...)
	return c
}

// Packet records pkt, an IPv4 or IPv6 packet, if a filter matches it.
func (c *Capture) Packet(pkt []byte) {
	if !c.matches(pkt) {
		return
	}
	keep := min(len(pkt), c.cfg.SnapLen)
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now() // under the lock: records in the order of their times
	if c.stopped {
		return
	}
	n := len(c.file) + 16 + keep
	if c.full || n > c.cfg.MaxBytes {
		c.full = true
		c.missed++
		return
	}
	if n > cap(c.file) {
		c.file = append(make([]byte, 0, min(max(2*cap(c.file), n), c.cfg.MaxBytes)), c.file...)
	}
	var h [16]byte
	binary.LittleEndian.PutUint32(h[0:], uint32(now.Unix()))
	binary.LittleEndian.PutUint32(h[4:], uint32(now.Nanosecond()/1000))
	binary.LittleEndian.PutUint32(h[8:], uint32(keep))
	binary.LittleEndian.PutUint32(h[12:], uint32(len(pkt)))
	c.file = append(append(c.file, h[:]...), pkt[:keep]...)
	c.captured++
}

// Stop ends the capture and returns the file and how many packets it
// holds and how many matched after it was full.
func (c *Capture) Stop() (file []byte, captured, missed uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	return c.file, c.captured, c.missed
}

// matches reports whether a filter selects pkt.
func (c *Capture) matches(pkt []byte) bool {
	if len(c.cfg.Filters) == 0 {
		return true
	}
	h, ok := parse(pkt)
	if !ok {
		return false
	}
	for _, f := range c.cfg.Filters {
		if f.matches(h, false) || !f.OneWay && f.matches(h, true) {
			return true
		}
	}
	return false
}

func (f Filter) matches(h header, reverse bool) bool {
	src, dst, sport, dport := h.src, h.dst, h.sport, h.dport
	if reverse {
		src, dst, sport, dport = dst, src, dport, sport
	}
	if len(f.Protocols) > 0 && !slices.Contains(f.Protocols, h.proto) {
		return false
	}
	if !inAny(f.Src, src) || !inAny(f.Dst, dst) {
		return false
	}
	if len(f.SrcPorts) > 0 && (!h.ports || !slices.Contains(f.SrcPorts, sport)) {
		return false
	}
	if f.TCPFlags != 0 && (!h.tcpFlags || h.flags&f.TCPFlags == 0) {
		return false
	}
	if len(f.DstPorts) > 0 && (!h.ports || !slices.Contains(f.DstPorts, dport)) {
		return false
	}
	return true
}

func inAny(ps []netip.Prefix, a netip.Addr) bool {
	if len(ps) == 0 {
		return true
	}
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// header is what the filters look at.
type header struct {
	src, dst     netip.Addr
	proto        uint8
	ports        bool // TCP or UDP with its ports in the packet
	sport, dport uint16
	tcpFlags     bool // TCP with its flags in the packet
	flags        uint8
}

// parse reads the addresses, protocol and ports of an IPv4 or IPv6
// packet.
func parse(pkt []byte) (header, bool) {
	var h header
	var l4 []byte
	switch {
	case len(pkt) >= 20 && pkt[0]>>4 == 4:
		ihl := int(pkt[0]&0x0f) * 4
		if ihl < 20 || len(pkt) < ihl {
			return h, false
		}
		h.src, h.dst, h.proto = netip.AddrFrom4([4]byte(pkt[12:16])), netip.AddrFrom4([4]byte(pkt[16:20])), pkt[9]
		if binary.BigEndian.Uint16(pkt[6:8])&0x1fff == 0 { // the first fragment holds the ports
			l4 = pkt[ihl:]
		}
	case len(pkt) >= 40 && pkt[0]>>4 == 6:
		h.src, h.dst, h.proto = netip.AddrFrom16([16]byte(pkt[8:24])), netip.AddrFrom16([16]byte(pkt[24:40])), pkt[6]
		l4 = pkt[40:]
		// Past the extension headers to the transport's (RFC 8200 §4):
		// hop-by-hop options, routing, destination options, a fragment
		// (only the first holds the ports).
		for range 8 {
			if h.proto != 0 && h.proto != 43 && h.proto != 60 && h.proto != 44 || len(l4) < 8 {
				break
			}
			n := (int(l4[1]) + 1) * 8
			if h.proto == 44 {
				n = 8
				if binary.BigEndian.Uint16(l4[2:4])&^7 != 0 {
					h.proto, l4 = l4[0], nil
					break
				}
			}
			if len(l4) < n {
				break
			}
			h.proto, l4 = l4[0], l4[n:]
		}
	default:
		return h, false
	}
	if (h.proto == 6 || h.proto == 17) && len(l4) >= 4 {
		h.ports, h.sport, h.dport = true, binary.BigEndian.Uint16(l4[0:2]), binary.BigEndian.Uint16(l4[2:4])
	}
	if h.proto == 6 && len(l4) >= 14 {
		h.tcpFlags, h.flags = true, l4[13]
	}
	return h, true
}
