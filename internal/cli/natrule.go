package cli

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vnetgw/vnetgw/internal/arm"
)

var natRuleColumns = []column{nameCol, col("Type", "properties.type"), col("Mode", "properties.mode"),
	col("InternalMappings", "properties.internalMappings.0.addressSpace"), col("ExternalMappings", "properties.externalMappings.0.addressSpace")}

// natRuleCommand is az's vnet-gateway nat-rule: a gateway's VPN NAT rules,
// changed by reading the gateway and writing it back.
func natRuleCommand(g *globals) *cobra.Command {
	var rg, gateway, name, typ, mode, ipConfig string
	var internal, external []string
	common := func(cmd *cobra.Command, named bool) *cobra.Command {
		f := cmd.Flags()
		f.StringVarP(&rg, "resource-group", "g", "", "resource group")
		f.StringVar(&gateway, "gateway-name", "", "the virtual network gateway (name or id)")
		if named {
			f.StringVarP(&name, "name", "n", "", "the NAT rule's name")
		}
		return cmd
	}
	// edit reads the gateway, lets change alter its NAT rules, writes it
	// back and prints the rules.
	edit := func(cmd *cobra.Command, change func([]arm.VirtualNetworkGatewayNatRule) ([]arm.VirtualNetworkGatewayNatRule, error)) error {
		var alter func(*arm.VirtualNetworkGateway) error
		if change != nil {
			alter = func(gw *arm.VirtualNetworkGateway) (err error) {
				if gw.Properties.NatRules, err = change(gw.Properties.NatRules); err != nil {
					return fmt.Errorf("gateway %s: %w", gw.Name, err)
				}
				return nil
			}
		}
		gw, err := g.editGateway(cmd, rg, gateway, alter)
		if err != nil {
			return err
		}
		return g.print(rawItems(gw.Properties.NatRules), natRuleColumns)
	}
	parent := &cobra.Command{Use: "nat-rule", Short: "Manage a gateway's NAT rules: a site's addresses as the VNet sees them, or the VNet's as a site sees them"}
	add := common(&cobra.Command{Use: "add", Short: "Add or replace a NAT rule", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" || len(internal) == 0 || len(external) == 0 {
				return usagef("--name, --internal-mappings and --external-mappings are required")
			}
			return edit(cmd, func(rs []arm.VirtualNetworkGatewayNatRule) ([]arm.VirtualNetworkGatewayNatRule, error) {
				r := arm.VirtualNetworkGatewayNatRule{Name: name, Properties: arm.VirtualNetworkGatewayNatRuleProperties{Type: typ, Mode: mode, IPConfigurationID: ipConfig}}
				for _, m := range internal {
					r.Properties.InternalMappings = append(r.Properties.InternalMappings, arm.VPNNatRuleMapping{AddressSpace: m})
				}
				for _, m := range external {
					r.Properties.ExternalMappings = append(r.Properties.ExternalMappings, arm.VPNNatRuleMapping{AddressSpace: m})
				}
				rs = slices.DeleteFunc(rs, func(o arm.VirtualNetworkGatewayNatRule) bool { return strings.EqualFold(o.Name, name) })
				return append(rs, r), nil
			})
		}}, true)
	add.Flags().StringVar(&typ, "type", arm.NatRuleStatic, "Static: one to one, both ways; Dynamic: flows the internal side starts get addresses and ports of the external space, which may be smaller; the external side starts none")
	add.Flags().StringVar(&mode, "mode", arm.NatRuleIngressSnat, "IngressSnat: a site's addresses as the VNet sees them; EgressSnat: the VNet's addresses as a site sees them")
	add.Flags().StringSliceVar(&internal, "internal-mappings", nil, "the addresses as they are, CIDR: the site's (IngressSnat) or the VNet's (EgressSnat)")
	add.Flags().StringSliceVar(&external, "external-mappings", nil, "the space it has in the other side's view, CIDR (of the same length for a Static rule)")
	add.Flags().StringVar(&ipConfig, "ip-config-id", "", "the gateway IP configuration (name or id) whose instance of an active-active gateway the rule applies to (default: every instance)")
	remove := common(&cobra.Command{Use: "remove", Short: "Remove a NAT rule (no connection may use it)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" {
				return usagef("--name is required")
			}
			return edit(cmd, func(rs []arm.VirtualNetworkGatewayNatRule) ([]arm.VirtualNetworkGatewayNatRule, error) {
				n := len(rs)
				rs = slices.DeleteFunc(rs, func(o arm.VirtualNetworkGatewayNatRule) bool { return strings.EqualFold(o.Name, name) })
				if len(rs) == n {
					return nil, fmt.Errorf("no NAT rule %q", name)
				}
				return rs, nil
			})
		}}, true)
	list := common(&cobra.Command{Use: "list", Short: "List a gateway's NAT rules", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return edit(cmd, nil) }}, false)
	noWait(add)
	noWait(remove)
	parent.AddCommand(add, remove, list, g.gatewayPartWaitCmd("NAT rules"))
	return parent
}

// rawItems is a list as print takes it, one JSON document per row.
func rawItems[T any](items []T) []json.RawMessage {
	out := []json.RawMessage{}
	for _, it := range items {
		if b, err := json.Marshal(it); err == nil {
			out = append(out, b)
		}
	}
	return out
}
