package api

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/devicecfg"
	"github.com/vnetgw/vnetgw/internal/region"
)

// putFunc is a region's typed PUT, bound to its body type.
type putFunc func(ctx context.Context, r *http.Request, id arm.ID) (any, region.Outcome, error)

func bindPut[T any, Out any](fn func(context.Context, arm.ID, *T) (*Out, region.Outcome, error)) putFunc {
	return func(ctx context.Context, r *http.Request, id arm.ID) (any, region.Outcome, error) {
		in, err := decode[T](r)
		if err != nil {
			return nil, region.Outcome{}, err
		}
		return fn(ctx, id, in)
	}
}

// methodNotAllowed refuses the method of r on its path, which has the
// methods allow.
func methodNotAllowed(r *http.Request, allow ...string) error {
	list := strings.Join(allow, ", ")
	return &notAllowed{arm.Errorf(arm.CodeMethodNotAllowed, "the method %s is not allowed on %s; use %s", r.Method, loggedPath(r), list), list}
}

// notAllowed is a 405's error, with the methods its path has, which
// fail sends in the Allow header.
type notAllowed struct {
	err   *arm.Error
	allow string
}

func (e *notAllowed) Error() string { return e.err.Error() }
func (e *notAllowed) Unwrap() error { return e.err }

// resourceMethods are the methods a resource's path has; a subnet, a
// route and a NAT rule have no PATCH.
func resourceMethods(kind string) []string {
	if kind == arm.TypeSubnet || kind == arm.TypeNatRule || kind == arm.TypeRoute {
		return []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete}
	}
	return []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPatch, http.MethodDelete}
}

func (h *Handler) dispatch(w http.ResponseWriter, r *http.Request, rt route) {
	ctx := r.Context()
	if rt.sub == "" && !rt.list && (r.Method == http.MethodPut || r.Method == http.MethodPatch || r.Method == http.MethodDelete) {
		// A write of a resource may be conditional on its etag.
		im, inm := strings.Join(r.Header.Values("If-Match"), ","), strings.Join(r.Header.Values("If-None-Match"), ",")
		if im != "" || inm != "" {
			ctx = region.WithPrecondition(ctx, region.Precondition{ID: rt.id, IfMatch: im, IfNoneMatch: inm})
		}
	}
	switch {
	case rt.sub == "effectiveRouteTable":
		if r.Method != http.MethodPost {
			h.fail(w, r, methodNotAllowed(r, http.MethodPost))
			return
		}
		routes, err := h.region.EffectiveRoutes(rt.id, h.internet, h.dp.LearnedPrefixes)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, arm.List[arm.EffectiveRoute]{Value: routes})
	case rt.sub == "connectionsTo":
		// Asked by a peer region about one of its gateways, which need not
		// exist here, nor its resource group.
		if r.Method != http.MethodGet {
			h.fail(w, r, methodNotAllowed(r, http.MethodGet))
			return
		}
		writeJSON(w, http.StatusOK, arm.List[region.ConnectionTo]{Value: h.region.ConnectionsTo(rt.id.String())})
	case rt.kind == kindOperationResult:
		// Every operation finishes before its 202: done, nothing more
		// to say.
		if r.Method != http.MethodGet {
			h.fail(w, r, methodNotAllowed(r, http.MethodGet))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case rt.sub == "vpndeviceconfigurationscript" || rt.sub == "supportedvpndevices":
		if _, ok := h.existing(w, r, rt, http.MethodPost); ok {
			h.device(w, r, rt)
		}
	case rt.sub == "getikesas" || rt.sub == "resetconnection" || rt.sub == "reset":
		if v, ok := h.existing(w, r, rt, http.MethodPost); ok {
			h.tunnel(w, r, rt, v)
		}
	case rt.sub == "listradiussecrets":
		// The RADIUS servers' secrets, which a GET of the gateway leaves
		// out (ARM's listRadiusSecrets).
		if _, ok := h.existing(w, r, rt, http.MethodPost); ok {
			servers, err := h.region.RadiusSecrets(rt.id)
			if err != nil {
				h.fail(w, r, err)
				return
			}
			writeJSON(w, http.StatusOK, arm.List[arm.RadiusAuthServer]{Value: append([]arm.RadiusAuthServer{}, servers...)})
		}
	case rt.sub == "getvpnclientconnectionhealth":
		// The point-to-site clients connected now (R10-R14).
		if _, ok := h.existing(w, r, rt, http.MethodPost); ok {
			writeJSON(w, http.StatusOK, arm.List[arm.VPNClientConnectionHealthDetail]{Value: append([]arm.VPNClientConnectionHealthDetail{}, h.dp.VPNClients(rt.id.String())...)})
		}
	case rt.sub == "startpacketcapture":
		if _, ok := h.existing(w, r, rt, http.MethodPost); ok {
			h.startCapture(w, r, rt)
		}
	case rt.sub == "stoppacketcapture":
		if _, ok := h.existing(w, r, rt, http.MethodPost); ok {
			h.stopCapture(w, r, rt)
		}
	case rt.sub == "generatevpnclientpackage":
		if _, ok := h.existing(w, r, rt, http.MethodPost); ok {
			h.generatePackage(w, r, rt)
		}
	case rt.sub == "getvpnprofilepackageurl":
		if _, ok := h.existing(w, r, rt, http.MethodPost); ok {
			h.packageURL(w, r, rt)
		}
	case rt.sub == "getvpnclientipsecparameters" || rt.sub == "setvpnclientipsecparameters":
		if _, ok := h.existing(w, r, rt, http.MethodPost); ok {
			h.vpnClientIPsecParameters(w, r, rt)
		}
	case rt.sub == "disconnectvirtualnetworkgatewayvpnconnections":
		// Ends point-to-site connections by the ids the health lists;
		// ids of connections that are gone are no error (they are).
		if _, ok := h.existing(w, r, rt, http.MethodPost); ok {
			in, err := decode[arm.P2SVPNConnectionRequest](r)
			if err != nil {
				h.fail(w, r, err)
				return
			}
			if len(in.VPNConnectionIDs) == 0 {
				h.fail(w, r, &arm.Error{Code: arm.CodeInvalidParameter, Target: "vpnConnectionIds", Message: "vpnConnectionIds lists the connections to end, as getVpnClientConnectionHealth names them"})
				return
			}
			n := h.dp.DisconnectVPNClients(rt.id.String(), in.VPNConnectionIDs)
			h.log.Info("point-to-site connections ended", "gateway", rt.id.String(), "asked", len(in.VPNConnectionIDs), "ended", n)
			w.WriteHeader(http.StatusOK)
		}
	case rt.sub == "getbgppeerstatus" || rt.sub == "getlearnedroutes" || rt.sub == "getadvertisedroutes":
		if v, ok := h.existing(w, r, rt, http.MethodPost); ok {
			h.bgp(w, r, rt, v.(*arm.VirtualNetworkGateway))
		}
	case rt.sub == "metrics" || rt.sub == "metricdefinitions":
		h.metrics(w, r, rt)
	case rt.sub == "checkipaddressavailability" || rt.sub == "usages" || rt.sub == "connections":
		h.read(w, r, rt)
	case rt.sub != "":
		h.sharedKey(w, r, rt)
	case rt.list:
		if r.Method != http.MethodGet {
			h.fail(w, r, methodNotAllowed(r, http.MethodGet))
			return
		}
		page, err := h.page(r, rt)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		var items []any
		var next string
		switch rt.kind {
		case arm.TypeSubnet:
			items, next, err = h.region.ListSubnets(rt.id, page)
		case arm.TypeNatRule:
			items, next, err = h.region.ListNatRules(rt.id, page)
		case arm.TypeRoute:
			items, next, err = h.region.ListRoutes(rt.id, page)
		case kindResources:
			res, n, err := h.region.ListResources(rt.id, page)
			writePage(h, w, r, res, n, err)
			return
		default:
			items, next, err = h.region.List(rt.kind, rt.id, page)
		}
		writePage(h, w, r, items, next, err)
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		var v any
		var err error
		switch rt.kind {
		case arm.TypeSubnet:
			v, err = h.region.GetSubnet(rt.id)
		case arm.TypeNatRule:
			v, err = h.region.GetNatRule(rt.id)
		case arm.TypeRoute:
			v, err = h.region.GetRoute(rt.id)
		default:
			v, err = h.region.Get(rt.id)
		}
		if r.Method == http.MethodHead {
			// ARM's "check existence": 204 or 404, no body.
			if err != nil {
				_, status := toARM(err)
				w.WriteHeader(status)
				return
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
	case r.Method == http.MethodPut:
		if rt.kind != arm.TypeResourceGroup {
			if err := region.ValidName(rt.id.Name()); err != nil {
				h.fail(w, r, err)
				return
			}
		}
		v, out, err := h.put[rt.kind](ctx, r, rt.id)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		for _, warning := range out.Warnings {
			w.Header().Add("Warning", warningValue(warning))
		}
		status := http.StatusOK
		if out.Created {
			status = http.StatusCreated
		}
		writeJSON(w, status, v)
	case r.Method == http.MethodPatch && rt.kind != arm.TypeSubnet && rt.kind != arm.TypeNatRule && rt.kind != arm.TypeRoute:
		// What the PATCH leaves out stays as it is (a JSON merge patch,
		// RFC 7396 section 2): tags it does not give are kept, and null
		// removes them; so is a resource group's managedBy.
		in, err := decode[struct {
			Tags      json.RawMessage `json:"tags"`
			ManagedBy json.RawMessage `json:"managedBy"`
		}](r)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		var p region.Patch
		if p.Tags, err = patchField[map[string]string]("tags", in.Tags); err == nil {
			p.ManagedBy, err = patchField[string]("managedBy", in.ManagedBy)
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
		v, err := h.region.Update(ctx, rt.id, p)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
	case r.Method == http.MethodDelete:
		var existed bool
		var err error
		switch rt.kind {
		case arm.TypeSubnet:
			existed, err = h.region.DeleteSubnet(ctx, rt.id)
		case arm.TypeNatRule:
			existed, err = h.region.DeleteNatRule(ctx, rt.id)
		case arm.TypeRoute:
			existed, err = h.region.DeleteRoute(ctx, rt.id)
		default:
			existed, err = h.region.Delete(ctx, rt.id)
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if existed {
			w.WriteHeader(http.StatusOK)
		} else {
			w.WriteHeader(http.StatusNoContent)
		}
	default:
		h.fail(w, r, methodNotAllowed(r, resourceMethods(rt.kind)...))
	}
}

// warningValue is the Warning header of text. Its warn-text is a
// quoted-string (RFC 7234 section 5.5), in which a quote and a backslash
// are escaped with a backslash (RFC 7230 section 3.2.6); the control
// characters it cannot hold become spaces.
func warningValue(text string) string {
	var b strings.Builder
	b.WriteString(`199 vnetgw "`)
	for _, c := range text {
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteRune(c)
		case c < ' ' && c != '\t' || c == 0x7f:
			b.WriteByte(' ')
		default:
			b.WriteRune(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// patchField decodes a field of a PATCH: nil when the PATCH leaves it out,
// else its value (the zero value for null, which removes it).
func patchField[T any](name string, raw json.RawMessage) (*T, error) {
	if raw == nil {
		return nil, nil
	}
	v := new(T)
	if err := json.Unmarshal(raw, v); err != nil {
		return nil, &arm.Error{Code: arm.CodeInvalidRequestFormat, Target: name, Message: name + " is not of its type: " + jsonError(err)}
	}
	return v, nil
}

// sharedKey serves .../connections/{n}/sharedkey (GET, PUT) and
// .../sharedkey/reset (POST).
func (h *Handler) sharedKey(w http.ResponseWriter, r *http.Request, rt route) {
	var v any
	var err error
	switch {
	case rt.sub == "sharedkey" && r.Method == http.MethodGet:
		v, err = h.region.GetSharedKey(rt.id)
	case rt.sub == "sharedkey" && r.Method == http.MethodPut:
		var in *arm.ConnectionSharedKey
		if in, err = decode[arm.ConnectionSharedKey](r); err == nil {
			v, err = h.region.SetSharedKey(r.Context(), rt.id, in.Value)
		}
	case rt.sub == "sharedkey/reset" && r.Method == http.MethodPost:
		var in *arm.ConnectionResetSharedKey
		if in, err = decode[arm.ConnectionResetSharedKey](r); err == nil {
			v, err = h.region.ResetSharedKey(r.Context(), rt.id, in.KeyLength)
		}
	case rt.sub == "sharedkey":
		err = methodNotAllowed(r, http.MethodGet, http.MethodPut)
	default:
		err = methodNotAllowed(r, http.MethodPost)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// existing answers a request to a sub-path of resource rt.id with an error
// unless it has the method and the resource exists, and returns the
// resource as a GET shows it.
func (h *Handler) existing(w http.ResponseWriter, r *http.Request, rt route, method string) (any, bool) {
	if r.Method != method {
		h.fail(w, r, methodNotAllowed(r, method))
		return nil, false
	}
	v, err := h.region.Get(rt.id)
	if err != nil {
		h.fail(w, r, err)
		return nil, false
	}
	return v, true
}

// device serves .../connections/{n}/vpndeviceconfigurationscript and
// .../virtualNetworkGateways/{n}/supportedvpndevices (both POST): the
// configuration of the on-premises device of a connection, which holds its
// shared key, and the devices vnetgw writes one for. Both answer a JSON
// string.
func (h *Handler) device(w http.ResponseWriter, r *http.Request, rt route) {
	if rt.sub == "supportedvpndevices" {
		writeJSON(w, http.StatusOK, devicecfg.SupportedDevices())
		return
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	in := &arm.VPNDeviceScriptParameters{}
	if len(bytes.TrimSpace(b)) > 0 { // no body: strongSwan's configuration
		if in, err = decodeBody[arm.VPNDeviceScriptParameters](b); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	script, err := devicecfg.Script(h.region.Snapshot(), rt.id, *in, h.ports)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, script)
}

// tunnel serves what concerns running tunnels, all POST:
// .../connections/{n}/getikesas (the IKE SAs, as a JSON string holding a
// JSON array of arm.IKESA), .../connections/{n}/resetconnection (202, done
// at once) and .../virtualNetworkGateways/{n}/reset (every connection of
// the gateway, at the instance ?gatewayVip= names or else at the primary
// one; answers the gateway). v is the resource, as a GET shows it.
func (h *Handler) tunnel(w http.ResponseWriter, r *http.Request, rt route, v any) {
	switch rt.sub {
	case "getikesas":
		sas := h.dp.IKESAs(rt.id.String())
		if sas == nil {
			sas = []arm.IKESA{}
		}
		b, err := json.Marshal(sas)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, string(b))
	case "resetconnection":
		h.dp.ResetConnection(rt.id.String(), netip.Addr{})
		// The SDK's poller takes only a 202 here, and asks the Location.
		w.Header().Set("Location", h.operationURL(r, rt.id.Subscription, v))
		w.WriteHeader(http.StatusAccepted)
	case "reset":
		snap := h.region.Snapshot()
		var pubs []netip.Addr
		if g := snap.Gateway(rt.id.String()); g != nil {
			pubs = snap.PublicAddrs(g)
		}
		// Without a gatewayVip, Azure resets the primary instance only
		// (VirtualNetworkGateways_Reset): the first ipConfiguration's.
		var vip netip.Addr
		if len(pubs) > 0 {
			vip = pubs[0]
		}
		if s := r.URL.Query().Get("gatewayVip"); s != "" {
			// Azure's gatewayVip: the active-active gateway's instance to
			// reset, by its public address.
			a, err := netip.ParseAddr(s)
			if err != nil || !slices.Contains(pubs, a.Unmap()) {
				h.fail(w, r, &arm.Error{Code: arm.CodeInvalidParameter, Target: "gatewayVip",
					Message: fmt.Sprintf("the gatewayVip %q is no public address of virtual network gateway %s (it has %v)", s, rt.id.Name(), pubs)})
				return
			}
			vip = a.Unmap()
		}
		for _, c := range snap.ConnectionsOf(rt.id.String()) {
			h.dp.ResetConnection(c.ID, vip)
		}
		writeJSON(w, http.StatusOK, v)
	}
}

// bgp serves a gateway's BGP operations, all POST (R41):
// getBgpPeerStatus (?peer= narrows it to one), getLearnedRoutes and
// getAdvertisedRoutes?peer=. Each answers {"value": [...]}; a peer that
// is none of the gateway's BGP peers is refused.
func (h *Handler) bgp(w http.ResponseWriter, r *http.Request, rt route, g *arm.VirtualNetworkGateway) {
	if !g.Properties.EnableBGP {
		h.fail(w, r, arm.Errorf(arm.CodeBGPNotEnabled, "BGP is not enabled on virtual network gateway %s (properties.enableBgp)", g.Name))
		return
	}
	var peer netip.Addr
	if s := r.URL.Query().Get("peer"); s != "" || rt.sub == "getadvertisedroutes" {
		var err error
		if peer, err = netip.ParseAddr(s); err != nil {
			h.fail(w, r, &arm.Error{Code: arm.CodeInvalidParameter, Target: "peer", Message: fmt.Sprintf("the peer %q is not an IP address", s)})
			return
		}
	}
	peers := h.dp.BGPPeers(rt.id.String())
	if peer.IsValid() && rt.sub != "getlearnedroutes" && !slices.ContainsFunc(peers, func(p arm.BGPPeerStatus) bool { return p.Neighbor == peer.String() }) {
		// An empty answer would read as "the peer got nothing" where
		// the address is a typo or a peer of another gateway.
		var have []string
		for _, p := range peers {
			have = append(have, p.Neighbor)
		}
		h.fail(w, r, &arm.Error{Code: arm.CodeInvalidParameter, Target: "peer",
			Message: fmt.Sprintf("the peer %s is no BGP peer of virtual network gateway %s (its peers: %s)", peer, g.Name, cmp.Or(strings.Join(have, ", "), "none"))})
		return
	}
	switch rt.sub {
	case "getbgppeerstatus":
		out := []arm.BGPPeerStatus{}
		for _, p := range peers {
			if !peer.IsValid() || p.Neighbor == peer.String() {
				out = append(out, p)
			}
		}
		writeJSON(w, http.StatusOK, arm.List[arm.BGPPeerStatus]{Value: out})
	case "getlearnedroutes":
		writeJSON(w, http.StatusOK, arm.List[arm.GatewayRoute]{Value: append([]arm.GatewayRoute{}, h.dp.LearnedRoutes(rt.id.String())...)})
	case "getadvertisedroutes":
		writeJSON(w, http.StatusOK, arm.List[arm.GatewayRoute]{Value: append([]arm.GatewayRoute{}, h.dp.AdvertisedRoutes(rt.id.String(), peer)...)})
	}
}

// operationURL is where the pollers of the SDKs ask after an operation on
// resource v that was answered with 202, with their token: on a host of
// the API's own (base).
func (h *Handler) operationURL(r *http.Request, sub string, v any) string {
	loc := "global"
	if c, ok := v.(*arm.Connection); ok && c.Location != "" {
		loc = c.Location
	}
	return h.base(r) + "/subscriptions/" + url.PathEscape(sub) + "/providers/" + arm.NamespaceNetwork +
		"/locations/" + url.PathEscape(loc) + "/operationResults/" + strings.ToLower(time.Now().UTC().Format("20060102T150405.000000000")) +
		"?api-version=" + url.QueryEscape(r.URL.Query().Get("api-version"))
}

// read serves the GETs below a resource: a VNet's
// CheckIPAddressAvailability (?ipAddress=) and usages, and a gateway's
// connections; the two lists page as the others do.
func (h *Handler) read(w http.ResponseWriter, r *http.Request, rt route) {
	if r.Method != http.MethodGet {
		h.fail(w, r, methodNotAllowed(r, http.MethodGet))
		return
	}
	if rt.sub == "checkipaddressavailability" {
		v, err := h.region.CheckIPAddress(rt.id, r.URL.Query().Get("ipAddress"))
		if err != nil {
			h.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
		return
	}
	page, err := h.page(r, rt)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	switch rt.sub {
	case "usages":
		us, next, err := h.region.VNetUsages(rt.id, page)
		writePage(h, w, r, us, next, err)
	case "connections":
		cs, next, err := h.region.GatewayConnections(rt.id, page)
		writePage(h, w, r, cs, next, err)
	}
}

// writePage answers a page of a list: its items and, when more follow
// the item of key next, the nextLink to them; or err.
func writePage[T any](h *Handler, w http.ResponseWriter, r *http.Request, items []T, next string, err error) {
	if err != nil {
		h.fail(w, r, err)
		return
	}
	l := arm.List[T]{Value: items}
	if next != "" {
		l.NextLink = h.nextLink(r, next)
	}
	writeJSON(w, http.StatusOK, l)
}
