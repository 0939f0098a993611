package openvpn

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// testKey is a static key whose bytes count up, as good as any for
// tests.
func testKey() *StaticKey {
	var k StaticKey
	for i := range k {
		k[i] = byte(i * 7)
	}
	return &k
}

var wrapModes = []WrapMode{TLSCrypt, TLSAuthSHA256, TLSAuthSHA1, TLSAuthSHA512}

// TestWrapRoundTrip: what the client wraps, the server unwraps to the
// same control packet and packet id, and the other way round, in every
// mode; the wrapped packet keeps the opcode and session id in clear, and
// tls-crypt hides the rest.
func TestWrapRoundTrip(t *testing.T) {
	k := testKey()
	pkt := Control{Opcode: ControlV1, KeyID: 2, SessionID: 0x0102030405060708, Acks: []uint32{4}, RemoteSessionID: 9, PacketID: 5, Payload: []byte("a TLS record, secret")}.Append(nil)
	for _, mode := range wrapModes {
		t.Run(mode.String(), func(t *testing.T) {
			server := NewWrapper(k, mode, KeyDirectionNormal)
			client := NewWrapper(k, mode, KeyDirectionInverse)
			for _, dir := range []struct {
				name     string
				from, to *Wrapper
			}{{"client to server", client, server}, {"server to client", server, client}} {
				pid := PacketID{ID: 3, Time: 1700000000}
				w := dir.from.Wrap(nil, pkt, pid)
				if len(w) != len(pkt)+packetIDLen+dir.from.tagLen {
					t.Errorf("%s: %d bytes wrapped, want %d", dir.name, len(w), len(pkt)+packetIDLen+dir.from.tagLen)
				}
				if !bytes.Equal(w[:controlHeadLen], pkt[:controlHeadLen]) {
					t.Errorf("%s: opcode and session id not in clear: %x", dir.name, w[:controlHeadLen])
				}
				if got := bytes.Contains(w, []byte("secret")); got != (mode != TLSCrypt) {
					t.Errorf("%s: payload in clear %v", dir.name, got)
				}
				got, gotPID, err := dir.to.Unwrap(nil, w)
				if err != nil || !bytes.Equal(got, pkt) || gotPID != pid {
					t.Fatalf("%s: unwrapped %x %+v %v, want %x", dir.name, got, gotPID, err, pkt)
				}
				// A side does not take its own packets back: the two
				// directions have their own keys.
				if _, _, err := dir.from.Unwrap(nil, w); err == nil {
					t.Errorf("%s: the sender unwrapped its own packet", dir.name)
				}
			}
		})
	}
}

// TestUnwrapRefuses: a changed bit anywhere, a packet cut short, another
// key or mode: each is refused as malformed.
func TestUnwrapRefuses(t *testing.T) {
	k := testKey()
	pkt := Control{Opcode: ControlHardResetClientV2, SessionID: 77}.Append(nil)
	for _, mode := range wrapModes {
		client := NewWrapper(k, mode, KeyDirectionInverse)
		server := NewWrapper(k, mode, KeyDirectionNormal)
		w := client.Wrap(nil, pkt, PacketID{ID: 1, Time: 5})
		for i := range len(w) * 8 {
			bad := bytes.Clone(w)
			bad[i/8] ^= 1 << (i % 8)
			if _, _, err := server.Unwrap(nil, bad); !errors.Is(err, ErrMalformed) {
				t.Fatalf("%s: bit %d flipped: %v", mode, i, err)
			}
		}
		for n := range len(w) {
			if _, _, err := server.Unwrap(nil, w[:n]); !errors.Is(err, ErrMalformed) {
				t.Fatalf("%s: cut to %d bytes: %v", mode, n, err)
			}
		}
		other := *k
		other[200] ^= 1 // key 1's HMAC key: the client's sending key
		if _, _, err := NewWrapper(&other, mode, KeyDirectionNormal).Unwrap(nil, w); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: another key: %v", mode, err)
		}
		for _, m := range wrapModes {
			if m == mode {
				continue
			}
			if _, _, err := NewWrapper(k, m, KeyDirectionNormal).Unwrap(nil, w); err == nil {
				t.Errorf("%s packet unwrapped as %s", mode, m)
			}
		}
	}
	// Without a key direction both sides use key 0.
	both := NewWrapper(k, TLSAuthSHA1, KeyDirectionBoth)
	w := both.Wrap(nil, pkt, PacketID{ID: 1})
	if _, _, err := NewWrapper(k, TLSAuthSHA1, KeyDirectionBoth).Unwrap(nil, w); err != nil {
		t.Errorf("tls-auth without key direction: %v", err)
	}
	if _, _, err := NewWrapper(k, TLSAuthSHA1, KeyDirectionNormal).Unwrap(nil, w); err == nil {
		t.Error("tls-auth without key direction unwrapped by key-direction 0")
	}
}

// TestStaticKeyPEM: a key is written as OpenVPN writes one (openvpn
// --genkey): its armour around 16 lines of 16 octets in hex, in order.
func TestStaticKeyPEM(t *testing.T) {
	k := testKey()
	lines := strings.Split(strings.TrimSuffix(string(k.PEM()), "\n"), "\n")
	if len(lines) != 18 || lines[0] != staticKeyBegin || lines[17] != staticKeyEnd {
		t.Fatalf("%d lines:\n%s", len(lines), k.PEM())
	}
	got, err := hex.DecodeString(strings.Join(lines[1:17], ""))
	if err != nil || !bytes.Equal(got, k[:]) {
		t.Errorf("the hex lines are not the key: %v\n%s", err, k.PEM())
	}
	for _, l := range lines[1:17] {
		if len(l) != 32 {
			t.Errorf("line %q is not 16 octets", l)
		}
	}
}

// FuzzUnwrap: no input panics; a packet that unwraps wraps back to the
// same bytes (wrapping is deterministic in the packet id).
func FuzzUnwrap(f *testing.F) {
	k := testKey()
	pkt := Control{Opcode: ControlV1, SessionID: 1, Acks: []uint32{0}, RemoteSessionID: 2, PacketID: 1, Payload: []byte("tls")}.Append(nil)
	for i, mode := range wrapModes {
		f.Add(NewWrapper(k, mode, KeyDirectionInverse).Wrap(nil, pkt, PacketID{ID: 1, Time: 2}), uint8(i))
	}
	f.Fuzz(func(t *testing.T, b []byte, m uint8) {
		mode := wrapModes[int(m)%len(wrapModes)]
		server := NewWrapper(k, mode, KeyDirectionNormal)
		plain, pid, err := server.Unwrap(nil, b)
		if err != nil {
			return
		}
		if again := NewWrapper(k, mode, KeyDirectionInverse).Wrap(nil, plain, pid); !bytes.Equal(again, b) {
			t.Fatalf("%s: %x unwrapped and wrapped again as %x", mode, b, again)
		}
	})
}
