package ppp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"go/parser"
	"go/token"
	"net/netip"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Frames as a Windows SSTP client and an EAP-TLS server exchange them.
const (
	// LCP Configure-Request: MRU 1400, Magic-Number, PFC, ACFC.
	lcpConfReq = "ff 03 c0 21 01 01 00 12 01 04 05 78 05 06 1a 2b 3c 4d 07 02 08 02"
	// LCP Configure-Request from the server: Authentication-Protocol EAP.
	lcpConfReqEAP = "ff 03 c0 21 01 07 00 0e 03 04 c2 27 05 06 00 00 00 01"
	// IPCP Configure-Request asking for an address and two DNS servers.
	ipcpConfReq = "ff 03 80 21 01 02 00 16 03 06 00 00 00 00 81 06 00 00 00 00 83 06 00 00 00 00"
	// EAP Response/Identity "alice".
	eapIdentity = "ff 03 c2 27 02 01 00 0a 01 61 6c 69 63 65"
	// EAP-TLS Start.
	eapTLSStart = "ff 03 c2 27 01 02 00 06 0d 20"
	// EAP-TLS Response: first fragment of a 1000-octet message.
	eapTLSFirst = "ff 03 c2 27 02 02 00 10 0d c0 00 00 03 e8 16 03 01 00 2a 01"
	// EAP Success.
	eapSuccess = "ff 03 c2 27 03 05 00 04"
)

func validFrames(t testing.TB) [][]byte {
	var out [][]byte
	for _, s := range []string{lcpConfReq, lcpConfReqEAP, ipcpConfReq, eapIdentity, eapTLSStart, eapTLSFirst, eapSuccess} {
		out = append(out, unhex(t, s))
	}
	return append(out,
		AppendFrame(nil, ProtoIPv4, []byte{0x45, 0, 0, 20}),
		AppendFrame(nil, ProtoLCP, Packet{Code: EchoReq, ID: 3, Data: []byte{0, 0, 0, 1}}.Append(nil)),
		AppendFrame(nil, ProtoEAP, EAP{Code: EAPFailure, ID: 9}.Append(nil)),
		AppendFrame(nil, ProtoEAP, EAP{Code: EAPRequest, ID: 4, Type: TypeTLS, Data: TLSData{Flags: FlagMore, Data: []byte{0x16, 3, 3}}.Append(nil)}.Append(nil)),
	)
}

func TestParseFrame(t *testing.T) {
	cases := []struct {
		name  string
		in    string
		proto uint16
		info  string
	}{
		{"full", "ff 03 c0 21 01 02", ProtoLCP, "01 02"},
		{"address and control compressed (RFC 1661 §6.6)", "80 21 01 02", ProtoIPCP, "01 02"},
		{"protocol compressed (§6.5)", "ff 03 21 45 00", ProtoIPv4, "45 00"},
		{"both compressed", "57 60 00", ProtoIPv6, "60 00"},
		{"two-octet form of a compressible protocol", "00 21 45", ProtoIPv4, "45"},
		{"no information", "ff 03 c2 27", ProtoEAP, ""},
		// RFC 1661 §2: an even low octet is an unrecognized protocol, for
		// the caller to Protocol-Reject.
		{"even low octet", "ff 03 00 20 aa", 0x0020, "aa"},
		{"0xff not followed by 0x03 is a compressed protocol", "ff 05", 0x00ff, "05"},
		{"0xff alone", "ff", 0x00ff, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			proto, info, err := ParseFrame(unhex(t, c.in))
			if err != nil || proto != c.proto || !bytes.Equal(info, unhex(t, c.info)) {
				t.Errorf("%#04x % x %v, want %#04x %s", proto, info, err, c.proto, c.info)
			}
		})
	}
	for _, in := range []string{"", "ff 03", "c0", "ff 03 c0"} {
		if _, _, err := ParseFrame(unhex(t, in)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: %v, want ErrMalformed", in, err)
		}
	}
}

// AppendFrame never compresses (RFC 1661 §6.5, §6.6: never for LCP).
func TestAppendFrame(t *testing.T) {
	got := AppendFrame([]byte{0xaa}, ProtoIPv4, []byte{0x45})
	if want := unhex(t, "aa ff 03 00 21 45"); !bytes.Equal(got, want) {
		t.Errorf("% x, want % x", got, want)
	}
}

func TestLCPConfReq(t *testing.T) {
	proto, info, err := ParseFrame(unhex(t, lcpConfReq))
	if err != nil || proto != ProtoLCP {
		t.Fatal(proto, err)
	}
	p, err := ParsePacket(info)
	if err != nil || p.Code != ConfReq || p.ID != 1 || p.Len() != 18 {
		t.Fatalf("%+v %v", p, err)
	}
	opts, err := ParseOptions(p.Data)
	if err != nil {
		t.Fatal(err)
	}
	want := []Option{{OptMRU, []byte{5, 0x78}}, {OptMagic, []byte{0x1a, 0x2b, 0x3c, 0x4d}}, {OptPFC, []byte{}}, {OptACFC, []byte{}}}
	if !reflect.DeepEqual(opts, want) {
		t.Fatalf("%+v", opts)
	}
	if mru, err := opts[0].Uint16(); err != nil || mru != 1400 {
		t.Errorf("MRU %d %v", mru, err)
	}
	if magic, err := opts[1].Uint32(); err != nil || magic != 0x1a2b3c4d {
		t.Errorf("magic %#x %v", magic, err)
	}
	if !bytes.Equal(AppendOptions(nil, opts), p.Data) || !bytes.Equal(p.Append(nil), info) || !bytes.Equal(AppendFrame(nil, proto, info), unhex(t, lcpConfReq)) {
		t.Error("re-encodes differently")
	}

	_, info, _ = ParseFrame(unhex(t, lcpConfReqEAP))
	p, _ = ParsePacket(info)
	opts, err = ParseOptions(p.Data)
	if err != nil || len(opts) != 2 || opts[0].Type != OptAuthProto {
		t.Fatalf("%+v %v", opts, err)
	}
	if auth, err := opts[0].Uint16(); err != nil || auth != ProtoEAP {
		t.Errorf("auth protocol %#x %v", auth, err)
	}
}

func TestIPCPConfReq(t *testing.T) {
	proto, info, _ := ParseFrame(unhex(t, ipcpConfReq))
	p, err := ParsePacket(info)
	if err != nil || proto != ProtoIPCP || p.Code != ConfReq {
		t.Fatalf("%#x %+v %v", proto, p, err)
	}
	opts, err := ParseOptions(p.Data)
	if err != nil || len(opts) != 3 || opts[0].Type != OptIPAddress || opts[1].Type != OptPrimaryDNS || opts[2].Type != OptSecondaryDNS {
		t.Fatalf("%+v %v", opts, err)
	}
	for _, o := range opts {
		if a, err := o.Addr(); err != nil || a != netip.IPv4Unspecified() {
			t.Errorf("type %d: %v %v", o.Type, a, err)
		}
	}
	// A Configure-Nak with the addresses the server assigns.
	nak := Packet{Code: ConfNak, ID: p.ID, Data: AppendOptions(nil, []Option{
		{OptIPAddress, netip.MustParseAddr("172.16.201.2").AsSlice()},
		{OptPrimaryDNS, netip.MustParseAddr("10.1.0.4").AsSlice()},
	})}
	got := AppendFrame(nil, ProtoIPCP, nak.Append(nil))
	if want := unhex(t, "ff 03 80 21 03 02 00 10 03 06 ac 10 c9 02 81 06 0a 01 00 04"); !bytes.Equal(got, want) {
		t.Errorf("Configure-Nak % x, want % x", got, want)
	}
}

// RFC 1661 §5: octets beyond the Length field are padding.
func TestPacketPadding(t *testing.T) {
	b := Packet{Code: TermReq, ID: 2, Data: []byte("bye")}.Append(nil)
	b = append(b, 0, 0, 0)
	p, err := ParsePacket(b)
	if err != nil || p.Code != TermReq || string(p.Data) != "bye" {
		t.Errorf("%+v %v", p, err)
	}
}

func TestPacketErrors(t *testing.T) {
	for name, in := range map[string]string{
		"empty":            "",
		"three octets":     "01 01 00",
		"length 3":         "05 01 00 03",
		"length 0":         "05 01 00 00",
		"length too large": "05 01 00 06 00",
	} {
		if _, err := ParsePacket(unhex(t, in)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

func TestOptionErrors(t *testing.T) {
	for name, in := range map[string][]byte{
		"a lone octet":       {1},
		"after an option":    {7, 2, 8},
		"length 0":           {1, 0, 5, 0x78},
		"length 1":           {1, 1, 5, 0x78},
		"overrun":            {1, 5, 5, 0x78},
		"overrun after good": {7, 2, 1, 4, 5},
		"too many":           bytes.Repeat([]byte{7, 2}, MaxOptions+1),
	} {
		if _, err := ParseOptions(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
	if opts, err := ParseOptions(bytes.Repeat([]byte{7, 2}, MaxOptions)); err != nil || len(opts) != MaxOptions {
		t.Errorf("%d options: %d, %v", MaxOptions, len(opts), err)
	}
	if opts, err := ParseOptions(nil); err != nil || opts != nil {
		t.Errorf("no options: %v %v", opts, err)
	}
	bad := Option{Type: 9, Value: []byte{1, 2, 3}}
	if _, err := bad.Uint16(); !errors.Is(err, ErrMalformed) {
		t.Errorf("Uint16: %v", err)
	}
	if _, err := bad.Uint32(); !errors.Is(err, ErrMalformed) {
		t.Errorf("Uint32: %v", err)
	}
	if _, err := bad.Addr(); !errors.Is(err, ErrMalformed) {
		t.Errorf("Addr: %v", err)
	}
}

func TestOptionsRoundTrip(t *testing.T) {
	opts := []Option{{OptMRU, []byte{5, 0x78}}, {0xfe, bytes.Repeat([]byte{1}, MaxOptionValue)}, {OptACFC, []byte{}}}
	b := AppendOptions(nil, opts)
	if len(b) != 4+0xff+2 || b[4] != 0xfe || b[5] != 0xff {
		t.Fatalf("% x", b[:8])
	}
	got, err := ParseOptions(b)
	if err != nil || !reflect.DeepEqual(got, opts) {
		t.Errorf("%+v %v", got, err)
	}
}

func TestAppendPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"option": func() { AppendOptions(nil, []Option{{Type: 1, Value: make([]byte, MaxOptionValue+1)}}) },
		"packet": func() { Packet{Data: make([]byte, 0xffff-PacketHeaderLen+1)}.Append(nil) },
		"eap":    func() { EAP{Code: EAPRequest, Data: make([]byte, 0xffff-EAPHeaderLen)}.Append(nil) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		})
	}
	if n := len(Packet{Data: make([]byte, 0xffff-PacketHeaderLen)}.Append(nil)); n != 0xffff {
		t.Errorf("the largest packet: %d octets", n)
	}
}

// Every valid frame cut at every length either fails or parses as a
// shorter frame, never panics; every packet inside cut short fails.
func TestTruncated(t *testing.T) {
	for _, f := range validFrames(t) {
		for n := range len(f) {
			ParseFrame(f[:n])
		}
		proto, info, err := ParseFrame(f)
		if err != nil {
			t.Fatal(err)
		}
		for n := range len(info) {
			var err error
			switch proto {
			case ProtoLCP, ProtoIPCP:
				_, err = ParsePacket(info[:n])
			case ProtoEAP:
				_, err = ParseEAP(info[:n])
			default:
				continue
			}
			if err == nil {
				t.Errorf("% x cut to %d octets: no error", info, n)
			}
		}
	}
}

// TestStandardLibraryOnly enforces that the codec, like every package under
// internal/wire, imports nothing but the standard library, and that its
// doc names the RFCs.
func TestStandardLibraryOnly(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if first, _, _ := strings.Cut(path, "/"); strings.Contains(first, ".") {
				t.Errorf("%s imports %s, outside the standard library", name, path)
			}
		}
		if name == "ppp.go" {
			for _, rfc := range []string{"RFC 1661", "RFC 1332", "RFC 3748", "RFC 5216"} {
				if f.Doc == nil || !strings.Contains(f.Doc.Text(), rfc) {
					t.Errorf("the package doc does not name %s", rfc)
				}
			}
		}
	}
}

// TestCHAP: a Challenge's and a Response's Data (RFC 1994 §4.1) and an
// MS-CHAP-V2 Response's Value (RFC 2759 §4) round-trip; a Value-Size past
// the end and a response of the wrong length are malformed.
func TestCHAP(t *testing.T) {
	r := MSCHAPv2Response{PeerChallenge: [16]byte{0x21, 0x40}, NTResponse: [24]byte{0x82, 0x30}, Flags: 0}
	data := CHAPValue{Value: r.Append(nil), Name: []byte("User")}.Append(nil)
	if data[0] != MSCHAPv2ResponseLen || len(data) != 1+49+4 {
		t.Fatalf("response data % x", data)
	}
	v, err := ParseCHAPValue(data)
	if err != nil || string(v.Name) != "User" {
		t.Fatalf("%+v, %v", v, err)
	}
	got, err := ParseMSCHAPv2Response(v.Value)
	if err != nil || got != r {
		t.Fatalf("%+v, %v", got, err)
	}
	for name, bad := range map[string][]byte{"empty": nil, "size zero": {0}, "size past the end": {17, 1, 2, 3}} {
		if _, err := ParseCHAPValue(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := ParseMSCHAPv2Response(make([]byte, 48)); !errors.Is(err, ErrMalformed) {
		t.Errorf("48 octets: %v", err)
	}
}
