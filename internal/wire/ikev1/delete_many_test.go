package ikev1

import (
	"encoding/binary"
	"testing"
)

// TestDeleteOfManyChildren: a connection torn down names all its child
// SAs in one Delete, 256 of them when it has as many as it may. The
// parser refused more than 64, and the peer's children stayed until
// they expired. More than maxDeleteSPIs are still refused.
func TestDeleteOfManyChildren(t *testing.T) {
	var spis [][]byte
	for i := range 256 {
		spis = append(spis, binary.BigEndian.AppendUint32(nil, uint32(0x1000+i)))
	}
	d, err := ParseDelete(Delete{DOI: DOIIPsec, Protocol: ProtocolESP, SPIs: spis}.Append(nil))
	if err != nil {
		t.Fatalf("Delete of 256 SPIs: %v", err)
	}
	if len(d.SPIs) != 256 || binary.BigEndian.Uint32(d.SPIs[255]) != 0x10ff {
		t.Errorf("Delete of 256 SPIs parsed as %d, last %x", len(d.SPIs), d.SPIs[len(d.SPIs)-1])
	}
	for i := 256; i <= maxDeleteSPIs; i++ {
		spis = append(spis, binary.BigEndian.AppendUint32(nil, uint32(0x1000+i)))
	}
	if _, err := ParseDelete(Delete{DOI: DOIIPsec, Protocol: ProtocolESP, SPIs: spis}.Append(nil)); err == nil {
		t.Errorf("Delete of %d SPIs accepted, want refused", len(spis))
	}
}
