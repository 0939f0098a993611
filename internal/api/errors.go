package api

import (
	"errors"
	"net/http"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/store"
)

// statusOf is the one table from ARM error code to HTTP status. A code that
// is not here is a client error (400).
var statusOf = map[string]int{
	arm.CodeAuthenticationFailed: http.StatusUnauthorized,

	arm.CodeResourceNotFound:       http.StatusNotFound,
	arm.CodeResourceGroupNotFound:  http.StatusNotFound,
	arm.CodeParentResourceNotFound: http.StatusNotFound,
	arm.CodeInvalidResourceType:    http.StatusNotFound,

	arm.CodeMethodNotAllowed:   http.StatusMethodNotAllowed,
	arm.CodeRequestTooLarge:    http.StatusRequestEntityTooLarge,
	arm.CodePreconditionFailed: http.StatusPreconditionFailed,

	// The request conflicts with the state of other resources.
	arm.CodeInvalidGroupLocation:  http.StatusConflict,
	arm.CodeInvalidLocation:       http.StatusConflict,
	arm.CodeInUseSubnet:           http.StatusConflict,
	arm.CodeInUseSubnetPrefix:     http.StatusConflict,
	arm.CodeInUseVirtualNetwork:   http.StatusConflict,
	arm.CodeInUsePublicIP:         http.StatusConflict,
	arm.CodeInUseGateway:          http.StatusConflict,
	arm.CodeInUseLocalGateway:     http.StatusConflict,
	arm.CodeInUseRouteTable:       http.StatusConflict,
	arm.CodeInUseNatRule:          http.StatusConflict,
	arm.CodeInUseResourceGroup:    http.StatusConflict,
	arm.CodePrivateIPInUse:        http.StatusConflict,
	arm.CodeSubnetFull:            http.StatusConflict,
	arm.CodePublicIPPoolExhausted: http.StatusConflict,
	arm.CodeGatewaySubnetFull:     http.StatusConflict,
	arm.CodeTunnelLimit:           http.StatusConflict,
	arm.CodeDuplicateConnection:   http.StatusConflict,
	arm.CodeAddressSpaceOverlap:   http.StatusConflict,
	arm.CodeMultiSitePolicyBased:  http.StatusConflict,

	arm.CodeNodeUnreachable: http.StatusBadGateway,
	// The capture stopped, the upload it depended on failed: a status
	// the Azure SDKs do not send again (502 had them stop it again,
	// refused, and lose the error naming where the capture is kept).
	arm.CodePacketCaptureUpload:  http.StatusFailedDependency,
	arm.CodePacketCaptureRunning: http.StatusConflict,
	arm.CodeNoPacketCapture:      http.StatusConflict,
	arm.CodeNodeNotFound:         http.StatusNotFound,
	arm.CodeNodeDraining:         http.StatusConflict,
	arm.CodeTooManyRequests:      http.StatusTooManyRequests,
	arm.CodeServiceUnavailable:   http.StatusServiceUnavailable,
	arm.CodeWriteOutcomeUnknown:  http.StatusInternalServerError,
}

// retryAfter is the Retry-After (seconds) of the answers that say "not
// now": ARM sends one with its throttling, and the Azure SDKs' retry
// policy waits that long before it sends the request again (without one
// it tries again within a second or two). A store that is unavailable
// (etcd electing a leader) is back within seconds; a capture or a
// download slot frees when another client stops or fetches one. Both
// stay under the SDK's MaxRetryDelay (60 s), past which it does not retry
// at all.
var retryAfter = map[int]string{
	http.StatusTooManyRequests:    "10",
	http.StatusServiceUnavailable: "5",
}

// codeInternal is the code of errors that are vnetgw's fault.
const codeInternal = "InternalServerError"

// toARM turns any error into the ARM error and status to answer with.
func toARM(err error) (*arm.Error, int) {
	var ae *arm.Error
	if errors.As(err, &ae) {
		if s, ok := statusOf[ae.Code]; ok {
			return ae, s
		}
		return ae, http.StatusBadRequest
	}
	// Only for errors that say nothing was written: a 503 is retried,
	// by the Azure SDKs also after a POST, so it must be safe to repeat.
	switch {
	case errors.Is(err, store.ErrOutcomeUnknown):
		// Perhaps written (also when the store closed meanwhile).
	case errors.Is(err, store.ErrClosed):
		return arm.Errorf(arm.CodeServiceUnavailable, "this node is stopping (its state store is closed); nothing was changed: try again, on another node if there is one"), http.StatusServiceUnavailable
	case errors.Is(err, store.ErrUnavailable):
		return arm.Errorf(arm.CodeServiceUnavailable, "the state store takes no changes now (full or overloaded); nothing was changed: try again later"), http.StatusServiceUnavailable
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return arm.Errorf(arm.CodeRequestTooLarge, "the request body is larger than %d bytes", mbe.Limit), http.StatusRequestEntityTooLarge
	}
	return &arm.Error{Code: codeInternal, Message: "the request failed inside vnetgw; see its log"}, http.StatusInternalServerError
}
