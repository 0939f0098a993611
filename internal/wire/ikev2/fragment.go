package ikev2

import (
	"cmp"
	"errors"
	"fmt"
)

// Default bounds of a Reassembler.
const (
	// DefaultMaxFragments bounds Total Fragments: 128 fragments sized
	// for the IPv4 minimum MTU of 576 octets carry about 60 KiB.
	DefaultMaxFragments = 128
	// DefaultMaxBytes bounds the reassembled plaintext.
	DefaultMaxBytes = 64 << 10
)

// A Reassembler keeps buffers of up to keepBytes of content and
// keepFragments fragments for the next message, and lets larger ones go
// once their message is reassembled or discarded: an IKE SA holding one
// lives for hours, and a gateway holds many.
const (
	keepBytes     = 4 << 10
	keepFragments = 16
)

// Reassembler collects the decrypted contents of the SKF payloads of one
// fragmented message (RFC 7383 section 2.6) until all are present. It has
// no timers: the state machine decides when to give up and calls Reset. The
// zero value is ready to use; it holds at most MaxBytes of content and
// MaxFragments slots, and reuses small buffers (keepBytes, keepFragments)
// from one message to the next.
type Reassembler struct {
	// MaxFragments bounds Total Fragments; zero means
	// DefaultMaxFragments.
	MaxFragments int
	// MaxBytes bounds the sum of the contents; zero means
	// DefaultMaxBytes.
	MaxBytes int

	messageID uint32
	total     int         // fragments expected; 0 when idle
	have      int         // fragments present
	first     PayloadType // Next Payload of fragment 1
	spans     []span      // by fragment number - 1
	buf       []byte      // contents in arrival order
}

// span locates one fragment's content in Reassembler.buf.
type span struct {
	off, n int
	ok     bool
}

// Add records the content of fragment f of the message with ID messageID:
// the plaintext of its SKF payload after the integrity check, which RFC 7383
// section 2.6 requires before a fragment is kept. content is copied. Add
// reports whether every fragment is now present.
//
// A fragment already held is ignored. A fragment of another message, or one
// announcing more fragments than those held (the sender cut the message
// smaller, RFC 7383 section 2.5.2), discards what is held and starts over;
// one announcing fewer is stale and rejected. Exceeding MaxFragments or
// MaxBytes discards everything and returns an error.
func (r *Reassembler) Add(messageID uint32, f *EncryptedFragment, content []byte) (bool, error) {
	if err := checkFragment(f.Number, f.Total); err != nil {
		return false, fmt.Errorf("ikev2: reassembly: %w", err)
	}
	total := int(f.Total)
	if limit := cmp.Or(r.MaxFragments, DefaultMaxFragments); total > limit {
		r.Reset()
		return false, fmt.Errorf("ikev2: reassembly: %d fragments exceed the limit of %d", total, limit)
	}
	switch {
	case r.total == 0 || messageID != r.messageID || total > r.total:
		// RFC 7383 §2.6: a larger Total Fragments discards the held
		// fragments and restarts reassembly.
		r.Reset()
		r.messageID, r.total = messageID, total
		if cap(r.spans) < total {
			r.spans = make([]span, total)
		}
		r.spans = r.spans[:total]
		clear(r.spans)
	case total < r.total:
		return false, fmt.Errorf("ikev2: reassembly: stale fragment %d of %d, reassembling %d", f.Number, total, r.total)
	}
	s := &r.spans[f.Number-1]
	if s.ok {
		return r.have == r.total, nil
	}
	if limit := cmp.Or(r.MaxBytes, DefaultMaxBytes); len(r.buf)+len(content) > limit {
		r.Reset()
		return false, fmt.Errorf("ikev2: reassembly: message exceeds %d octets", limit)
	}
	*s = span{off: len(r.buf), n: len(content), ok: true}
	r.buf = append(r.buf, content...)
	if f.Number == 1 {
		r.first = f.NextPayload
	}
	r.have++
	return r.have == r.total, nil
}

// errIncomplete reports a Reassemble call before every fragment arrived.
var errIncomplete = errors.New("ikev2: reassembly: fragments missing")

// Reassemble appends the fragments' contents in order to b, which gives the
// inner payload chain of the message, and returns it with the type of its
// first payload (from fragment 1), ready for ParsePayloads. It then resets r
// for the next message.
func (r *Reassembler) Reassemble(b []byte) (PayloadType, []byte, error) {
	if r.total == 0 || r.have != r.total {
		return PayloadNone, b, errIncomplete
	}
	for _, s := range r.spans {
		b = append(b, r.buf[s.off:s.off+s.n]...)
	}
	first := r.first
	r.Reset()
	return first, b, nil
}

// Reset discards the fragments held, wiping their contents; buffers
// larger than a small message needs go too.
func (r *Reassembler) Reset() {
	clear(r.buf)
	r.buf = r.buf[:0]
	if cap(r.buf) > keepBytes {
		r.buf = nil
	}
	r.spans = r.spans[:0]
	if cap(r.spans) > keepFragments {
		r.spans = nil
	}
	r.messageID, r.total, r.have, r.first = 0, 0, 0, PayloadNone
}

// Held returns how many fragments of a message are held, 0 when none.
func (r *Reassembler) Held() int { return r.have }

// SplitFragments cuts an inner payload chain into chunks of at most size
// octets, one per fragment; chunk i is the content of fragment number i+1
// of len(chunks). The chunks alias inner. An empty chain gives one empty
// chunk.
func SplitFragments(inner []byte, size int) ([][]byte, error) {
	if size < 1 {
		return nil, fmt.Errorf("ikev2: fragment size %d", size)
	}
	n := max((len(inner)+size-1)/size, 1)
	if n > 0xffff {
		return nil, fmt.Errorf("ikev2: %d octets need %d fragments of %d, more than 65535", len(inner), n, size)
	}
	chunks := make([][]byte, n)
	for i := range chunks {
		lo := i * size
		chunks[i] = inner[lo:min(lo+size, len(inner))]
	}
	return chunks, nil
}
