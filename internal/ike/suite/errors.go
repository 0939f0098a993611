package suite

import "errors"

// Errors reported by this package; test for them with errors.Is.
var (
	// ErrUnsupported reports a transform or group this package does not
	// implement.
	ErrUnsupported = errors.New("unsupported transform")
	// ErrPeerValue reports a peer's Diffie-Hellman public value that fails
	// validation (RFC 6989).
	ErrPeerValue = errors.New("invalid peer public value")
	// ErrIntegrity reports an SK payload whose ICV does not verify (RFC 7296
	// §2.21.2: such a message is dropped without a reply).
	ErrIntegrity = errors.New("integrity check failed")
	// ErrMalformed reports an SK payload body too short for its cipher, of a
	// length that is not a whole number of blocks, or with a pad length
	// larger than the decrypted data.
	ErrMalformed = errors.New("malformed encrypted payload")
)
