package region

import (
	"strings"
	"testing"
)

// Generated keys are of the alphabet (R38) and start with a letter, so that
// no device reads a prefix such as 0x or 0s (hex, base64) into them.
func TestNewSharedKey(t *testing.T) {
	firsts := map[byte]bool{}
	for range 2000 {
		k := newSharedKey(32)
		if len(k) != 32 || strings.Trim(k, sharedKeyAlphabet) != "" {
			t.Fatalf("key %q", k)
		}
		if c := k[0]; c >= '0' && c <= '9' {
			t.Fatalf("key %q starts with a digit", k)
		}
		firsts[k[0]] = true
	}
	if len(firsts) < 45 {
		t.Errorf("2,000 keys start with only %d different letters", len(firsts))
	}
}
