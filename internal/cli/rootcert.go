package cli

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/client"
)

// certCommands are az's vnet-gateway root-cert and revoked-cert: the
// point-to-site root certificates (R12) and revoked client certificates of
// a gateway, changed by reading the gateway and writing it back.
func certCommands(g *globals) []*cobra.Command {
	var rg, gateway, name, certFile, thumbprint string
	common := func(cmd *cobra.Command) *cobra.Command {
		f := cmd.Flags()
		f.StringVarP(&rg, "resource-group", "g", "", "resource group")
		f.StringVar(&gateway, "gateway-name", "", "the virtual network gateway (name or id)")
		f.StringVarP(&name, "name", "n", "", "the certificate's name")
		return cmd
	}
	// edit lets change alter the gateway's point-to-site configuration.
	edit := func(cmd *cobra.Command, change func(*arm.VPNClientConfiguration) error) error {
		if name == "" {
			return usagef("--name is required")
		}
		out, err := g.editGateway(cmd, rg, gateway, func(gw *arm.VirtualNetworkGateway) error {
			vc := gw.Properties.VPNClientConfiguration
			if vc == nil {
				return fmt.Errorf("gateway %s has no point-to-site configuration: create it with --address-prefixes (the client pool) first", gw.Name)
			}
			if err := change(vc); err != nil {
				return fmt.Errorf("gateway %s: %w", gw.Name, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		return g.print(out.Properties.VPNClientConfiguration, vpnClientColumns)
	}
	root := &cobra.Command{Use: "root-cert", Short: "Manage a gateway's point-to-site root certificates (R12)"}
	rootCreate := common(&cobra.Command{Use: "create", Short: "Upload a root certificate that client certificates chain to", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			data, err := certData("--public-cert-data", certFile)
			if err != nil {
				return err
			}
			return edit(cmd, func(vc *arm.VPNClientConfiguration) error {
				vc.VPNClientRootCertificates = putNamed(vc.VPNClientRootCertificates, rootName,
					arm.VPNClientRootCertificate{Name: name, Properties: arm.VPNClientRootCertificateProperties{PublicCertData: data}})
				return nil
			})
		}})
	rootCreate.Flags().StringVar(&certFile, "public-cert-data", "", "the root certificate: a file (PEM or DER), or its base64 DER as az takes it")
	rootDelete := common(&cobra.Command{Use: "delete", Short: "Remove a root certificate", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return edit(cmd, func(vc *arm.VPNClientConfiguration) error {
				var err error
				vc.VPNClientRootCertificates, err = deleteNamed(vc.VPNClientRootCertificates, rootName, name, "root certificate")
				return err
			})
		}})
	noWait(rootCreate)
	noWait(rootDelete)
	root.AddCommand(rootCreate, rootDelete, g.gatewayPartWaitCmd("root certificates"))
	revoked := &cobra.Command{Use: "revoked-cert", Short: "Manage a gateway's revoked point-to-site client certificates"}
	revokedCreate := common(&cobra.Command{Use: "create", Short: "Revoke a client certificate by its SHA-1 thumbprint", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if thumbprint == "" {
				return usagef("--thumbprint is required")
			}
			return edit(cmd, func(vc *arm.VPNClientConfiguration) error {
				// One of that name is replaced, as root-cert create does
				// (a second was added beside it).
				vc.VPNClientRevokedCertificates = putNamed(vc.VPNClientRevokedCertificates, revokedName,
					arm.VPNClientRevokedCertficate{Name: name, Properties: arm.VPNClientRevokedCertificateProperties{Thumbprint: thumbprint}})
				return nil
			})
		}})
	revokedCreate.Flags().StringVar(&thumbprint, "thumbprint", "", "SHA-1 thumbprint of the client certificate, hex")
	// az's revoked-cert delete: a certificate revoked by mistake could not
	// be let in again from the CLI.
	revokedDelete := common(&cobra.Command{Use: "delete", Short: "Let a revoked client certificate in again", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return edit(cmd, func(vc *arm.VPNClientConfiguration) error {
				var err error
				vc.VPNClientRevokedCertificates, err = deleteNamed(vc.VPNClientRevokedCertificates, revokedName, name, "revoked certificate")
				return err
			})
		}})
	noWait(revokedCreate)
	noWait(revokedDelete)
	revoked.AddCommand(revokedCreate, revokedDelete, g.gatewayPartWaitCmd("revoked certificates"))
	return []*cobra.Command{root, revoked}
}

func rootName(c arm.VPNClientRootCertificate) string      { return c.Name }
func revokedName(c arm.VPNClientRevokedCertficate) string { return c.Name }

// putNamed returns list with item in place of the one of its name (names
// compared as ARM does, without case), or with item added if there is none.
func putNamed[T any](list []T, nameOf func(T) string, item T) []T {
	list = slices.DeleteFunc(list, func(x T) bool { return strings.EqualFold(nameOf(x), nameOf(item)) })
	return append(list, item)
}

// deleteNamed returns list without the one named name, or an error that
// there is no such what.
func deleteNamed[T any](list []T, nameOf func(T) string, name, what string) ([]T, error) {
	n := len(list)
	list = slices.DeleteFunc(list, func(x T) bool { return strings.EqualFold(nameOf(x), name) })
	if len(list) == n {
		return list, fmt.Errorf("no %s %q", what, name)
	}
	return list, nil
}

// vpnClientPolicyCmd is az's vnet-gateway vpn-client ipsec-policy: the
// custom IPsec/IKE policy of a gateway's IKEv2 clients
// (vpnClientIpsecPolicies), set, shown or cleared by reading the gateway
// and writing it back.
func (g *globals) vpnClientPolicyCmd() *cobra.Command {
	var rg, gateway string
	var pol arm.IPsecPolicy
	common := func(cmd *cobra.Command) *cobra.Command {
		f := cmd.Flags()
		f.StringVarP(&rg, "resource-group", "g", "", "resource group")
		f.StringVar(&gateway, "gateway-name", "", "the virtual network gateway (name or id)")
		return cmd
	}
	policies := func(cmd *cobra.Command, change func(*arm.VPNClientConfiguration)) error {
		gw, err := g.editGateway(cmd, rg, gateway, func(gw *arm.VirtualNetworkGateway) error {
			if change == nil {
				return nil
			}
			vc := gw.Properties.VPNClientConfiguration
			if vc == nil {
				return fmt.Errorf("gateway %s has no point-to-site configuration: create it with --address-prefixes (the client pool) first", gw.Name)
			}
			change(vc)
			return nil
		})
		if err != nil {
			return err
		}
		out := []arm.IPsecPolicy{} // none is [], not null
		if vc := gw.Properties.VPNClientConfiguration; vc != nil {
			out = append(out, vc.VPNClientIPsecPolicies...)
		}
		return g.print(out, policyColumns)
	}
	parent := &cobra.Command{Use: "ipsec-policy", Short: "The custom IPsec/IKE policy of a gateway's IKEv2 point-to-site clients"}
	set := common(&cobra.Command{Use: "set", Short: "Set the policy (the API checks it as a connection's)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return policies(cmd, func(vc *arm.VPNClientConfiguration) { vc.VPNClientIPsecPolicies = []arm.IPsecPolicy{pol} })
		}})
	policyFlags(set.Flags(), &pol)
	show := common(&cobra.Command{Use: "show", Short: "Show the policy", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return policies(cmd, nil) }})
	clearCmd := common(&cobra.Command{Use: "clear", Short: "Remove the policy: the defaults apply", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return policies(cmd, func(vc *arm.VPNClientConfiguration) { vc.VPNClientIPsecPolicies = nil })
		}})
	parent.AddCommand(set, show, clearCmd)
	return parent
}

// vpnClientColumns show a gateway's point-to-site configuration.
var vpnClientColumns = []column{col("AddressPool", "vpnClientAddressPool.addressPrefixes"), col("Protocols", "vpnClientProtocols"),
	col("AuthenticationTypes", "vpnAuthenticationTypes"), col("RootCertificates", "vpnClientRootCertificates"), col("RevokedCertificates", "vpnClientRevokedCertificates")}

// policyColumns show custom IPsec/IKE policies.
var policyColumns = []column{col("IkeEncryption", "ikeEncryption"), col("IkeIntegrity", "ikeIntegrity"), col("DhGroup", "dhGroup"),
	col("IpsecEncryption", "ipsecEncryption"), col("IpsecIntegrity", "ipsecIntegrity"), col("PfsGroup", "pfsGroup"),
	col("SaLifeTimeSeconds", "saLifeTimeSeconds"), col("SaDataSizeKilobytes", "saDataSizeKilobytes")}

// policyFlags are az's flags of a custom IPsec/IKE policy.
func policyFlags(f *pflag.FlagSet, pol *arm.IPsecPolicy) {
	f.StringVar(&pol.IKEEncryption, "ike-encryption", "", "IKE encryption: AES128, AES192, AES256, GCMAES128, GCMAES256")
	f.StringVar(&pol.IKEIntegrity, "ike-integrity", "", "IKE integrity (PRF): SHA1, SHA256, SHA384, GCMAES128, GCMAES256")
	f.StringVar(&pol.DHGroup, "dh-group", "", "IKE Diffie-Hellman group: DHGroup14, DHGroup2048, ECP256, ECP384, and the weak DHGroup2, DHGroup24")
	f.StringVar(&pol.IPsecEncryption, "ipsec-encryption", "", "ESP encryption: AES128, AES192, AES256, GCMAES128, GCMAES192, GCMAES256")
	f.StringVar(&pol.IPsecIntegrity, "ipsec-integrity", "", "ESP integrity: SHA1, SHA256, GCMAES128, GCMAES192, GCMAES256")
	f.StringVar(&pol.PFSGroup, "pfs-group", "None", "PFS group of child SAs: None, PFS14, PFS2048, ECP256, ECP384, PFSMM (the IKE group), and the weak PFS2, PFS24")
	f.Int32Var(&pol.SALifeTimeSeconds, "sa-lifetime", 27000, "child SA lifetime, seconds")
	f.Int32Var(&pol.SADataSizeKilobytes, "sa-max-size", 102400000, "child SA lifetime, kilobytes")
}

// connectionPolicyCmd is az's vpn-connection ipsec-policy: a connection's
// custom IPsec/IKE policy (ipsecPolicies, one at most), added, listed or
// cleared by reading the connection and writing it back.
func (g *globals) connectionPolicyCmd() *cobra.Command {
	var rg, conn string
	var pol arm.IPsecPolicy
	common := func(cmd *cobra.Command) *cobra.Command {
		f := cmd.Flags()
		f.StringVarP(&rg, "resource-group", "g", "", "resource group")
		f.StringVar(&conn, "connection-name", "", "the connection (name or id)")
		return cmd
	}
	policies := func(cmd *cobra.Command, change func(*arm.ConnectionProperties)) error {
		id, c, err := g.targetBy("--connection-name", rg, "connections", conn)
		if err != nil {
			return err
		}
		var cn arm.Connection
		if change == nil {
			if err := c.Get(cmd.Context(), id, &cn); err != nil {
				return err
			}
			return g.print(append([]arm.IPsecPolicy{}, cn.Properties.IPsecPolicies...), policyColumns)
		}
		// The shared key is not in a GET; without it the PUT keeps it.
		out, _, err := client.Modify(cmd.Context(), c, id, func(cn *arm.Connection) string { return cn.Etag },
			func(cn *arm.Connection) error { change(&cn.Properties); return nil })
		if err != nil {
			return err
		}
		return g.print(append([]arm.IPsecPolicy{}, out.Properties.IPsecPolicies...), policyColumns)
	}
	parent := &cobra.Command{Use: "ipsec-policy", Short: "A connection's custom IPsec/IKE policy"}
	add := common(&cobra.Command{Use: "add", Short: "Set the connection's policy (it holds one)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return policies(cmd, func(p *arm.ConnectionProperties) { p.IPsecPolicies = []arm.IPsecPolicy{pol} })
		}})
	policyFlags(add.Flags(), &pol)
	list := common(&cobra.Command{Use: "list", Short: "List the connection's policy", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return policies(cmd, nil) }})
	clearCmd := common(&cobra.Command{Use: "clear", Short: "Remove the policy: the defaults apply", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return policies(cmd, func(p *arm.ConnectionProperties) { p.IPsecPolicies, p.UsePolicyBasedTrafficSelectors = nil, false })
		}})
	noWait(add)
	parent.AddCommand(add, list, clearCmd)
	return parent
}

// editGateway reads a gateway, lets change alter it (nil: no change) and
// writes it back, as az's commands on a gateway's parts do, only while
// nobody else wrote it in between (client.Modify); it returns the gateway
// as the API answered.
func (g *globals) editGateway(cmd *cobra.Command, rg, gateway string, change func(*arm.VirtualNetworkGateway) error) (*arm.VirtualNetworkGateway, error) {
	id, c, err := g.targetBy("--gateway-name", rg, "virtualNetworkGateways", gateway)
	if err != nil {
		return nil, err
	}
	if change == nil {
		var gw arm.VirtualNetworkGateway
		if err := c.Get(cmd.Context(), id, &gw); err != nil {
			return nil, err
		}
		return &gw, nil
	}
	out, _, err := client.Modify(cmd.Context(), c, id, func(gw *arm.VirtualNetworkGateway) string { return gw.Etag }, change)
	return out, err
}

// certData returns the certificate of flag (--public-cert-data,
// --root-cert-data) as publicCertData, base64 DER: read from a file (PEM or
// DER), or given as that data itself, as az takes it.
func certData(flag, v string) (string, error) {
	if v == "" {
		return "", usagef("%s is required: a file with the certificate (PEM or DER), or its base64 DER", flag)
	}
	b, err := os.ReadFile(v)
	if err != nil {
		// Not a file (data holds '/', and may make a name too long): the
		// data itself, which az prints wrapped. A short file name may be
		// base64 too: the data must be a certificate.
		data := strings.Join(strings.Fields(v), "")
		if der, derr := base64.StdEncoding.DecodeString(data); derr == nil && isCertificate(der) {
			return data, nil
		}
		return "", fmt.Errorf("%s is neither a readable file nor a certificate in base64 DER: %w", flag, err)
	}
	if blk, _ := pem.Decode(b); blk != nil {
		b = blk.Bytes
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

func isCertificate(der []byte) bool {
	_, err := x509.ParseCertificate(der)
	return err == nil
}
