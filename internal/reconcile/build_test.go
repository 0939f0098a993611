package reconcile

import (
	"testing"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/ike/suite"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// TestCustomPolicyProposals: Azure's custom IPsec/IKE policies become
// proposals that the IKE engine takes, with the algorithms they name.
func TestCustomPolicyProposals(t *testing.T) {
	for _, tc := range []struct {
		pol      arm.IPsecPolicy
		ike, esp string
	}{
		{arm.IPsecPolicy{IKEEncryption: "AES256", IKEIntegrity: "SHA256", DHGroup: "DHGroup14", IPsecEncryption: "AES256", IPsecIntegrity: "SHA256", PFSGroup: "None"},
			"aes256-sha256-modp2048", "aes256-sha256"},
		{arm.IPsecPolicy{IKEEncryption: "GCMAES256", IKEIntegrity: "GCMAES256", DHGroup: "ECP256", IPsecEncryption: "GCMAES256", IPsecIntegrity: "GCMAES256", PFSGroup: "ECP256"},
			"aes256gcm16-prfsha256-ecp256", "aes256gcm16-ecp256"},
		{arm.IPsecPolicy{IKEEncryption: "GCMAES128", IKEIntegrity: "SHA384", DHGroup: "ECP384", IPsecEncryption: "GCMAES128", IPsecIntegrity: "GCMAES128", PFSGroup: "PFS2048"},
			"aes128gcm16-prfsha384-ecp384", "aes128gcm16-modp2048"},
		{arm.IPsecPolicy{IKEEncryption: "AES128", IKEIntegrity: "SHA1", DHGroup: "DHGroup24", IPsecEncryption: "AES192", IPsecIntegrity: "SHA1", PFSGroup: "PFS24"},
			"aes128-sha1-modp2048s256", "aes192-sha1-modp2048s256"},
	} {
		ike, esp := IKEProposal(tc.pol), ESPProposal(tc.pol)
		if ike != tc.ike || esp != tc.esp {
			t.Errorf("%+v: %q and %q, want %q and %q", tc.pol, ike, esp, tc.ike, tc.esp)
		}
		if _, err := suite.ParseProposal(wire.ProtocolIKE, ike); err != nil {
			t.Errorf("IKE proposal %q: %v", ike, err)
		}
		if _, err := suite.ParseProposal(wire.ProtocolESP, esp); err != nil {
			t.Errorf("ESP proposal %q: %v", esp, err)
		}
	}
}
