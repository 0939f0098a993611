package api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/insights"
	"github.com/vnetgw/vnetgw/internal/region"
)

// metrics serves Azure Monitor's metrics of a gateway or a connection
// (GET {resource}/providers/Microsoft.Insights/metrics, and
// metricDefinitions) from the history of the node that runs it: what its
// tunnels carried, sampled every serve --metrics-interval.
func (h *Handler) metrics(w http.ResponseWriter, r *http.Request, rt route) {
	v, ok := h.existing(w, r, rt, http.MethodGet)
	if !ok {
		return
	}
	if h.insights == nil {
		h.fail(w, r, arm.Errorf(arm.CodeInvalidParameter, "this node keeps no metrics history"))
		return
	}
	available, namespace := insights.GatewayMetrics, "Microsoft.Network/virtualNetworkGateways"
	if rt.kind == arm.TypeConnection {
		available, namespace = insights.ConnectionMetrics, "Microsoft.Network/connections"
	}
	// The resource's id as the route parsed it: cutting the path at an
	// index of its lower-cased form is wrong where lower-casing changes
	// a letter's length.
	resource := rt.id.String()
	if rt.sub == "metricdefinitions" {
		writeJSON(w, http.StatusOK, arm.List[insights.Definition]{Value: h.insights.Definitions(resource, namespace, available)})
		return
	}
	params := map[string]string{}
	for k, vs := range r.URL.Query() {
		params[strings.ToLower(k)] = vs[0]
	}
	q, err := insights.Parse(params, available, h.insights.Every(), time.Now())
	if err != nil {
		var bad *insights.ErrBadRequest
		if errors.As(err, &bad) {
			err = &arm.Error{Code: arm.CodeInvalidParameter, Message: bad.Msg}
		}
		h.fail(w, r, err)
		return
	}
	q.Resource, q.Namespace, q.Connections = resource, namespace, map[string]string{}
	switch res := v.(type) {
	case *arm.Connection:
		q.Location = res.Location
		q.Connections[strings.ToLower(res.ID)] = res.Name
	case *arm.VirtualNetworkGateway:
		q.Location, q.P2S, q.BGPPeers = res.Location, insights.P2SSeriesOf(res.ID), h.insights.BGPPeers(res.ID)
		// Its connections' series as recorded, deleted ones' too (as
		// Azure Monitor keeps a gateway's past), and those of the
		// connections it has now (a history saved before series knew
		// their gateway), under the names they have.
		q.Connections = h.insights.ConnectionsOf(res.ID)
		cs, _, err := h.region.GatewayConnections(rt.id, region.Page{})
		if err != nil {
			h.fail(w, r, err)
			return
		}
		for _, c := range cs {
			if c, ok := c.(*arm.Connection); ok {
				q.Connections[strings.ToLower(c.ID)] = c.Name
			}
		}
	}
	writeJSON(w, http.StatusOK, h.insights.Answer(q))
}
