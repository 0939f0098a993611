package mschap

import (
	"encoding/hex"
	"strings"
	"testing"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMD4: RFC 1320 §A.5's test suite.
func TestMD4(t *testing.T) {
	for in, want := range map[string]string{
		"":                           "31d6cfe0d16ae931b73c59d7e0c089c0",
		"a":                          "bde52cb31de33e46245e05fbdbd6fb24",
		"abc":                        "a448017aaf21d8525fc10ae87aa6729d",
		"message digest":             "d9130a8164549fe818874806e1c7014b",
		"abcdefghijklmnopqrstuvwxyz": "d79e1c308aa5bbcdeea8ed63df412da9",
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789":                   "043f8582f241db351ce627e153e7f0e4",
		"12345678901234567890123456789012345678901234567890123456789012345678901234567890": "e33b4ddc9c38f2199c3e7b164fcc0536",
	} {
		if got := md4([]byte(in)); hex.EncodeToString(got[:]) != want {
			t.Errorf("MD4(%q) = %x, want %s", in, got, want)
		}
	}
}

// TestRFC2759: the example of RFC 2759 §9.2, and the 128-bit MPPE keys of
// RFC 3079 §3.5.3 from it.
func TestRFC2759(t *testing.T) {
	auth := [16]byte(unhex(t, "5B5D7C7D7B3F2F3E3C2C602132262628"))
	peer := [16]byte(unhex(t, "21402324255E262A28295F2B3A337C7E"))
	if got := challengeHash(peer, auth, "User"); hex.EncodeToString(got[:]) != "d02e4386bce91226" {
		t.Errorf("ChallengeHash = %x", got)
	}
	if got := challengeHash(peer, auth, `DOMAIN\User`); hex.EncodeToString(got[:]) != "d02e4386bce91226" {
		t.Errorf("ChallengeHash with a domain = %x: the domain is not part of it", got)
	}
	if got := passwordHash("clientPass"); hex.EncodeToString(got[:]) != "44ebba8d5312b8d611474411f56989ae" {
		t.Errorf("PasswordHash = %x", got)
	}
	nt := NTResponse(auth, peer, "User", "clientPass")
	if hex.EncodeToString(nt[:]) != "82309ecd8d708b5ea08faa3981cd83544233114a3d85d6df" {
		t.Errorf("NT-Response = %x", nt)
	}
	want := "S=407A5589115FD0D6209F510FE9C04566932CDA56"
	if got := AuthenticatorResponse("clientPass", nt, peer, auth, "User"); got != want {
		t.Errorf("AuthenticatorResponse = %s", got)
	}
	if !CheckSuccess(strings.ToLower(want)+" M=welcome", want) || CheckSuccess("S=407A5589115FD0D6209F510FE9C04566932CDA57", want) || CheckSuccess("S=", want) {
		t.Error("CheckSuccess takes a wrong answer or refuses the right one")
	}
	if got := masterKey("clientPass", nt); hex.EncodeToString(got[:]) != "fdece3717a8c838cb388e527ae3cdd31" {
		t.Errorf("MasterKey = %x", got)
	}
	// RFC 3079 §3.5.3 derives the server's send key: the client's
	// receive key.
	send, recv := ClientKeys("clientPass", nt)
	if hex.EncodeToString(recv[:]) != "8b7cdc149b993a1ba118cb153f56dccb" {
		t.Errorf("the client's receive key = %x", recv)
	}
	if send == recv {
		t.Error("the send and receive keys are the same")
	}
}

// FuzzCheckSuccess: a server's Success message of any bytes is read
// without a panic, and proves the password only when it starts with the
// expected authenticator response, in any case (RFC 2759 §5, §8.8).
func FuzzCheckSuccess(f *testing.F) {
	const want = "S=407A5589115FD0D6209F510FE9C04566932CDA56"
	f.Add(want + " M=welcome")
	f.Add(strings.ToLower(want))
	f.Add("S=407A5589115FD0D6209F510FE9C04566932CDA5")
	f.Add("E=691 R=0 C=00 V=3 M=no")
	f.Fuzz(func(t *testing.T, message string) {
		if CheckSuccess(message, want) && !strings.EqualFold(message[:len(want)], want) {
			t.Fatalf("%q taken for %q", message, want)
		}
	})
}
