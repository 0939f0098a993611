package ikev2

import "testing"

// TestVendorIDPayload covers the Vendor ID payload of RFC 7296 section 3.12.
func TestVendorIDPayload(t *testing.T) {
	checkPayload(t, &VendorID{Data: []byte("vnetgw")}, h("0000000a 766e65746777"))
	checkPayload(t, &VendorID{}, h("00000004"))
	checkAppendError(t, &VendorID{Data: make([]byte, 0xfffc)})
}
