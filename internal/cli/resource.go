package cli

import (
	"encoding/json"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/client"
)

// resourceCommand is az resource's list: the resources of every type of a
// group or of the subscription (Microsoft.Resources' "Resources - List").
func resourceCommand(g *globals) *cobra.Command {
	cols := []column{nameCol, groupColumn, locationCol, col("Type", "type")}
	parent := &cobra.Command{Use: "resource", Short: "List resources of every type"}
	var rg, typ, name, loc, tag string
	list := &cobra.Command{
		Use: "list", Short: "List the resources of every type of a resource group, or of the subscription", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tag != "" && (typ != "" || name != "" || loc != "") {
				return usagef("--tag filters by itself: give it without --resource-type, --name/-n and --location/-l")
			}
			var clauses []string
			for _, c := range []struct{ prop, v string }{{"resourceType", typ}, {"name", name}, {"location", loc}} {
				if c.v != "" {
					clauses = append(clauses, c.prop+" eq "+odataString(c.v))
				}
			}
			if k, v, byValue := strings.Cut(tag, "="); tag != "" {
				clauses = append(clauses, "tagName eq "+odataString(k))
				if byValue {
					clauses = append(clauses, "tagValue eq "+odataString(v))
				}
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			path := "/subscriptions/" + g.subscription + "/resources"
			if rg != "" {
				path = arm.ResourceGroupID(g.subscription, rg).String() + "/resources"
			}
			if len(clauses) > 0 {
				path += "?" + url.Values{"$filter": {strings.Join(clauses, " and ")}}.Encode()
			}
			items, err := client.List[json.RawMessage](cmd.Context(), c, path)
			if err != nil {
				return err
			}
			return g.print(items, cols)
		},
	}
	f := list.Flags()
	f.StringVarP(&rg, "resource-group", "g", "", "resource group (default: the whole subscription)")
	f.StringVar(&typ, "resource-type", "", "only resources of this type, such as Microsoft.Network/virtualNetworks")
	f.StringVarP(&name, "name", "n", "", "only resources of this name")
	f.StringVarP(&loc, "location", "l", "", "only resources in this location")
	f.StringVar(&tag, "tag", "", "only resources with this tag, KEY or KEY=VALUE")
	parent.AddCommand(list)
	return parent
}

// odataString quotes s as an OData string literal: a quote inside it is
// written twice.
func odataString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
