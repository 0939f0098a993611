package ikev2

import (
	"bytes"
	"errors"
	"testing"
)

// TestHeader covers the IKE header of RFC 7296 section 3.1.
func TestHeader(t *testing.T) {
	tests := []struct {
		name string
		h    Header
		wire string
	}{
		{
			name: "3.1 IKE_SA_INIT request from the initiator",
			h: Header{SPIi: 0x0102030405060708, NextPayload: PayloadSA, MajorVersion: 2,
				Exchange: IKESAInit, Flags: FlagInitiator, Length: 28},
			wire: "0102030405060708 0000000000000000 21 20 22 08 00000000 0000001c",
		},
		{
			name: "3.1 INFORMATIONAL response, reserved flag bits kept",
			h: Header{SPIi: 1, SPIr: 2, NextPayload: PayloadSK, MajorVersion: 2, MinorVersion: 1,
				Exchange: Informational, Flags: FlagResponse | 0x81, MessageID: 7, Length: 32},
			wire: "0000000000000001 0000000000000002 2e 21 25 a1 00000007 00000020 00000000",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wire := h(tc.wire)
			got, n, err := ParseHeader(wire)
			if err != nil {
				t.Fatal(err)
			}
			if n != HeaderLen || got != tc.h {
				t.Errorf("ParseHeader = %+v, %d; want %+v, %d", got, n, tc.h, HeaderLen)
			}
			b, err := tc.h.Append(nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, wire[:HeaderLen]) {
				t.Errorf("Append = %x, want %x", b, wire[:HeaderLen])
			}
		})
	}
}

func TestHeaderErrors(t *testing.T) {
	tests := []struct {
		name    string
		wire    string
		version bool // want *InvalidMajorVersionError
	}{
		{"3.1 shorter than 28 octets", "0102030405060708 0000000000000000 21 20 22 08 00000000 0000", false},
		{"2.5 major version 1 is not IKEv2", "0102030405060708 0000000000000000 01 10 02 00 00000000 0000001c", true},
		{"2.5 MUST drop a higher major version", "0102030405060708 0000000000000000 21 30 22 08 00000000 0000001c", true},
		{"3.1 length below the header", "0102030405060708 0000000000000000 21 20 22 08 00000000 0000001b", false},
		{"3.1 length beyond the buffer", "0102030405060708 0000000000000000 21 20 22 08 00000000 0000001d", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ParseHeader(h(tc.wire))
			var ve *InvalidMajorVersionError
			switch {
			case tc.version && !errors.As(err, &ve):
				t.Fatalf("ParseHeader error %v, want *InvalidMajorVersionError", err)
			case tc.version && ve.Notify().NotifyType != InvalidMajorVersion:
				t.Errorf("Notify() = %v, want INVALID_MAJOR_VERSION", ve.Notify().NotifyType)
			case !tc.version && !errors.Is(err, ErrMalformed):
				t.Fatalf("ParseHeader error %v, want ErrMalformed", err)
			}
		})
	}
	if _, err := (&Header{MajorVersion: 16}).Append(nil); err == nil {
		t.Error("Append of a 5-bit major version succeeded")
	}
}

func TestHeaderStrings(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{IKESAInit.String(), "IKE_SA_INIT"},
		{IKEAuth.String(), "IKE_AUTH"},
		{CreateChildSA.String(), "CREATE_CHILD_SA"},
		{Informational.String(), "INFORMATIONAL"},
		{ExchangeType(43).String(), "ExchangeType(43)"},
		{(FlagInitiator | FlagResponse).String(), "I|R"},
		{(FlagVersion | 0x01).String(), "V|0x1"},
		{Flags(0).String(), ""},
	} {
		if tc.got != tc.want {
			t.Errorf("String() = %q, want %q", tc.got, tc.want)
		}
	}
}
