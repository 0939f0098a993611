package cli

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vnetgw/vnetgw/internal/api"
	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/client"
)

// clusterPath is the API's view of a region's nodes (api.clusterPath).
const clusterPath = "/providers/Vnetgw.Cluster"

var nodeColumns = []column{nameCol, col("Endpoint", "properties.endpoint"), col("Draining", "properties.draining"), col("Self", "properties.self"),
	vnetsColumn("VirtualNetworks", func(p api.ClusterNodeProperties) []arm.SubResource { return p.VirtualNetworks }),
	vnetsColumn("StandbyFor", func(p api.ClusterNodeProperties) []arm.SubResource { return p.StandbyFor })}

// vnetsColumn shows a node's list of VNets as GROUP/NAME,...
func vnetsColumn(name string, list func(api.ClusterNodeProperties) []arm.SubResource) column {
	return column{name: name, value: func(raw json.RawMessage) string {
		var n api.ClusterNode
		if json.Unmarshal(raw, &n) != nil {
			return ""
		}
		var names []string
		for _, v := range list(n.Properties) {
			names = append(names, groupAndName(v.ID))
		}
		return strings.Join(names, ",")
	}}
}

// groupAndName shortens a resource id to GROUP/NAME.
func groupAndName(id string) string {
	if p, err := arm.ParseID(id); err == nil {
		return p.ResourceGroup + "/" + p.Name()
	}
	return id
}

var moveColumns = []column{{name: "VirtualNetwork", value: func(raw json.RawMessage) string {
	var m api.VirtualNetworkMove
	json.Unmarshal(raw, &m)
	return groupAndName(m.VirtualNetworkID)
}}, col("From", "fromNode"), col("To", "toNode")}

// newCluster is `vnetgw cluster`: the nodes of a region on etcd.
func newCluster(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "The nodes of a region on etcd: list them, drain one, move VNets, rebalance",
		Long: `A region served by several nodes (serve --etcd) runs each VNet, with its
hosts and its gateway, on one node. These commands show where, and move VNets
by plan: the node that runs a VNet stops it, then the node it goes to starts
it and brings its tunnels up again (a moment without traffic for that VNet).`,
	}
	// A node is the region's, not a subscription's: node and rebalance
	// refuse --subscription, which they took and ignored. move-vnet
	// names its VNet in it.
	node := usesGlobals(&cobra.Command{Use: "node", Short: "The region's live nodes"}, "data-dir", "output")
	node.AddCommand(
		usesGlobals(&cobra.Command{
			Use: "list", Short: "List the live nodes and the VNets each runs", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				c, err := g.client()
				if err != nil {
					return err
				}
				items, err := client.List[json.RawMessage](cmd.Context(), c, clusterPath+"/nodes")
				if err != nil {
					return err
				}
				return g.print(items, nodeColumns)
			},
		}, "data-dir", "output"),
		usesGlobals(g.nodeCmd("show", "Show one node", http.MethodGet, ""), "data-dir", "output"),
		usesGlobals(g.nodeCmd("drain", "Hand the node's VNets over to the other nodes, and place none on it (until it resumes or restarts)", http.MethodPost, "/drain"), "data-dir", "output"),
		usesGlobals(g.nodeCmd("resume", "Let a drained node take VNets again (rebalance moves some back)", http.MethodPost, "/resume"), "data-dir", "output"),
	)
	var rg, vnet, to string
	move := &cobra.Command{
		Use: "move-vnet", Short: "Move a VNet, its hosts and its gateway to another node", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if to == "" {
				return usagef("--node: name the node to move the VNet to (cluster node list)")
			}
			id, c, err := g.target(rg, "virtualNetworks", vnet)
			if err != nil {
				return err
			}
			var out json.RawMessage
			if _, err := c.Do(cmd.Context(), http.MethodPost, clusterPath+"/moveVirtualNetwork", api.MoveVirtualNetworkRequest{VirtualNetworkID: id.String(), Node: to}, &out); err != nil {
				return err
			}
			return g.print(out, moveColumns)
		},
	}
	move.Flags().StringVarP(&rg, "resource-group", "g", "", "resource group of the VNet")
	move.Flags().StringVarP(&vnet, "name", "n", "", "the VNet's name, or full resource id")
	move.Flags().StringVar(&to, "node", "", "the node to run it on")
	var dryRun bool
	rebalance := &cobra.Command{
		Use: "rebalance", Short: "Move every VNet to the node placement would pick now (after nodes joined or came back)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			var out struct {
				Value []json.RawMessage `json:"value"`
			}
			path := clusterPath + "/rebalance"
			if dryRun {
				path += "?dryRun=true"
			}
			if _, err := c.Do(cmd.Context(), http.MethodPost, path, nil, &out); err != nil {
				return err
			}
			if out.Value == nil {
				out.Value = []json.RawMessage{}
			}
			return g.print(out.Value, moveColumns)
		},
	}
	rebalance.Flags().BoolVar(&dryRun, "dry-run", false, "only list what would move")
	cmd.AddCommand(node, move, usesGlobals(rebalance, "data-dir", "output"))
	return cmd
}

// nodeCmd is a command on one node: GET or POST clusterPath/nodes/NAME+suffix.
func (g *globals) nodeCmd(use, short, method, suffix string) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use: use, Short: short, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" {
				return usagef("--name/-n is required")
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			var out json.RawMessage
			if _, err := c.Do(cmd.Context(), method, clusterPath+"/nodes/"+url.PathEscape(name)+suffix, nil, &out); err != nil {
				return err
			}
			return g.print(out, nodeColumns)
		},
	}
	cmd.Flags().StringVarP(&name, "name", "n", "", "the node's name (serve --node-name)")
	return cmd
}
