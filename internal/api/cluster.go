package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/cluster"
)

// clusterPath is where the operator's view of a region's nodes is: an
// extension beside ARM's providers, for regions on etcd.
//
//	GET  /providers/Vnetgw.Cluster/nodes                the live nodes
//	GET  /providers/Vnetgw.Cluster/nodes/{name}         one
//	POST /providers/Vnetgw.Cluster/nodes/{name}/drain   hand its VNets over, take none
//	POST /providers/Vnetgw.Cluster/nodes/{name}/resume  take VNets again
//	POST /providers/Vnetgw.Cluster/moveVirtualNetwork   {"virtualNetworkId","node"}
//	POST /providers/Vnetgw.Cluster/rebalance[?dryRun=true] move VNets where placement puts them
const clusterPath = "/providers/vnetgw.cluster/"

// Cluster is the region's nodes as the API sees them (cluster.Node).
type Cluster interface {
	Name() string
	Nodes() []cluster.NodeStatus
	Move(ctx context.Context, vnet, to string) error
	Drain(ctx context.Context, name string, on bool) error
	Rebalance(ctx context.Context, dryRun bool) ([]cluster.Moved, error)
}

// ClusterNode is a node in the API.
type ClusterNode struct {
	ID         string                `json:"id"`
	Name       string                `json:"name"`
	Type       string                `json:"type"`
	Properties ClusterNodeProperties `json:"properties"`
}

// ClusterNodeProperties are a node's properties.
type ClusterNodeProperties struct {
	// Endpoint is the node's API, where requests about what it runs go.
	Endpoint string `json:"endpoint"`
	// Draining: the node hands its VNets over and takes none.
	Draining bool `json:"draining"`
	// Self: the node that answered.
	Self bool `json:"self"`
	// VirtualNetworks run on the node, with their hosts and gateways.
	VirtualNetworks []arm.SubResource `json:"virtualNetworks"`
	// StandbyFor are the VNets the node takes over if the node that runs
	// them dies.
	StandbyFor []arm.SubResource `json:"standbyFor"`
}

// MoveVirtualNetworkRequest is the body of moveVirtualNetwork.
type MoveVirtualNetworkRequest struct {
	VirtualNetworkID string `json:"virtualNetworkId"`
	Node             string `json:"node"`
}

// VirtualNetworkMove is one VNet a move or a rebalance moves.
type VirtualNetworkMove struct {
	VirtualNetworkID string `json:"virtualNetworkId"`
	From             string `json:"fromNode"`
	To               string `json:"toNode"`
}

func (h *Handler) serveCluster(w http.ResponseWriter, r *http.Request, rest string) {
	if h.cluster == nil {
		h.fail(w, r, arm.Errorf(arm.CodeClusterNotConfigured, "this region runs on one node (serve without --etcd): there is no cluster to manage"))
		return
	}
	if r.URL.Query().Get("api-version") == "" {
		h.fail(w, r, arm.Errorf(arm.CodeMissingAPIVersion, "the api-version query parameter (?api-version=) is required for all requests"))
		return
	}
	parts := strings.Split(rest, "/")
	// ARM's path segments are matched in any case, as the prefix is.
	nodes := strings.EqualFold(parts[0], "nodes")
	method := http.MethodPost
	if len(parts) <= 2 && nodes {
		method = http.MethodGet
	}
	if r.Method != method {
		h.fail(w, r, methodNotAllowed(r, method))
		return
	}
	// The VNets' ids as they were written, not as the claims hold them.
	if err := h.region.Sync(r.Context()); err != nil {
		h.fail(w, r, err)
		return
	}
	ids := map[string]string{}
	for _, v := range h.region.Snapshot().VirtualNetworks() {
		ids[strings.ToLower(v.ID)] = v.ID
	}
	switch {
	case len(parts) == 1 && nodes:
		var out []ClusterNode
		for _, n := range h.cluster.Nodes() {
			out = append(out, h.clusterNode(n, ids))
		}
		writeJSON(w, http.StatusOK, map[string]any{"value": out})
	case len(parts) == 2 && nodes:
		n, err := h.clusterNodeNamed(parts[1])
		if err != nil {
			h.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, h.clusterNode(n, ids))
	case len(parts) == 3 && nodes && (strings.EqualFold(parts[2], "drain") || strings.EqualFold(parts[2], "resume")):
		n, err := h.clusterNodeNamed(parts[1])
		if err == nil {
			err = h.cluster.Drain(r.Context(), n.Name, strings.EqualFold(parts[2], "drain"))
		}
		if err != nil {
			h.fail(w, r, clusterError(err))
			return
		}
		h.log.Info("cluster node", "node", n.Name, "action", strings.ToLower(parts[2]))
		n.Draining = strings.EqualFold(parts[2], "drain")
		writeJSON(w, http.StatusOK, h.clusterNode(n, ids))
	case len(parts) == 1 && strings.EqualFold(parts[0], "moveVirtualNetwork"):
		req, err := decode[MoveVirtualNetworkRequest](r)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		vnet := strings.ToLower(req.VirtualNetworkID)
		if id, err := arm.ParseID(req.VirtualNetworkID); err != nil || !strings.EqualFold(id.Type(), arm.TypeVirtualNetwork) {
			h.fail(w, r, arm.Errorf(arm.CodeInvalidParameter, "virtualNetworkId %q is not the id of a virtual network", req.VirtualNetworkID))
			return
		} else if ids[vnet] == "" {
			h.fail(w, r, arm.Errorf(arm.CodeResourceNotFound, "the virtual network %s was not found", req.VirtualNetworkID))
			return
		}
		from := ""
		for _, n := range h.cluster.Nodes() {
			for _, v := range n.VNets {
				if v == vnet {
					from = n.Name
				}
			}
		}
		if err := h.cluster.Move(r.Context(), vnet, req.Node); err != nil {
			h.fail(w, r, clusterError(err))
			return
		}
		h.log.Info("move a VNet", "vnet", ids[vnet], "from", from, "to", req.Node)
		writeJSON(w, http.StatusAccepted, VirtualNetworkMove{VirtualNetworkID: ids[vnet], From: from, To: req.Node})
	case len(parts) == 1 && strings.EqualFold(parts[0], "rebalance"):
		dryRun, err := dryRunParam(r)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		moved, err := h.cluster.Rebalance(r.Context(), dryRun)
		out := []VirtualNetworkMove{}
		for _, m := range moved {
			out = append(out, VirtualNetworkMove{VirtualNetworkID: orLower(ids, m.VNet), From: m.From, To: m.To})
		}
		if err != nil {
			h.fail(w, r, clusterError(err))
			return
		}
		if dryRun {
			writeJSON(w, http.StatusOK, map[string]any{"value": out})
			return
		}
		h.log.Info("rebalance", "moves", len(out))
		writeJSON(w, http.StatusAccepted, map[string]any{"value": out})
	default:
		h.fail(w, r, arm.Errorf(arm.CodeInvalidResourceType, "no such cluster operation: %s", r.URL.Path))
	}
}

// dryRunParam reads rebalance's dryRun, its name in any case: true or
// false. Anything else is refused, not taken as false: a dry run asked for
// as dryRun=1 or dryrun=yes moved every VNet it would have listed.
func dryRunParam(r *http.Request) (bool, error) {
	dryRun := false
	for name, values := range r.URL.Query() {
		if !strings.EqualFold(name, "dryRun") {
			continue
		}
		for _, v := range values {
			switch {
			case strings.EqualFold(v, "true"):
				dryRun = true
			case !strings.EqualFold(v, "false"):
				return false, arm.Errorf(arm.CodeInvalidParameter, "%s=%q: true or false; nothing was moved", name, v)
			}
		}
	}
	return dryRun, nil
}

func (h *Handler) clusterNodeNamed(name string) (cluster.NodeStatus, error) {
	for _, n := range h.cluster.Nodes() {
		if n.Name == name {
			return n, nil
		}
	}
	return cluster.NodeStatus{}, arm.Errorf(arm.CodeNodeNotFound, "no live node is named %q", name)
}

func (h *Handler) clusterNode(n cluster.NodeStatus, ids map[string]string) ClusterNode {
	out := ClusterNode{ID: "/providers/Vnetgw.Cluster/nodes/" + n.Name, Name: n.Name, Type: "Vnetgw.Cluster/nodes",
		Properties: ClusterNodeProperties{Endpoint: n.Info, Draining: n.Draining, Self: n.Name == h.cluster.Name(),
			VirtualNetworks: []arm.SubResource{}, StandbyFor: []arm.SubResource{}}}
	for _, v := range n.VNets {
		out.Properties.VirtualNetworks = append(out.Properties.VirtualNetworks, arm.SubResource{ID: orLower(ids, v)})
	}
	for _, v := range n.Standby {
		out.Properties.StandbyFor = append(out.Properties.StandbyFor, arm.SubResource{ID: orLower(ids, v)})
	}
	return out
}

// orLower returns the id as written of a lower-cased one, when known.
func orLower(ids map[string]string, lower string) string {
	if id := ids[lower]; id != "" {
		return id
	}
	return lower
}

// clusterError turns the cluster's refusals into ARM errors.
func clusterError(err error) error {
	switch {
	case errors.Is(err, cluster.ErrNoSuchNode):
		return arm.Errorf(arm.CodeNodeNotFound, "%v", err)
	case errors.Is(err, cluster.ErrDraining):
		return arm.Errorf(arm.CodeNodeDraining, "%v: it takes no VNet until it resumes", err)
	case errors.Is(err, cluster.ErrUnavailable):
		// 503, retried by clients although perhaps made: a drain, resume, move or rebalance made twice ends the same.
		return arm.Errorf(arm.CodeServiceUnavailable, "%v: the change may or may not have been made; list the nodes to see, or try again later", err)
	}
	return err
}
