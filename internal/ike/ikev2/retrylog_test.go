package ikev2

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/sparselog"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// lines keeps what a Manager logs at Info and above, a line each: level,
// message and attributes.
type lines struct {
	mu  sync.Mutex // guards all
	all []string
}

// lineHandler writes to lines with the attributes of its logger, their
// values resolved as slog's own handlers do.
type lineHandler struct {
	l     *lines
	attrs []slog.Attr
}

func (h lineHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h lineHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Level < slog.LevelInfo {
		return nil
	}
	line := fmt.Sprintf("%v %q", r.Level, r.Message)
	for _, a := range h.attrs {
		line += " " + resolved(a)
	}
	r.Attrs(func(a slog.Attr) bool {
		line += " " + resolved(a)
		return true
	})
	h.l.mu.Lock()
	h.l.all = append(h.l.all, line)
	h.l.mu.Unlock()
	return nil
}
func (h lineHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return lineHandler{h.l, append(slices.Clone(h.attrs), as...)}
}
func (h lineHandler) WithGroup(string) slog.Handler { return h }

// resolved formats a with its value resolved (slog.LogValuer).
func resolved(a slog.Attr) string {
	a.Value = a.Value.Resolve()
	return a.String()
}

// with returns the lines that contain every one of parts.
func (l *lines) with(parts ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, s := range l.all {
		if !slices.ContainsFunc(parts, func(p string) bool { return !strings.Contains(s, p) }) {
			out = append(out, s)
		}
	}
	return out
}

// loggedNode starts a Manager at addr with peer as its only peer, its
// lines kept in l.
func loggedNode(t *testing.T, n *fakeNet, l *lines, addr netip.Addr, peer PeerConfig) *node {
	t.Helper()
	dp := newFakeDataplane()
	m, err := New(Config{Logger: slog.New(lineHandler{l: l}), Transport: n.endpoint(), Dataplane: dp})
	if err != nil {
		t.Fatal(err)
	}
	n.attach(addr, m)
	t.Cleanup(func() { m.Close() })
	if err := m.Reconfig([]PeerConfig{peer}); err != nil {
		t.Fatal(err)
	}
	return &node{m: m, dp: dp, addr: addr, peer: peer}
}

// TestRetriesWithAnotherKeyLogQuietly: two gateways whose pre-shared keys
// differ retry the connection again and again, each attempt with ESP in
// UDP forced (ForceEncap, as vnetgw's gateways run) and refused in
// IKE_AUTH (RFC 7296 §2.21.2). Each attempt logged at Info "NAT detected"
// on both sides, with no NAT between them, "peer endpoint changed" for the
// move to the NAT-T port every attempt makes (§2.23), and a Warn on each
// side. Now the failure is a Warn once a minute at most on each side
// (sparselog.Every), which then says how many it left out, and the
// rest is at Debug.
func TestRetriesWithAnotherKeyLogQuietly(t *testing.T) {
	checkLeaks(t)
	n := newFakeNet(t)
	la, lb := &lines{}, &lines{}
	pa, pb := basePeer("to-b", addrA, addrB), basePeer("to-a", addrB, addrA)
	pa.PSK = PSK("another-psk-0123456789")
	pb.Mode = ModeResponderOnly
	pa.ForceEncap, pb.ForceEncap = true, true
	b := loggedNode(t, n, lb, addrB, pb)
	a := loggedNode(t, n, la, addrA, pa)
	const attempts = 4
	waitFor(t, 20*time.Second, "attempts refused", func() bool { return n.requests(wire.IKEAuth) >= attempts })
	waitFor(t, 5*time.Second, "the last refusal", func() bool {
		return a.status().LastError != "" && len(la.with(`"initiating IKE SA"`)) >= attempts
	})
	for name, l := range map[string]*lines{"a": la, "b": lb} {
		for _, what := range []string{`"NAT detected"`, `"peer endpoint changed"`} {
			if got := l.with(what); len(got) > 0 {
				t.Errorf("%s logged %s with no NAT: %q", name, what, got)
			}
		}
	}
	if got := la.with(`WARN "IKE_AUTH failed"`, "AUTHENTICATION_FAILED"); len(got) != 1 {
		t.Errorf("a logged %d Warns for %d refused attempts, want 1: %q", len(got), attempts, got)
	}
	if got := lb.with(`WARN "peer authentication failed"`, "pre-shared key mismatch"); len(got) != 1 {
		t.Errorf("b logged %d Warns for %d refused attempts, want 1: %q", len(got), attempts, got)
	}

	// A minute on: the next failure's Warn counts the ones left out.
	// (The Log is made anew with what it counted, as it is after its
	// minute.)
	stopped := make(chan struct{})
	b.onLoop(func(c *conn) {
		for k, l := range c.authLines {
			fresh := &sparselog.Log{}
			fresh.Count(l.Rest())
			c.authLines[k] = fresh
		}
		close(stopped)
	})
	<-stopped
	waitFor(t, 20*time.Second, "a second Warn", func() bool { return len(lb.with(`WARN "peer authentication failed"`)) == 2 })
	if got := lb.with(`WARN "peer authentication failed"`)[1]; !strings.Contains(got, "suppressed=") {
		t.Errorf("b's second Warn does not say how many it left out: %s", got)
	}
}

// TestLinesNameTheIKESA: the lines about an IKE SA name it by its SPIs,
// as both ends and the wire know them (RFC 7296 §2.6), though the
// attribute is formatted only when a line is written.
func TestLinesNameTheIKESA(t *testing.T) {
	checkLeaks(t)
	n := newFakeNet(t)
	la, lb := &lines{}, &lines{}
	pa, pb := basePeer("to-b", addrA, addrB), basePeer("to-a", addrB, addrA)
	pb.Mode = ModeResponderOnly
	b := loggedNode(t, n, lb, addrB, pb)
	a := loggedNode(t, n, la, addrA, pa)
	waitUp(t, a, b, 1)
	sas := a.status().IKESAs
	if len(sas) != 1 {
		t.Fatalf("a has %d IKE SAs, want 1", len(sas))
	}
	name := fmt.Sprintf("ike_sa=%016x_i %016x_r", sas[0].SPIi, sas[0].SPIr)
	for side, l := range map[string]*lines{"a": la, "b": lb} {
		if got := l.with(`INFO "IKE SA established"`, name); len(got) != 1 {
			t.Errorf("%s did not log %s as established: %q", side, name, l.with(`"IKE SA established"`))
		}
	}
}

// TestNATStillLogged: a real NAT is still logged at Info, on both sides
// (RFC 7296 §2.23), when one side forces encapsulation: b, behind a NAT,
// sees that a hashed another address than its own; a sees that b's
// packets come from another address than b hashed.
func TestNATStillLogged(t *testing.T) {
	checkLeaks(t)
	n := newFakeNet(t)
	public := netip.MustParseAddr("198.51.100.2")
	n.nat = &fakeNAT{inside: addrB, public: public,
		ports: map[uint16]uint16{500: 500, 4500: 4500}, back: map[uint16]uint16{500: 500, 4500: 4500}}
	la, lb := &lines{}, &lines{}
	pa, pb := basePeer("to-b", addrA, public), basePeer("to-a", addrB, addrA)
	pa.RemoteID = IPIdentity(addrB)
	pb.Mode = ModeResponderOnly
	pa.ForceEncap = true
	b := loggedNode(t, n, lb, addrB, pb)
	a := loggedNode(t, n, la, addrA, pa)
	waitUp(t, a, b, 1)
	if got := la.with(`INFO "NAT detected"`, "local=false", "remote=true"); len(got) != 1 {
		t.Errorf("a, whose peer is behind a NAT, logged %q", la.with(`"NAT detected"`))
	}
	if got := lb.with(`INFO "NAT detected"`, "local=true", "remote=false"); len(got) != 1 {
		t.Errorf("b, behind a NAT, logged %q", lb.with(`"NAT detected"`))
	}
}
