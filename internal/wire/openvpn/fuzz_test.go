package openvpn

import (
	"bytes"
	"slices"
	"testing"
)

// FuzzParseControl: no input panics; what parses encodes back to the
// same bytes.
func FuzzParseControl(f *testing.F) {
	f.Add(Control{Opcode: ControlHardResetClientV2, SessionID: 1}.Append(nil))
	f.Add(Control{Opcode: ControlV1, SessionID: 1, Acks: []uint32{0, 1}, RemoteSessionID: 2, PacketID: 3, Payload: []byte("tls")}.Append(nil))
	f.Add(Control{Opcode: AckV1, SessionID: 1, Acks: []uint32{7}, RemoteSessionID: 2}.Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseControl(b)
		if err != nil {
			return
		}
		want := b
		if c.Opcode == AckV1 && len(b) > 10+4*len(c.Acks)+SessionIDLen {
			want = b[:10+4*len(c.Acks)+SessionIDLen] // what follows an ACK is not read, as OpenVPN does not
		}
		if got := c.Append(nil); !bytes.Equal(got, want) {
			t.Fatalf("%x parsed as %+v, encoded as %x", b, c, got)
		}
		if len(c.Acks) > MaxAcks {
			t.Fatalf("%d acks", len(c.Acks))
		}
	})
}

// FuzzParseKeyMethod2: no input panics; what parses encodes back and
// parses the same.
func FuzzParseKeyMethod2(f *testing.F) {
	f.Add(KeyMethod2{Options: "V4,tls-client", PeerInfo: "IV_PROTO=990\n"}.Append(nil, true), true)
	f.Add(KeyMethod2{Options: "V4,tls-server"}.Append(nil, false), false)
	// A client of user name and password, which sends the auth-token it
	// was pushed in place of the password when it renegotiates.
	f.Add(KeyMethod2{Options: "V4,tls-client", Username: "alice", Password: "vnetgw-session-3q2-7w", PeerInfo: "IV_PROTO=990\n"}.Append(nil, true), true)
	f.Fuzz(func(t *testing.T, b []byte, fromClient bool) {
		km, err := ParseKeyMethod2(b, fromClient)
		if err != nil {
			return
		}
		again, err := ParseKeyMethod2(km.Append(nil, fromClient), fromClient)
		if err != nil || again != km {
			t.Fatalf("%+v came back as %+v, %v", km, again, err)
		}
		_ = PeerInfoProto(km.PeerInfo)
		_ = PeerInfoHasCipher(km.PeerInfo, "AES-256-GCM")
	})
}

// FuzzParseDataV2: no input panics; the header re-encodes.
func FuzzParseDataV2(f *testing.F) {
	h := DataV2Header(0, 5)
	f.Add(append(h[:], 0, 0, 0, 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		kid, peer, rest, err := ParseDataV2(b)
		if err != nil {
			return
		}
		h := DataV2Header(kid, peer)
		if !bytes.Equal(h[:], b[:4]) || !slices.Equal(rest, b[4:]) {
			t.Fatalf("%x: header %x", b, h)
		}
	})
}
