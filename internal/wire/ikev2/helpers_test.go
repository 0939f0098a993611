package ikev2

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// h decodes hex, ignoring white space and '|' separators used to show the
// fields of a structure.
func h(s string) []byte {
	s = strings.NewReplacer(" ", "", "\n", "", "\t", "", "|", "").Replace(s)
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// fixture reads testdata/strongswan/name.hex.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "strongswan", name+".hex"))
	if err != nil {
		t.Fatal(err)
	}
	return h(string(raw))
}

// checkPayload checks that p encodes to wire, after whatever b already
// holds, and that wire decodes back to p.
func checkPayload(t *testing.T, p Payload, wire []byte) {
	t.Helper()
	if got := p.Len(); got != len(wire) {
		t.Errorf("Len() = %d, want %d", got, len(wire))
	}
	prefix := []byte{0xaa, 0xbb}
	got, err := p.Append(prefix)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	if !bytes.Equal(got[:2], prefix) || !bytes.Equal(got[2:], wire) {
		t.Errorf("Append = %x\nwant     %x", got[2:], wire)
	}
	ps, err := ParsePayloads(p.Type(), wire)
	if err != nil {
		t.Fatalf("ParsePayloads: %v", err)
	}
	if len(ps) != 1 {
		t.Fatalf("ParsePayloads gave %d payloads, want 1", len(ps))
	}
	if !reflect.DeepEqual(ps[0], p) {
		t.Errorf("decoded %+v\nwant    %+v", ps[0], p)
	}
}

// malformedCase is a payload body that must not decode.
type malformedCase struct {
	name string
	wire string // the payload with its generic header, in hex
}

// checkMalformed checks that each case fails to decode as a payload of type
// pt with an error wrapping ErrMalformed.
func checkMalformed(t *testing.T, pt PayloadType, cases []malformedCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ps, err := ParsePayloads(pt, h(tc.wire))
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParsePayloads = %v, %v; want an error wrapping ErrMalformed", ps, err)
			}
		})
	}
}

// checkAppendError checks that Append fails and leaves b unchanged.
func checkAppendError(t *testing.T, p Payload) {
	t.Helper()
	b := []byte{1, 2, 3}
	got, err := p.Append(b)
	if err == nil {
		t.Fatalf("Append of %T succeeded, want an error", p)
	}
	if !bytes.Equal(got, b) {
		t.Errorf("Append returned %x on error, want the input %x", got, b)
	}
}
