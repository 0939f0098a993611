package ikev2

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzParseMessage checks that ParseMessage never panics and that whatever
// it accepts encodes back to the same bytes.
func FuzzParseMessage(f *testing.F) {
	for _, msg := range validMessages(f) {
		f.Add(msg)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseMessage(data)
		if err != nil {
			return
		}
		if m.Len() != len(data) {
			t.Errorf("Len() = %d for %d octets", m.Len(), len(data))
		}
		b, err := m.Append(nil)
		if err != nil {
			t.Fatalf("re-encoding a parsed message: %v", err)
		}
		if !bytes.Equal(b, data) {
			t.Fatalf("re-encoded\n%x\nparsed\n%x", b, data)
		}
	})
}

// FuzzParsePayloads does the same for payload chains, such as the
// decrypted content of an SK payload; the first octet of the input is the
// type of the first payload.
func FuzzParsePayloads(f *testing.F) {
	for _, tc := range strongSwanInner {
		f.Add(append([]byte{byte(tc.first)}, fixture(f, tc.name)...))
	}
	msg, err := everyPayload().Append(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(append([]byte{byte(PayloadSA)}, msg[HeaderLen:]...))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		ps, err := ParsePayloads(PayloadType(data[0]), data[1:])
		if err != nil {
			var ce *UnsupportedCriticalPayloadError
			if !errors.Is(err, ErrMalformed) && !errors.As(err, &ce) {
				t.Fatalf("error %v is neither malformed nor an unsupported critical payload", err)
			}
			return
		}
		if len(ps) > 0 && ps[0].Type() != PayloadType(data[0]) {
			t.Fatalf("first payload %v, chain started with %v", ps[0].Type(), PayloadType(data[0]))
		}
		b, err := AppendPayloads(nil, ps)
		if err != nil {
			t.Fatalf("re-encoding parsed payloads: %v", err)
		}
		if !bytes.Equal(b, data[1:]) {
			t.Fatalf("re-encoded\n%x\nparsed\n%x", b, data[1:])
		}
	})
}

// FuzzReassembler feeds a Reassembler fragments described by the input,
// four octets each (message ID, number, total, content length), and checks
// its bounds and that a completed message has every fragment in order.
func FuzzReassembler(f *testing.F) {
	f.Add([]byte{0, 1, 3, 5, 0, 2, 3, 7, 0, 3, 3, 1})
	f.Add([]byte{0, 1, 2, 9, 0, 1, 3, 4, 1, 3, 3, 200, 1, 1, 3, 0, 0, 2, 3, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := Reassembler{MaxFragments: 16, MaxBytes: 1024}
		content := make([]byte, 256)
		for ; len(data) >= 4; data = data[4:] {
			id, number, total, n := uint32(data[0]&3), uint16(data[1]&31), uint16(data[2]&31), int(data[3])
			for i := range content[:n] {
				content[i] = byte(number)
			}
			done, err := r.Add(id, &EncryptedFragment{Number: number, Total: total}, content[:n])
			if len(r.buf) > r.MaxBytes || len(r.spans) > r.MaxFragments {
				t.Fatalf("holding %d octets in %d slots", len(r.buf), len(r.spans))
			}
			if err != nil || !done {
				continue
			}
			want := r.total
			_, inner, err := r.Reassemble(nil)
			if err != nil {
				t.Fatalf("Reassemble after done: %v", err)
			}
			// Fragment contents are runs of their number: check the
			// runs come in order 1..total.
			prev := byte(0)
			for _, c := range inner {
				if c < prev || int(c) > want {
					t.Fatalf("reassembled %x out of order for %d fragments", inner, want)
				}
				prev = c
			}
		}
	})
}

func BenchmarkParseMessage(b *testing.B) {
	msg := fixture(b, "ike_sa_init_request")
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := ParseMessage(msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParsePayloads(b *testing.B) {
	inner := fixture(b, "ike_auth_request_inner")
	b.ReportAllocs()
	b.SetBytes(int64(len(inner)))
	for b.Loop() {
		if _, err := ParsePayloads(PayloadIDi, inner); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendMessage(b *testing.B) {
	m, err := ParseMessage(fixture(b, "ike_sa_init_request"))
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 1500)
	b.ReportAllocs()
	b.SetBytes(int64(m.Len()))
	for b.Loop() {
		if _, err := m.Append(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendEncryptedHeader measures the header an encrypting sender
// writes per message.
func BenchmarkAppendEncryptedHeader(b *testing.B) {
	h := Header{SPIi: 1, SPIr: 2, MajorVersion: 2, Exchange: Informational, Flags: FlagInitiator}
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	b.SetBytes(HeaderLen + GenericHeaderLen)
	for b.Loop() {
		if _, err := AppendEncryptedHeader(buf[:0], h, PayloadNone, 25); err != nil {
			b.Fatal(err)
		}
	}
}
