package ikev2

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vnetgw/vnetgw/internal/esp"
	"github.com/vnetgw/vnetgw/internal/ike/suite"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// Defaults of a PeerConfig, close to Azure's VPN gateway.
const (
	// DefaultIKEPort is the IKE port (RFC 7296 §2).
	DefaultIKEPort = 500
	// DefaultNATTPort is the port IKE floats to when a NAT is detected and
	// that carries UDP-encapsulated ESP (RFC 7296 §2.23, RFC 3948).
	DefaultNATTPort = 4500
	// DefaultIKELifetime is Azure's IKE SA lifetime, 28,800 seconds.
	DefaultIKELifetime = 28800 * time.Second
	// DefaultChildLifetime is Azure's child SA lifetime, 27,000 seconds.
	DefaultChildLifetime = 27000 * time.Second
	// DefaultChildLifeBytes is Azure's child SA lifetime in data,
	// 102,400,000 KB; it is the hard byte limit, and the soft limit is 90 %
	// of it.
	DefaultChildLifeBytes = 102400000 * 1024
	// NoChildByteLimit is a ChildLimits.HardBytes that no child SA
	// reaches: no lifetime in bytes (a custom policy's
	// saDataSizeKilobytes of 0), which a zero ChildLimits cannot say.
	NoChildByteLimit = math.MaxUint64
	// DefaultRekeyMargin is how long before its lifetime ends an SA is
	// rekeyed (strongSwan's default margin is a tenth of the lifetime).
	DefaultRekeyMargin = 9 * time.Minute
	// DefaultRekeyJitter is the most a rekey is randomly brought forward,
	// so that both peers rarely rekey at once.
	DefaultRekeyJitter = 3 * time.Minute
	// DefaultDPDInterval is how long the peer may stay silent, in IKE and
	// in ESP, before a liveness check (an empty INFORMATIONAL request) is
	// sent.
	DefaultDPDInterval = 30 * time.Second
	// DefaultRetransmitTimeout is the first retransmission timeout; it
	// doubles with each retransmission (RFC 7296 §2.4).
	DefaultRetransmitTimeout = 2 * time.Second
	// DefaultRetransmitTries is how many times a request is retransmitted
	// before the peer is declared dead: with the default timeout the
	// retransmissions leave 2, 6, 14, 30 and 62 s after the request, and
	// the peer is dead after 2+4+8+16+32+64 = 126 s.
	DefaultRetransmitTries = 5
	// MaxRetransmitTimeout caps the wait between retransmissions of a
	// request, which doubles each time (RFC 7296 §2.4; §2.1 leaves the
	// rest to the implementation, and strongSwan's retransmit_limit caps
	// it too): with 20 tries of 2 s it would have grown to 24 days. It
	// is above the longest wait a dpdTimeoutSeconds of 3600 s asks for
	// (dataplane: 4 × 386 s).
	MaxRetransmitTimeout = 30 * time.Minute
	// DefaultFragmentSize is the largest IKE message sent unfragmented once
	// both peers support RFC 7383: it keeps a fragment with IPv6, UDP and
	// the non-ESP marker within the IPv6 minimum MTU of 1280.
	DefaultFragmentSize = 1280 - 40 - 8 - 4
	// DefaultReconnectDelay is how long an initiating peer waits after a
	// failed or lost IKE SA before it initiates again.
	DefaultReconnectDelay = 5 * time.Second
	// minFragmentSize is the smallest FragmentSize accepted: the IKE and
	// SKF headers, an AES-CBC IV and block and the largest ICV, with room
	// to spare.
	minFragmentSize = 128
)

// ConnectionMode says which side of a connection may start an IKE SA, as
// Azure's connectionMode does.
type ConnectionMode uint8

// Connection modes.
const (
	// ModeDefault initiates and responds.
	ModeDefault ConnectionMode = iota
	// ModeInitiatorOnly initiates and ignores IKE SAs the peer starts.
	ModeInitiatorOnly
	// ModeResponderOnly never initiates an IKE SA; it still rekeys and
	// checks liveness of the SAs the peer started.
	ModeResponderOnly
)

// String returns Azure's name of the mode.
func (m ConnectionMode) String() string {
	switch m {
	case ModeDefault:
		return "Default"
	case ModeInitiatorOnly:
		return "InitiatorOnly"
	case ModeResponderOnly:
		return "ResponderOnly"
	}
	return "ConnectionMode(" + strconv.Itoa(int(m)) + ")"
}

func (m ConnectionMode) initiates() bool { return m != ModeResponderOnly }
func (m ConnectionMode) responds() bool  { return m != ModeInitiatorOnly }

// Identity is an IKE identity (RFC 7296 §3.5): an ID type and its data.
type Identity struct {
	Type wire.IDType
	Data []byte
}

// IPIdentity returns the ID_IPV4_ADDR or ID_IPV6_ADDR identity of a.
func IPIdentity(a netip.Addr) Identity {
	if a.Is4() || a.Is4In6() {
		b := a.Unmap().As4()
		return Identity{Type: wire.IDIPv4Addr, Data: b[:]}
	}
	b := a.As16()
	return Identity{Type: wire.IDIPv6Addr, Data: b[:]}
}

// FQDNIdentity returns the ID_FQDN identity name.
func FQDNIdentity(name string) Identity {
	return Identity{Type: wire.IDFQDN, Data: []byte(name)}
}

// IsZero reports whether id is unset.
func (id Identity) IsZero() bool { return id.Type == 0 && len(id.Data) == 0 }

// Equal reports whether id and o are the same identity.
func (id Identity) Equal(o Identity) bool {
	return id.Type == o.Type && bytes.Equal(id.Data, o.Data)
}

// String formats the identity as strongSwan does: an address, a name, or
// "@#" and hex for a key ID.
func (id Identity) String() string {
	switch id.Type {
	case wire.IDIPv4Addr, wire.IDIPv6Addr:
		if a, ok := netip.AddrFromSlice(id.Data); ok {
			return a.String()
		}
	case wire.IDFQDN, wire.IDRFC822Addr:
		return string(id.Data)
	case wire.IDKeyID:
		return fmt.Sprintf("@#%x", id.Data)
	}
	return fmt.Sprintf("%v:%x", id.Type, id.Data)
}

// payload returns id as an IDi or IDr payload.
func (id Identity) payload(responder bool) *wire.ID {
	return &wire.ID{Responder: responder, IDType: id.Type, Data: id.Data}
}

// check reports an identity this package cannot send.
func (id Identity) check() error {
	switch id.Type {
	case wire.IDIPv4Addr:
		if len(id.Data) != 4 {
			return fmt.Errorf("%v of %d octets", id.Type, len(id.Data))
		}
	case wire.IDIPv6Addr:
		if len(id.Data) != 16 {
			return fmt.Errorf("%v of %d octets", id.Type, len(id.Data))
		}
	case wire.IDFQDN, wire.IDRFC822Addr, wire.IDKeyID:
		if len(id.Data) == 0 || len(id.Data) > 255 {
			return fmt.Errorf("%v of %d octets", id.Type, len(id.Data))
		}
	default:
		return fmt.Errorf("identity type %v not supported", id.Type)
	}
	return nil
}

// PSK is a pre-shared key. It never shows its bytes when formatted or
// logged.
type PSK []byte

// String returns "[redacted]".
func (PSK) String() string { return "[redacted]" }

// Format writes "[redacted]" for every verb.
func (p PSK) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, p.String()) }

// LogValue implements slog.LogValuer without the secret.
func (PSK) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// ChildConfig is one child SA of a connection: the traffic it carries.
type ChildConfig struct {
	// LocalTS and RemoteTS are the traffic selectors as prefixes: the
	// addresses behind this gateway and behind the peer.
	LocalTS, RemoteTS []netip.Prefix
}

// String names the child's traffic as the status shows it: ours, then
// the peer's.
func (c ChildConfig) String() string {
	join := func(ps []netip.Prefix) string {
		s := make([]string, len(ps))
		for i, p := range ps {
			s[i] = p.String()
		}
		return strings.Join(s, ",")
	}
	return join(c.LocalTS) + " <-> " + join(c.RemoteTS)
}

// RouteBased returns the children of a route-based connection: one child
// SA whose selectors are any IPv4 and any IPv6 address on both sides, the
// routing table deciding what enters the tunnel. A peer that narrows them
// (RFC 7296 §2.9) may keep one family only.
func RouteBased() []ChildConfig {
	anyTS := []netip.Prefix{netip.PrefixFrom(netip.IPv4Unspecified(), 0), netip.PrefixFrom(netip.IPv6Unspecified(), 0)}
	return []ChildConfig{{LocalTS: anyTS, RemoteTS: anyTS}}
}

// PolicyBased returns the children of a policy-based connection: one child
// SA per pair of a local and a remote prefix of one IP version, as Azure's
// policy-based gateways negotiate them. An IPv4 prefix with an IPv6 one
// is no pair: no packet goes from the one to the other, and a peer has no
// policy to narrow it to (it answers TS_UNACCEPTABLE, RFC 7296 §2.9).
func PolicyBased(local, remote []netip.Prefix) []ChildConfig {
	var cs []ChildConfig
	for _, l := range local {
		for _, r := range remote {
			if l.Addr().Is4() != r.Addr().Is4() {
				continue
			}
			cs = append(cs, ChildConfig{LocalTS: []netip.Prefix{l}, RemoteTS: []netip.Prefix{r}})
		}
	}
	return cs
}

func (c ChildConfig) equal(o ChildConfig) bool {
	return slices.Equal(c.LocalTS, o.LocalTS) && slices.Equal(c.RemoteTS, o.RemoteTS)
}

// PeerConfig is one connection: a remote gateway, how to authenticate it
// and what to negotiate with it. The zero value of a field means its
// default, as documented on the field.
type PeerConfig struct {
	// Name identifies the connection; it is the Tunnel of its child SAs.
	Name string
	// Local and Remote are the IKE endpoints. A zero port means 500.
	Local, Remote netip.AddrPort
	// LocalID and RemoteID are the identities sent and expected (RFC 7296
	// §3.5); unset means the IP address of Local and Remote.
	LocalID, RemoteID Identity
	// RemoteName, if set, is a DNS name the peer may name itself by as
	// well (ID_FQDN, compared without case): a site known by name, whose
	// device behind a NAT cannot name the address it is seen from.
	RemoteName string
	// PSK is the pre-shared key (RFC 7296 §2.15). Required.
	PSK PSK
	// IKEProposals and ESPProposals are the acceptable suites in order of
	// preference; unset means suite.DefaultProposals. An ESP proposal with
	// a Diffie-Hellman group asks for perfect forward secrecy when child
	// SAs are created or rekeyed with CREATE_CHILD_SA (the child SA of
	// IKE_AUTH never has one, RFC 7296 §1.2).
	IKEProposals, ESPProposals []suite.Proposal
	// Mode says who may start the IKE SA.
	Mode ConnectionMode
	// OnDemand: the tunnel exists while it carries traffic (a policy-based
	// gateway's, R8). When the peer deletes it, it is not negotiated again
	// at once but waits, idle, for traffic (Manager.Acquire) or the peer.
	OnDemand bool
	// Children are the child SAs; unset means RouteBased(). The first is
	// negotiated in IKE_AUTH, the others with CREATE_CHILD_SA.
	Children []ChildConfig
	// IKELifetime and ChildLifetime bound the age of SAs: they are rekeyed
	// RekeyMargin (less up to RekeyJitter) before; defaults
	// DefaultIKELifetime and DefaultChildLifetime.
	IKELifetime, ChildLifetime time.Duration
	// ChildLimits are the byte and packet lifetimes of each child SA; the
	// data path reports the soft ones through ipsec.Events.SoftExpired.
	// Unset means a hard limit of DefaultChildLifeBytes and a soft limit
	// at 90 % of it; a HardBytes of NoChildByteLimit means no limit in
	// bytes.
	ChildLimits esp.Limits
	// NoReplayCheck turns anti-replay off on each child SA's inbound SA
	// (esp.Config.NoReplayCheck), for networks that reorder a lot.
	NoReplayCheck bool
	// RekeyMargin and RekeyJitter: see IKELifetime. Defaults
	// DefaultRekeyMargin and DefaultRekeyJitter, each capped to a fifth of
	// the shorter lifetime.
	RekeyMargin, RekeyJitter time.Duration
	// DPDInterval is how long an IKE SA may receive nothing before a
	// liveness check: no IKE message and, if the Dataplane is an
	// InboundClock, no ESP on the connection's tunnel (RFC 7296 §2.4,
	// RFC 3706 §5.5); default DefaultDPDInterval, negative turns checks
	// off. IKEv1's R-U-THERE keeps the same interval.
	DPDInterval time.Duration
	// RetransmitTimeout and RetransmitTries: a request is retransmitted
	// after RetransmitTimeout, doubling each time up to
	// MaxRetransmitTimeout, RetransmitTries times (at most 20); then the
	// peer is dead. Defaults DefaultRetransmitTimeout and
	// DefaultRetransmitTries; RetransmitTimeout is at most
	// MaxRetransmitTimeout.
	RetransmitTimeout time.Duration
	RetransmitTries   int
	// FragmentSize is the largest IKE message (UDP payload without the
	// non-ESP marker) sent whole once both peers announced RFC 7383
	// support; larger ones are fragmented. Default DefaultFragmentSize.
	FragmentSize int
	// ReconnectDelay is the wait before initiating again after a failure;
	// default DefaultReconnectDelay.
	ReconnectDelay time.Duration
	// ForceEncap carries ESP in UDP even without a NAT: our NAT detection
	// hash names no real endpoint, so both sides believe a NAT is in front
	// of this one (RFC 7296 §2.23, RFC 3948). A data path that carries ESP
	// only in UDP needs it with peers that are not behind a NAT.
	ForceEncap bool
}

// withDefaults returns p with every unset field at its default.
func (p PeerConfig) withDefaults() PeerConfig {
	p.Local, p.Remote = unmapped(p.Local), unmapped(p.Remote)
	if p.Local.Port() == 0 {
		p.Local = netip.AddrPortFrom(p.Local.Addr(), DefaultIKEPort)
	}
	if p.Remote.Port() == 0 {
		p.Remote = netip.AddrPortFrom(p.Remote.Addr(), DefaultIKEPort)
	}
	if p.LocalID.IsZero() {
		p.LocalID = IPIdentity(p.Local.Addr())
	}
	if p.RemoteID.IsZero() {
		p.RemoteID = IPIdentity(p.Remote.Addr())
	}
	if len(p.IKEProposals) == 0 {
		p.IKEProposals = suite.DefaultProposals(wire.ProtocolIKE)
	}
	if len(p.ESPProposals) == 0 {
		p.ESPProposals = suite.DefaultProposals(wire.ProtocolESP)
	}
	if len(p.Children) == 0 {
		p.Children = RouteBased()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&p.IKELifetime, DefaultIKELifetime)
	def(&p.ChildLifetime, DefaultChildLifetime)
	shortest := min(p.IKELifetime, p.ChildLifetime)
	def(&p.RekeyMargin, min(DefaultRekeyMargin, shortest/5))
	def(&p.RekeyJitter, min(DefaultRekeyJitter, shortest/5))
	def(&p.DPDInterval, DefaultDPDInterval)
	def(&p.RetransmitTimeout, DefaultRetransmitTimeout)
	def(&p.ReconnectDelay, DefaultReconnectDelay)
	if p.ChildLimits == (esp.Limits{}) {
		p.ChildLimits = esp.Limits{SoftBytes: DefaultChildLifeBytes / 10 * 9, HardBytes: DefaultChildLifeBytes}
	}
	if p.RetransmitTries == 0 {
		p.RetransmitTries = DefaultRetransmitTries
	}
	if p.FragmentSize == 0 {
		p.FragmentSize = DefaultFragmentSize
	}
	return p
}

// Validate reports what Manager.Reconfig refuses in p, its defaults
// applied: no name or key, addresses missing or of two families, an
// identity, proposal or child that cannot be negotiated, timers out of
// range. The IKEv1 daemon, which shares PeerConfig, checks its peers
// with it too.
func (p PeerConfig) Validate() error { return p.withDefaults().validate() }

// validate checks a configuration that has its defaults applied.
func (p PeerConfig) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if p.Name == "" {
		bad("no name")
	}
	if !p.Local.Addr().IsValid() || !p.Remote.Addr().IsValid() {
		bad("local %v and remote %v: both addresses are required", p.Local, p.Remote)
	} else if p.Local.Addr().Unmap().Is4() != p.Remote.Addr().Unmap().Is4() {
		bad("local %v and remote %v are of different families", p.Local, p.Remote)
	}
	if err := p.LocalID.check(); err != nil {
		bad("local identity: %w", err)
	}
	if err := p.RemoteID.check(); err != nil {
		bad("remote identity: %w", err)
	}
	if len(p.PSK) == 0 {
		bad("no pre-shared key")
	}
	for _, pr := range p.IKEProposals {
		if pr.Protocol != wire.ProtocolIKE {
			bad("IKE proposal %q is for %v", pr, pr.Protocol)
		} else if _, ok := pr.Select(pr.Transforms); !ok {
			bad("IKE proposal %q is not supported", pr)
		}
	}
	for _, pr := range p.ESPProposals {
		if pr.Protocol != wire.ProtocolESP {
			bad("ESP proposal %q is for %v", pr, pr.Protocol)
		} else if _, ok := pr.Select(pr.Transforms); !ok {
			bad("ESP proposal %q is not supported", pr)
		}
	}
	for i, c := range p.Children {
		if len(c.LocalTS) == 0 || len(c.RemoteTS) == 0 || len(c.LocalTS) > 64 || len(c.RemoteTS) > 64 {
			bad("child %d: %d local and %d remote selectors, want 1 to 64 each", i, len(c.LocalTS), len(c.RemoteTS))
		}
		for _, pf := range slices.Concat(c.LocalTS, c.RemoteTS) {
			if !pf.IsValid() {
				bad("child %d: invalid prefix %v", i, pf)
			}
		}
	}
	switch {
	case p.IKELifetime < 0 || p.ChildLifetime < 0 || p.RekeyMargin < 0 || p.RekeyJitter < 0:
		bad("negative lifetime, margin or jitter")
	case p.RekeyMargin+p.RekeyJitter >= min(p.IKELifetime, p.ChildLifetime):
		bad("rekey margin %v and jitter %v leave nothing of lifetimes %v and %v",
			p.RekeyMargin, p.RekeyJitter, p.IKELifetime, p.ChildLifetime)
	}
	if p.RetransmitTimeout <= 0 || p.RetransmitTimeout > MaxRetransmitTimeout || p.RetransmitTries < 0 || p.RetransmitTries > 20 {
		bad("retransmission timeout %v and tries %d out of range (0, %v] and [0, 20]", p.RetransmitTimeout, p.RetransmitTries, MaxRetransmitTimeout)
	}
	if p.FragmentSize < minFragmentSize || p.FragmentSize > 0xffff {
		bad("fragment size %d out of range [%d, 65535]", p.FragmentSize, minFragmentSize)
	}
	if p.ReconnectDelay < 0 {
		bad("negative reconnect delay")
	}
	if p.ChildLimits.HardBytes != 0 && p.ChildLimits.SoftBytes > p.ChildLimits.HardBytes ||
		p.ChildLimits.HardPackets != 0 && p.ChildLimits.SoftPackets > p.ChildLimits.HardPackets {
		bad("soft child limits above hard ones")
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("peer %q: %w", p.Name, err)
	}
	return nil
}

// acceptsID reports whether id is the peer's identity: RemoteID, or
// RemoteName as an ID_FQDN.
func (p PeerConfig) acceptsID(id Identity) bool {
	if p.RemoteID.Equal(id) {
		return true
	}
	name := strings.TrimSuffix(p.RemoteName, ".")
	return name != "" && id.Type == wire.IDFQDN && strings.EqualFold(strings.TrimSuffix(string(id.Data), "."), name)
}

// wantedID says which identities acceptsID accepts.
func (p PeerConfig) wantedID() string {
	if p.RemoteName == "" {
		return p.RemoteID.String()
	}
	return p.RemoteID.String() + " or " + p.RemoteName
}

// SameSA reports whether p and o negotiate the same SAs. Lifetimes,
// timers and the mode apply to existing SAs as they are.
func (p PeerConfig) SameSA(o PeerConfig) bool {
	return p.SameIKE(o) && slices.EqualFunc(p.Children, o.Children, ChildConfig.equal)
}

// SameIKE reports whether p and o negotiate the same IKE SA: if not, a
// change from one to the other re-establishes the connection; if so, and
// only their children differ, the IKE SA stays and its child SAs follow
// (conn.rechild).
func (p PeerConfig) SameIKE(o PeerConfig) bool {
	return p.Local == o.Local && p.Remote == o.Remote &&
		p.LocalID.Equal(o.LocalID) && p.RemoteID.Equal(o.RemoteID) && strings.EqualFold(p.RemoteName, o.RemoteName) &&
		bytes.Equal(p.PSK, o.PSK) && p.ForceEncap == o.ForceEncap &&
		sameProposals(p.IKEProposals, o.IKEProposals) && sameProposals(p.ESPProposals, o.ESPProposals)
}

// sameProposals reports whether two lists of proposals are the same.
func sameProposals(a, b []suite.Proposal) bool {
	return slices.EqualFunc(a, b, func(x, y suite.Proposal) bool {
		return x.Protocol == y.Protocol && slices.Equal(x.Transforms, y.Transforms)
	})
}

// maxOffered bounds the peer's proposals a refusal names.
const maxOffered = 8

// offeredString describes the proposals for protocol of a peer's SA
// payload as strongSwan's read, the first maxOffered of them: what the
// peer offered, for the reason a refusal gives, so that a user sees what
// to change.
func offeredString(sa *wire.SA, protocol wire.ProtocolID) string {
	var s []string
	for _, p := range sa.Proposals {
		if p.Protocol != protocol {
			continue
		}
		if len(s) == maxOffered {
			s = append(s, "...")
			break
		}
		s = append(s, suite.Proposal{Protocol: p.Protocol, Transforms: offered(p)}.String())
	}
	return strings.Join(s, ", ")
}

// String describes the proposals of a list for logs.
func proposalsString(ps []suite.Proposal) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}
