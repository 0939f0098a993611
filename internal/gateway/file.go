package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/vnetgw/vnetgw/internal/esp"
	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	"github.com/vnetgw/vnetgw/internal/ike/suite"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// File is the JSON configuration of a standalone gateway (`vnetgw dev
// gateway --config FILE`): one gateway on a TUN device, for tests,
// benchmarks and trying a peer's configuration.
type File struct {
	// Local is the gateway's public address.
	Local    string `json:"local"`
	IKEPort  uint16 `json:"ikePort,omitempty"`
	NATTPort uint16 `json:"nattPort,omitempty"`
	// RawESP carries ESP as IP protocol 50 where no NAT is in between
	// (root); otherwise ESP always travels in UDP.
	RawESP bool `json:"rawESP,omitempty"`
	TUN    struct {
		Name string `json:"name,omitempty"`
		MTU  int    `json:"mtu,omitempty"`
	} `json:"tun"`
	Connections []FileConnection `json:"connections"`
}

// FileConnection is one connection of a File.
type FileConnection struct {
	Name   string `json:"name"`
	Remote string `json:"remote"`
	// PSK is the pre-shared key.
	PSK string `json:"psk"`
	// LocalID and RemoteID: an IP address or a host name; default the
	// addresses.
	LocalID  string `json:"localID,omitempty"`
	RemoteID string `json:"remoteID,omitempty"`
	// IKE and ESP are proposals in strongSwan's syntax; default vnetgw's.
	IKE []string `json:"ike,omitempty"`
	ESP []string `json:"esp,omitempty"`
	// Mode is Default, InitiatorOnly or ResponderOnly.
	Mode string `json:"mode,omitempty"`
	// Routes are routed into the tunnel (and into the TUN device).
	Routes []string `json:"routes"`
	// PolicyBased negotiates one child SA per pair of LocalTS and RemoteTS
	// prefixes; otherwise the selectors are any-to-any.
	PolicyBased bool     `json:"policyBased,omitempty"`
	LocalTS     []string `json:"localTS,omitempty"`
	RemoteTS    []string `json:"remoteTS,omitempty"`
	// Lifetimes and DPD as Go durations ("8h", "30s"); default vnetgw's.
	IKELifetime    string `json:"ikeLifetime,omitempty"`
	ChildLifetime  string `json:"childLifetime,omitempty"`
	ChildLifeBytes uint64 `json:"childLifeBytes,omitempty"`
	DPDInterval    string `json:"dpdInterval,omitempty"`
	// IKEv1 negotiates with IKEv1 (RFC 2409) instead of IKEv2.
	IKEv1 bool `json:"ikev1,omitempty"`
	// DisableIPSecReplayProtection turns ESP anti-replay off on the
	// connection's inbound child SAs (RFC 4303 §3.4.3), as a gateway's
	// disableIPSecReplayProtection does in the API.
	DisableIPSecReplayProtection bool `json:"disableIPSecReplayProtection,omitempty"`
}

// ReadFile reads and checks a File.
func ReadFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f File
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %s", path, decodeError(b, err))
	}
	// More than the one object (two files run together, say) is refused,
	// not read as its first part.
	if off := dec.InputOffset(); len(bytes.TrimSpace(b[off:])) > 0 {
		at := off + int64(len(b[off:])-len(bytes.TrimLeft(b[off:], " \t\r\n")))
		line, col := position(b, at+1) // the column of the byte at, from 1, as json's offsets give it
		return nil, fmt.Errorf("%s: more after the JSON object, at line %d, column %d", path, line, col)
	}
	return &f, nil
}

// decodeError describes a decoding error by where it is, without quoting
// the file: the character json's errors name may be one of a pre-shared
// key's, and a number given for a string shows its value.
func decodeError(b []byte, err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		line, col := position(b, se.Offset)
		return fmt.Sprintf("not valid JSON at line %d, column %d", line, col)
	case errors.As(err, &te):
		line, col := position(b, te.Offset)
		return fmt.Sprintf("%s must be of type %s (line %d, column %d)", te.Field, te.Type, line, col)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "the JSON ends too early"
	}
	return err.Error() // an unknown field: it names the field, not a value
}

// position turns a byte offset in b into a line and a column, from 1.
func position(b []byte, off int64) (line, col int) {
	off = min(max(off, 0), int64(len(b)))
	before := b[:off]
	line = 1 + bytes.Count(before, []byte("\n"))
	return line, int(off) - (bytes.LastIndexByte(before, '\n') + 1)
}

// LocalAddr returns the gateway's address.
func (f *File) LocalAddr() (netip.Addr, error) {
	a, err := netip.ParseAddr(f.Local)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("local: %w", err)
	}
	return a, nil
}

// GatewayConnections turns the file's connections into the gateway's.
func (f *File) GatewayConnections() ([]Connection, error) {
	var out []Connection
	for _, fc := range f.Connections {
		c, err := fc.connection()
		if err != nil {
			return nil, fmt.Errorf("connection %q: %w", fc.Name, err)
		}
		out = append(out, c)
	}
	return out, nil
}

func (fc FileConnection) connection() (Connection, error) {
	remote, err := netip.ParseAddr(fc.Remote)
	if err != nil {
		return Connection{}, fmt.Errorf("remote: %w", err)
	}
	if fc.PSK == "" {
		return Connection{}, fmt.Errorf("psk is required")
	}
	p := ikev2.PeerConfig{Name: fc.Name, Remote: netip.AddrPortFrom(remote, 0), PSK: ikev2.PSK(fc.PSK), NoReplayCheck: fc.DisableIPSecReplayProtection}
	if p.LocalID, err = identity(fc.LocalID); err != nil {
		return Connection{}, err
	}
	if p.RemoteID, err = identity(fc.RemoteID); err != nil {
		return Connection{}, err
	}
	for _, s := range fc.IKE {
		pr, err := suite.ParseProposal(wire.ProtocolIKE, s)
		if err != nil {
			return Connection{}, err
		}
		p.IKEProposals = append(p.IKEProposals, pr)
	}
	for _, s := range fc.ESP {
		pr, err := suite.ParseProposal(wire.ProtocolESP, s)
		if err != nil {
			return Connection{}, err
		}
		p.ESPProposals = append(p.ESPProposals, pr)
	}
	switch strings.ToLower(fc.Mode) {
	case "", "default":
	case "initiatoronly":
		p.Mode = ikev2.ModeInitiatorOnly
	case "responderonly":
		p.Mode = ikev2.ModeResponderOnly
	default:
		return Connection{}, fmt.Errorf("mode %q: want Default, InitiatorOnly or ResponderOnly", fc.Mode)
	}
	c := Connection{PolicyBased: fc.PolicyBased}
	if c.Routes, err = parsePrefixes("routes", fc.Routes); err != nil {
		return Connection{}, err
	}
	if fc.PolicyBased {
		lts, err := parsePrefixes("localTS", fc.LocalTS)
		if err != nil {
			return Connection{}, err
		}
		rts, err := parsePrefixes("remoteTS", fc.RemoteTS)
		if err != nil {
			return Connection{}, err
		}
		p.Children = ikev2.PolicyBased(lts, rts)
	}
	for _, d := range []struct {
		s   string
		dst *time.Duration
	}{{fc.IKELifetime, &p.IKELifetime}, {fc.ChildLifetime, &p.ChildLifetime}, {fc.DPDInterval, &p.DPDInterval}} {
		if d.s == "" {
			continue
		}
		if *d.dst, err = time.ParseDuration(d.s); err != nil {
			return Connection{}, err
		}
	}
	if fc.ChildLifeBytes > 0 {
		p.ChildLimits = esp.Limits{HardBytes: fc.ChildLifeBytes, SoftBytes: fc.ChildLifeBytes / 10 * 9}
	}
	c.Peer = p
	// An IKEv1 child names one pair: choose the SA by selectors.
	c.IKEv1, c.PolicyBased = fc.IKEv1, c.PolicyBased || fc.IKEv1
	return c, nil
}

func identity(s string) (ikev2.Identity, error) {
	if s == "" {
		return ikev2.Identity{}, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return ikev2.IPIdentity(a), nil
	}
	return ikev2.FQDNIdentity(s), nil
}

func parsePrefixes(field string, ss []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range ss {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
