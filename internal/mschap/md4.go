package mschap

import (
	"encoding/binary"
	"math/bits"
)

// md4 is the MD4 digest of b (RFC 1320), which MS-CHAP's password hash is
// made of (RFC 2759 §8.3). It is here, not imported, because MD4 is broken
// and Go's only MD4 package is deprecated; nothing else uses it.
func md4(b []byte) [16]byte {
	// RFC 1320 §3.1, §3.2: pad with a 1 bit, zeros to 56 mod 64, then the
	// length in bits, little endian.
	msg := append(append([]byte(nil), b...), 0x80)
	for len(msg)%64 != 56 {
		msg = append(msg, 0)
	}
	msg = binary.LittleEndian.AppendUint64(msg, uint64(len(b))*8)

	// §3.3: the initial buffer.
	a, bb, c, d := uint32(0x67452301), uint32(0xefcdab89), uint32(0x98badcfe), uint32(0x10325476)
	f := func(x, y, z uint32) uint32 { return x&y | ^x&z }
	g := func(x, y, z uint32) uint32 { return x&y | x&z | y&z }
	h := func(x, y, z uint32) uint32 { return x ^ y ^ z }
	var x [16]uint32
	for len(msg) > 0 {
		for i := range x {
			x[i] = binary.LittleEndian.Uint32(msg[4*i:])
		}
		msg = msg[64:]
		aa, bbb, cc, dd := a, bb, c, d
		// §3.4: three rounds of sixteen operations.
		r1 := [4]int{3, 7, 11, 19}
		for i := range 16 {
			k, s := i, r1[i%4]
			switch i % 4 {
			case 0:
				a = bits.RotateLeft32(a+f(bb, c, d)+x[k], s)
			case 1:
				d = bits.RotateLeft32(d+f(a, bb, c)+x[k], s)
			case 2:
				c = bits.RotateLeft32(c+f(d, a, bb)+x[k], s)
			case 3:
				bb = bits.RotateLeft32(bb+f(c, d, a)+x[k], s)
			}
		}
		r2 := [4]int{3, 5, 9, 13}
		for i := range 16 {
			k, s := i/4+4*(i%4), r2[i%4]
			const k2 = 0x5a827999
			switch i % 4 {
			case 0:
				a = bits.RotateLeft32(a+g(bb, c, d)+x[k]+k2, s)
			case 1:
				d = bits.RotateLeft32(d+g(a, bb, c)+x[k]+k2, s)
			case 2:
				c = bits.RotateLeft32(c+g(d, a, bb)+x[k]+k2, s)
			case 3:
				bb = bits.RotateLeft32(bb+g(c, d, a)+x[k]+k2, s)
			}
		}
		r3 := [4]int{3, 9, 11, 15}
		order := [16]int{0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15}
		for i := range 16 {
			k, s := order[i], r3[i%4]
			const k3 = 0x6ed9eba1
			switch i % 4 {
			case 0:
				a = bits.RotateLeft32(a+h(bb, c, d)+x[k]+k3, s)
			case 1:
				d = bits.RotateLeft32(d+h(a, bb, c)+x[k]+k3, s)
			case 2:
				c = bits.RotateLeft32(c+h(d, a, bb)+x[k]+k3, s)
			case 3:
				bb = bits.RotateLeft32(bb+h(c, d, a)+x[k]+k3, s)
			}
		}
		a, bb, c, d = a+aa, bb+bbb, c+cc, d+dd
	}
	var out [16]byte
	binary.LittleEndian.PutUint32(out[0:], a)
	binary.LittleEndian.PutUint32(out[4:], bb)
	binary.LittleEndian.PutUint32(out[8:], c)
	binary.LittleEndian.PutUint32(out[12:], d)
	return out
}
