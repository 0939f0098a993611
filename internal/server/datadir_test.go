package server

import (
	"strings"
	"testing"
)

// TestOpenVPNKeys: a gateway's OpenVPN static key is the same every time
// it is asked for with the same data directory (a restart, another node
// with the same CA), whatever the case of its resourceGuid; another
// gateway, or another CA, gives another key; a gateway without a
// resourceGuid gets none.
func TestOpenVPNKeys(t *testing.T) {
	dir := t.TempDir()
	const guid = "0b6f3c9e-4d7a-4a51-9f0e-2c8d1e7b5a34"
	k1, err := openVPNKeys(dir)(guid)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := openVPNKeys(dir)(strings.ToUpper(guid))
	if err != nil || *k2 != *k1 {
		t.Fatalf("asked again: %v, the same key %v", err, k2 != nil && *k2 == *k1)
	}
	other, err := openVPNKeys(dir)("5e1d2c3b-0000-4a51-9f0e-2c8d1e7b5a34")
	if err != nil || *other == *k1 {
		t.Errorf("another gateway: %v, the same key %v", err, other != nil && *other == *k1)
	}
	elsewhere, err := openVPNKeys(t.TempDir())(guid)
	if err != nil || *elsewhere == *k1 {
		t.Errorf("another CA: %v, the same key %v", err, elsewhere != nil && *elsewhere == *k1)
	}
	if _, err := openVPNKeys(dir)(""); err == nil {
		t.Error("a key for a gateway without a resourceGuid")
	}
}
