package sstp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"go/parser"
	"go/token"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The exchanges of [MS-SSTP] §4.7: a Call Connect Request, and a Call
// Connect Acknowledge and Call Connected with SHA256 and with SHA1.
const (
	specConnectRequest = "10 01 00 0E 00 01 00 01 00 01 00 06 00 01"
	specAckSHA256      = `10 01 00 30 00 02 00 01 00 04 00 28 00 00 00 02
		41 2B 48 9A EB D7 EC C7 D0 89 66 F2 6B E7 CD 72 B2 31 A0 E9 21 0D 7C 91 B3 08 86 2B 03 44 C4 35`
	specConnectedSHA256 = `10 01 00 70 00 04 00 01 00 03 00 68 00 00 00 02
		41 2B 48 9A EB D7 EC C7 D0 89 66 F2 6B E7 CD 72 B2 31 A0 E9 21 0D 7C 91 B3 08 86 2B 03 44 C4 35
		79 93 EF 31 4C 49 3D AC E9 F0 2D 60 E7 E6 1C 84 B6 69 0A AF E9 D7 AE EA 92 CB BE 8A D5 99 42 2D
		52 A6 8E FD 8C FF BF 52 77 0B 8F 0F E8 EC 73 71 65 83 AF 6D 61 1E B6 D1 79 B3 B2 08 40 98 54 49`
	specHLAKSHA256 = `2A 1B B4 0D 55 AB 0F 5E F3 2F 06 F2 B3 CC 73 C4 8F D3 FA C4 1D 7A 13 15 A1 92 28 D9 02 4C A1 64`
	specAckSHA1    = `10 01 00 30 00 02 00 01 00 04 00 28 00 00 00 01
		0F 1A 2D 58 D4 A3 E3 00 0F AD 3C E4 90 6E 07 B7 07 AA 9E 44 1C CE AC 5C BD 7B 2C C1 C9 D8 6C DF`
	specConnectedSHA1 = `10 01 00 70 00 04 00 01 00 03 00 68 00 00 00 01
		0F 1A 2D 58 D4 A3 E3 00 0F AD 3C E4 90 6E 07 B7 07 AA 9E 44 1C CE AC 5C BD 7B 2C C1 C9 D8 6C DF
		58 26 B6 29 BD A5 9B 8E 6F D8 DC D2 62 2F D3 4C 53 48 05 A5 00 00 00 00 00 00 00 00 00 00 00 00
		69 91 5D D5 83 D8 06 2F EF 16 F6 1D B2 F0 32 90 EC 27 CB 6C 00 00 00 00 00 00 00 00 00 00 00 00`
	specHLAKSHA1 = `4B 31 28 F4 39 25 D9 00 6E EF B1 C4 E8 65 15 A1 D8 8E 56 BA B3 CA 2B DF 03 73 B7 F5 A8 A1 3B 19`
)

// validPackets are well-formed packets of every kind this package knows.
func validPackets(t testing.TB) [][]byte {
	out := [][]byte{
		unhex(t, specConnectRequest), unhex(t, specAckSHA256), unhex(t, specConnectedSHA256),
		unhex(t, specAckSHA1), unhex(t, specConnectedSHA1),
		AppendData(nil, []byte{0xff, 0x03, 0xc0, 0x21, 1, 1, 0, 4}),
		AppendData(nil, nil),
		AppendControl(nil, Control{Type: MsgEchoRequest}),
		AppendControl(nil, Control{Type: MsgCallDisconnect, Attrs: []Attr{{AttribStatusInfo, StatusInfo{}.Append(nil)}}}),
		AppendControl(nil, Control{Type: MsgCallConnectNak, Attrs: []Attr{
			{AttribStatusInfo, StatusInfo{AttribID: AttribEncapsulatedProtocolID, Status: StatusValueNotSupported, Value: []byte{0, 2}}.Append(nil)},
			{AttribStatusInfo, StatusInfo{AttribID: 9, Status: StatusUnrecognizedAttribute}.Append(nil)},
		}}),
		AppendControl(nil, Control{Type: MsgCallAbort, Attrs: []Attr{{AttribStatusInfo, StatusInfo{Status: StatusNegotiationTimeout}.Append(nil)}}}),
	}
	return out
}

// [MS-SSTP] §4.7: the example packets parse into what the section says
// they hold, and re-encode to the same bytes.
func TestSpecExamples(t *testing.T) {
	var buf [MaxPacket]byte
	read := func(s string) Control {
		t.Helper()
		pkt := unhex(t, s)
		control, body, err := ReadPacket(bytes.NewReader(pkt), &buf)
		if err != nil || !control {
			t.Fatalf("ReadPacket: control %v, %v", control, err)
		}
		c, err := ParseControl(body)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendControl(nil, c); !bytes.Equal(got, pkt) {
			t.Errorf("re-encoded\n% x\nwant\n% x", got, pkt)
		}
		if c.Len() != len(pkt) {
			t.Errorf("Len() = %d for %d bytes", c.Len(), len(pkt))
		}
		return c
	}

	c := read(specConnectRequest)
	a, ok := c.Find(AttribEncapsulatedProtocolID)
	if c.Type != MsgCallConnectRequest || len(c.Attrs) != 1 || !ok {
		t.Fatalf("Call Connect Request: %+v", c)
	}
	if p, err := EncapsulatedProtocol(a.Value); err != nil || p != ProtocolPPP {
		t.Errorf("encapsulated protocol %d, %v", p, err)
	}

	for _, tc := range []struct {
		name            string
		ack, connected  string
		hash            uint8
		certHash, nonce string
	}{
		{"SHA256", specAckSHA256, specConnectedSHA256, HashSHA256,
			"7993EF314C493DACE9F02D60E7E61C84B6690AAFE9D7AEEA92CBBE8AD599422D", "412B489AEBD7ECC7D08966F26BE7CD72B231A0E9210D7C91B308862B0344C435"},
		{"SHA1", specAckSHA1, specConnectedSHA1, HashSHA1,
			"5826B629BDA59B8E6FD8DCD2622FD34C534805A5", "0F1A2D58D4A3E3000FAD3CE4906E07B707AA9E441CCEAC5CBD7B2CC1C9D86CDF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ack := read(tc.ack)
			a, ok := ack.Find(AttribCryptoBindingReq)
			if ack.Type != MsgCallConnectAck || !ok {
				t.Fatalf("ack %+v", ack)
			}
			req, err := ParseCryptoBindingReq(a.Value)
			if err != nil || req.HashBitmask != tc.hash || hex.EncodeToString(req.Nonce[:]) != strings.ToLower(tc.nonce) {
				t.Fatalf("request %+v, %v", req, err)
			}
			if !bytes.Equal(req.Append(nil), a.Value) {
				t.Error("the Crypto Binding Request re-encodes differently")
			}

			conn := read(tc.connected)
			a, ok = conn.Find(AttribCryptoBinding)
			if conn.Type != MsgCallConnected || !ok {
				t.Fatalf("connected %+v", conn)
			}
			cb, err := ParseCryptoBinding(a.Value)
			if err != nil || cb.HashProtocol != tc.hash || cb.Nonce != req.Nonce {
				t.Fatalf("binding %+v, %v", cb, err)
			}
			if got := hex.EncodeToString(cb.CertHash[:cb.HashLen()]); got != strings.ToLower(tc.certHash) {
				t.Errorf("cert hash %s, want %s", got, tc.certHash)
			}
			if !bytes.Equal(cb.Append(nil), a.Value) {
				t.Error("the Crypto Binding re-encodes differently")
			}
		})
	}
}

func TestReadPacket(t *testing.T) {
	// Two packets back to back: each call reads exactly one.
	stream := AppendData(nil, []byte("ppp frame"))
	stream = AppendControl(stream, Control{Type: MsgEchoResponse})
	r := bytes.NewReader(stream)
	var buf [MaxPacket]byte
	control, body, err := ReadPacket(r, &buf)
	if err != nil || control || string(body) != "ppp frame" {
		t.Fatalf("first: %v %q %v", control, body, err)
	}
	control, body, err = ReadPacket(r, &buf)
	if err != nil || !control || !bytes.Equal(body, []byte{0, 9, 0, 0}) {
		t.Fatalf("second: %v % x %v", control, body, err)
	}
	if _, _, err := ReadPacket(r, &buf); err != io.EOF {
		t.Fatalf("at the end: %v, want io.EOF", err)
	}

	// One byte at a time, as TLS may hand it over.
	control, body, err = ReadPacket(iotest.OneByteReader(bytes.NewReader(AppendData(nil, []byte("x")))), &buf)
	if err != nil || control || string(body) != "x" {
		t.Errorf("one byte at a time: %v %q %v", control, body, err)
	}

	// The largest packet.
	big := bytes.Repeat([]byte{0xa5}, MaxData)
	pkt := AppendData(nil, big)
	if len(pkt) != MaxPacket || pkt[2] != 0x0f || pkt[3] != 0xff {
		t.Fatalf("largest packet: %d bytes, length field % x", len(pkt), pkt[2:4])
	}
	if _, body, err := ReadPacket(bytes.NewReader(pkt), &buf); err != nil || !bytes.Equal(body, big) {
		t.Errorf("largest packet: %d bytes, %v", len(body), err)
	}
}

// §2.2.1: the reserved bits MUST be ignored on receipt and sent as zero.
func TestReservedBitsIgnored(t *testing.T) {
	pkt := unhex(t, specConnectRequest)
	pkt[1] |= 0xfe   // Reserved (7 bits)
	pkt[2] |= 0xf0   // R of the packet
	pkt[6+4] |= 0xf0 // R of the attribute
	pkt[8] = 0xff    // the attribute's Reserved byte
	var buf [MaxPacket]byte
	control, body, err := ReadPacket(bytes.NewReader(pkt), &buf)
	if err != nil || !control {
		t.Fatalf("%v %v", control, err)
	}
	c, err := ParseControl(body)
	if err != nil || c.Type != MsgCallConnectRequest || len(c.Attrs) != 1 || c.Attrs[0].ID != AttribEncapsulatedProtocolID {
		t.Fatalf("%+v %v", c, err)
	}
	if got, want := AppendControl(nil, c), unhex(t, specConnectRequest); !bytes.Equal(got, want) {
		t.Errorf("re-encoded % x, want % x", got, want)
	}
}

func TestReadPacketErrors(t *testing.T) {
	good := AppendData(nil, []byte{1, 2, 3, 4})
	mod := func(f func([]byte)) []byte { b := bytes.Clone(good); f(b); return b }
	cases := []struct {
		name   string
		in     []byte
		io     error // an I/O error, or
		status uint32
	}{
		{"nothing", nil, io.EOF, 0},
		{"half a header", good[:2], io.ErrUnexpectedEOF, 0},
		{"header only", good[:4], io.ErrUnexpectedEOF, 0},
		{"body cut short", good[:6], io.ErrUnexpectedEOF, 0},
		{"version 1.1", mod(func(b []byte) { b[0] = 0x11 }), nil, StatusInvalidFrameReceived},
		{"version 2.0", mod(func(b []byte) { b[0] = 0x20 }), nil, StatusInvalidFrameReceived},
		{"length 0", mod(func(b []byte) { b[2], b[3] = 0, 0 }), nil, StatusInvalidFrameReceived},
		{"length 3", mod(func(b []byte) { b[2], b[3] = 0xf0, 3 }), nil, StatusInvalidFrameReceived},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf [MaxPacket]byte
			_, _, err := ReadPacket(bytes.NewReader(c.in), &buf)
			if c.io != nil {
				if err != c.io {
					t.Errorf("%v, want %v", err, c.io)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Status != c.status || e.AttribID != AttribNoError {
				t.Errorf("%v, want status %d", err, c.status)
			}
		})
	}
}

// Every valid packet cut at every length is an error, never a panic.
func TestTruncated(t *testing.T) {
	var buf [MaxPacket]byte
	for _, pkt := range validPackets(t) {
		for n := range len(pkt) {
			if _, _, err := ReadPacket(bytes.NewReader(pkt[:n]), &buf); err == nil {
				t.Errorf("% x cut to %d bytes: no error", pkt, n)
			}
		}
		if len(pkt) > 8 && pkt[1]&controlBit != 0 {
			for n := range len(pkt) - HeaderLen {
				if _, err := ParseControl(pkt[HeaderLen : HeaderLen+n]); err == nil {
					t.Errorf("control body of % x cut to %d bytes: no error", pkt, n)
				}
			}
		}
	}
}

func TestParseControlErrors(t *testing.T) {
	good := AppendControl(nil, Control{Type: MsgCallConnectNak, Attrs: []Attr{
		{AttribStatusInfo, StatusInfo{AttribID: 1, Status: StatusValueNotSupported, Value: []byte{0, 2}}.Append(nil)},
		{AttribStatusInfo, StatusInfo{AttribID: 9, Status: StatusUnrecognizedAttribute}.Append(nil)},
	}})[HeaderLen:]
	// good: type (2), count (2), attribute of 14 bytes at 4, of 12 at 18.
	mod := func(f func([]byte) []byte) []byte { return f(bytes.Clone(good)) }
	cases := []struct {
		name   string
		body   []byte
		attr   uint8
		status uint32
	}{
		{"empty", nil, AttribNoError, StatusInvalidFrameReceived},
		{"three bytes", good[:3], AttribNoError, StatusInvalidFrameReceived},
		{"too many attributes", mod(func(b []byte) []byte { b[2], b[3] = 0, MaxAttrs+1; return b }), AttribNoError, StatusInvalidFrameReceived},
		{"count beyond the bytes", mod(func(b []byte) []byte { b[3] = 9; return b }), AttribNoError, StatusInvalidFrameReceived},
		{"second header cut short", mod(func(b []byte) []byte { b[4+3] = 14 + 10; return b[:4+14+12-2] }), AttribNoError, StatusInvalidFrameReceived},
		{"attribute length 3", mod(func(b []byte) []byte { b[4+3] = 3; return b }), AttribStatusInfo, StatusInvalidAttribValueLength},
		{"attribute length 0", mod(func(b []byte) []byte { b[4+2], b[4+3] = 0xf0, 0; return b }), AttribStatusInfo, StatusInvalidAttribValueLength},
		{"attribute overruns", mod(func(b []byte) []byte { b[18+3] = 13; return b }), AttribStatusInfo, StatusInvalidAttribValueLength},
		{"bytes after the attributes", mod(func(b []byte) []byte { return append(b, 0) }), AttribNoError, StatusInvalidFrameReceived},
		{"fewer attributes than sent", mod(func(b []byte) []byte { b[3] = 1; return b }), AttribNoError, StatusInvalidFrameReceived},
	}
	if _, err := ParseControl(good); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseControl(c.body)
			var e *Error
			if !errors.As(err, &e) || e.Status != c.status || e.AttribID != c.attr {
				t.Errorf("%v, want attribute %d status %d", err, c.attr, c.status)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "sstp: ") {
				t.Errorf("error text %q", err)
			}
		})
	}
}

// Attributes of IDs the spec does not define are kept, for the caller to
// answer with StatusUnrecognizedAttribute (§2.2.8).
func TestUnknownAttribute(t *testing.T) {
	pkt := AppendControl(nil, Control{Type: 0x77, Attrs: []Attr{{ID: 0x42, Value: []byte("hi")}, {ID: AttribStatusInfo}}})
	c, err := ParseControl(pkt[HeaderLen:])
	if err != nil || c.Type != 0x77 || len(c.Attrs) != 2 || c.Attrs[0].ID != 0x42 || string(c.Attrs[0].Value) != "hi" || len(c.Attrs[1].Value) != 0 {
		t.Fatalf("%+v %v", c, err)
	}
	if _, ok := c.Find(AttribCryptoBinding); ok {
		t.Error("Find found an absent attribute")
	}
}

func TestAppendPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"data": func() { AppendData(nil, make([]byte, MaxData+1)) },
		"control": func() {
			AppendControl(nil, Control{Attrs: []Attr{{ID: 1, Value: make([]byte, MaxData-ControlHeaderLen-AttrHeaderLen+1)}}})
		},
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
	// The largest control packet still fits.
	pkt := AppendControl(nil, Control{Attrs: []Attr{{ID: 1, Value: make([]byte, MaxData-ControlHeaderLen-AttrHeaderLen)}}})
	if len(pkt) != MaxPacket {
		t.Errorf("largest control packet of %d bytes", len(pkt))
	}
}

// TestStandardLibraryOnly enforces that the codec, like every package under
// internal/wire, imports nothing but the standard library.
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
		if name == "sstp.go" && (f.Doc == nil || !strings.Contains(f.Doc.Text(), "[MS-SSTP]")) {
			t.Errorf("%s: the package doc does not name [MS-SSTP]", name)
		}
	}
}
