package arm

import "encoding/json"

// Field names follow the Microsoft.Network REST API specification,
// api-version 2024-05-01 (and Microsoft.Resources 2021-04-01 for resource
// groups). Fields vnetgw does not use are not declared: ARM ignores
// properties it does not know, and so does vnetgw. Fields of Azure's that
// ask for what vnetgw does not do are declared so that a value is refused
// rather than dropped (the README's rules table lists them).

// Provisioning states.
const (
	Succeeded = "Succeeded"
	Updating  = "Updating"
	Deleting  = "Deleting"
	Failed    = "Failed"
)

// Resource holds the fields every tracked resource has.
type Resource struct {
	ID       string            `json:"id,omitempty"`
	Name     string            `json:"name,omitempty"`
	Type     string            `json:"type,omitempty"`
	Location string            `json:"location,omitempty"`
	Tags     map[string]string `json:"tags,omitempty"`
	Etag     string            `json:"etag,omitempty"`
	// ExtendedLocation (an Azure Edge Zone to place the resource in) is
	// refused when given rather than ignored: vnetgw has its region.
	ExtendedLocation *ExtendedLocation `json:"extendedLocation,omitempty"`
}

// ExtendedLocation is an Azure Edge Zone.
type ExtendedLocation struct {
	Name string `json:"name,omitempty"`
	Type string `json:"type,omitempty"`
}

// SubResource is a reference to another resource by id.
type SubResource struct {
	ID string `json:"id,omitempty"`
}

// Ref returns a reference to id, or nil for an empty id.
func Ref(id string) *SubResource {
	if id == "" {
		return nil
	}
	return &SubResource{ID: id}
}

// RefID returns the id a reference points to, or "" for nil.
func (r *SubResource) RefID() string {
	if r == nil {
		return ""
	}
	return r.ID
}

// AddressSpace is a list of CIDR prefixes.
type AddressSpace struct {
	AddressPrefixes []string `json:"addressPrefixes"`
}

// ResourceGroup is a Microsoft.Resources/resourceGroups resource.
type ResourceGroup struct {
	ID         string                  `json:"id,omitempty"`
	Name       string                  `json:"name,omitempty"`
	Type       string                  `json:"type,omitempty"`
	Location   string                  `json:"location"`
	ManagedBy  string                  `json:"managedBy,omitempty"`
	Tags       map[string]string       `json:"tags,omitempty"`
	Properties ResourceGroupProperties `json:"properties"`
}

// ResourceGroupProperties are a resource group's properties.
type ResourceGroupProperties struct {
	ProvisioningState string `json:"provisioningState,omitempty"`
}

// VirtualNetwork is a Microsoft.Network/virtualNetworks resource.
type VirtualNetwork struct {
	Resource
	Properties VirtualNetworkProperties `json:"properties"`
}

// VirtualNetworkProperties are a virtual network's properties.
type VirtualNetworkProperties struct {
	AddressSpace *AddressSpace `json:"addressSpace,omitempty"`
	DHCPOptions  *DHCPOptions  `json:"dhcpOptions,omitempty"`
	Subnets      []Subnet      `json:"subnets"`
	// VirtualNetworkPeerings are refused when not empty rather than
	// ignored: vnetgw's VNets reach each other through gateways only.
	VirtualNetworkPeerings json.RawMessage `json:"virtualNetworkPeerings,omitempty"`
	// PacketCounters is vnetgw's extension: what the VNet's router
	// forwarded and dropped (R43: traffic with no route is dropped and
	// counted).
	PacketCounters *PacketCounters `json:"packetCounters,omitempty"`
	// Node is vnetgw's extension: the serve node that runs the VNet, its
	// hosts and its gateway, when several share the region (serve --etcd).
	Node              string `json:"node,omitempty"`
	ProvisioningState string `json:"provisioningState,omitempty"`
	ResourceGUID      string `json:"resourceGuid,omitempty"`
}

// PacketCounters are a VNet router's counters (an extension).
type PacketCounters struct {
	Forwarded         uint64 `json:"forwarded"`
	DroppedNoRoute    uint64 `json:"droppedNoRoute"`
	DroppedTTLExpired uint64 `json:"droppedTtlExpired"`
	DroppedMalformed  uint64 `json:"droppedMalformed"`
	// DroppedUndeliverable counts packets routed to a host whose TUN
	// device did not take them (it is down).
	DroppedUndeliverable uint64 `json:"droppedUndeliverable"`
}

// DHCPOptions are the DNS servers handed to hosts of a virtual network.
type DHCPOptions struct {
	DNSServers []string `json:"dnsServers"`
}

// Subnet is a Microsoft.Network/virtualNetworks/subnets resource, inline in
// its virtual network or on its own.
type Subnet struct {
	ID         string           `json:"id,omitempty"`
	Name       string           `json:"name,omitempty"`
	Type       string           `json:"type,omitempty"`
	Etag       string           `json:"etag,omitempty"`
	Properties SubnetProperties `json:"properties"`
}

// SubnetProperties are a subnet's properties. IPConfigurations is read-only:
// the network interface and gateway configurations placed in the subnet.
type SubnetProperties struct {
	AddressPrefix     string        `json:"addressPrefix,omitempty"`
	AddressPrefixes   []string      `json:"addressPrefixes,omitempty"`
	IPConfigurations  []SubResource `json:"ipConfigurations,omitempty"`
	RouteTable        *SubResource  `json:"routeTable,omitempty"`
	ProvisioningState string        `json:"provisioningState,omitempty"`
	// NetworkSecurityGroup, NatGateway, ServiceEndpoints and Delegations
	// are refused when given rather than ignored: vnetgw filters no
	// packets, has no NAT gateway and no Azure services to reach or to
	// hand the subnet to. An empty list is taken.
	NetworkSecurityGroup *SubResource    `json:"networkSecurityGroup,omitempty"`
	NatGateway           *SubResource    `json:"natGateway,omitempty"`
	ServiceEndpoints     json.RawMessage `json:"serviceEndpoints,omitempty"`
	Delegations          json.RawMessage `json:"delegations,omitempty"`
}

// Prefixes returns the subnet's prefixes, whichever field holds them.
func (s *Subnet) Prefixes() []string {
	if len(s.Properties.AddressPrefixes) > 0 {
		return s.Properties.AddressPrefixes
	}
	if s.Properties.AddressPrefix != "" {
		return []string{s.Properties.AddressPrefix}
	}
	return nil
}

// PublicIPAddress is a Microsoft.Network/publicIPAddresses resource.
type PublicIPAddress struct {
	Resource
	SKU        *PublicIPAddressSKU       `json:"sku,omitempty"`
	Zones      []string                  `json:"zones,omitempty"`
	Properties PublicIPAddressProperties `json:"properties"`
}

// PublicIPAddressSKU is the SKU of a public IP address (Basic, Standard).
type PublicIPAddressSKU struct {
	Name string `json:"name,omitempty"`
	Tier string `json:"tier,omitempty"`
}

// PublicIPAddressProperties are a public IP address's properties.
// IPConfiguration is read-only: the gateway configuration that uses it.
type PublicIPAddressProperties struct {
	PublicIPAllocationMethod string       `json:"publicIPAllocationMethod,omitempty"`
	PublicIPAddressVersion   string       `json:"publicIPAddressVersion,omitempty"`
	IPAddress                string       `json:"ipAddress,omitempty"`
	IdleTimeoutInMinutes     *int32       `json:"idleTimeoutInMinutes,omitempty"`
	IPConfiguration          *SubResource `json:"ipConfiguration,omitempty"`
	ProvisioningState        string       `json:"provisioningState,omitempty"`
	ResourceGUID             string       `json:"resourceGuid,omitempty"`
	// DDoSSettings is kept and shown with protectionMode
	// VirtualNetworkInherited or Disabled (vnetgw's VNets have no DDoS
	// protection to inherit); Enabled and a ddosProtectionPlan are
	// refused.
	DDoSSettings *DDoSSettings `json:"ddosSettings,omitempty"`
	// DNSSettings (a host name for the address), IPTags and
	// PublicIPPrefix (an address from a prefix) are refused when given
	// rather than ignored: vnetgw's addresses come from its pool and
	// have no DNS names.
	DNSSettings    *PublicIPAddressDNSSettings `json:"dnsSettings,omitempty"`
	IPTags         json.RawMessage             `json:"ipTags,omitempty"`
	PublicIPPrefix *SubResource                `json:"publicIPPrefix,omitempty"`
}

// DDoSSettings is a public IP address's DDoS protection.
type DDoSSettings struct {
	ProtectionMode     string       `json:"protectionMode,omitempty"`
	DDoSProtectionPlan *SubResource `json:"ddosProtectionPlan,omitempty"`
}

// PublicIPAddressDNSSettings are the DNS names Azure gives a public IP
// address; its read-only fqdn is not declared.
type PublicIPAddressDNSSettings struct {
	DomainNameLabel      string `json:"domainNameLabel,omitempty"`
	DomainNameLabelScope string `json:"domainNameLabelScope,omitempty"`
	ReverseFqdn          string `json:"reverseFqdn,omitempty"`
}

// Allocation methods of IP addresses.
const (
	Dynamic = "Dynamic"
	Static  = "Static"
)

// VirtualNetworkGateway is a Microsoft.Network/virtualNetworkGateways
// resource.
type VirtualNetworkGateway struct {
	Resource
	// Identity (a managed identity, with which Azure reads point-to-site
	// certificates from a Key Vault) is refused when given rather than
	// ignored: type None is taken.
	Identity   *ManagedServiceIdentity         `json:"identity,omitempty"`
	Properties VirtualNetworkGatewayProperties `json:"properties"`
}

// ManagedServiceIdentity is a resource's managed identity.
type ManagedServiceIdentity struct {
	Type                   string          `json:"type,omitempty"`
	UserAssignedIdentities json.RawMessage `json:"userAssignedIdentities,omitempty"`
}

// Gateway types and VPN types.
const (
	GatewayTypeVpn          = "Vpn"
	GatewayTypeExpressRoute = "ExpressRoute"
	RouteBased              = "RouteBased"
	PolicyBased             = "PolicyBased"
)

// VirtualNetworkGatewayProperties are a gateway's properties.
type VirtualNetworkGatewayProperties struct {
	IPConfigurations     []VirtualNetworkGatewayIPConfiguration `json:"ipConfigurations"`
	GatewayType          string                                 `json:"gatewayType,omitempty"`
	VPNType              string                                 `json:"vpnType,omitempty"`
	VPNGatewayGeneration string                                 `json:"vpnGatewayGeneration,omitempty"`
	EnableBGP            bool                                   `json:"enableBgp"`
	ActiveActive         bool                                   `json:"activeActive"`
	// EnablePrivateIPAddress (a private address in the GatewaySubnet
	// that on-premises reaches over ExpressRoute) is refused when true
	// rather than ignored: vnetgw has no ExpressRoute circuit. Shown
	// false, as ARM shows it.
	EnablePrivateIPAddress bool `json:"enablePrivateIpAddress"`
	// DisableIPSecReplayProtection turns ESP anti-replay off on the
	// gateway's tunnels (RFC 4303 §3.4.3), for networks that reorder a lot.
	DisableIPSecReplayProtection bool `json:"disableIPSecReplayProtection"`
	// AdminState is Enabled; Azure's Disabled (the gateway's tunnels
	// down) is refused rather than ignored.
	AdminState string `json:"adminState,omitempty"`
	// EnableDNSForwarding (the gateway answering DNS queries from
	// on-premises) is refused when true rather than ignored: vnetgw's
	// gateways answer no DNS.
	EnableDNSForwarding bool `json:"enableDnsForwarding,omitempty"`
	// AllowRemoteVnetTraffic and AllowVirtualWanTraffic (an ExpressRoute
	// gateway taking traffic from other VNets' and Virtual WAN's
	// ExpressRoute connections) are kept and shown, false when left out
	// as Azure shows them: vnetgw's ExpressRoute gateways carry no
	// traffic, and VNet-to-VNet connections need neither.
	AllowRemoteVnetTraffic bool `json:"allowRemoteVnetTraffic"`
	AllowVirtualWanTraffic bool `json:"allowVirtualWanTraffic"`
	// ResiliencyModel (SingleHomed, MultiHomed: an ExpressRoute
	// gateway's circuits) is kept and shown.
	ResiliencyModel string `json:"resiliencyModel,omitempty"`
	// AutoScaleConfiguration bounds an ErGwScale gateway's scale units;
	// kept and shown (an ExpressRoute gateway carries no traffic), and
	// refused on other SKUs, whose capacity is their SKU's.
	AutoScaleConfiguration *AutoScaleConfiguration `json:"autoScaleConfiguration,omitempty"`
	// VirtualNetworkGatewayPolicyGroups (point-to-site clients given
	// address pools by group) are refused when not empty rather than
	// ignored: every client takes its address from the one pool.
	VirtualNetworkGatewayPolicyGroups json.RawMessage           `json:"virtualNetworkGatewayPolicyGroups,omitempty"`
	GatewayDefaultSite                *SubResource              `json:"gatewayDefaultSite,omitempty"`
	SKU                               *VirtualNetworkGatewaySKU `json:"sku,omitempty"`
	VPNClientConfiguration            *VPNClientConfiguration   `json:"vpnClientConfiguration,omitempty"`
	// CustomRoutes are routes point-to-site clients are given besides the
	// VNet's and its connections' ranges.
	CustomRoutes *AddressSpace `json:"customRoutes,omitempty"`
	BGPSettings  *BGPSettings  `json:"bgpSettings,omitempty"`
	// NatRules translate the addresses of sites (VPN NAT);
	// EnableBGPRouteTranslationForNat translates the routes of BGP
	// connections with them too.
	NatRules                        []VirtualNetworkGatewayNatRule `json:"natRules,omitempty"`
	EnableBGPRouteTranslationForNat bool                           `json:"enableBgpRouteTranslationForNat"`
	ProvisioningState               string                         `json:"provisioningState,omitempty"`
	ResourceGUID                    string                         `json:"resourceGuid,omitempty"`
}

// AutoScaleConfiguration is an ErGwScale gateway's autoscale setting.
type AutoScaleConfiguration struct {
	Bounds *AutoScaleBounds `json:"bounds,omitempty"`
}

// AutoScaleBounds are the least and most scale units of an autoscale
// setting.
type AutoScaleBounds struct {
	Min *int32 `json:"min,omitempty"`
	Max *int32 `json:"max,omitempty"`
}

// VirtualNetworkGatewayNatRule is one NAT rule of a gateway
// (Microsoft.Network/virtualNetworkGateways/natRules), inline.
type VirtualNetworkGatewayNatRule struct {
	ID         string                                 `json:"id,omitempty"`
	Name       string                                 `json:"name,omitempty"`
	Etag       string                                 `json:"etag,omitempty"`
	Type       string                                 `json:"type,omitempty"`
	Properties VirtualNetworkGatewayNatRuleProperties `json:"properties"`
}

// VirtualNetworkGatewayNatRuleProperties are a NAT rule's properties: its
// type (Static, Dynamic), its mode (IngressSnat: the site's addresses
// translated as they enter; EgressSnat: the VNet's as they leave) and the
// mappings from internal to external address spaces.
type VirtualNetworkGatewayNatRuleProperties struct {
	Type              string              `json:"type,omitempty"`
	Mode              string              `json:"mode,omitempty"`
	InternalMappings  []VPNNatRuleMapping `json:"internalMappings,omitempty"`
	ExternalMappings  []VPNNatRuleMapping `json:"externalMappings,omitempty"`
	IPConfigurationID string              `json:"ipConfigurationId,omitempty"`
	ProvisioningState string              `json:"provisioningState,omitempty"`
}

// VPNNatRuleMapping is one address space (and port range) of a NAT rule.
type VPNNatRuleMapping struct {
	AddressSpace string `json:"addressSpace,omitempty"`
	PortRange    string `json:"portRange,omitempty"`
}

// NAT rule types and modes.
const (
	NatRuleStatic      = "Static"
	NatRuleDynamic     = "Dynamic"
	NatRuleIngressSnat = "IngressSnat"
	NatRuleEgressSnat  = "EgressSnat"
)

// VirtualNetworkGatewayIPConfiguration binds a gateway to its subnet and
// public address.
type VirtualNetworkGatewayIPConfiguration struct {
	ID         string                                         `json:"id,omitempty"`
	Name       string                                         `json:"name,omitempty"`
	Etag       string                                         `json:"etag,omitempty"`
	Properties VirtualNetworkGatewayIPConfigurationProperties `json:"properties"`
}

// VirtualNetworkGatewayIPConfigurationProperties are the properties of a
// gateway IP configuration.
type VirtualNetworkGatewayIPConfigurationProperties struct {
	PrivateIPAllocationMethod string       `json:"privateIPAllocationMethod,omitempty"`
	PrivateIPAddress          string       `json:"privateIPAddress,omitempty"`
	Subnet                    *SubResource `json:"subnet,omitempty"`
	PublicIPAddress           *SubResource `json:"publicIPAddress,omitempty"`
	ProvisioningState         string       `json:"provisioningState,omitempty"`
}

// VirtualNetworkGatewaySKU is a gateway's SKU.
type VirtualNetworkGatewaySKU struct {
	Name     string `json:"name,omitempty"`
	Tier     string `json:"tier,omitempty"`
	Capacity *int32 `json:"capacity,omitempty"`
}

// VPNClientConfiguration is a gateway's point-to-site configuration.
type VPNClientConfiguration struct {
	VPNClientAddressPool         *AddressSpace                `json:"vpnClientAddressPool,omitempty"`
	VPNClientProtocols           []string                     `json:"vpnClientProtocols,omitempty"`
	VPNAuthenticationTypes       []string                     `json:"vpnAuthenticationTypes,omitempty"`
	VPNClientRootCertificates    []VPNClientRootCertificate   `json:"vpnClientRootCertificates,omitempty"`
	VPNClientRevokedCertificates []VPNClientRevokedCertficate `json:"vpnClientRevokedCertificates,omitempty"`
	// VPNClientIPsecPolicies is the custom IPsec/IKE policy of IKEv2
	// clients (at most one).
	VPNClientIPsecPolicies []IPsecPolicy `json:"vpnClientIpsecPolicies,omitempty"`
	// The RADIUS servers clients authenticate with (vpnAuthenticationTypes
	// Radius): one by RadiusServerAddress and RadiusServerSecret, or
	// several in RadiusServers. The secrets are written, never read back
	// (ARM answers listRadiusSecrets with them).
	RadiusServerAddress string         `json:"radiusServerAddress,omitempty"`
	RadiusServerSecret  string         `json:"radiusServerSecret,omitempty"`
	RadiusServers       []RadiusServer `json:"radiusServers,omitempty"`
	// AADTenant, AADAudience and AADIssuer (Azure AD authentication of
	// clients, which an older client asks for with these alone) and
	// VngClientConnectionConfigurations (a pool per policy group) are
	// refused when given rather than ignored.
	AADTenant                         string          `json:"aadTenant,omitempty"`
	AADAudience                       string          `json:"aadAudience,omitempty"`
	AADIssuer                         string          `json:"aadIssuer,omitempty"`
	VngClientConnectionConfigurations json.RawMessage `json:"vngClientConnectionConfigurations,omitempty"`
}

// RadiusServer is one RADIUS server of a gateway's point-to-site clients.
type RadiusServer struct {
	RadiusServerAddress string `json:"radiusServerAddress"`
	RadiusServerScore   int64  `json:"radiusServerScore,omitempty"`
	RadiusServerSecret  string `json:"radiusServerSecret,omitempty"`
}

// RadiusAuthServer is an entry of listRadiusSecrets' answer.
type RadiusAuthServer struct {
	RadiusServerAddress string `json:"radiusServerAddress"`
	RadiusServerSecret  string `json:"radiusServerSecret"`
}

// VPNClientRootCertificate is a root certificate clients chain to (R12).
type VPNClientRootCertificate struct {
	ID         string                             `json:"id,omitempty"`
	Name       string                             `json:"name,omitempty"`
	Etag       string                             `json:"etag,omitempty"`
	Properties VPNClientRootCertificateProperties `json:"properties"`
}

// VPNClientRootCertificateProperties hold the certificate, base64 DER.
type VPNClientRootCertificateProperties struct {
	PublicCertData    string `json:"publicCertData"`
	ProvisioningState string `json:"provisioningState,omitempty"`
}

// VPNClientRevokedCertficate names a client certificate by thumbprint that
// is refused. (The misspelling is ARM's.)
type VPNClientRevokedCertficate struct {
	ID         string                                `json:"id,omitempty"`
	Name       string                                `json:"name,omitempty"`
	Etag       string                                `json:"etag,omitempty"`
	Properties VPNClientRevokedCertificateProperties `json:"properties"`
}

// VPNClientRevokedCertificateProperties hold a revoked certificate's
// thumbprint.
type VPNClientRevokedCertificateProperties struct {
	Thumbprint        string `json:"thumbprint,omitempty"`
	ProvisioningState string `json:"provisioningState,omitempty"`
}

// BGPSettings are the BGP parameters of a gateway or a local site.
type BGPSettings struct {
	ASN                 int64                       `json:"asn,omitempty"`
	BGPPeeringAddress   string                      `json:"bgpPeeringAddress,omitempty"`
	PeerWeight          *int32                      `json:"peerWeight,omitempty"`
	BGPPeeringAddresses []IPConfigurationBGPPeering `json:"bgpPeeringAddresses,omitempty"`
}

// IPConfigurationBGPPeering lists the BGP addresses of one gateway IP
// configuration.
type IPConfigurationBGPPeering struct {
	IPConfigurationID     string   `json:"ipconfigurationId,omitempty"`
	DefaultBGPIPAddresses []string `json:"defaultBgpIpAddresses,omitempty"`
	CustomBGPIPAddresses  []string `json:"customBgpIpAddresses,omitempty"`
	TunnelIPAddresses     []string `json:"tunnelIpAddresses,omitempty"`
}

// LocalNetworkGateway is a Microsoft.Network/localNetworkGateways resource:
// an on-premises site.
type LocalNetworkGateway struct {
	Resource
	Properties LocalNetworkGatewayProperties `json:"properties"`
}

// LocalNetworkGatewayProperties are a local site's properties.
type LocalNetworkGatewayProperties struct {
	LocalNetworkAddressSpace *AddressSpace `json:"localNetworkAddressSpace,omitempty"`
	GatewayIPAddress         string        `json:"gatewayIpAddress,omitempty"`
	FQDN                     string        `json:"fqdn,omitempty"`
	BGPSettings              *BGPSettings  `json:"bgpSettings,omitempty"`
	ProvisioningState        string        `json:"provisioningState,omitempty"`
	ResourceGUID             string        `json:"resourceGuid,omitempty"`
}

// Connection is a Microsoft.Network/connections resource (the REST API's
// VirtualNetworkGatewayConnection).
type Connection struct {
	Resource
	Properties ConnectionProperties `json:"properties"`
}

// Connection types, modes and protocols.
const (
	ConnectionIPsec        = "IPsec"
	ConnectionVnet2Vnet    = "Vnet2Vnet"
	ConnectionExpressRoute = "ExpressRoute"
	ConnectionVPNClient    = "VPNClient"

	ModeDefault       = "Default"
	ModeInitiatorOnly = "InitiatorOnly"
	ModeResponderOnly = "ResponderOnly"

	IKEv1 = "IKEv1"
	IKEv2 = "IKEv2"
)

// ConnectionProperties are a connection's properties. SharedKey is accepted
// on PUT and kept, but never returned: it is read through the sharedkey
// child resource.
type ConnectionProperties struct {
	VirtualNetworkGateway1         *SubResource `json:"virtualNetworkGateway1,omitempty"`
	VirtualNetworkGateway2         *SubResource `json:"virtualNetworkGateway2,omitempty"`
	LocalNetworkGateway2           *SubResource `json:"localNetworkGateway2,omitempty"`
	Peer                           *SubResource `json:"peer,omitempty"`
	ConnectionType                 string       `json:"connectionType,omitempty"`
	ConnectionProtocol             string       `json:"connectionProtocol,omitempty"`
	ConnectionMode                 string       `json:"connectionMode,omitempty"`
	RoutingWeight                  int32        `json:"routingWeight"`
	DPDTimeoutSeconds              int32        `json:"dpdTimeoutSeconds,omitempty"`
	SharedKey                      string       `json:"sharedKey,omitempty"`
	EnableBGP                      bool         `json:"enableBgp"`
	UsePolicyBasedTrafficSelectors bool         `json:"usePolicyBasedTrafficSelectors"`
	// UseLocalAzureIPAddress (a tunnel from the gateway's private
	// address) is refused rather than ignored: tunnels go from the
	// gateway's public IP address. Shown false, as ARM shows it.
	UseLocalAzureIPAddress bool `json:"useLocalAzureIpAddress"`
	// TunnelProperties (a tunnel's gateway address and BGP peering
	// address, chosen for each tunnel) are refused rather than ignored:
	// each instance's tunnel goes from its public IP address, and
	// GatewayCustomBgpIPAddresses choose the BGP addresses.
	TunnelProperties json.RawMessage `json:"tunnelProperties,omitempty"`
	// AuthorizationKey, ExpressRouteGatewayBypass and
	// EnablePrivateLinkFastPath are an ExpressRoute connection's: given
	// to a tunnel they are refused rather than ignored (the two flags
	// shown false, as Azure shows them).
	AuthorizationKey          string `json:"authorizationKey,omitempty"`
	ExpressRouteGatewayBypass bool   `json:"expressRouteGatewayBypass"`
	EnablePrivateLinkFastPath bool   `json:"enablePrivateLinkFastPath"`
	// AuthenticationType is PSK, the only one (R22); Azure's Certificate,
	// with CertificateAuthentication, is refused rather than ignored.
	AuthenticationType        string          `json:"authenticationType,omitempty"`
	CertificateAuthentication json.RawMessage `json:"certificateAuthentication,omitempty"`
	// GatewayCustomBgpIPAddresses choose, per IP configuration (instance)
	// of the gateway, which of its custom APIPA addresses the connection's
	// BGP session goes from.
	GatewayCustomBgpIPAddresses []GatewayCustomBgpIPAddress `json:"gatewayCustomBgpIpAddresses,omitempty"`
	IngressNatRules             []SubResource               `json:"ingressNatRules,omitempty"`
	EgressNatRules              []SubResource               `json:"egressNatRules,omitempty"`
	IPsecPolicies               []IPsecPolicy               `json:"ipsecPolicies"`
	TrafficSelectorPolicies     []TrafficSelectorPolicy     `json:"trafficSelectorPolicies"`
	ConnectionStatus            string                      `json:"connectionStatus,omitempty"`
	TunnelConnectionStatus      []TunnelConnectionHealth    `json:"tunnelConnectionStatus,omitempty"`
	IngressBytesTransferred     int64                       `json:"ingressBytesTransferred"`
	EgressBytesTransferred      int64                       `json:"egressBytesTransferred"`
	// InterRegion is vnetgw's extension (R39): the connection's traffic
	// crosses regions, the traffic that is charged.
	InterRegion bool `json:"interRegion"`
	// ConnectionStatusReason is vnetgw's extension (for people, not for
	// programs): why the connection is not Connected, such as a
	// policy-based tunnel removed for idleness (R8), or, when it is, which
	// of its prefix pairs are not up (R18).
	ConnectionStatusReason string `json:"connectionStatusReason,omitempty"`
	ProvisioningState      string `json:"provisioningState,omitempty"`
	ResourceGUID           string `json:"resourceGuid,omitempty"`
}

// GatewayCustomBgpIPAddress is the custom APIPA address one gateway IP
// configuration peers from on a connection.
type GatewayCustomBgpIPAddress struct {
	IPConfigurationID  string `json:"ipConfigurationId"`
	CustomBgpIPAddress string `json:"customBgpIpAddress"`
}

// IPsecPolicy is a custom IPsec/IKE policy of a connection.
type IPsecPolicy struct {
	SALifeTimeSeconds   int32  `json:"saLifeTimeSeconds"`
	SADataSizeKilobytes int32  `json:"saDataSizeKilobytes"`
	IPsecEncryption     string `json:"ipsecEncryption"`
	IPsecIntegrity      string `json:"ipsecIntegrity"`
	IKEEncryption       string `json:"ikeEncryption"`
	IKEIntegrity        string `json:"ikeIntegrity"`
	DHGroup             string `json:"dhGroup"`
	PFSGroup            string `json:"pfsGroup"`
}

// TrafficSelectorPolicy is a pair of local and remote address ranges.
type TrafficSelectorPolicy struct {
	LocalAddressRanges  []string `json:"localAddressRanges"`
	RemoteAddressRanges []string `json:"remoteAddressRanges"`
}

// TunnelConnectionHealth is the observed state of one tunnel.
type TunnelConnectionHealth struct {
	Tunnel                           string `json:"tunnel,omitempty"`
	ConnectionStatus                 string `json:"connectionStatus,omitempty"`
	IngressBytesTransferred          int64  `json:"ingressBytesTransferred"`
	EgressBytesTransferred           int64  `json:"egressBytesTransferred"`
	LastConnectionEstablishedUTCTime string `json:"lastConnectionEstablishedUtcTime,omitempty"`
}

// ConnectionSharedKey is the body of .../connections/{n}/sharedkey.
type ConnectionSharedKey struct {
	ID    string `json:"id,omitempty"`
	Value string `json:"value"`
}

// ConnectionResetSharedKey is the body of .../sharedkey/reset.
type ConnectionResetSharedKey struct {
	KeyLength int32 `json:"keyLength"`
}

// RouteTable is a Microsoft.Network/routeTables resource: user-defined
// routes (R26) for the subnets that name it.
type RouteTable struct {
	Resource
	Properties RouteTableProperties `json:"properties"`
}

// RouteTableProperties are a route table's properties; Subnets is
// read-only.
type RouteTableProperties struct {
	Routes                     []Route       `json:"routes,omitempty"`
	DisableBGPRoutePropagation bool          `json:"disableBgpRoutePropagation"`
	Subnets                    []SubResource `json:"subnets,omitempty"`
	ProvisioningState          string        `json:"provisioningState,omitempty"`
	ResourceGUID               string        `json:"resourceGuid,omitempty"`
}

// Route is one user-defined route of a route table.
type Route struct {
	ID         string          `json:"id,omitempty"`
	Name       string          `json:"name,omitempty"`
	Type       string          `json:"type,omitempty"`
	Etag       string          `json:"etag,omitempty"` // its table's
	Properties RouteProperties `json:"properties"`
}

// RouteProperties are where a route sends a prefix.
type RouteProperties struct {
	AddressPrefix     string `json:"addressPrefix"`
	NextHopType       string `json:"nextHopType"`
	NextHopIPAddress  string `json:"nextHopIpAddress,omitempty"`
	ProvisioningState string `json:"provisioningState,omitempty"`
}

// Next hop types of a user-defined route, beside those of effective
// routes.
const (
	NextHopVirtualAppliance = "VirtualAppliance"
	NextHopInternet         = "Internet"
)

// IPAddressAvailability answers .../virtualNetworks/{n}/CheckIPAddressAvailability.
type IPAddressAvailability struct {
	Available            bool     `json:"available"`
	AvailableIPAddresses []string `json:"availableIPAddresses,omitempty"`
	// IsPlatformReserved says the address is one the platform keeps in
	// every subnet (its first four and its last), which no host gets.
	IsPlatformReserved bool `json:"isPlatformReserved"`
}

// VirtualNetworkUsage is one subnet's use of addresses, in
// .../virtualNetworks/{n}/usages.
type VirtualNetworkUsage struct {
	ID           string    `json:"id"`
	Name         UsageName `json:"name"`
	Unit         string    `json:"unit"`
	CurrentValue float64   `json:"currentValue"`
	Limit        float64   `json:"limit"`
}

// UsageName names a usage.
type UsageName struct {
	Value          string `json:"value"`
	LocalizedValue string `json:"localizedValue"`
}

// IKESA is one IKE SA of a connection, as .../getikesas answers it (as a
// JSON string, an array of these): vnetgw's format, with Azure's names
// where they fit.
type IKESA struct {
	LocalEndpoint  string `json:"localEndpoint"`
	RemoteEndpoint string `json:"remoteEndpoint"`
	// InitiatorSPI and ResponderSPI are the IKE SPIs in hex.
	InitiatorSPI  string `json:"initiatorSpi"`
	ResponderSPI  string `json:"responderSpi"`
	IsSAInitiator bool   `json:"isSaInitiator"`
	State         string `json:"state"`
	// Proposal is the negotiated suite in strongSwan's syntax.
	Proposal string `json:"proposal"`
	// NATLocal and NATRemote say that a NAT was detected (or, for
	// NATLocal, pretended to make ESP travel in UDP) in front of either
	// side.
	NATLocal             bool      `json:"natLocal"`
	NATRemote            bool      `json:"natRemote"`
	EstablishedTime      string    `json:"establishedTime,omitempty"`
	ElapsedTimeInSeconds int64     `json:"elapsedTimeInSeconds"`
	QuickModeSAs         []ChildSA `json:"quickModeSa"`
}

// ChildSA is one child SA pair of an IKESA.
type ChildSA struct {
	InboundSPI             string   `json:"inboundSpi"`
	OutboundSPI            string   `json:"outboundSpi"`
	Proposal               string   `json:"proposal"`
	LocalTrafficSelectors  []string `json:"localTrafficSelectors"`
	RemoteTrafficSelectors []string `json:"remoteTrafficSelectors"`
	UDPEncapsulation       bool     `json:"udpEncapsulation"`
	// The ESP packets and bytes opened with the inbound SA and sealed
	// with the outbound one.
	InboundPackets  uint64 `json:"inboundPacketsCount"`
	InboundBytes    uint64 `json:"inboundBytes"`
	OutboundPackets uint64 `json:"outboundPacketsCount"`
	OutboundBytes   uint64 `json:"outboundBytes"`
	// Rekeyed tells that the pair replaced an older one.
	Rekeyed              bool   `json:"rekeyed"`
	InstalledTime        string `json:"installedTime"`
	ElapsedTimeInSeconds int64  `json:"elapsedTimeInSeconds"`
}

// VPNDeviceScriptParameters is the body of
// .../connections/{n}/vpndeviceconfigurationscript: the device to configure.
type VPNDeviceScriptParameters struct {
	Vendor          string `json:"vendor,omitempty"`
	DeviceFamily    string `json:"deviceFamily,omitempty"`
	FirmwareVersion string `json:"firmwareVersion,omitempty"`
}

// NetworkInterface is a Microsoft.Network/networkInterfaces resource: a
// host's attachment to a subnet.
type NetworkInterface struct {
	Resource
	Properties NetworkInterfaceProperties `json:"properties"`
}

// NetworkInterfaceProperties are a network interface's properties.
// Attachment is vnetgw's extension: how the host behind the interface is
// realised (see the README).
type NetworkInterfaceProperties struct {
	IPConfigurations   []NetworkInterfaceIPConfiguration `json:"ipConfigurations"`
	MACAddress         string                            `json:"macAddress,omitempty"`
	EnableIPForwarding bool                              `json:"enableIPForwarding"`
	// EnableAcceleratedNetworking (a hardware offload, which changes no
	// packet) is kept and shown, false when left out as Azure shows it.
	EnableAcceleratedNetworking bool        `json:"enableAcceleratedNetworking"`
	Primary                     *bool       `json:"primary,omitempty"`
	Attachment                  *Attachment `json:"attachment,omitempty"`
	ProvisioningState           string      `json:"provisioningState,omitempty"`
	ResourceGUID                string      `json:"resourceGuid,omitempty"`
	// NetworkSecurityGroup and DNSSettings' dnsServers and
	// internalDnsNameLabel are refused when given rather than ignored:
	// vnetgw filters no packets and gives its hosts no DNS.
	NetworkSecurityGroup *SubResource                 `json:"networkSecurityGroup,omitempty"`
	DNSSettings          *NetworkInterfaceDNSSettings `json:"dnsSettings,omitempty"`
}

// PrimaryIPConfiguration returns the interface's primary IP
// configuration, the one marked so or else the first: the one its host
// is in. It has at least one.
func (p *NetworkInterfaceProperties) PrimaryIPConfiguration() NetworkInterfaceIPConfiguration {
	for _, c := range p.IPConfigurations {
		if c.Properties.Primary != nil && *c.Properties.Primary {
			return c
		}
	}
	return p.IPConfigurations[0]
}

// NetworkInterfaceDNSSettings are a network interface's DNS settings; the
// read-only ones (appliedDnsServers, internalFqdn,
// internalDomainNameSuffix) are not declared.
type NetworkInterfaceDNSSettings struct {
	DNSServers           []string `json:"dnsServers,omitempty"`
	InternalDNSNameLabel string   `json:"internalDnsNameLabel,omitempty"`
}

// Attachment says how a network interface's host exists: a built-in host on
// a userspace network stack ("netstack", the default) or a TUN device in a
// network namespace ("tun").
// State and Error are read-only: what the data plane observes ("Running",
// or "Failed" with the reason).
type Attachment struct {
	Kind  string `json:"kind"`
	NetNS string `json:"netns,omitempty"`
	State string `json:"state,omitempty"`
	Error string `json:"error,omitempty"`
}

// NetworkInterfaceIPConfiguration is one address of a network interface.
type NetworkInterfaceIPConfiguration struct {
	ID         string                                    `json:"id,omitempty"`
	Name       string                                    `json:"name,omitempty"`
	Type       string                                    `json:"type,omitempty"`
	Etag       string                                    `json:"etag,omitempty"`
	Properties NetworkInterfaceIPConfigurationProperties `json:"properties"`
}

// NetworkInterfaceIPConfigurationProperties are the properties of one
// address of a network interface.
type NetworkInterfaceIPConfigurationProperties struct {
	PrivateIPAddress          string       `json:"privateIPAddress,omitempty"`
	PrivateIPAllocationMethod string       `json:"privateIPAllocationMethod,omitempty"`
	PrivateIPAddressVersion   string       `json:"privateIPAddressVersion,omitempty"`
	Subnet                    *SubResource `json:"subnet,omitempty"`
	PublicIPAddress           *SubResource `json:"publicIPAddress,omitempty"`
	Primary                   *bool        `json:"primary,omitempty"`
	ProvisioningState         string       `json:"provisioningState,omitempty"`
}

// List is the envelope of every list response.
type List[T any] struct {
	Value    []T    `json:"value"`
	NextLink string `json:"nextLink,omitempty"`
}

// GenericResource is a resource as Microsoft.Resources' lists of every
// type show it (GenericResourceExpanded, "Resources - List"): what ARM
// knows of any resource, whatever its provider.
type GenericResource struct {
	ID       string              `json:"id"`
	Name     string              `json:"name"`
	Type     string              `json:"type"`
	Location string              `json:"location,omitempty"`
	Tags     map[string]string   `json:"tags,omitempty"`
	SKU      *PublicIPAddressSKU `json:"sku,omitempty"`
}

// EffectiveRoute is one route in effect for a network interface (the
// answer of POST .../networkInterfaces/{n}/effectiveRouteTable).
type EffectiveRoute struct {
	Name             string   `json:"name,omitempty"`
	Source           string   `json:"source"`
	State            string   `json:"state"`
	AddressPrefix    []string `json:"addressPrefix"`
	NextHopIPAddress []string `json:"nextHopIpAddress"`
	NextHopType      string   `json:"nextHopType"`
	// DisableBGPRoutePropagation is the setting of the route table a user
	// route came from; the other routes come from no table and show false.
	DisableBGPRoutePropagation bool `json:"disableBgpRoutePropagation"`
}

// Next hop types of effective routes.
const (
	NextHopVnetLocal = "VnetLocal"
	NextHopGateway   = "VirtualNetworkGateway"
	NextHopNone      = "None"
)

// BGPPeerStatus is one BGP peer of a gateway, as
// .../virtualNetworkGateways/{n}/getBgpPeerStatus answers it.
type BGPPeerStatus struct {
	LocalAddress string `json:"localAddress,omitempty"`
	Neighbor     string `json:"neighbor,omitempty"`
	ASN          int64  `json:"asn,omitempty"`
	// State is Unknown, Stopped, Idle, Connecting or Connected.
	State             string `json:"state,omitempty"`
	ConnectedDuration string `json:"connectedDuration,omitempty"`
	RoutesReceived    int64  `json:"routesReceived"`
	MessagesSent      int64  `json:"messagesSent"`
	MessagesReceived  int64  `json:"messagesReceived"`
}

// GatewayRoute is a route a gateway learned or advertises, as
// getLearnedRoutes and getAdvertisedRoutes answer it.
type GatewayRoute struct {
	LocalAddress string `json:"localAddress,omitempty"`
	Network      string `json:"network,omitempty"`
	NextHop      string `json:"nextHop,omitempty"`
	SourcePeer   string `json:"sourcePeer,omitempty"`
	// Origin is EBgp (learned from a peer) or Network (the gateway's own).
	Origin string `json:"origin,omitempty"`
	ASPath string `json:"asPath"`
	Weight int32  `json:"weight"`
}

// VPNClientParameters is the body of
// .../virtualNetworkGateways/{n}/generatevpnclientpackage.
type VPNClientParameters struct {
	ProcessorArchitecture string `json:"processorArchitecture,omitempty"`
	AuthenticationMethod  string `json:"authenticationMethod,omitempty"`
}

// VPNPacketCaptureStartParameters is the body of
// .../virtualNetworkGateways/{n}/startPacketCapture.
type VPNPacketCaptureStartParameters struct {
	// FilterData is Azure's capture filter, a JSON document in a string.
	FilterData string `json:"filterData,omitempty"`
}

// VPNPacketCaptureStopParameters is the body of stopPacketCapture.
type VPNPacketCaptureStopParameters struct {
	// SASURL is a storage container's URL (with its SAS token) the
	// capture is uploaded into; vnetgw serves it for download without.
	SASURL string `json:"sasUrl,omitempty"`
}

// P2SVPNConnectionRequest is the body of
// .../virtualNetworkGateways/{n}/disconnectVirtualNetworkGatewayVpnConnections.
type P2SVPNConnectionRequest struct {
	VPNConnectionIDs []string `json:"vpnConnectionIds"`
}

// VPNClientConnectionHealthDetail is one connected point-to-site client, as
// .../virtualNetworkGateways/{n}/getVpnClientConnectionHealth answers it.
type VPNClientConnectionHealthDetail struct {
	VPNConnectionID           string `json:"vpnConnectionId,omitempty"`
	VPNConnectionDuration     int64  `json:"vpnConnectionDuration"`
	VPNConnectionTime         string `json:"vpnConnectionTime,omitempty"`
	PublicIPAddress           string `json:"publicIpAddress,omitempty"`
	PrivateIPAddress          string `json:"privateIpAddress,omitempty"`
	VPNUserName               string `json:"vpnUserName,omitempty"`
	IngressBytesTransferred   int64  `json:"ingressBytesTransferred"`
	EgressBytesTransferred    int64  `json:"egressBytesTransferred"`
	IngressPacketsTransferred int64  `json:"ingressPacketsTransferred"`
	EgressPacketsTransferred  int64  `json:"egressPacketsTransferred"`
	// MaxBandwidth and MaxPacketsPerSecond are the client's highest rate
	// over one-second windows since it connected, both ways together:
	// bytes per second (Azure's spec says only "the max band width";
	// its P2SBandwidth metric is in bytes per second, and so is this),
	// and packets per second.
	MaxBandwidth        int64 `json:"maxBandwidth"`
	MaxPacketsPerSecond int64 `json:"maxPacketsPerSecond"`
}
