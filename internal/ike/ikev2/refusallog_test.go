package ikev2

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"log/slog"
	"sync"
	"testing"
	"time"

	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// levelCounter counts the records of Info and above a Manager logs.
type levelCounter struct {
	mu sync.Mutex
	n  int
}

func (h *levelCounter) Enabled(context.Context, slog.Level) bool { return true }
func (h *levelCounter) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelInfo {
		h.mu.Lock()
		h.n++
		h.mu.Unlock()
	}
	return nil
}
func (h *levelCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *levelCounter) WithGroup(string) slog.Handler      { return h }

// TestRefusedInitLogsOnce: IKE_SA_INIT requests from the peer's address
// whose proposals the connection does not allow, which anyone can send,
// are each answered NO_PROPOSAL_CHOSEN (RFC 7296 §2.7) and logged at
// Warn only the first time: a flood of them wrote a Warn each.
func TestRefusedInitLogsOnce(t *testing.T) {
	h := &levelCounter{}
	tr := &capture{}
	m, err := New(Config{Logger: slog.New(h), Transport: tr, Dataplane: newFakeDataplane()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	peer := basePeer("to-a", addrB, addrA)
	peer.Mode = ModeResponderOnly
	peer.IKEProposals = mustProposals(t, wire.ProtocolIKE, "aes256gcm16-prfsha256-ecp256")
	if err := m.Reconfig([]PeerConfig{peer}); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	h.n = 0 // what Reconfig logged
	h.mu.Unlock()
	local, remote := peer.Local, peer.Remote
	const n = 50
	for range n {
		var spi [8]byte
		_, _ = rand.Read(spi[:])
		msg, err := wire.Message{
			Header: wire.Header{SPIi: binary.BigEndian.Uint64(spi[:]) | 1, MajorVersion: wire.MajorVersion, Exchange: wire.IKESAInit, Flags: wire.FlagInitiator},
			Payloads: []wire.Payload{saPayload(mustProposals(t, wire.ProtocolIKE, "aes128-sha1-modp2048"), nil, true),
				&wire.KE{Group: wire.DHMODP2048, Data: make([]byte, 256)}, &wire.Nonce{Data: make([]byte, 32)}},
		}.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		m.HandlePacket(local, remote, msg)
	}
	waitFor(t, 5*time.Second, "the answers", func() bool { return len(tr.to(remote)) == n })
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n != 1 {
		t.Errorf("%d refused IKE_SA_INIT requests wrote %d log records at Info or above, want 1", n, h.n)
	}
}
