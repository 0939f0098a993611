package eaptls

import (
	"strings"
	"testing"
)

// FuzzThumbprint reads revoked certificates' thumbprints as the API takes
// them from a user: what it accepts is 40 upper-case hex digits, which it
// reads again as themselves, in lower case too, and which then count as
// revoked; what it refuses comes with no digits.
func FuzzThumbprint(f *testing.F) {
	for _, s := range []string{
		"0123456789abcdef0123456789ABCDEF01234567",
		"01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67",
		"\u200e01 23 45 67 89 ab cd ef 01 23 45 67 89 ab cd ef 01 23 45 67",
		"0123456789abcdef0123456789ABCDEF0123456",
		"0123456789abcdef0123456789ABCDEF012345678",
		"g123456789abcdef0123456789ABCDEF01234567",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := Thumbprint(s)
		if !ok {
			if got != "" {
				t.Fatalf("Thumbprint(%q) = %q, false; want \"\"", s, got)
			}
			return
		}
		if len(got) != 40 || strings.Trim(got, "0123456789ABCDEF") != "" {
			t.Fatalf("Thumbprint(%q) = %q: not 40 upper-case hex digits", s, got)
		}
		for _, again := range []string{got, strings.ToLower(got)} {
			if g, ok := Thumbprint(again); !ok || g != got {
				t.Fatalf("Thumbprint(%q) = %q, %v; want %q", again, g, ok, got)
			}
		}
		if !RevokedThumbprint(got, []string{s}) {
			t.Fatalf("%q is not revoked by %q", got, s)
		}
	})
}
