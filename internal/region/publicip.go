package region

import (
	"context"
	"fmt"
	"strings"

	"github.com/vnetgw/vnetgw/internal/arm"
)

// A public IP address's idleTimeoutInMinutes is from 4 to 30, 4 when left
// out, as Azure's is.
const (
	publicIPIdleTimeoutMin = 4
	publicIPIdleTimeoutMax = 30
)

// PutPublicIP creates or updates a public IP address. A Dynamic address
// (the default of the Basic SKU) gets its address only when a gateway takes
// it into use, and loses it when the gateway goes (R20); a Static address
// (the Standard SKU's only method) is allocated at once and kept until the
// resource is deleted.
func (r *Region) PutPublicIP(ctx context.Context, id arm.ID, in *arm.PublicIPAddress) (*arm.PublicIPAddress, Outcome, error) {
	var out *arm.PublicIPAddress
	var created bool
	_, err := r.update(ctx, func(tx *txn) error {
		if _, err := requireGroup(tx, id); err != nil {
			return err
		}
		old := get[arm.PublicIPAddress](tx, arm.TypePublicIPAddress, id)
		created = old == nil
		p := *in
		if old != nil {
			id = storedID(id, old.ID)
		}
		if err := setIdentity(&p.Resource, id, p.Location); err != nil {
			return err
		}
		sku := arm.PublicIPAddressSKU{Name: "Basic", Tier: "Regional"}
		if old != nil && old.SKU != nil {
			sku = *old.SKU // left out, kept: a PUT without it must not downgrade it
		}
		if p.SKU != nil {
			if p.SKU.Name != "" {
				sku.Name = p.SKU.Name
			}
			if p.SKU.Tier != "" {
				sku.Tier = p.SKU.Tier
				if err := canonical(&sku.Tier, "sku.tier", "Regional", "Regional", "Global"); err != nil {
					return err
				}
				if sku.Tier == "Global" {
					return &arm.Error{Code: arm.CodeInvalidParameter, Target: "sku.tier",
						Message: "sku.tier Global is not available: a Global address serves a cross-region load balancer, which vnetgw does not have; a gateway's public IP address is Regional"}
				}
			}
		}
		switch {
		case strings.EqualFold(sku.Name, "Basic"):
			sku.Name = "Basic"
		case strings.EqualFold(sku.Name, "Standard"):
			sku.Name = "Standard"
		default:
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: "sku.name", Message: "public IP SKU " + sku.Name + " is not Basic or Standard"}
		}
		p.SKU = &sku
		if old != nil && old.SKU != nil && old.SKU.Name != sku.Name {
			switch {
			case sku.Name == "Basic":
				return &arm.Error{Code: arm.CodePublicIPSKUChange, Target: "sku.name",
					Message: fmt.Sprintf("public IP address %s is Standard; it cannot go back to Basic (a SKU is only upgraded, from Basic to Standard)", old.Name)}
			case old.Properties.IPConfiguration != nil:
				return arm.Errorf(arm.CodeInUsePublicIP, "public IP address %s is in use by %s; its SKU cannot change until it is not", old.Name, old.Properties.IPConfiguration.ID)
			}
		}
		props := &p.Properties
		if m := props.PublicIPAllocationMethod; m == "" && old != nil && old.SKU != nil && sku.Name == old.SKU.Name {
			// Left out, kept: a PUT without it must not let a Static
			// address go.
			props.PublicIPAllocationMethod = old.Properties.PublicIPAllocationMethod
		}
		switch m := props.PublicIPAllocationMethod; {
		case m == "" && sku.Name == "Standard", strings.EqualFold(m, arm.Static):
			props.PublicIPAllocationMethod = arm.Static
		case m == "", strings.EqualFold(m, arm.Dynamic):
			props.PublicIPAllocationMethod = arm.Dynamic
		default:
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.publicIPAllocationMethod", Message: "publicIPAllocationMethod must be Static or Dynamic"}
		}
		if sku.Name == "Standard" && props.PublicIPAllocationMethod != arm.Static {
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.publicIPAllocationMethod", Message: "a Standard SKU public IP address must be Static"}
		}
		switch t := props.IdleTimeoutInMinutes; {
		case t == nil:
			four := int32(publicIPIdleTimeoutMin)
			props.IdleTimeoutInMinutes = &four
		case *t < publicIPIdleTimeoutMin || *t > publicIPIdleTimeoutMax:
			return &arm.Error{Code: arm.CodePublicIPIdleTimeout, Target: "properties.idleTimeoutInMinutes",
				Message: fmt.Sprintf("public IP address %s has an idle timeout of %d minutes; it must be between %d and %d", id.Name(), *t, publicIPIdleTimeoutMin, publicIPIdleTimeoutMax)}
		}
		if err := publicIPUnheld(props); err != nil {
			return err
		}
		want := "IPv4"
		if r.pool.First.Is6() {
			want = "IPv6"
		}
		if v := props.PublicIPAddressVersion; v != "" && !strings.EqualFold(v, want) {
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.publicIPAddressVersion",
				Message: "publicIPAddressVersion " + v + " does not match the public IP pool " + r.pool.String()}
		}
		props.PublicIPAddressVersion = want
		props.ProvisioningState = arm.Succeeded
		props.IPAddress, props.IPConfiguration = "", nil
		props.ResourceGUID = NewGUID()
		if old != nil {
			props.ResourceGUID = old.Properties.ResourceGUID
			props.IPAddress, props.IPConfiguration = old.Properties.IPAddress, old.Properties.IPConfiguration
			if err := keepLocation(&p.Resource, &old.Resource, id); err != nil {
				return err
			}
			if props.IPConfiguration != nil && props.PublicIPAllocationMethod != old.Properties.PublicIPAllocationMethod {
				return arm.Errorf(arm.CodeInUsePublicIP, "public IP address %s is in use by %s; its allocation method cannot change", old.Name, props.IPConfiguration.ID)
			}
		}
		switch {
		case props.PublicIPAllocationMethod == arm.Static && props.IPAddress == "":
			a, err := r.allocatePublicIP(tx)
			if err != nil {
				return err
			}
			props.IPAddress = a.String()
		case props.PublicIPAllocationMethod == arm.Dynamic && props.IPConfiguration == nil:
			props.IPAddress = ""
		}
		tx.put(arm.TypePublicIPAddress, id.Key(), &p)
		out = &p
		return nil
	})
	return out, Outcome{Created: created}, err
}

func (r *Region) delPublicIP(tx *txn, id arm.ID) error {
	p := get[arm.PublicIPAddress](tx, arm.TypePublicIPAddress, id)
	if p.Properties.IPConfiguration != nil {
		return arm.Errorf(arm.CodeInUsePublicIP, "public IP address %s is in use by %s and cannot be deleted", id.Name(), p.Properties.IPConfiguration.ID)
	}
	tx.del(arm.TypePublicIPAddress, id.Key())
	return nil
}

// publicIPUnheld refuses the settings of a public IP address that vnetgw
// does not honour rather than ignore them, drops their empty values and
// canonicalises ddosSettings, which is kept.
func publicIPUnheld(p *arm.PublicIPAddressProperties) error {
	if d := p.DNSSettings; d != nil {
		for _, f := range []struct{ name, v string }{{"domainNameLabel", d.DomainNameLabel}, {"domainNameLabelScope", d.DomainNameLabelScope}, {"reverseFqdn", d.ReverseFqdn}} {
			if f.v != "" {
				return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.dnsSettings." + f.name,
					Message: f.name + " is not available: vnetgw gives its public IP addresses no DNS names; use the address (ipAddress)"}
			}
		}
	}
	if given(p.IPTags) {
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.ipTags",
			Message: "ipTags is not available: vnetgw's public addresses come from its pool (serve --public-ip-pool), with no routing preference or service tags"}
	}
	if p.PublicIPPrefix.RefID() != "" {
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.publicIPPrefix",
			Message: "publicIPPrefix is not available: vnetgw's public addresses come from its pool (serve --public-ip-pool)"}
	}
	p.DNSSettings, p.IPTags, p.PublicIPPrefix = nil, nil, nil
	d := p.DDoSSettings
	if d == nil {
		return nil
	}
	if d.DDoSProtectionPlan.RefID() != "" {
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.ddosSettings.ddosProtectionPlan",
			Message: "ddosProtectionPlan is not available: vnetgw has no DDoS protection"}
	}
	if strings.EqualFold(d.ProtectionMode, "Enabled") {
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.ddosSettings.protectionMode",
			Message: "protectionMode Enabled is not available: vnetgw has no DDoS protection; VirtualNetworkInherited (none to inherit) and Disabled are taken"}
	}
	dd := arm.DDoSSettings{ProtectionMode: d.ProtectionMode}
	if err := canonical(&dd.ProtectionMode, "properties.ddosSettings.protectionMode", "VirtualNetworkInherited", "VirtualNetworkInherited", "Disabled"); err != nil {
		return err
	}
	p.DDoSSettings = &dd
	return nil
}
