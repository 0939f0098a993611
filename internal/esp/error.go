package esp

// Error is why an SA refused a packet. Each value has a drop counter in
// Stats. Errors are plain values, compared with == or errors.Is, so that
// refusing a packet allocates nothing.
type Error uint8

// Reasons for refusing a packet.
const (
	// ErrLength: Open got a packet too short for header, IV, trailer and
	// ICV, or whose ciphertext is not a multiple of the block size
	// (RFC 4303 §2.4).
	ErrLength Error = iota + 1
	// ErrSPI: Open got a packet for another SA.
	ErrSPI
	// ErrReplay: Open got a duplicate or a packet older than the replay
	// window (RFC 4303 §3.4.3).
	ErrReplay
	// ErrAuth: the ICV did not verify (RFC 4303 §3.4.4).
	ErrAuth
	// ErrPadding: the pad length or the padding bytes are wrong
	// (RFC 4303 §2.4, §2.5).
	ErrPadding
	// ErrExpired: the SA passed a hard lifetime limit.
	ErrExpired
	// ErrSeqExhausted: the next outbound sequence number would cycle
	// (RFC 4303 §3.3.3); the SA must be replaced.
	ErrSeqExhausted
	// ErrNoRoom: the buffer given to Seal is too short for the packet, its
	// headroom and its tailroom.
	ErrNoRoom
	// ErrSeq: SealSeq got a Seq that did not come from NextSeq.
	ErrSeq

	errorCount
)

// Error returns the reason in words.
func (e Error) Error() string {
	switch e {
	case ErrLength:
		return "esp: bad packet length"
	case ErrSPI:
		return "esp: spi does not belong to this sa"
	case ErrReplay:
		return "esp: replayed or too old"
	case ErrAuth:
		return "esp: icv mismatch"
	case ErrPadding:
		return "esp: bad padding"
	case ErrExpired:
		return "esp: sa passed its hard lifetime"
	case ErrSeqExhausted:
		return "esp: sequence numbers exhausted"
	case ErrNoRoom:
		return "esp: no room in buffer"
	case ErrSeq:
		return "esp: sequence number not taken with NextSeq"
	}
	return "esp: unknown error"
}
