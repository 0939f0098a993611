package arm

import "fmt"

// Error is an ARM error: a stable code, a message for people, and the
// property it is about. The HTTP status that goes with each code is decided
// in one table, in the api package.
type Error struct {
	Code    string  `json:"code"`
	Message string  `json:"message"`
	Target  string  `json:"target,omitempty"`
	Details []Error `json:"details,omitempty"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorResponse is the envelope of every error response body.
type ErrorResponse struct {
	Error *Error `json:"error"`
}

// Error codes. Where Azure has a code for the same failure, vnetgw uses it.
const (
	// Request shape.
	CodeMissingAPIVersion     = "MissingApiVersionParameter"
	CodeInvalidAPIVersion     = "InvalidApiVersionParameter"
	CodeInvalidRequestFormat  = "InvalidRequestFormat"
	CodeInvalidRequestContent = "InvalidRequestContent"
	CodeRequestTooLarge       = "RequestEntityTooLarge"
	CodeInvalidResourceName   = "InvalidResourceName"
	CodeInvalidSubscriptionID = "InvalidSubscriptionId"
	CodeInvalidTag            = "InvalidTag"
	CodeServiceUnavailable    = "ServiceUnavailable"
	CodeInvalidResourceType   = "InvalidResourceType"
	CodeMethodNotAllowed      = "MethodNotAllowed"
	CodeLocationRequired      = "LocationRequired"
	CodeLinkedInvalidID       = "LinkedInvalidPropertyId"
	CodeInvalidReference      = "InvalidResourceReference"
	CodeInvalidParameter      = "InvalidParameter"
	CodeInvalidFilter         = "InvalidFilterInQueryString"
	CodeRouteConflict         = "RouteConflict"
	CodeWriteTooLarge         = "WriteTooLarge"
	// The state store lost a write's answer: it may have been applied.
	CodeWriteOutcomeUnknown = "WriteOutcomeUnknown"
	CodePreconditionFailed  = "PreconditionFailed"

	// Authentication.
	CodeAuthenticationFailed = "AuthenticationFailed"

	// Several nodes: the node that runs a resource did not answer.
	CodeNodeUnreachable = "NodeUnreachable"
	// Managing the nodes (Vnetgw.Cluster).
	CodeClusterNotConfigured = "ClusterNotConfigured"
	CodeNodeNotFound         = "NodeNotFound"
	CodeNodeDraining         = "NodeDraining"

	// Existence.
	CodeResourceNotFound      = "ResourceNotFound"
	CodeResourceGroupNotFound = "ResourceGroupNotFound"
	// A child resource (a subnet, a route, a NAT rule) written under a
	// parent that does not exist.
	CodeParentResourceNotFound = "ParentResourceNotFound"
	// A resource group written again in another location.
	CodeInvalidGroupLocation = "InvalidResourceGroupLocation"
	// A resource written again in another location.
	CodeInvalidLocation = "InvalidResourceLocation"

	// Address spaces and subnets.
	CodeInvalidAddressPrefix  = "InvalidAddressPrefix"
	CodeSubnetOutsideVnet     = "NetcfgSubnetRangeOutsideVnet"
	CodeSubnetsOverlap        = "NetcfgSubnetRangesOverlap"
	CodeAddressSpaceOverlap   = "AddressSpaceOverlap" // R35, R43
	CodeInUseSubnet           = "InUseSubnetCannotBeDeleted"
	CodeInUseSubnetPrefix     = "InUseSubnetCannotBeUpdated" // its prefix changed
	CodeInUseVirtualNetwork   = "InUseVirtualNetworkCannotBeDeleted"
	CodeInUsePublicIP         = "PublicIPAddressInUse"
	CodeInUseGateway          = "InUseVirtualNetworkGatewayCannotBeDeleted"
	CodeInUseLocalGateway     = "InUseLocalNetworkGatewayCannotBeDeleted"
	CodeInUseRouteTable       = "InUseRouteTableCannotBeDeleted"
	CodeInUseNatRule          = "InUseNatRuleCannotBeDeleted"
	CodeInUseResourceGroup    = "ResourceGroupDeletionBlocked"
	CodePrivateIPInUse        = "PrivateIPAddressInUse"
	CodePrivateIPNotInSubnet  = "PrivateIPAddressNotInSubnet"
	CodePrivateIPReserved     = "PrivateIPAddressIsReserved"
	CodeSubnetFull            = "SubnetIsFull"
	CodePublicIPPoolExhausted = "PublicIPAddressPoolExhausted"
	CodePublicIPIdleTimeout   = "PublicIPIdleTimeoutIsOutOfRange"
	CodePublicIPSKUChange     = "PublicIPAddressSkuCannotBeDowngraded"
	CodeNicInGatewaySubnet    = "NetworkInterfaceInGatewaySubnet" // R23
	CodeGatewaySubnetName     = "InvalidGatewaySubnetName"        // R23
	CodeGatewaySubnetTooSmall = "GatewaySubnetTooSmall"           // R23
	CodeGatewaySubnetFull     = "GatewaySubnetAlreadyHasGateway"  // R23, R6
	CodeGatewayTypeChange     = "GatewayTypeCannotBeChanged"
	CodeVPNTypeChange         = "VpnTypeCannotBeChanged"
	CodeInvalidSKU            = "InvalidGatewaySku"
	CodeSKUResize             = "GatewaySkuCannotBeResized"                   // across SKU families
	CodeP2SOnPolicyBased      = "PointToSiteNotSupportedOnPolicyBasedGateway" // R15
	CodeP2SProtocolNotOnSKU   = "VpnClientProtocolNotSupportedBySku"          // R32
	CodeTooManyRootCerts      = "TooManyVpnClientRootCertificates"            // R12
	CodeInvalidCertificate    = "InvalidVpnClientRootCertificate"             // R12
	CodeNoPointToSite         = "VpnClientConfigurationNotFound"
	CodePacketCaptureRunning  = "PacketCaptureAlreadyInProgress"
	CodeNoPacketCapture       = "PacketCaptureNotInProgress"
	CodePacketCaptureUpload   = "PacketCaptureUploadFailed"
	CodeTooManyRequests       = "TooManyRequests"
	CodeVnet2VnetPolicyBased  = "Vnet2VnetRequiresRouteBasedGateways" // R28, R29
	CodeMultiSitePolicyBased  = "MultiSiteRequiresRouteBasedGateway"  // R28
	CodeTunnelLimit           = "TunnelLimitExceeded"                 // R32
	CodePrefixPairLimit       = "TrafficSelectorPairLimitExceeded"    // R18
	CodeDuplicateConnection   = "DuplicateConnection"                 // R34
	CodeInvalidSharedKey      = "InvalidSharedKey"                    // R21, R38
	CodeInvalidKeyLength      = "InvalidSharedKeyLength"              // R21
	CodeReservedASN           = "ReservedBgpAsn"                      // R41
	CodeInvalidASN            = "InvalidBgpAsn"                       // R41
	CodeBGPPeeringAddress     = "InvalidBgpPeeringAddress"            // R41
	CodeBGPNotEnabled         = "BgpNotEnabled"                       // R41: a BGP operation on a gateway without BGP
	CodeGatewayDefaultSite    = "InvalidGatewayDefaultSite"           // R25
	CodeUnsupportedConnection = "UnsupportedConnectionType"
	CodeIPsecPolicy           = "InvalidIpsecPolicy"
	CodeGatewayNotReady       = "GatewayNotProvisioned"
	CodeUnsupportedVPNDevice  = "UnsupportedVpnDevice"
)
