package p2s

import "gvisor.dev/gvisor/pkg/tcpip/header"

// fragment4 cuts pkt, an IPv4 packet longer than mtu without Don't
// Fragment, into fragments of at most mtu bytes, and passes each to send
// in order (RFC 791 §3.2's fragmentation procedure; a router MUST
// fragment, RFC 1812 §4.2.2.7): the first carries the whole header, the
// others the options marked to be copied (RFC 791 §3.1); each fragment's
// data but the last is a multiple of 8 octets, its offset and More
// Fragments follow pkt's own (a fragment already is cut again). send
// must not keep the slice. It reports false, sending nothing, for a
// packet it cannot cut: a header that does not parse, or too long for
// mtu to carry 8 octets of data after it.
func fragment4(pkt []byte, mtu int, send func([]byte)) bool {
	in := header.IPv4(pkt)
	if len(pkt) < header.IPv4MinimumSize || in.Flags()&header.IPv4FlagDontFragment != 0 {
		return false
	}
	ihl, total := int(in.HeaderLength()), int(in.TotalLength())
	if ihl < header.IPv4MinimumSize || total < ihl || total > len(pkt) {
		return false
	}
	copied, ok := copiedOptions(pkt[header.IPv4MinimumSize:ihl])
	if !ok || mtu-ihl < 8 || mtu-header.IPv4MinimumSize-len(copied) < 8 {
		return false
	}
	offset, more := int(in.FragmentOffset()), in.More()
	buf := make([]byte, 0, mtu)
	for data, first := pkt[ihl:total], true; len(data) > 0; first = false {
		buf = append(buf[:0], pkt[:header.IPv4MinimumSize]...)
		if first {
			buf = append(buf, pkt[header.IPv4MinimumSize:ihl]...)
		} else {
			buf = append(buf, copied...)
		}
		hlen := len(buf)
		n := len(data)
		if hlen+n > mtu {
			n = (mtu - hlen) &^ 7
		}
		buf = append(buf, data[:n]...)
		data = data[n:]
		var flags uint8
		if len(data) > 0 || more {
			flags = header.IPv4FlagMoreFragments
		}
		h := header.IPv4(buf)
		h.SetHeaderLength(uint8(hlen))
		h.SetTotalLength(uint16(len(buf)))
		h.SetFlagsFragmentOffset(flags, uint16(offset))
		h.SetChecksum(0)
		h.SetChecksum(^h.CalculateChecksum())
		send(buf)
		offset += n
	}
	return true
}

// copiedOptions returns the options of an IPv4 header (opts, what
// follows its 20 fixed octets) whose copied flag is set (RFC 791 §3.1:
// copied into all fragments), padded with End of Option List to a
// multiple of 4 octets; ok is false when they do not parse.
func copiedOptions(opts []byte) (copied []byte, ok bool) {
	for len(opts) > 0 {
		switch opts[0] {
		case 0: // End of Option List
			opts = nil
			continue
		case 1: // No Operation
			opts = opts[1:]
			continue
		}
		if len(opts) < 2 || opts[1] < 2 || int(opts[1]) > len(opts) {
			return nil, false
		}
		if opts[0]&0x80 != 0 {
			copied = append(copied, opts[:opts[1]]...)
		}
		opts = opts[opts[1]:]
	}
	for len(copied)%4 != 0 {
		copied = append(copied, 0)
	}
	return copied, true
}
