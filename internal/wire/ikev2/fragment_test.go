package ikev2

import (
	"bytes"
	"slices"
	"testing"
)

// frag builds fragment number of total, with the first inner payload type
// in fragment 1.
func frag(number, total uint16) *EncryptedFragment {
	f := &EncryptedFragment{Number: number, Total: total}
	if number == 1 {
		f.NextPayload = PayloadIDi
	}
	return f
}

// TestReassembler covers the receiver rules of RFC 7383 section 2.6.
func TestReassembler(t *testing.T) {
	type add struct {
		id            uint32
		number, total uint16
		content       string
		done, err     bool
	}
	tests := []struct {
		name string
		adds []add
		want string // reassembled content, "" if incomplete
	}{
		{"2.6 in order", []add{
			{7, 1, 3, "aa", false, false}, {7, 2, 3, "bb", false, false}, {7, 3, 3, "cc", true, false},
		}, "aabbcc"},
		{"2.6 out of order, duplicates ignored", []add{
			{7, 3, 3, "cc", false, false}, {7, 3, 3, "cc", false, false}, {7, 1, 3, "aa", false, false},
			{7, 2, 3, "bb", true, false}, {7, 2, 3, "bb", true, false},
		}, "aabbcc"},
		{"2.6 a larger total restarts reassembly", []add{
			{7, 1, 2, "aaaa", false, false}, {7, 1, 3, "aa", false, false}, {7, 2, 3, "bb", false, false},
			{7, 3, 3, "cc", true, false},
		}, "aabbcc"},
		{"2.6 a smaller total is stale", []add{
			{7, 1, 3, "aa", false, false}, {7, 2, 2, "bbcc", false, true}, {7, 2, 3, "bb", false, false},
			{7, 3, 3, "cc", true, false},
		}, "aabbcc"},
		{"another message ID restarts reassembly", []add{
			{7, 1, 2, "xx", false, false}, {8, 2, 2, "bb", false, false}, {8, 1, 2, "aa", true, false},
		}, "aabb"},
		{"2.5 fragment number beyond total", []add{{7, 3, 2, "aa", false, true}}, ""},
		{"2.5 fragment number zero", []add{{7, 0, 2, "aa", false, true}}, ""},
		{"single fragment", []add{{7, 1, 1, "aa", true, false}}, "aa"},
		{"incomplete", []add{{7, 1, 2, "aa", false, false}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r Reassembler
			for i, a := range tc.adds {
				done, err := r.Add(a.id, frag(a.number, a.total), []byte(a.content))
				if done != a.done || (err != nil) != a.err {
					t.Fatalf("add %d (%d of %d): %v, %v; want %v, error %v", i, a.number, a.total, done, err, a.done, a.err)
				}
			}
			first, got, err := r.Reassemble([]byte("p:"))
			if tc.want == "" {
				if err == nil {
					t.Fatalf("Reassemble = %q, want an error", got)
				}
				return
			}
			if err != nil || first != PayloadIDi || string(got) != "p:"+tc.want {
				t.Fatalf("Reassemble = %v, %q, %v; want IDi, %q", first, got, err, "p:"+tc.want)
			}
			if _, _, err := r.Reassemble(nil); err == nil {
				t.Error("Reassemble after Reassemble succeeded; want the state reset")
			}
		})
	}
}

func TestReassemblerLimits(t *testing.T) {
	r := Reassembler{MaxFragments: 4, MaxBytes: 10}
	if _, err := r.Add(1, frag(1, 5), nil); err == nil {
		t.Error("5 fragments accepted with MaxFragments 4")
	}
	if _, err := r.Add(1, frag(1, 4), make([]byte, 6)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Add(1, frag(2, 4), make([]byte, 5)); err == nil {
		t.Error("11 octets accepted with MaxBytes 10")
	}
	// The overflow discarded everything: fragment 1 must come again.
	for _, n := range []uint16{2, 3, 4} {
		if done, err := r.Add(1, frag(n, 4), []byte{byte(n)}); done || err != nil {
			t.Fatalf("fragment %d: %v, %v", n, done, err)
		}
	}
	var d Reassembler
	if _, err := d.Add(1, frag(1, DefaultMaxFragments+1), nil); err == nil {
		t.Errorf("%d fragments accepted by default", DefaultMaxFragments+1)
	}
	if _, err := d.Add(1, frag(1, 2), make([]byte, DefaultMaxBytes+1)); err == nil {
		t.Errorf("%d octets accepted by default", DefaultMaxBytes+1)
	}
}

// TestReassemblerReuse checks that a Reassembler holds no content across
// messages and keeps reusing its buffers.
func TestReassemblerReuse(t *testing.T) {
	var r Reassembler
	content := bytes.Repeat([]byte{0x5a}, 100)
	for id := range uint32(3) {
		for n := uint16(1); n <= 4; n++ {
			if _, err := r.Add(id, frag(n, 4), content); err != nil {
				t.Fatal(err)
			}
		}
		buf := r.buf[:cap(r.buf)]
		if _, _, err := r.Reassemble(nil); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf[:400], make([]byte, 400)) {
			t.Fatal("content left in the buffer after Reassemble")
		}
	}
	allocs := testing.AllocsPerRun(100, func() {
		for n := uint16(1); n <= 4; n++ {
			if _, err := r.Add(9, frag(n, 4), content); err != nil {
				t.Fatal(err)
			}
		}
		r.Reset()
	})
	if allocs > 4 { // the four frag values
		t.Errorf("%.0f allocations per message, want the buffers reused", allocs)
	}
}

// TestReassemblerLetsLargeBuffersGo checks that a Reassembler does not
// keep the buffers of a large message once it is reassembled or reset:
// an IKE SA lives for hours, and a gateway holds many (one per
// point-to-site client), each of which would otherwise hold the memory
// of its largest fragmented message (up to MaxBytes) for its life.
func TestReassemblerLetsLargeBuffersGo(t *testing.T) {
	const total = DefaultMaxFragments
	content := bytes.Repeat([]byte{0x5a}, DefaultMaxBytes/total)
	for _, end := range []string{"Reassemble", "Reset"} {
		var r Reassembler
		for n := uint16(1); n <= total; n++ {
			if _, err := r.Add(1, frag(n, total), content); err != nil {
				t.Fatal(err)
			}
		}
		if end == "Reassemble" {
			if _, _, err := r.Reassemble(nil); err != nil {
				t.Fatal(err)
			}
		} else {
			r.Reset()
		}
		// What a small message needs (TestReassemblerReuse) may stay.
		if cap(r.buf) > 4<<10 || cap(r.spans) > 16 {
			t.Errorf("after %s of a %d-octet message in %d fragments, buffers of %d octets and %d fragments kept", end, DefaultMaxBytes, total, cap(r.buf), cap(r.spans))
		}
	}
}

// TestSplitFragments covers the sender side of RFC 7383 section 2.5.
func TestSplitFragments(t *testing.T) {
	inner := []byte("abcdefghij")
	tests := []struct {
		size int
		want []string
	}{
		{3, []string{"abc", "def", "ghi", "j"}},
		{5, []string{"abcde", "fghij"}},
		{10, []string{"abcdefghij"}},
		{100, []string{"abcdefghij"}},
	}
	for _, tc := range tests {
		chunks, err := SplitFragments(inner, tc.size)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range chunks {
			got = append(got, string(c))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("size %d: %q, want %q", tc.size, got, tc.want)
		}
	}
	if chunks, err := SplitFragments(nil, 4); err != nil || len(chunks) != 1 || len(chunks[0]) != 0 {
		t.Errorf("empty chain: %q, %v; want one empty chunk", chunks, err)
	}
	if _, err := SplitFragments(inner, 0); err == nil {
		t.Error("size 0 accepted")
	}
	if _, err := SplitFragments(make([]byte, 0x10000), 1); err == nil {
		t.Error("65536 fragments accepted")
	}
}
