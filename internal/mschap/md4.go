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

	// §3.3: the initial buffer A, B, C, D.
	st := [4]uint32{0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476}
	// §3.4: three rounds of sixteen operations, each with its function,
	// constant, shifts and order of the block's words.
	fns := [3]func(x, y, z uint32) uint32{
		func(x, y, z uint32) uint32 { return x&y | ^x&z },
		func(x, y, z uint32) uint32 { return x&y | x&z | y&z },
		func(x, y, z uint32) uint32 { return x ^ y ^ z },
	}
	consts := [3]uint32{0, 0x5a827999, 0x6ed9eba1}
	shifts := [3][4]int{{3, 7, 11, 19}, {3, 5, 9, 13}, {3, 9, 11, 15}}
	order := [3][16]int{
		{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
		{0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15},
		{0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15},
	}
	var x [16]uint32
	for len(msg) > 0 {
		for i := range x {
			x[i] = binary.LittleEndian.Uint32(msg[4*i:])
		}
		msg = msg[64:]
		saved := st
		for r := range 3 {
			for i := range 16 {
				// The operations update A, D, C, B in turn, each from
				// the next three in that circle ([abcd k s], [dabc k s], ...).
				t := (4 - i%4) % 4
				v := fns[r](st[(t+1)%4], st[(t+2)%4], st[(t+3)%4])
				st[t] = bits.RotateLeft32(st[t]+v+x[order[r][i]]+consts[r], shifts[r][i%4])
			}
		}
		for i := range st {
			st[i] += saved[i]
		}
	}
	var out [16]byte
	for i, w := range st {
		binary.LittleEndian.PutUint32(out[4*i:], w)
	}
	return out
}
