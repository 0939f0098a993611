package ikev2

import "encoding/binary"

// Delete is the Delete payload (RFC 7296 section 3.11). Deleting the IKE SA
// uses ProtocolIKE with no SPIs; deleting Child SAs lists their 4-octet
// inbound SPIs.
type Delete struct {
	Generic
	Protocol ProtocolID
	// SPISize is the length of each SPI: 0 for IKE, 4 for ESP and AH.
	SPISize uint8
	// SPIs alias the parsed input.
	SPIs [][]byte
}

// Type returns PayloadDelete.
func (d *Delete) Type() PayloadType { return PayloadDelete }

// Len returns the encoded length.
func (d *Delete) Len() int { return GenericHeaderLen + 4 + len(d.SPIs)*int(d.SPISize) }

// Append appends the payload to b.
func (d *Delete) Append(b []byte) ([]byte, error) {
	if len(d.SPIs) > 0xffff {
		return b, malformed("%d SPIs to delete", len(d.SPIs))
	}
	if d.SPISize == 0 && len(d.SPIs) > 0 {
		return b, malformed("%d SPIs of size zero", len(d.SPIs))
	}
	for _, spi := range d.SPIs {
		if len(spi) != int(d.SPISize) {
			return b, malformed("SPI of %d octets, SPI size %d", len(spi), d.SPISize)
		}
	}
	b, err := d.Generic.append(b, PayloadNone, d.Len())
	if err != nil {
		return b, err
	}
	b = append(b, byte(d.Protocol), d.SPISize)
	b = binary.BigEndian.AppendUint16(b, uint16(len(d.SPIs)))
	for _, spi := range d.SPIs {
		b = append(b, spi...)
	}
	return b, nil
}

func parseDelete(g Generic, body []byte) (*Delete, error) {
	if len(body) < 4 {
		return nil, malformed("%d octets, need 4", len(body))
	}
	d := &Delete{Generic: g, Protocol: ProtocolID(body[0]), SPISize: body[1]}
	count := int(binary.BigEndian.Uint16(body[2:4]))
	spis := body[4:]
	// Zero-size SPIs cannot be counted against the payload length, so a
	// nonzero count with size zero would allocate without bound.
	if d.SPISize == 0 && count != 0 {
		return nil, malformed("%d SPIs of size zero", count)
	}
	if count*int(d.SPISize) != len(spis) {
		return nil, malformed("%d SPIs of %d octets in %d octets", count, d.SPISize, len(spis))
	}
	if count > 0 {
		d.SPIs = make([][]byte, count)
		for i := range d.SPIs {
			d.SPIs[i] = sub(spis, i*int(d.SPISize), (i+1)*int(d.SPISize))
		}
	}
	return d, nil
}
