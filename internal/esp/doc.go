// Package esp is vnetgw's userspace ESP data plane for tunnel mode
// (RFC 4303): security associations that seal and open packets in place,
// with AES-GCM (RFC 4106) or AES-CBC (RFC 3602) with HMAC-SHA1-96 (RFC 2404)
// or HMAC-SHA2 (RFC 4868), 32-bit or extended sequence numbers, the
// anti-replay window of RFC 4303 §3.4.3 kept as an RFC 6479 bitmap,
// lifetimes in bytes and packets, per-SA counters, and a lock-free table
// that finds inbound SAs by SPI.
//
// # Buffers
//
// Seal works in the caller's buffer. The inner IP packet goes at
// buf[Headroom:Headroom+n] and at least Tailroom bytes must follow it. Seal
// writes the ESP header and IV in front of the packet, the padding, trailer
// and ICV behind it, encrypts in place and returns the ESP packet, which
// starts at Headroom-sa.HeaderLen(); the bytes before it (at least OuterRoom)
// are left for the outer IP and UDP headers. Open decrypts in place and
// returns a slice of its input.
//
// # Sending
//
// A sender that keeps packets in order while encrypting them in parallel
// takes sequence numbers in order with NextSeq, seals with SealSeq on any
// number of goroutines, and sends in the order it took the numbers. Seal does
// both steps for callers that need no such pipeline.
//
// # Concurrency
//
// Every SA method is safe for concurrent use, and none takes a lock per
// packet. Sequence numbers are taken with one atomic add; the replay window
// is lock-free (a compare-and-swap on one word of its bitmap, and another on
// its top when the packet is the newest), so the packets of one SA can be
// opened on many goroutines at once; counters are atomic. Neither Seal nor
// Open allocates.
package esp
