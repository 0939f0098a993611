package region

import (
	"context"
	"errors"
	"testing"

	"github.com/vnetgw/vnetgw/internal/arm"
)

// TestCustomIPsecPolicyNotOnBasic: Azure's custom IPsec/IKE policy "is
// supported on all Azure SKUs except the Basic SKU" (VPN Gateway FAQ,
// IPsec/IKE policy): a connection of a Basic gateway that gives
// ipsecPolicies is refused at that field, whatever the gateway's vpnType;
// the same connection on a VpnGw1 gateway is taken.
func TestCustomIPsecPolicyNotOnBasic(t *testing.T) {
	pol := arm.IPsecPolicy{SALifeTimeSeconds: 3600, SADataSizeKilobytes: 102400000,
		IPsecEncryption: "AES256", IPsecIntegrity: "SHA256", IKEEncryption: "AES256", IKEIntegrity: "SHA256",
		DHGroup: "DHGroup14", PFSGroup: "None"}
	for _, tc := range []struct {
		sku, vpnType string
		refused      bool
	}{
		{"Basic", arm.RouteBased, true},
		{"Basic", arm.PolicyBased, true},
		{"VpnGw1", arm.RouteBased, false},
	} {
		t.Run(tc.sku+"-"+tc.vpnType, func(t *testing.T) {
			const sub = "eeeeeeee-0000-0000-0000-0000000000b5"
			ctx, must := context.Background(), mustPut(t)
			reg, _ := openRegion(t, Config{})
			gw := putGateway(t, reg, sub, func(p *arm.VirtualNetworkGatewayProperties) {
				p.GatewayType, p.VPNType, p.SKU = arm.GatewayTypeVpn, tc.vpnType, &arm.VirtualNetworkGatewaySKU{Name: tc.sku}
			})
			site := arm.NetworkID(sub, "rg", "localNetworkGateways", "site")
			l := &arm.LocalNetworkGateway{Resource: arm.Resource{Location: "westeurope"}}
			l.Properties.GatewayIPAddress = "192.0.2.1"
			l.Properties.LocalNetworkAddressSpace = &arm.AddressSpace{AddressPrefixes: []string{"192.168.0.0/16"}}
			must(reg.PutLocalGateway(ctx, site, l))
			c := &arm.Connection{Resource: arm.Resource{Location: "westeurope"}}
			c.Properties.ConnectionType = arm.ConnectionIPsec
			c.Properties.VirtualNetworkGateway1, c.Properties.LocalNetworkGateway2 = arm.Ref(gw.String()), arm.Ref(site.String())
			c.Properties.IPsecPolicies = []arm.IPsecPolicy{pol}
			_, _, err := reg.PutConnection(ctx, arm.NetworkID(sub, "rg", "connections", "c"), c)
			if !tc.refused {
				if err != nil {
					t.Fatalf("a custom IPsec/IKE policy on a %s gateway: %v", tc.sku, err)
				}
				return
			}
			var ae *arm.Error
			if !errors.As(err, &ae) || ae.Code != arm.CodeIPsecPolicy || ae.Target != "properties.ipsecPolicies" {
				t.Fatalf("a custom IPsec/IKE policy on a %s %s gateway: %v, want %s at properties.ipsecPolicies", tc.sku, tc.vpnType, err, arm.CodeIPsecPolicy)
			}
		})
	}
}
