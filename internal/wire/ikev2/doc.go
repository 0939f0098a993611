// Package ikev2 encodes and decodes IKEv2 messages as defined by RFC 7296
// section 3, with the Encrypted Fragment payload of RFC 7383.
//
// It is a pure codec: no I/O, no cryptography, no state. The IKE state
// machine decrypts the Encrypted (SK) payload itself and hands the plaintext
// back to [ParsePayloads]; to send, it builds the header and SK generic
// header with [AppendEncryptedHeader] (or [AppendFragmentHeader]), uses those
// bytes as associated data, and appends IV, ciphertext and ICV.
//
// Decoding is strict about lengths: every length field is checked against
// the bytes that hold it, nested structures must fill their parent exactly,
// and a malformed message yields an error wrapping [ErrMalformed], never a
// panic. Decoded byte slices alias the input buffer instead of copying it;
// copy whatever must outlive that buffer.
//
// Reserved fields and bits are ignored on receipt, as RFC 7296 section 3
// requires, but they are kept in the decoded values so that encoding a
// decoded message reproduces its bytes exactly. Values built for sending
// leave them zero.
//
// Unrecognized payload types are kept as [Unknown] when their critical bit
// is clear and make parsing fail with [*UnsupportedCriticalPayloadError]
// when it is set (RFC 7296 section 2.5).
package ikev2
