package api

import (
	"net/http"
	"slices"
	"strings"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/reconcile"
	"github.com/vnetgw/vnetgw/internal/vpnclient"
)

// packagePath is where VPN client packages are downloaded; the rest of the
// path is an unguessable name that expires.
const packagePath = "/vpnclientpackage/"

// maxPackages bounds the packages kept for download at once.
const maxPackages = 1000

// generatePackage serves .../generatevpnclientpackage (and
// generatevpnprofile): the body (VpnClientParameters) may be empty; the
// answer is the URL of the package, a JSON string, for an hour. The
// package follows the gateway's vpnAuthenticationTypes; authenticationMethod
// is EAPTLS (the default) or, for a gateway whose clients RADIUS
// authenticates, EAPMSCHAPv2 (Azure's for user names and passwords).
func (h *Handler) generatePackage(w http.ResponseWriter, r *http.Request, rt route) {
	in, err := decodeOptional[arm.VPNClientParameters](r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p, err := h.region.PointToSiteOf(rt.id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	radius := slices.ContainsFunc(p.Auth, func(a string) bool { return strings.EqualFold(a, "Radius") })
	switch m := in.AuthenticationMethod; {
	case m == "" || strings.EqualFold(m, "EAPTLS"):
	case strings.EqualFold(m, "EAPMSCHAPv2") && !radius:
		h.fail(w, r, &arm.Error{Code: arm.CodeInvalidParameter, Target: "authenticationMethod",
			Message: "authenticationMethod EAPMSCHAPv2 is for clients that RADIUS authenticates by user name and password; the clients of gateway " + p.Name + " authenticate with certificates (vpnAuthenticationTypes): use EAPTLS"})
		return
	case !strings.EqualFold(m, "EAPMSCHAPv2"):
		h.fail(w, r, &arm.Error{Code: arm.CodeInvalidParameter, Target: "authenticationMethod",
			Message: "authenticationMethod " + m + ": EAPTLS (client certificates) or, for a gateway with RADIUS, EAPMSCHAPv2"})
		return
	}
	port := h.sstpPort
	if port == 0 {
		port = 443
	}
	settings := vpnclient.Settings{Gateway: p.Name, Addr: p.Addr, Port: port, IKEPort: h.ports.IKE, NATTPort: h.ports.NATT, Pool: p.Pool, Protocols: p.Protocols, Authentication: p.Auth, Routes: p.Routes, CA: h.gatewayCA}
	if pol := p.Policy; pol != nil {
		settings.IPsecPolicy, settings.IKEProposal, settings.ESPProposal = pol, reconcile.IKEProposal(*pol), reconcile.ESPProposal(*pol)
	}
	if settings.OpenVPN() && h.openVPNKey != nil {
		k, err := h.openVPNKey(p.GUID)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		settings.OpenVPNKey = k.PEM()
	}
	zip, err := settings.Zip()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.packages.offer(h, w, r, zip)
}
