package api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/reconcile"
	"github.com/vnetgw/vnetgw/internal/region"
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
	h.offerPackage(w, r, rt, p, false)
}

// vpnClientIPsecParameters serves .../getvpnclientipsecparameters and
// .../setvpnclientipsecparameters (Azure's long-running POSTs, answered
// at once, with 200): the custom IPsec/IKE policy of the gateway's
// point-to-site clients, its vpnClientConfiguration.vpnClientIpsecPolicies;
// a get of a gateway without one answers an empty object (its clients
// get vnetgw's default proposals).
func (h *Handler) vpnClientIPsecParameters(w http.ResponseWriter, r *http.Request, rt route) {
	var pol *arm.IPsecPolicy
	var err error
	if rt.sub == "setvpnclientipsecparameters" {
		var in *arm.IPsecPolicy
		if in, err = decode[arm.IPsecPolicy](r); err == nil {
			pol, err = h.region.SetVPNClientIPsecPolicy(r.Context(), rt.id, *in)
		}
	} else {
		pol, err = h.region.VPNClientIPsecPolicy(r.Context(), rt.id)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if pol == nil {
		writeJSON(w, http.StatusOK, struct{}{})
		return
	}
	writeJSON(w, http.StatusOK, pol)
}

// packageURL serves .../getvpnprofilepackageurl (Azure's
// VirtualNetworkGateways_GetVpnProfilePackageUrl, a long-running POST
// without a body whose result is the URL, a JSON string; answered at
// once, with 200): the URL of the gateway's package that
// generatevpnprofile made, while it has half an hour left and the
// gateway's point-to-site configuration is what it was; else one made
// now, as generatevpnprofile would.
func (h *Handler) packageURL(w http.ResponseWriter, r *http.Request, rt route) {
	p, err := h.region.PointToSiteOf(rt.id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.offerPackage(w, r, rt, p, true)
}

// offerPackage answers the URL of a package of gateway rt.id, p, made
// now, or with reuse the latest made of the same settings if there is.
func (h *Handler) offerPackage(w http.ResponseWriter, r *http.Request, rt route, p region.PointToSite, reuse bool) {
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
	of, err := packageOf(rt.id, settings)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if name, ok := h.packages.latest(of); ok && reuse {
		writeJSON(w, http.StatusOK, h.packages.url(h.base(r), name))
		return
	}
	zip, err := settings.Zip()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.packages.offer(h, w, r, zip, of)
}

// packageOf is what a package of gateway id is made of (downloads.latest):
// the gateway and a digest of its settings, secrets among them.
func packageOf(id arm.ID, s vpnclient.Settings) (string, error) {
	d := sha256.New()
	if err := json.NewEncoder(d).Encode(s); err != nil {
		return "", err
	}
	d.Write(s.CA)
	d.Write([]byte{0})
	d.Write(s.OpenVPNKey)
	return strings.ToLower(id.String()) + " " + hex.EncodeToString(d.Sum(nil)), nil
}
