package ppp

// Codes of CHAP packets (RFC 1994 §4); a CHAP packet has the header of
// Packet.
const (
	CHAPChallenge = 1
	CHAPResponse  = 2
	CHAPSuccess   = 3
	CHAPFailure   = 4
)

// AlgorithmMSCHAPv2 is the Algorithm octet of the Authentication-Protocol
// option that asks for CHAP with MS-CHAP-V2 (RFC 2759 §2).
const AlgorithmMSCHAPv2 = 0x81

// CHAPValue is the Data of a Challenge or a Response (RFC 1994 §4.1): a
// Value of 1 to 255 octets after its size, then the sender's Name (the
// rest of the packet). Both are slices of the input.
type CHAPValue struct {
	Value, Name []byte
}

// ParseCHAPValue parses the Data of a Challenge or a Response.
func ParseCHAPValue(b []byte) (CHAPValue, error) {
	if len(b) < 1 || b[0] == 0 || int(b[0]) > len(b)-1 {
		return CHAPValue{}, malformed("CHAP value cut short (%d octets)", len(b))
	}
	n := int(b[0])
	return CHAPValue{Value: b[1 : 1+n], Name: b[1+n:]}, nil
}

// Append appends the Data; a Value longer than 255 octets is cut there
// (none of ours is).
func (v CHAPValue) Append(b []byte) []byte {
	value := v.Value[:min(len(v.Value), 0xff)]
	b = append(b, byte(len(value)))
	b = append(b, value...)
	return append(b, v.Name...)
}

// MSCHAPv2ResponseLen is the length of an MS-CHAP-V2 Response's Value
// (RFC 2759 §4).
const MSCHAPv2ResponseLen = 49

// MSCHAPv2Response is the Value of an MS-CHAP-V2 Response (RFC 2759 §4):
// the peer's challenge, 8 reserved octets, the NT-Response and Flags.
type MSCHAPv2Response struct {
	PeerChallenge [16]byte
	NTResponse    [24]byte
	Flags         byte
}

// ParseMSCHAPv2Response parses a Response's Value; its reserved octets
// are not looked at.
func ParseMSCHAPv2Response(v []byte) (MSCHAPv2Response, error) {
	if len(v) != MSCHAPv2ResponseLen {
		return MSCHAPv2Response{}, malformed("MS-CHAP-V2 response of %d octets, not %d", len(v), MSCHAPv2ResponseLen)
	}
	return MSCHAPv2Response{PeerChallenge: [16]byte(v[:16]), NTResponse: [24]byte(v[24:48]), Flags: v[48]}, nil
}

// Append appends the Value, its reserved octets zero.
func (r MSCHAPv2Response) Append(b []byte) []byte {
	b = append(b, r.PeerChallenge[:]...)
	b = append(b, make([]byte, 8)...)
	b = append(b, r.NTResponse[:]...)
	return append(b, r.Flags)
}
