package openvpn

import (
	"bytes"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHardResets: the client's hard reset and the server's answer, byte
// for byte as OpenVPN 2.6 sends them (ssl.c tls_process_state,
// ssl_pkt.c tls_reset_standalone): the server's acknowledges the
// client's packet 0 and is its own packet 0.
func TestHardResets(t *testing.T) {
	clientReset := unhex(t, "38 1122334455667788 00 00000000")
	c, err := ParseControl(clientReset)
	if err != nil {
		t.Fatal(err)
	}
	if c.Opcode != ControlHardResetClientV2 || c.KeyID != 0 || c.SessionID != 0x1122334455667788 || len(c.Acks) != 0 || c.PacketID != 0 || len(c.Payload) != 0 {
		t.Errorf("client reset parsed as %+v", c)
	}
	if got := c.Append(nil); !bytes.Equal(got, clientReset) {
		t.Errorf("client reset re-encoded as %x", got)
	}
	server := Control{Opcode: ControlHardResetServerV2, SessionID: 0xa1a2a3a4a5a6a7a8, Acks: []uint32{0}, RemoteSessionID: c.SessionID}
	want := unhex(t, "40 a1a2a3a4a5a6a7a8 01 00000000 1122334455667788 00000000")
	if got := server.Append(nil); !bytes.Equal(got, want) {
		t.Errorf("server reset %x, want %x", got, want)
	}
}

// TestControlAndAck: a P_CONTROL_V1 with acks and TLS bytes, and a P_ACK_V1
// (no packet id, no payload), both ways.
func TestControlAndAck(t *testing.T) {
	for _, c := range []Control{
		{Opcode: ControlV1, KeyID: 0, SessionID: 7, Acks: []uint32{3, 4}, RemoteSessionID: 9, PacketID: 5, Payload: []byte("\x16\x03\x01tls")},
		{Opcode: AckV1, SessionID: 7, Acks: []uint32{1}, RemoteSessionID: 9},
		{Opcode: ControlSoftResetV1, KeyID: 1, SessionID: 7, PacketID: 0},
	} {
		b := c.Append(nil)
		got, err := ParseControl(b)
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		if got.Opcode != c.Opcode || got.KeyID != c.KeyID || got.SessionID != c.SessionID || !slices.Equal(got.Acks, c.Acks) ||
			got.RemoteSessionID != c.RemoteSessionID || got.PacketID != c.PacketID || !bytes.Equal(got.Payload, c.Payload) {
			t.Errorf("%+v came back as %+v", c, got)
		}
	}
}

// TestControlMalformed: every length is checked; too many acks (more than
// RELIABLE_ACK_SIZE), data opcodes and an ACK without acks are refused.
func TestControlMalformed(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":               nil,
		"short":               unhex(t, "38 11223344"),
		"data opcode":         unhex(t, "48 1122334455667788 00 00000001"),
		"nine acks":           append(unhex(t, "20 1122334455667788 09"), make([]byte, 9*4+8+4)...),
		"acks cut short":      unhex(t, "20 1122334455667788 02 00000001"),
		"no packet id":        unhex(t, "20 1122334455667788 00 0000"),
		"ack without acks":    unhex(t, "28 1122334455667788 00"),
		"unknown opcode (31)": unhex(t, "f8 1122334455667788 00 00000000"),
	} {
		if _, err := ParseControl(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

// TestKeyMethod2: the client's message (pre-master secret, peer info) and
// the server's (none, three empty strings) both ways; strings carry their
// NUL in the length, the empty string is 00 00.
func TestKeyMethod2(t *testing.T) {
	client := KeyMethod2{Options: "V4,dev-type tun,tls-client", PeerInfo: "IV_VER=2.6.14\nIV_PROTO=990\nIV_CIPHERS=AES-256-GCM:AES-128-GCM:CHACHA20-POLY1305\n"}
	client.PreMaster[0], client.Random1[0], client.Random2[31] = 1, 2, 3
	b := client.Append(nil, true)
	if !bytes.Equal(b[:5], []byte{0, 0, 0, 0, 2}) || len(b) != 5+48+64+2+len(client.Options)+1+2+2+2+len(client.PeerInfo)+1 {
		t.Fatalf("client message %x", b)
	}
	got, err := ParseKeyMethod2(b, true)
	if err != nil || got != client {
		t.Fatalf("client message came back as %+v, %v", got, err)
	}
	if PeerInfoProto(got.PeerInfo)&IVProtoTLSKeyExport == 0 || !PeerInfoHasCipher(got.PeerInfo, "aes-256-gcm") || PeerInfoHasCipher(got.PeerInfo, "BF-CBC") {
		t.Errorf("peer info read wrong: proto %d", PeerInfoProto(got.PeerInfo))
	}
	server := KeyMethod2{Options: "V4,tls-server"}
	sb := server.Append(nil, false)
	if !bytes.HasSuffix(sb, []byte{0, 0, 0, 0, 0, 0}) || len(sb) != 5+64+2+len(server.Options)+1+6 {
		t.Errorf("server message %x", sb)
	}
	if got, err := ParseKeyMethod2(sb, false); err != nil || got != server {
		t.Errorf("server message came back as %+v, %v", got, err)
	}
	for name, bad := range map[string][]byte{
		"key method 1":       append([]byte{0, 0, 0, 0, 1}, make([]byte, 112)...),
		"no zero bytes":      append([]byte{0, 0, 0, 1, 2}, make([]byte, 112)...),
		"cut in the randoms": append([]byte{0, 0, 0, 0, 2}, make([]byte, 60)...),
		"string too long":    append(append([]byte{0, 0, 0, 0, 2}, make([]byte, 112)...), 0xff, 0xff, 'a'),
		"string without NUL": append(append([]byte{0, 0, 0, 0, 2}, make([]byte, 112)...), 0, 2, 'a', 'b'),
	} {
		if _, err := ParseKeyMethod2(bad, true); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

// TestDataV2Header: opcode 9, key id and the 24-bit peer id.
func TestDataV2Header(t *testing.T) {
	h := DataV2Header(2, 0x123456)
	if h != [4]byte{0x4a, 0x12, 0x34, 0x56} {
		t.Errorf("header %x", h)
	}
	kid, peer, rest, err := ParseDataV2(append(h[:], 1, 2, 3))
	if err != nil || kid != 2 || peer != 0x123456 || !bytes.Equal(rest, []byte{1, 2, 3}) {
		t.Errorf("parsed %d %x %x %v", kid, peer, rest, err)
	}
	if _, _, _, err := ParseDataV2([]byte{0x30, 0, 0, 0}); !errors.Is(err, ErrMalformed) {
		t.Errorf("P_DATA_V1 taken as V2: %v", err)
	}
}
