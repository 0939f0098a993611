package ikev2

import (
	"errors"
	"fmt"
)

// ErrMalformed is wrapped by every error that reports bytes which do not
// follow the message format (a length that does not fit, a field outside its
// range, a structure that does not fill its parent) and by encoding errors
// for values that cannot be put in that format. Inside an authenticated
// exchange the state machine answers a malformed message with
// INVALID_SYNTAX (RFC 7296 section 3.10.1); before that it drops it.
var ErrMalformed = errors.New("malformed")

// malformed returns an error wrapping ErrMalformed.
func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// UnsupportedCriticalPayloadError reports a payload whose type is not
// recognized and whose critical bit is set: the whole message must be
// rejected (RFC 7296 section 2.5).
type UnsupportedCriticalPayloadError struct {
	Type PayloadType
}

func (e *UnsupportedCriticalPayloadError) Error() string {
	return "ikev2: unsupported critical payload type " + e.Type.String()
}

// Notify returns the UNSUPPORTED_CRITICAL_PAYLOAD notification that answers
// the error; its data is the one-octet payload type (RFC 7296 section 3.10.1).
func (e *UnsupportedCriticalPayloadError) Notify() *Notify {
	return &Notify{NotifyType: UnsupportedCriticalPayload, Data: []byte{byte(e.Type)}}
}

// InvalidMajorVersionError reports a header whose major version is not 2.
// The message must be dropped; the receiver should answer with an
// unauthenticated INVALID_MAJOR_VERSION notification (RFC 7296 section 2.5).
type InvalidMajorVersionError struct {
	Major, Minor uint8
}

func (e *InvalidMajorVersionError) Error() string {
	return fmt.Sprintf("ikev2: unsupported version %d.%d", e.Major, e.Minor)
}

// Notify returns the INVALID_MAJOR_VERSION notification that answers the
// error. The version the receiver supports goes in the reply's header.
func (e *InvalidMajorVersionError) Notify() *Notify {
	return &Notify{NotifyType: InvalidMajorVersion}
}
