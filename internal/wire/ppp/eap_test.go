package ppp

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func TestEAP(t *testing.T) {
	cases := []struct {
		name  string
		frame string
		want  EAP
	}{
		{"identity response", eapIdentity, EAP{Code: EAPResponse, ID: 1, Type: TypeIdentity, Data: []byte("alice")}},
		{"TLS start", eapTLSStart, EAP{Code: EAPRequest, ID: 2, Type: TypeTLS, Data: []byte{FlagStart}}},
		{"TLS first fragment", eapTLSFirst, EAP{Code: EAPResponse, ID: 2, Type: TypeTLS, Data: []byte{FlagLength | FlagMore, 0, 0, 3, 0xe8, 0x16, 3, 1, 0, 0x2a, 1}}},
		{"success", eapSuccess, EAP{Code: EAPSuccess, ID: 5}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			proto, info, err := ParseFrame(unhex(t, c.frame))
			if err != nil || proto != ProtoEAP {
				t.Fatal(proto, err)
			}
			e, err := ParseEAP(info)
			if err != nil || !reflect.DeepEqual(e, c.want) {
				t.Fatalf("%+v %v, want %+v", e, err, c.want)
			}
			if got := e.Append(nil); !bytes.Equal(got, info) || e.Len() != len(info) {
				t.Errorf("re-encoded % x (Len %d), want % x", got, e.Len(), info)
			}
		})
	}
	// RFC 3748 §4: octets beyond the Length field are ignored.
	b := append(EAP{Code: EAPFailure, ID: 7}.Append(nil), 0, 0)
	if e, err := ParseEAP(b); err != nil || e.Code != EAPFailure || e.ID != 7 || e.Data != nil {
		t.Errorf("padded Failure: %+v %v", e, err)
	}
	b = append(EAP{Code: EAPRequest, ID: 1, Type: TypeIdentity}.Append(nil), 0xee)
	if e, err := ParseEAP(b); err != nil || e.Type != TypeIdentity || len(e.Data) != 0 {
		t.Errorf("padded Request: %+v %v", e, err)
	}
}

func TestEAPErrors(t *testing.T) {
	for name, in := range map[string]string{
		"empty":                "",
		"three octets":         "01 01 00",
		"length 3":             "03 01 00 03",
		"length beyond":        "01 01 00 06 01",
		"request without type": "01 01 00 04",
		"response without":     "02 01 00 04 01",
		"success with data":    "03 01 00 05 00",
		"failure with data":    "04 01 00 06 00 00",
		"code 0":               "00 01 00 04",
		"code 5 (RFC 6696)":    "05 01 00 05 01",
	} {
		if _, err := ParseEAP(unhex(t, in)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

func TestTLSData(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		want TLSData
	}{
		{"start", []byte{FlagStart}, TLSData{Flags: FlagStart, Data: []byte{}}},
		{"ack", []byte{0}, TLSData{Data: []byte{}}},
		{"first fragment", []byte{FlagLength | FlagMore, 0, 0, 0x10, 0, 0x16, 3}, TLSData{Flags: FlagLength | FlagMore, MessageLength: 4096, Data: []byte{0x16, 3}}},
		{"middle fragment", []byte{FlagMore, 1, 2, 3}, TLSData{Flags: FlagMore, Data: []byte{1, 2, 3}}},
		{"unfragmented with L", []byte{FlagLength, 0, 0, 0, 2, 0x15, 3}, TLSData{Flags: FlagLength, MessageLength: 2, Data: []byte{0x15, 3}}},
		{"L with an empty fragment", []byte{FlagLength | FlagMore, 0xff, 0xff, 0xff, 0xff}, TLSData{Flags: FlagLength | FlagMore, MessageLength: 0xffffffff, Data: []byte{}}},
		{"reserved bits kept", []byte{0x1f, 9}, TLSData{Flags: 0x1f, Data: []byte{9}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := ParseTLSData(c.in)
			if err != nil || !reflect.DeepEqual(d, c.want) {
				t.Fatalf("%+v %v, want %+v", d, err, c.want)
			}
			if got := d.Append(nil); !bytes.Equal(got, c.in) {
				t.Errorf("re-encoded % x, want % x", got, c.in)
			}
		})
	}
	// Without the L flag MessageLength is not written.
	if got := (TLSData{Flags: FlagMore, MessageLength: 9, Data: []byte{1}}).Append(nil); !bytes.Equal(got, []byte{FlagMore, 1}) {
		t.Errorf("% x", got)
	}
	for name, in := range map[string][]byte{
		"empty":                      nil,
		"L without a length":         {FlagLength},
		"L with 3 octets of length":  {FlagLength, 0, 0, 1},
		"fragment longer than total": {FlagLength, 0, 0, 0, 1, 0x16, 3},
	} {
		if _, err := ParseTLSData(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}
