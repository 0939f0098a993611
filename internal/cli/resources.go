package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/client"
	"github.com/vnetgw/vnetgw/internal/vpnclient"
)

// column is one column of table output: a name and a path into the JSON of
// a resource ("properties.provisioningState"); arrays are joined by commas.
type column struct {
	name  string
	value func(json.RawMessage) string
}

func col(name, path string) column {
	return column{name: name, value: func(raw json.RawMessage) string {
		var v any
		if json.Unmarshal(raw, &v) != nil {
			return ""
		}
		for _, p := range strings.Split(path, ".") {
			switch t := v.(type) {
			case map[string]any:
				v = t[p]
			case []any:
				i, err := strconv.Atoi(p)
				if err != nil || i >= len(t) {
					return ""
				}
				v = t[i]
			default:
				return ""
			}
		}
		return format(v)
	}}
}

func format(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case []any:
		var parts []string
		for _, e := range t {
			parts = append(parts, format(e))
		}
		return strings.Join(parts, ",")
	case map[string]any:
		if id, ok := t["id"].(string); ok {
			// An IP configuration is named by its resource too: every
			// gateway's and interface's first is ipconfig1, which said
			// nothing of who uses a public IP or a subnet.
			parts := strings.Split(id, "/")
			if n := len(parts); n >= 4 && strings.EqualFold(parts[n-2], "ipConfigurations") {
				return parts[n-3] + "/" + parts[n-1]
			}
			return parts[len(parts)-1]
		}
		if name, ok := t["name"].(string); ok {
			return name
		}
		return "{...}"
	case float64:
		return fmt.Sprintf("%.0f", t)
	}
	return fmt.Sprint(v)
}

// groupColumn shows the resource group named in a resource's id.
var groupColumn = column{name: "ResourceGroup", value: func(raw json.RawMessage) string {
	var r struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(raw, &r) != nil {
		return ""
	}
	id, err := arm.ParseID(r.ID)
	if err != nil {
		return ""
	}
	return id.ResourceGroup
}}

var (
	nameCol     = col("Name", "name")
	locationCol = col("Location", "location")
	stateCol    = col("ProvisioningState", "properties.provisioningState")
)

// kind describes the generic verbs of one resource type.
type kind struct {
	use, short string
	typ        string // path segment, e.g. virtualNetworks
	columns    []column
	// createOnly are create's flags that update has not, as az's update
	// has not (they say what a new one is made of, which does not change
	// after), each with why: update leaves them out of its help and
	// refuses them, saying so.
	createOnly map[string]string
	// strict decodes the resource's JSON (strictly[T]), for update's
	// --set, --add and --remove.
	strict func([]byte) (any, error)
}

func resourceCommands(g *globals) []*cobra.Command {
	return []*cobra.Command{
		groupCommand(g),
		vnetCommand(g),
		publicIPCommand(g),
		gatewayCommand(g),
		localGatewayCommand(g),
		connectionCommand(g),
		nicCommand(g),
		routeTableCommand(g),
		resourceCommand(g),
	}
}

// verbs returns the parent command of a kind with show, list and delete,
// and the given create and update commands.
func (g *globals) verbs(k kind, write []*cobra.Command) *cobra.Command {
	parent := &cobra.Command{Use: k.use, Short: k.short}
	parent.AddCommand(write...)
	parent.AddCommand(g.showCmd(k), g.listCmd(k), g.deleteCmd(k), g.waitCmd(k))
	return parent
}

func (g *globals) showCmd(k kind) *cobra.Command {
	var rg, name string
	var ids []string
	cmd := &cobra.Command{
		Use: "show", Short: "Show one " + k.use + " (or, with --ids, each it names)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			targets, c, err := g.targets(ids, rg, k.typ, name)
			if err != nil {
				return err
			}
			return g.showEach(cmd.Context(), c, targets, k.columns)
		},
	}
	cmd.Flags().StringVarP(&rg, "resource-group", "g", "", "resource group")
	cmd.Flags().StringVarP(&name, "name", "n", "", "name, or full resource id")
	idsFlag(cmd, &ids)
	return cmd
}

// idsFlag gives cmd az's --ids: one or more full resource ids, space- or
// comma-separated, instead of --resource-group and --name (az scripts
// pass what a list printed: --ids $(az ... list --query [].id -o tsv);
// vnetgw refused the flag as unknown).
func idsFlag(cmd *cobra.Command, ids *[]string) {
	cmd.Flags().StringSliceVar(ids, "ids", nil, "one or more full resource ids (space-separated, or one a line), instead of --resource-group and --name")
}

// targets returns the resources of type typ a command is about: those
// --ids names, or the one --resource-group and --name name.
func (g *globals) targets(ids []string, rg, typ, name string) ([]arm.ID, *client.Client, error) {
	return g.targetsBy(nameFlag, ids, rg, typ, name)
}

// targetsBy is targets for a resource named by another flag than
// --name/-n (the gateway of nat-rule wait, by --gateway-name).
func (g *globals) targetsBy(flag string, ids []string, rg, typ, name string) ([]arm.ID, *client.Client, error) {
	return g.childTargets(ids, rg != "" || name != "", "--resource-group/-g and "+flag, typ, func() (arm.ID, *client.Client, error) {
		return g.targetBy(flag, rg, typ, name)
	})
}

// parseIDs reads the full resource ids --ids gives, each of type typ
// (virtualNetworks, or a child's virtualNetworks/subnets), and returns
// them with the client.
func (g *globals) parseIDs(ids []string, typ string) ([]arm.ID, *client.Client, error) {
	var out []arm.ID
	for _, s := range ids {
		if !strings.HasPrefix(s, "/") {
			return nil, nil, usagef("--ids takes full resource ids (/subscriptions/.../providers/Microsoft.Network/%s/NAME); %q is none", strings.ReplaceAll(typ, "/", "/.../"), s)
		}
		id, err := g.resourceID("", typ, s)
		if err != nil {
			return nil, nil, usagef("--ids: %w", err)
		}
		out = append(out, id)
	}
	c, err := g.client()
	return out, c, err
}

// childTargets is targets for a child resource (a subnet, a route): the
// ids --ids gives, or the one its parent's flags and --name name. given
// says whether any of --resource-group, the parent's flag or --name was
// given; flags names them for the error.
func (g *globals) childTargets(ids []string, given bool, flags, typ string, one func() (arm.ID, *client.Client, error)) ([]arm.ID, *client.Client, error) {
	if len(ids) == 0 {
		id, c, err := one()
		if err != nil {
			return nil, nil, err
		}
		return []arm.ID{id}, c, nil
	}
	if given {
		return nil, nil, usagef("--ids names the resources by itself: give it without %s", flags)
	}
	return g.parseIDs(ids, typ)
}

// eachTarget runs run for each target in turn, as az runs a command for
// each of its --ids: one that fails does not stop the others (a delete
// of three, the first in use, deletes the other two). One target's error
// is returned as it is; of several, each failed one's, with its id.
func eachTarget(targets []arm.ID, run func(arm.ID) error) error {
	if len(targets) == 1 {
		return run(targets[0])
	}
	var errs []error
	for _, id := range targets {
		if err := run(id); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// showEach prints what show gets of each target: one, the resource; several
// (--ids), a list, as az shows them, of those it got, before the errors of
// the others.
func (g *globals) showEach(ctx context.Context, c *client.Client, targets []arm.ID, columns []column) error {
	var out []json.RawMessage
	err := eachTarget(targets, func(id arm.ID) error {
		var v json.RawMessage
		if err := c.Get(ctx, id, &v); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	switch {
	case len(targets) > 1 && len(out) > 0:
		if perr := g.print(out, columns); err == nil {
			err = perr
		}
	case err == nil:
		err = g.print(out[0], columns)
	}
	return err
}

// postEach POSTs body to suffix of each target in turn (az's --ids, or the
// one resource -g and -n name) and returns the answers, decoded as T, of
// those that took it, and the errors of the others (eachTarget).
func postEach[T any](ctx context.Context, c *client.Client, targets []arm.ID, suffix string, body any) ([]T, error) {
	var out []T
	err := eachTarget(targets, func(id arm.ID) error {
		var v T
		if _, err := c.Do(ctx, http.MethodPost, id.String()+suffix, body, &v); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

func (g *globals) listCmd(k kind) *cobra.Command {
	var rg string
	cmd := &cobra.Command{
		Use: "list", Short: "List " + k.use + " resources of a resource group, or of the subscription", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			path := "/subscriptions/" + g.subscription + "/providers/Microsoft.Network/" + k.typ
			if rg != "" {
				path = arm.ResourceGroupID(g.subscription, rg).String() + "/providers/Microsoft.Network/" + k.typ
			}
			items, err := client.List[json.RawMessage](cmd.Context(), c, path)
			if err != nil {
				return err
			}
			return g.print(items, k.columns)
		},
	}
	cmd.Flags().StringVarP(&rg, "resource-group", "g", "", "resource group (default: the whole subscription)")
	return cmd
}

func (g *globals) deleteCmd(k kind) *cobra.Command {
	var rg, name string
	var ids []string
	cmd := &cobra.Command{
		Use: "delete", Short: "Delete a " + k.use + " (or, with --ids, each it names, in turn)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			targets, c, err := g.targets(ids, rg, k.typ, name)
			if err != nil {
				return err
			}
			return eachTarget(targets, func(id arm.ID) error { return c.Delete(cmd.Context(), id) })
		},
	}
	cmd.Flags().StringVarP(&rg, "resource-group", "g", "", "resource group")
	cmd.Flags().StringVarP(&name, "name", "n", "", "name, or full resource id")
	idsFlag(cmd, &ids)
	noWait(cmd)
	return cmd
}

// noWait gives cmd az's --no-wait, which changes nothing: vnetgw answers
// a write when it is done, at once (az scripts pass it to vnet-gateway
// create and to deletes, and were refused "unknown flag").
func noWait(cmd *cobra.Command) {
	cmd.Flags().Bool("no-wait", false, "accepted as az has it; vnetgw answers when the change is made, at once")
}

// azAliases lets cmd take az's other names of its flags (alias: flag), as
// Azure's own walk-throughs spell them ("vnet create --address-prefix
// ... --subnet-prefix ...", "vnet-gateway create --public-ip-address").
func azAliases(cmd *cobra.Command, aliases map[string]string) {
	cmd.Flags().SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if to, ok := aliases[name]; ok {
			name = to
		}
		return pflag.NormalizedName(name)
	})
}

// put creates or updates a resource and prints the result.
func (g *globals) put(ctx context.Context, c *client.Client, id arm.ID, body any, cols []column) error {
	var out json.RawMessage
	r, err := c.Put(ctx, id, body, &out)
	g.warn(r)
	if err != nil {
		return err
	}
	return g.print(out, cols)
}

// location returns loc, or the location of the resource group.
func (g *globals) location(ctx context.Context, c *client.Client, rg, loc string) (string, error) {
	if loc != "" {
		return loc, nil
	}
	var grp arm.ResourceGroup
	if err := c.Get(ctx, arm.ResourceGroupID(g.subscription, rg), &grp); err != nil {
		return "", fmt.Errorf("finding the location of resource group %s: %w", rg, err)
	}
	return grp.Location, nil
}

// bodyFunc builds the request of a kind's create or update from its
// flags; given says whether a flag was on the command line. It returns an
// ifMatch when it kept some of what the resource was.
type bodyFunc func(ctx context.Context, c *client.Client, rg, name, location string, given func(flag string) bool) (any, error)

// writeCmds builds a kind's create and update commands: common flags -g,
// -n (and create's -l) and the kind's own, then body builds the request
// from them. Both keep what the flags do not change of a resource that
// exists; update changes only one that exists, as az's update verbs do:
// a missing one is an error that exits 3, as show's.
func (g *globals) writeCmds(k kind, short string, flags func(*cobra.Command), body bodyFunc) []*cobra.Command {
	return []*cobra.Command{
		g.writeCmd(k, "create", short, flags, body),
		g.writeCmd(k, "update", "Update a "+k.use+" that exists: change what the flags give, keep the rest", flags, body),
	}
}

func (g *globals) writeCmd(k kind, verb, short string, flags func(*cobra.Command), body bodyFunc) *cobra.Command {
	update := verb == "update"
	var rg, name, loc string
	var tags, ids []string
	var gu *genericUpdate
	var run func(cmd *cobra.Command) error
	cmd := &cobra.Command{
		Use: verb, Short: short, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, f := range slices.Sorted(maps.Keys(k.createOnly)) {
				if update && cmd.Flags().Changed(f) {
					return fmt.Errorf("%s update takes no --%s: %s", k.use, f, k.createOnly[f])
				}
			}
			if len(ids) == 0 {
				return run(cmd)
			}
			// az's --ids: each resource in turn, in its own group and
			// subscription, as -g and -n (and --subscription) would name it.
			targets, _, err := g.targets(ids, rg, k.typ, name)
			if err != nil {
				return err
			}
			return g.forEach(targets, k.columns, func(id arm.ID) error {
				g.subscription, rg, name, loc = id.Subscription, id.ResourceGroup, id.Name(), ""
				return run(cmd)
			})
		},
	}
	run = func(cmd *cobra.Command) error {
		id, c, err := g.target(rg, k.typ, name)
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		if loc == "" {
			// One that exists keeps its location: run again without
			// -l, one made in another location than its group's was
			// refused ("its location cannot change").
			var cur struct {
				Location string `json:"location"`
			}
			switch err := c.Get(ctx, id, &cur); {
			case err == nil:
				loc = cur.Location
			case update || !client.IsNotFound(err):
				return err
			}
		}
		if loc, err = g.location(ctx, c, rg, loc); err != nil {
			return err
		}
		kv, err := parseTags(tags)
		if err != nil {
			return err
		}
		return g.write(ctx, c, id, k.columns, update, gu, func() (any, error) {
			b, err := body(ctx, c, rg, name, loc, cmd.Flags().Changed)
			if err != nil || !cmd.Flags().Changed("tags") {
				return b, err
			}
			return withTags(b, kv)
		})
	}
	cmd.Flags().StringVarP(&rg, "resource-group", "g", "", "resource group")
	cmd.Flags().StringVarP(&name, "name", "n", "", "name")
	if update {
		idsFlag(cmd, &ids)
	}
	tagsFlag(cmd, &tags, "tags, space-separated key[=value]; they replace those it has, \"\" removes them all (default: those it has)")
	if !update {
		cmd.Flags().StringVarP(&loc, "location", "l", "", "location (default: its own for an existing one, else the resource group's)")
	}
	noWait(cmd)
	flags(cmd)
	if update {
		gu = addGenericUpdate(cmd, k.strict)
		withoutDefaults(cmd)
		for f := range k.createOnly {
			cmd.Flags().MarkHidden(f)
		}
	}
	return cmd
}

// parseTags reads --tags as az does: key=value, or key alone for an
// empty value.
// tagsFlag gives cmd az's --tags: the words after it are its values,
// each one tag, key[=value], split at its first "=" alone (a value may
// hold commas and quotes).
func tagsFlag(cmd *cobra.Command, tags *[]string, usage string) {
	cmd.Flags().StringArrayVar(tags, "tags", nil, usage)
	cmd.Flags().SetAnnotation("tags", wordsKey, []string{"each"})
}

// parseTags reads tags (an empty word is none: --tags "").
func parseTags(tags []string) (map[string]string, error) {
	kv := map[string]string{}
	for _, t := range tags {
		if t == "" {
			continue
		}
		k, v, _ := strings.Cut(t, "=")
		if k == "" {
			return nil, usagef("--tags %q: a tag is key[=value]", t)
		}
		kv[k] = v
	}
	return kv, nil
}

// withTags is body b with the tags kv, all it has (b may be an ifMatch).
func withTags(b any, kv map[string]string) (any, error) {
	im, kept := b.(ifMatch)
	if kept {
		b = im.body
	}
	raw, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	if m["tags"], err = json.Marshal(kv); err != nil {
		return nil, err
	}
	if kept {
		return ifMatch{m, im.etag}, nil
	}
	return m, nil
}

// withoutDefaults leaves the defaults of cmd's flags out of its help: an
// update keeps what a flag not given names, and said "(default
// "VpnGw1")" of --sku.
func withoutDefaults(cmd *cobra.Command) {
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Value.Type() == "string" {
			f.DefValue = ""
		}
	})
}

// write PUTs the body build makes of resource id and prints the answer.
// A body built from what the resource was (an ifMatch) is written only
// while the resource still is as read, else built again from what it has
// become, so that no write undoes another. With update, the resource must
// exist: a body that is not an ifMatch (build found nothing to keep) is
// not written, and the error is a 404, which exits 3 (the parent's, a
// subnet's network or a route's table, when that is missing too). gu's
// generic update arguments change the body after the command's flags
// did, as az applies them; nil for create.
func (g *globals) write(ctx context.Context, c *client.Client, id arm.ID, cols []column, update bool, gu *genericUpdate, build func() (any, error)) error {
	for try := 0; ; try++ {
		b, err := build()
		if err != nil {
			return err
		}
		im, ok := b.(ifMatch)
		switch {
		case !ok && update:
			if len(id.Types) > 1 {
				// "subnets default was not found" did not say that it
				// was the network that was not there.
				if err := c.Get(ctx, id.Parent(), nil); err != nil {
					return err
				}
			}
			return &client.Error{Status: http.StatusNotFound, Code: arm.CodeResourceNotFound,
				Message: fmt.Sprintf("%s %s was not found: update changes one that exists (create makes one)", id.Type(), id.Name())}
		case !ok:
			return g.put(ctx, c, id, b, cols)
		}
		if gu.given() {
			if im.body, err = gu.apply(im.body); err != nil {
				return err
			}
		}
		err = g.put(client.WithIfMatch(ctx, im.etag), c, id, im.body, cols)
		if !client.IsPreconditionFailed(err) || try == 4 {
			return err
		}
	}
}

// ifMatch is a body built from what a resource was when its etag was
// etag (the body functions of writeCmds return one when they keep some
// of it).
type ifMatch struct {
	body any
	etag string
}

// Resource groups.

func groupCommand(g *globals) *cobra.Command {
	cols := []column{nameCol, locationCol, stateCol}
	parent := &cobra.Command{Use: "group", Short: "Manage resource groups"}
	var name, loc string
	var tags []string
	create := &cobra.Command{
		Use: "create", Short: "Create a resource group", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" || loc == "" {
				return usagef("--name/-n and --location/-l are required")
			}
			if err := plainName(nameFlag, name); err != nil {
				return err
			}
			kv, err := parseTags(tags)
			if err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			return g.put(cmd.Context(), c, arm.ResourceGroupID(g.subscription, name), arm.ResourceGroup{Location: loc, Tags: kv}, cols)
		},
	}
	create.Flags().StringVarP(&name, "name", "n", "", "name")
	create.Flags().StringVarP(&loc, "location", "l", "", "location")
	tagsFlag(create, &tags, "tags, space-separated key[=value]")
	var showName string
	show := &cobra.Command{
		Use: "show", Short: "Show a resource group", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if showName == "" {
				return usagef("--name/-n is required")
			}
			if err := plainName(nameFlag, showName); err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			var out json.RawMessage
			if err := c.Get(cmd.Context(), arm.ResourceGroupID(g.subscription, showName), &out); err != nil {
				return err
			}
			return g.print(out, cols)
		},
	}
	show.Flags().StringVarP(&showName, "name", "n", "", "name")
	list := &cobra.Command{
		Use: "list", Short: "List resource groups", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			items, err := client.List[json.RawMessage](cmd.Context(), c, "/subscriptions/"+g.subscription+"/resourcegroups")
			if err != nil {
				return err
			}
			return g.print(items, cols)
		},
	}
	var delName string
	del := &cobra.Command{
		Use: "delete", Short: "Delete a resource group and everything in it", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if delName == "" {
				return usagef("--name/-n is required")
			}
			if err := plainName(nameFlag, delName); err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			return c.Delete(cmd.Context(), arm.ResourceGroupID(g.subscription, delName))
		},
	}
	del.Flags().StringVarP(&delName, "name", "n", "", "name")
	del.Flags().BoolP("yes", "y", false, "accepted as az has it (az asks for confirmation without it); vnetgw does not ask")
	noWait(del)
	// exists and wait, which az scripts use (az group exists -n rg; az
	// group delete --no-wait, then az group wait --deleted).
	var existsName string
	exists := &cobra.Command{
		Use: "exists", Short: "Print true if the resource group is there, false if not", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if existsName == "" {
				return usagef("--name/-n is required")
			}
			if err := plainName(nameFlag, existsName); err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			err = c.Get(cmd.Context(), arm.ResourceGroupID(g.subscription, existsName), &json.RawMessage{})
			if err != nil && !client.IsNotFound(err) {
				return err
			}
			return g.print(err == nil, nil)
		},
	}
	exists.Flags().StringVarP(&existsName, "name", "n", "", "name")
	var waitName string
	wait := g.waitCommand("group", func(cmd *cobra.Command) {
		cmd.Flags().StringVarP(&waitName, "name", "n", "", "name")
	}, func(*cobra.Command) ([]arm.ID, *client.Client, error) {
		if waitName == "" {
			return nil, nil, usagef("--name/-n is required")
		}
		if err := plainName(nameFlag, waitName); err != nil {
			return nil, nil, err
		}
		c, err := g.client()
		return []arm.ID{arm.ResourceGroupID(g.subscription, waitName)}, c, err
	})
	parent.AddCommand(create, show, list, del, exists, wait)
	return parent
}

// Virtual networks and subnets.

func vnetCommand(g *globals) *cobra.Command {
	k := kind{use: "vnet", short: "Manage virtual networks", typ: "virtualNetworks", strict: strictly[arm.VirtualNetwork],
		columns: []column{nameCol, groupColumn, locationCol, col("AddressSpace", "properties.addressSpace.addressPrefixes"), col("Subnets", "properties.subnets"), stateCol, col("Node", "properties.node")}}
	var prefixes, subnetPrefixes, dnsServers []string
	var subnetName string
	create := g.writeCmds(k, "Create or update a virtual network", func(cmd *cobra.Command) {
		cmd.Flags().StringSliceVar(&prefixes, "address-prefixes", nil, "address space (default: 10.0.0.0/16 for a new network, its own for an existing one); also --address-prefix")
		cmd.Flags().StringSliceVar(&dnsServers, "dns-servers", nil, "DNS servers of the network (dhcpOptions), which point-to-site clients are given (default: those it has)")
		cmd.Flags().StringVar(&subnetName, "subnet-name", "", "create a subnet with this name, or update the network's subnet of this name")
		cmd.Flags().StringSliceVar(&subnetPrefixes, "subnet-prefixes", nil, "prefixes of --subnet-name (default: those of the subnet it updates, else the first /24 of the space, /64 of an IPv6 space, or the whole space when it is smaller); also --subnet-prefix")
		azAliases(cmd, map[string]string{"address-prefix": "address-prefixes", "subnet-prefix": "subnet-prefixes"})
	}, func(ctx context.Context, c *client.Client, rg, name, loc string, given func(string) bool) (any, error) {
		if given("address-prefixes") && len(prefixes) == 0 {
			return nil, usagef("--address-prefixes is empty: give the network's address space, or leave the flag out")
		}
		if given("subnet-prefixes") && subnetName == "" {
			// As az refuses it; the prefixes were taken and ignored.
			return nil, usagef("--subnet-prefixes needs --subnet-name: the subnet they are for")
		}
		v := arm.VirtualNetwork{Resource: arm.Resource{Location: loc}}
		// Keep what a network already has that the flags do not change: a
		// PUT replaces it all.
		var old arm.VirtualNetwork
		err := c.Get(ctx, arm.NetworkID(g.subscription, rg, "virtualNetworks", name), &old)
		switch {
		case err == nil:
			v.Tags, v.Properties.AddressSpace, v.Properties.DHCPOptions = old.Tags, old.Properties.AddressSpace, old.Properties.DHCPOptions
			v.Properties.Subnets = slices.Clone(old.Properties.Subnets)
		case client.IsNotFound(err):
			v.Properties.AddressSpace = &arm.AddressSpace{AddressPrefixes: []string{"10.0.0.0/16"}}
		default:
			return nil, err
		}
		if given("address-prefixes") {
			v.Properties.AddressSpace = &arm.AddressSpace{AddressPrefixes: prefixes}
		}
		if dnsServers != nil {
			v.Properties.DHCPOptions = &arm.DHCPOptions{DNSServers: dnsServers}
		}
		if subnetName != "" {
			i := slices.IndexFunc(v.Properties.Subnets, func(s arm.Subnet) bool { return strings.EqualFold(s.Name, subnetName) })
			if i < 0 {
				v.Properties.Subnets = append(v.Properties.Subnets, arm.Subnet{Name: subnetName})
				i = len(v.Properties.Subnets) - 1
			}
			sn := &v.Properties.Subnets[i]
			sp := subnetPrefixes
			if len(sp) == 0 && sn.Properties.AddressPrefix == "" && len(sn.Properties.AddressPrefixes) == 0 {
				space := v.Properties.AddressSpace
				if space == nil || len(space.AddressPrefixes) == 0 {
					return nil, usagef("--subnet-prefixes is required: network %s has no address space to take subnet %s from", name, subnetName)
				}
				first, err := netip.ParsePrefix(strings.TrimSpace(space.AddressPrefixes[0]))
				if err != nil {
					return nil, usagef("--address-prefixes: %w", err)
				}
				// A /24 as az takes, or the whole space when it is
				// smaller (a /26 network had a /24 subnet outside it);
				// for IPv6 a /64, the size of an Azure IPv6 subnet (it
				// was fd00:7::/24 of fd00:7::/48).
				bits := 24
				if first.Addr().Is6() {
					bits = 64
				}
				sp = []string{netip.PrefixFrom(first.Addr(), max(bits, first.Bits())).Masked().String()}
			}
			// A subnet of that name is updated, not added beside it (the
			// API refuses two of one name); it keeps its other properties.
			switch len(sp) {
			case 0:
			case 1:
				sn.Properties.AddressPrefix, sn.Properties.AddressPrefixes = sp[0], nil
			default:
				sn.Properties.AddressPrefix, sn.Properties.AddressPrefixes = "", sp
			}
		}
		if old.Etag == "" {
			return v, nil
		}
		return ifMatch{v, old.Etag}, nil
	})
	parent := g.verbs(k, create)
	parent.AddCommand(subnetCommand(g), g.checkIPCommand())
	return parent
}

// checkIPCommand is az's vnet check-ip-address: whether a host may take an
// address, and free ones of its subnet when not.
func (g *globals) checkIPCommand() *cobra.Command {
	var rg, name, ip string
	cmd := &cobra.Command{
		Use: "check-ip-address", Short: "Say whether a host may take a private address of a virtual network (and some free ones of its subnet when not)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			id, c, err := g.target(rg, "virtualNetworks", name)
			if err != nil {
				return err
			}
			var out json.RawMessage
			if _, err := c.Do(cmd.Context(), http.MethodGet, id.String()+"/CheckIPAddressAvailability?ipAddress="+url.QueryEscape(ip), nil, &out); err != nil {
				return err
			}
			return g.print(out, []column{col("Available", "available"), col("AvailableIPAddresses", "availableIPAddresses")})
		},
	}
	cmd.Flags().StringVarP(&rg, "resource-group", "g", "", "resource group")
	cmd.Flags().StringVarP(&name, "name", "n", "", "virtual network: name, or full resource id")
	cmd.Flags().StringVar(&ip, "ip-address", "", "the private address to check")
	cmd.MarkFlagRequired("ip-address")
	return cmd
}

func subnetCommand(g *globals) *cobra.Command {
	prefixes := col("", "properties.addressPrefixes")
	prefix := col("", "properties.addressPrefix")
	cols := []column{nameCol, {name: "AddressPrefix", value: func(raw json.RawMessage) string { return prefix.value(raw) + prefixes.value(raw) }},
		col("IPConfigurations", "properties.ipConfigurations"), stateCol}
	parent := &cobra.Command{Use: "subnet", Short: "Manage subnets of a virtual network"}
	var rg, vnet, name, routeTable string
	var given []string
	// id is the subnet's id; list has no --name and gets the collection's
	// (a missing --name sent create to the collection: MethodNotAllowed).
	id := func(cmd *cobra.Command) (arm.ID, error) {
		v, err := g.resourceIDBy("--vnet-name", rg, "virtualNetworks", vnet)
		if err != nil {
			return arm.ID{}, err
		}
		if name == "" && cmd.Flags().Lookup("name") != nil {
			return arm.ID{}, usagef("--name/-n is required")
		}
		if err := plainName(nameFlag, name); err != nil {
			return arm.ID{}, err
		}
		return v.Child("subnets", name), nil
	}
	common := func(cmd *cobra.Command, withName bool) *cobra.Command {
		cmd.Flags().StringVarP(&rg, "resource-group", "g", "", "resource group")
		cmd.Flags().StringVar(&vnet, "vnet-name", "", "virtual network name or id")
		if withName {
			cmd.Flags().StringVarP(&name, "name", "n", "", "subnet name")
		}
		return cmd
	}
	// ids is az's --ids of show, update and delete: full subnet ids,
	// instead of -g, --vnet-name and -n, each acted on in turn.
	var ids []string
	targets := func(cmd *cobra.Command) ([]arm.ID, *client.Client, error) {
		return g.childTargets(ids, rg != "" || vnet != "" || name != "", "--resource-group/-g, --vnet-name and --name/-n", "virtualNetworks/subnets",
			func() (arm.ID, *client.Client, error) {
				i, err := id(cmd)
				if err != nil {
					return arm.ID{}, nil, err
				}
				c, err := g.client()
				return i, c, err
			})
	}
	run := func(fn func(ctx context.Context, c *client.Client, id arm.ID) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, _ []string) error {
			ts, c, err := targets(cmd)
			if err != nil {
				return err
			}
			// What update prints of several (--ids) is one list.
			return g.forEach(ts, cols, func(id arm.ID) error { return fn(cmd.Context(), c, id) })
		}
	}
	// write is create's and update's: both keep what the flags do not
	// change of a subnet that exists; update changes only one that does.
	write := func(verb, short string) *cobra.Command {
		var cmd *cobra.Command
		var gu *genericUpdate
		cmd = common(&cobra.Command{Use: verb, Short: short, Args: cobra.NoArgs,
			RunE: run(func(ctx context.Context, c *client.Client, id arm.ID) error {
				var rt *arm.SubResource
				if routeTable != "" {
					rid, err := g.resourceID(id.ResourceGroup, "routeTables", routeTable)
					if err != nil {
						return usagef("--route-table: %w", err)
					}
					rt = arm.Ref(rid.String())
				}
				return g.write(ctx, c, id, cols, verb == "update", gu, func() (any, error) {
					// Keep what a subnet already has that the flags do not
					// change (a PUT replaces it all): run again to change its
					// prefixes, it dropped its route table, and its hosts'
					// traffic no longer went through the appliance.
					var old arm.Subnet
					err := c.Get(ctx, id, &old)
					if err != nil && !client.IsNotFound(err) {
						return nil, err
					}
					s := arm.Subnet{Properties: arm.SubnetProperties{AddressPrefix: old.Properties.AddressPrefix,
						AddressPrefixes: old.Properties.AddressPrefixes, RouteTable: old.Properties.RouteTable}}
					if cmd.Flags().Changed("address-prefixes") {
						s.Properties.AddressPrefix, s.Properties.AddressPrefixes = "", given
						if len(given) == 1 {
							s.Properties.AddressPrefix, s.Properties.AddressPrefixes = given[0], nil
						}
					}
					if cmd.Flags().Changed("route-table") {
						s.Properties.RouteTable = rt // "": off the subnet
					}
					if old.Etag == "" {
						// The API's answer named no flag: subnet s2 needs an
						// address prefix.
						if verb == "create" && s.Properties.AddressPrefix == "" && len(s.Properties.AddressPrefixes) == 0 {
							return nil, usagef("--address-prefixes is required: subnet %s's range, inside the address space of network %s", id.Name(), id.Parent().Name())
						}
						return s, nil
					}
					return ifMatch{s, old.Etag}, nil
				})
			})}, true)
		cmd.Flags().StringSliceVar(&given, "address-prefixes", nil, "address prefixes of the subnet; also --address-prefix")
		azAliases(cmd, map[string]string{"address-prefix": "address-prefixes"})
		cmd.Flags().StringVar(&routeTable, "route-table", "", "route table (name or id) whose user-defined routes the subnet's hosts follow (R26); \"\" takes it off the subnet")
		if verb == "update" {
			gu = addGenericUpdate(cmd, strictly[arm.Subnet])
		}
		return cmd
	}
	create := write("create", "Create or update a subnet (name it GatewaySubnet for a gateway; an existing one keeps what the flags do not change)")
	update := write("update", "Update a subnet that exists: change what the flags give, keep the rest")
	show := common(&cobra.Command{Use: "show", Short: "Show a subnet (or, with --ids, each it names)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ts, c, err := targets(cmd)
			if err != nil {
				return err
			}
			return g.showEach(cmd.Context(), c, ts, cols)
		}}, true)
	list := common(&cobra.Command{Use: "list", Short: "List the subnets of a virtual network", Args: cobra.NoArgs,
		RunE: run(func(ctx context.Context, c *client.Client, id arm.ID) error {
			items, err := client.List[json.RawMessage](ctx, c, id.Parent().String()+"/subnets")
			if err != nil {
				return err
			}
			return g.print(items, cols)
		})}, false)
	del := common(&cobra.Command{Use: "delete", Short: "Delete a subnet (or, with --ids, each it names, in turn)", Args: cobra.NoArgs,
		RunE: run(func(ctx context.Context, c *client.Client, id arm.ID) error {
			return c.Delete(ctx, id)
		})}, true)
	for _, c := range []*cobra.Command{update, show, del} {
		idsFlag(c, &ids)
	}
	wait := g.waitCommand("subnet", func(cmd *cobra.Command) {
		common(cmd, true)
		idsFlag(cmd, &ids)
	}, targets)
	noWait(create)
	noWait(update)
	noWait(del)
	parent.AddCommand(create, update, show, list, del, wait)
	return parent
}

// Public IP addresses.

func publicIPCommand(g *globals) *cobra.Command {
	k := kind{use: "public-ip", short: "Manage public IP addresses", typ: "publicIPAddresses", strict: strictly[arm.PublicIPAddress],
		columns: []column{nameCol, groupColumn, locationCol, col("IPAddress", "properties.ipAddress"), col("Allocation", "properties.publicIPAllocationMethod"), col("SKU", "sku.name"), col("UsedBy", "properties.ipConfiguration"), stateCol}}
	var method, sku, version string
	var idle int32
	create := g.writeCmds(k, "Create or update a public IP address (an existing one keeps what the flags do not change)", func(cmd *cobra.Command) {
		cmd.Flags().StringVar(&method, "allocation-method", "", "Dynamic (allocated when a gateway uses it) or Static (allocated now); default Dynamic for Basic, Static for Standard")
		cmd.Flags().StringVar(&sku, "sku", "Basic", "Basic or Standard")
		cmd.Flags().StringVar(&version, "version", "", "IPv4 or IPv6: the version of serve's --public-ip-pool, the only one it has (default: that one)")
		cmd.Flags().Int32Var(&idle, "idle-timeout", 0, "idle timeout in minutes, 4-30, kept as Azure keeps it; the gateways' IKE and ESP through the address have their own timers (default: what it has; 4 for a new one)")
	}, func(ctx context.Context, c *client.Client, rg, name, loc string, given func(string) bool) (any, error) {
		if given("idle-timeout") && (idle < 4 || idle > 30) {
			return nil, usagef("--idle-timeout %d: Azure takes 4 to 30 minutes", idle)
		}
		p := arm.PublicIPAddress{Resource: arm.Resource{Location: loc}, SKU: &arm.PublicIPAddressSKU{Name: sku},
			Properties: arm.PublicIPAddressProperties{PublicIPAllocationMethod: method, PublicIPAddressVersion: version}}
		if given("idle-timeout") {
			p.Properties.IdleTimeoutInMinutes = &idle
		}
		// Keep what an address already has that the flags do not
		// change (a PUT replaces it all): run again, a Standard (Static)
		// address not in use became a Basic Dynamic one, and gave its
		// address back to the pool.
		var old arm.PublicIPAddress
		err := c.Get(ctx, arm.NetworkID(g.subscription, rg, "publicIPAddresses", name), &old)
		if client.IsNotFound(err) {
			return p, nil
		}
		if err != nil {
			return nil, err
		}
		// Its zones and ddosSettings, which no flag names, stay too (an
		// update of its idle timeout dropped them).
		p.Tags, p.Zones, p.Properties.DDoSSettings = old.Tags, old.Zones, old.Properties.DDoSSettings
		if !given("idle-timeout") {
			p.Properties.IdleTimeoutInMinutes = old.Properties.IdleTimeoutInMinutes
		}
		if !given("sku") && old.SKU != nil {
			p.SKU = &arm.PublicIPAddressSKU{Name: old.SKU.Name, Tier: old.SKU.Tier}
		}
		if !given("sku") && !given("allocation-method") {
			p.Properties.PublicIPAllocationMethod = old.Properties.PublicIPAllocationMethod
		}
		return ifMatch{p, old.Etag}, nil
	})
	return g.verbs(k, create)
}

// Virtual network gateways.

func gatewayCommand(g *globals) *cobra.Command {
	k := kind{use: "vnet-gateway", short: "Manage virtual network gateways", typ: "virtualNetworkGateways", strict: strictly[arm.VirtualNetworkGateway],
		columns:    []column{nameCol, groupColumn, locationCol, col("GatewayType", "properties.gatewayType"), col("VpnType", "properties.vpnType"), col("SKU", "properties.sku.name"), col("BgpASN", "properties.bgpSettings.asn"), col("BgpPeeringAddress", "properties.bgpSettings.bgpPeeringAddress"), stateCol},
		createOnly: map[string]string{"vnet": "a gateway stays in the virtual network it was made in (delete it and create it in another)"}}
	var vnet, gwType, vpnType, sku, bgpAddr, defaultSite, radiusServer, radiusSecret, generation, rootCertName, rootCertData string
	var pips, clientPool, clientProtocols, authTypes, customRoutes []string
	var asn int64
	var gwPeerWeight int32
	var bgpNAT, enableBGP bool
	create := g.writeCmds(k, "Create or update a virtual network gateway (an existing one keeps what the flags do not change)", func(cmd *cobra.Command) {
		f := cmd.Flags()
		f.StringVar(&vnet, "vnet", "", "virtual network (name or id); the gateway goes into its GatewaySubnet")
		f.StringSliceVar(&pips, "public-ip-addresses", nil, "public IP address, name or id (a VPN gateway needs one); two make an active-active gateway; also --public-ip-address")
		f.StringVar(&gwType, "gateway-type", "Vpn", "Vpn or ExpressRoute")
		f.StringVar(&vpnType, "vpn-type", "RouteBased", "RouteBased or PolicyBased")
		f.StringVar(&sku, "sku", "VpnGw1", "SKU: Basic, Standard, HighPerformance, VpnGw1-5, VpnGw1AZ-5AZ")
		f.Int64Var(&asn, "asn", 0, "BGP ASN (enables BGP; default 65515); 0 turns BGP off")
		f.BoolVar(&enableBGP, "enable-bgp", false, "turn BGP on (ASN 65515 unless --asn says another) or off")
		f.StringVar(&bgpAddr, "bgp-peering-address", "", "BGP peering address in the GatewaySubnet (default: the gateway's own)")
		f.Int32Var(&gwPeerWeight, "peer-weight", 0, "az's weight of the routes learned over BGP (enables BGP, as --asn does): 0 only (the API refuses another: vnetgw prefers a route by its AS path, never by a weight)")
		f.StringSliceVar(&clientPool, "address-prefixes", nil, "point-to-site client address pool; also --address-prefix")
		f.StringSliceVar(&clientProtocols, "client-protocol", nil, "point-to-site protocols: SSTP, IkeV2, OpenVPN")
		f.StringSliceVar(&authTypes, "vpn-auth-type", nil, "how point-to-site clients authenticate: Certificate (the default), Radius (a user name and password that the RADIUS server checks; SSTP, IKEv2 and OpenVPN clients), or both")
		f.StringVar(&radiusServer, "radius-server", "", "the RADIUS server's address, for --vpn-auth-type Radius")
		f.StringVar(&radiusSecret, "radius-secret", "", "the secret shared with the RADIUS server")
		f.StringSliceVar(&customRoutes, "custom-routes", nil, "more ranges point-to-site clients route to the gateway, besides the VNet's and its connections'")
		f.StringVar(&defaultSite, "gateway-default-site", "", "local network gateway that Internet-bound traffic is forced to (forced tunneling); \"\" turns it off")
		f.BoolVar(&bgpNAT, "enable-bgp-route-translation-for-nat", false, "translate the routes of BGP connections with NAT rules (needed for NAT with BGP)")
		f.StringVar(&rootCertName, "root-cert-name", "", "name of a point-to-site root certificate to upload (added, or replacing the one of that name; vnet-gateway root-cert create does the same)")
		f.StringVar(&rootCertData, "root-cert-data", "", "that root certificate: a file (PEM or DER), or its base64 DER as az takes it")
		f.StringVar(&generation, "vpn-gateway-generation", "", "Generation1 (Basic, VpnGw1-3(AZ)), Generation2 (VpnGw2-5(AZ)) or None (an ExpressRoute gateway); default: the SKU's")
		azAliases(cmd, map[string]string{"public-ip-address": "public-ip-addresses", "address-prefix": "address-prefixes"})
	}, func(ctx context.Context, c *client.Client, rg, name, loc string, given func(string) bool) (any, error) {
		// Keep what a gateway already has that the flags do not change
		// (a PUT replaces it all): its NAT rules, root and revoked
		// certificates and client IPsec policy, which other commands
		// set, were dropped by a create run again to change the SKU.
		var old arm.VirtualNetworkGateway
		err := c.Get(ctx, arm.NetworkID(g.subscription, rg, "virtualNetworkGateways", name), &old)
		exists := err == nil
		if err != nil && !client.IsNotFound(err) {
			return nil, err
		}
		// Without --vnet, one that exists stays in its network.
		var vid arm.ID
		if cfgs := old.Properties.IPConfigurations; vnet == "" && len(cfgs) > 0 && cfgs[0].Properties.Subnet != nil {
			sid, err := arm.ParseID(cfgs[0].Properties.Subnet.ID)
			if err != nil {
				return nil, err
			}
			vid = sid.Parent()
		} else if vid, err = g.resourceIDBy("--vnet", rg, "virtualNetworks", vnet); err != nil {
			return nil, err
		}
		gw := arm.VirtualNetworkGateway{Resource: arm.Resource{Location: loc, Tags: old.Tags}, Properties: old.Properties}
		p := &gw.Properties
		set := func(flag string) bool { return !exists || given(flag) }
		if set("gateway-type") {
			p.GatewayType = gwType
		}
		if set("vpn-type") {
			p.VPNType = vpnType
		}
		if set("sku") {
			p.SKU = &arm.VirtualNetworkGatewaySKU{Name: sku}
		}
		if set("enable-bgp-route-translation-for-nat") {
			p.EnableBGPRouteTranslationForNat = bgpNAT
		}
		if given("vpn-gateway-generation") {
			p.VPNGatewayGeneration = generation
		}
		pipIDs := pips
		if !given("public-ip-addresses") {
			pipIDs = nil
			for _, c := range old.Properties.IPConfigurations {
				if c.Properties.PublicIPAddress != nil {
					pipIDs = append(pipIDs, c.Properties.PublicIPAddress.ID)
				}
			}
		}
		// The API's answer named its field (properties.ipConfigurations[0].
		// properties.publicIPAddress is required), not the flag.
		if len(pipIDs) == 0 && !strings.EqualFold(p.GatewayType, arm.GatewayTypeExpressRoute) {
			return nil, usagef("--public-ip-addresses is required: the public IP address (name or id) the gateway is reached at; vnetgw public-ip create makes one")
		}
		p.ActiveActive = len(pipIDs) == 2 // as az does
		// An address the gateway has keeps its IP configuration's name
		// (az's vnetGatewayConfig0, a template's): made again as
		// ipconfigN, the write was refused, as the gateway's bgpSettings
		// and NAT rules name the configuration. A new one takes a name
		// that none of those kept has.
		var cfgs []arm.VirtualNetworkGatewayIPConfiguration
		taken := map[string]bool{}
		for _, pip := range pipIDs {
			pid, err := g.resourceID(rg, "publicIPAddresses", pip)
			if err != nil {
				return nil, err
			}
			cfg := arm.VirtualNetworkGatewayIPConfiguration{
				Properties: arm.VirtualNetworkGatewayIPConfigurationProperties{Subnet: arm.Ref(vid.Child("subnets", "GatewaySubnet").String()), PublicIPAddress: arm.Ref(pid.String())}}
			for _, o := range old.Properties.IPConfigurations {
				if o.Properties.PublicIPAddress != nil && arm.Equal(o.Properties.PublicIPAddress.ID, pid.String()) && !taken[strings.ToLower(o.Name)] {
					cfg.Name = o.Name
					taken[strings.ToLower(o.Name)] = true
					break
				}
			}
			cfgs = append(cfgs, cfg)
		}
		for i := range cfgs {
			for n := i + 1; cfgs[i].Name == ""; n++ {
				if name := fmt.Sprintf("ipconfig%d", n); !taken[name] {
					cfgs[i].Name, taken[name] = name, true
				}
			}
		}
		p.IPConfigurations = cfgs
		if len(pipIDs) == 0 {
			p.IPConfigurations = []arm.VirtualNetworkGatewayIPConfiguration{{Name: "ipconfig1",
				Properties: arm.VirtualNetworkGatewayIPConfigurationProperties{Subnet: arm.Ref(vid.Child("subnets", "GatewaySubnet").String())}}}
		}
		if given("asn") && asn == 0 {
			// Off, as local-gateway create --asn 0 takes a site's BGP
			// away: the flag was taken and ignored.
			p.EnableBGP = false
		} else if asn != 0 || bgpAddr != "" || given("peer-weight") {
			p.EnableBGP = true
			if p.BGPSettings == nil {
				p.BGPSettings = &arm.BGPSettings{}
			} else {
				b := *p.BGPSettings
				p.BGPSettings = &b
			}
			if asn != 0 {
				p.BGPSettings.ASN = asn
			}
			if bgpAddr != "" {
				p.BGPSettings.BGPPeeringAddress = bgpAddr
			}
			if given("peer-weight") {
				p.BGPSettings.PeerWeight = &gwPeerWeight
			}
		}
		if given("enable-bgp") {
			p.EnableBGP = enableBGP // said outright, it wins over --asn's
		}
		p2s := false
		if given("root-cert-name") != given("root-cert-data") {
			return nil, usagef("--root-cert-name and --root-cert-data go together: the name of a point-to-site root certificate and the certificate")
		}
		for _, f := range []string{"address-prefixes", "client-protocol", "vpn-auth-type", "radius-server", "radius-secret", "root-cert-name"} {
			p2s = p2s || given(f)
		}
		if p2s {
			vc := &arm.VPNClientConfiguration{}
			if p.VPNClientConfiguration != nil {
				c := *p.VPNClientConfiguration
				vc = &c
			}
			if given("address-prefixes") {
				vc.VPNClientAddressPool = &arm.AddressSpace{AddressPrefixes: clientPool}
			}
			if given("client-protocol") {
				vc.VPNClientProtocols = clientProtocols
			}
			if given("vpn-auth-type") {
				vc.VPNAuthenticationTypes = authTypes
			}
			if given("radius-server") {
				vc.RadiusServerAddress, vc.RadiusServers = radiusServer, nil
			}
			if given("radius-secret") {
				vc.RadiusServerSecret = radiusSecret
			}
			if given("root-cert-name") {
				data, err := certData("--root-cert-data", rootCertData)
				if err != nil {
					return nil, err
				}
				vc.VPNClientRootCertificates = putNamed(slices.Clone(vc.VPNClientRootCertificates), rootName,
					arm.VPNClientRootCertificate{Name: rootCertName, Properties: arm.VPNClientRootCertificateProperties{PublicCertData: data}})
			}
			if (vc.VPNClientAddressPool == nil || len(vc.VPNClientAddressPool.AddressPrefixes) == 0) && len(vc.VPNClientProtocols) == 0 {
				return nil, usagef("--vpn-auth-type, --radius-server, --radius-secret and --root-cert-name are part of the point-to-site configuration: give its client pool (--address-prefixes) too")
			}
			// The API drops the servers of a configuration without Radius.
			if (given("radius-server") || given("radius-secret")) && !slices.ContainsFunc(vc.VPNAuthenticationTypes, func(t string) bool { return strings.EqualFold(t, "Radius") }) {
				return nil, usagef("--radius-server and --radius-secret are for clients that authenticate by RADIUS: give --vpn-auth-type Radius too")
			}
			p.VPNClientConfiguration = vc
		}
		if given("custom-routes") {
			p.CustomRoutes = &arm.AddressSpace{AddressPrefixes: customRoutes}
		}
		switch {
		case defaultSite != "":
			lid, err := g.resourceID(rg, "localNetworkGateways", defaultSite)
			if err != nil {
				return nil, err
			}
			p.GatewayDefaultSite = arm.Ref(lid.String())
		case given("gateway-default-site"):
			p.GatewayDefaultSite = nil // "": forced tunneling off
		}
		if !exists {
			return gw, nil
		}
		return ifMatch{gw, old.Etag}, nil
	})
	parent := g.verbs(k, create)
	parent.AddCommand(g.resetGatewayCmd(k.columns),
		g.bgpCmd("list-bgp-peer-status", "List the BGP peers of a gateway and the state of their sessions", "/getBgpPeerStatus", false,
			[]column{col("Neighbor", "neighbor"), col("ASN", "asn"), col("State", "state"), col("ConnectedDuration", "connectedDuration"),
				col("RoutesReceived", "routesReceived"), col("MessagesSent", "messagesSent"), col("MessagesReceived", "messagesReceived"), col("LocalAddress", "localAddress")}),
		// getLearnedRoutes is of every peer, as az's list-learned-routes
		// (no --peer): a --peer was sent and ignored.
		needsBGP(g.postCmd("list-learned-routes", "List the routes a gateway knows: its VNet's ranges and what its BGP peers announced", "virtualNetworkGateways", "/getLearnedRoutes", routeColumns, nil)),
		g.bgpCmd("list-advertised-routes", "List the routes a gateway announces to one BGP peer", "/getAdvertisedRoutes", true, routeColumns))
	vpnClient := &cobra.Command{Use: "vpn-client", Short: "A gateway's point-to-site clients"}
	vpnClient.AddCommand(g.postCmd("show-health", "List the point-to-site clients connected to a gateway", "virtualNetworkGateways", "/getVpnClientConnectionHealth",
		[]column{col("ConnectionId", "vpnConnectionId"), col("User", "vpnUserName"), col("PrivateIP", "privateIpAddress"), col("PublicIP", "publicIpAddress"), col("ConnectedSince", "vpnConnectionTime"),
			col("IngressBytes", "ingressBytesTransferred"), col("EgressBytes", "egressBytesTransferred"),
			col("MaxBandwidth", "maxBandwidth"), col("MaxPacketsPerSecond", "maxPacketsPerSecond")}, nil))
	vpnClient.AddCommand(g.generateVPNClientCmd(), g.showVPNClientURLCmd(), g.vpnClientPolicyCmd())
	parent.AddCommand(g.postCmd("list-radius-secrets", "List a gateway's RADIUS servers with their secrets, which show leaves out", "virtualNetworkGateways", "/listRadiusSecrets",
		[]column{col("Address", "radiusServerAddress"), col("Secret", "radiusServerSecret")}, nil))
	parent.AddCommand(vpnClient, g.disconnectVPNCmd(), g.packetCaptureCmd(k, "a gateway's packets, both ways between its tunnels and its VNet"))
	parent.AddCommand(certCommands(g)...)
	parent.AddCommand(natRuleCommand(g))
	return parent
}

// generateVPNClientCmd is az's vnet-gateway vpn-client generate: it prints
// the package's URL and, with --output-file, downloads it. With az's --ids
// each gateway's package is made in turn.
func (g *globals) generateVPNClientCmd() *cobra.Command {
	var rg, name, file, dir string
	var ids []string
	var params arm.VPNClientParameters
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Make a gateway's VPN client configuration package (a zip, at a URL that works for an hour): its URL, a JSON string with -o json, as it is with -o table",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			targets, c, err := g.targets(ids, rg, "virtualNetworkGateways", name)
			if err != nil {
				return err
			}
			if (file != "" || dir != "") && len(targets) > 1 {
				return usagef("--output-file and --output-dir save one package: give one id with them")
			}
			var urls []string
			err = eachTarget(targets, func(id arm.ID) error {
				u, zip, err := c.VPNClientPackage(cmd.Context(), id, params)
				if err != nil {
					return err
				}
				if file != "" {
					if err := saveOutput(file, zip); err != nil { // it may hold the gateway's OpenVPN key
						return err
					}
				}
				if dir != "" {
					if err := vpnclient.Extract(zip, dir); err != nil {
						return err
					}
				}
				urls = append(urls, u)
				return nil
			})
			return g.printURLsThen(urls, err)
		},
	}
	cmd.Flags().StringVarP(&rg, "resource-group", "g", "", "resource group")
	cmd.Flags().StringVarP(&name, "name", "n", "", "name, or full resource id")
	idsFlag(cmd, &ids)
	cmd.Flags().StringVar(&file, "output-file", "", "write the package (zip) here too")
	cmd.Flags().StringVar(&dir, "output-dir", "", "unpack the package into this directory too")
	cmd.Flags().StringVar(&params.AuthenticationMethod, "authentication-method", "EAPTLS", "EAPTLS (client certificates) or, for a gateway whose clients RADIUS authenticates, EAPMSCHAPv2 (user names and passwords)")
	cmd.Flags().StringVar(&params.ProcessorArchitecture, "processor-architecture", "", "Amd64 or X86, as az takes it; vnetgw's package is the same for both")
	return cmd
}

// showVPNClientURLCmd is az's vnet-gateway vpn-client show-url: the URL
// of the package generate made last, while it is fresh and the gateway's
// point-to-site configuration unchanged, else of one made now; with az's
// --ids, of each gateway in turn.
func (g *globals) showVPNClientURLCmd() *cobra.Command {
	var rg, name string
	var ids []string
	cmd := &cobra.Command{
		Use:   "show-url",
		Short: "Show the URL of a gateway's VPN client configuration package: the one generate made, while it has half its hour left, else a new one",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			targets, c, err := g.targets(ids, rg, "virtualNetworkGateways", name)
			if err != nil {
				return err
			}
			urls, err := postEach[string](cmd.Context(), c, targets, "/getvpnprofilepackageurl", nil)
			return g.printURLsThen(urls, err)
		},
	}
	cmd.Flags().StringVarP(&rg, "resource-group", "g", "", "resource group")
	cmd.Flags().StringVarP(&name, "name", "n", "", "name, or full resource id")
	idsFlag(cmd, &ids)
	return cmd
}

// printURLs prints the URLs of packages or captures: a JSON string with
// -o json, as az prints it (it was the bare URL, which a JSON reader of
// the output refused), and a list of them for several (--ids); bare, one
// a line, with -o table or tsv.
// printURLsThen prints the URLs of the targets that gave one (printURLs),
// and returns err, the others' errors.
func (g *globals) printURLsThen(urls []string, err error) error {
	if len(urls) == 0 {
		return err
	}
	if perr := g.printURLs(urls); err == nil {
		err = perr
	}
	return err
}

func (g *globals) printURLs(urls []string) error {
	if !g.document() {
		_, err := fmt.Fprintln(g.stdout, strings.Join(urls, "\n"))
		return err
	}
	if len(urls) > 1 {
		return g.print(urls, nil)
	}
	return g.print(urls[0], nil)
}

// disconnectVPNCmd is az's vnet-gateway disconnect-vpn-connections; with
// az's --ids, of each gateway in turn.
func (g *globals) disconnectVPNCmd() *cobra.Command {
	var rg, name string
	var ids, conns []string
	cmd := &cobra.Command{
		Use:   "disconnect-vpn-connections",
		Short: "End point-to-site connections of a gateway, by the ids vpn-client show-health lists",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(conns) == 0 {
				return usagef("--vpn-connections: name the connections to end (ConnectionId of vpn-client show-health)")
			}
			targets, c, err := g.targets(ids, rg, "virtualNetworkGateways", name)
			if err != nil {
				return err
			}
			_, err = postEach[json.RawMessage](cmd.Context(), c, targets, "/disconnectVirtualNetworkGatewayVpnConnections", arm.P2SVPNConnectionRequest{VPNConnectionIDs: conns})
			return err
		},
	}
	cmd.Flags().StringVarP(&rg, "resource-group", "g", "", "resource group")
	cmd.Flags().StringVarP(&name, "name", "n", "", "name, or full resource id")
	idsFlag(cmd, &ids)
	cmd.Flags().StringSliceVar(&conns, "vpn-connections", nil, "ids of the connections to end (repeatable, or comma-separated)")
	return cmd
}

// Local network gateways.

func localGatewayCommand(g *globals) *cobra.Command {
	k := kind{use: "local-gateway", short: "Manage local network gateways (on-premises sites)", typ: "localNetworkGateways", strict: strictly[arm.LocalNetworkGateway],
		columns: []column{nameCol, groupColumn, locationCol, col("GatewayIPAddress", "properties.gatewayIpAddress"), col("AddressPrefixes", "properties.localNetworkAddressSpace.addressPrefixes"), col("BgpASN", "properties.bgpSettings.asn"), stateCol}}
	var ip, fqdn, bgpAddr string
	var prefixes []string
	var asn int64
	var peerWeight int32
	create := g.writeCmds(k, "Create or update a local network gateway (an existing one keeps what the flags do not change)", func(cmd *cobra.Command) {
		f := cmd.Flags()
		f.StringVar(&ip, "gateway-ip-address", "", "public address of the on-premises VPN device")
		f.StringVar(&fqdn, "fqdn", "", "host name of the on-premises VPN device, instead of its address")
		f.StringSliceVar(&prefixes, "local-address-prefixes", nil, "on-premises address ranges routed through the gateway; also --address-prefixes, as az takes it")
		f.Int64Var(&asn, "asn", 0, "BGP ASN of the site (0 on an existing site: no BGP)")
		f.StringVar(&bgpAddr, "bgp-peering-address", "", "BGP peering address of the site")
		f.Int32Var(&peerWeight, "peer-weight", 0, "az's weight of the routes learned from the site's BGP speaker: 0 only (the API refuses another: vnetgw prefers a route by its AS path, never by a weight)")
		azAliases(cmd, map[string]string{"address-prefixes": "local-address-prefixes"})
	}, func(ctx context.Context, c *client.Client, rg, name, loc string, given func(string) bool) (any, error) {
		// The device is known by one or the other, as
		// New-AzLocalNetworkGateway's parameter sets and Terraform's
		// gateway_address and gateway_fqdn have it: given both, the
		// address was used and the name stored beside it, unused.
		if given("gateway-ip-address") && given("fqdn") {
			return nil, usagef("--gateway-ip-address and --fqdn both name the on-premises VPN device: give one")
		}
		// Keep what a site already has that the flags do not change (a
		// PUT replaces it all): run again to give its device a new
		// address, it lost its ranges (refused) or its BGP settings.
		var old arm.LocalNetworkGateway
		err := c.Get(ctx, arm.NetworkID(g.subscription, rg, "localNetworkGateways", name), &old)
		exists := err == nil
		if err != nil && !client.IsNotFound(err) {
			return nil, err
		}
		if !exists && ip == "" && fqdn == "" {
			return nil, usagef("--gateway-ip-address or --fqdn is required: the on-premises VPN device's address or host name")
		}
		l := arm.LocalNetworkGateway{Resource: arm.Resource{Location: loc, Tags: old.Tags}, Properties: old.Properties}
		p := &l.Properties
		set := func(flag string) bool { return !exists || given(flag) }
		if set("gateway-ip-address") || set("fqdn") {
			p.GatewayIPAddress, p.FQDN = ip, fqdn // the one given names the device
		}
		if set("local-address-prefixes") {
			p.LocalNetworkAddressSpace = &arm.AddressSpace{AddressPrefixes: prefixes}
		}
		switch {
		case given("asn") && asn == 0:
			p.BGPSettings = nil
		case given("asn") || given("bgp-peering-address") || given("peer-weight"):
			b := arm.BGPSettings{}
			if p.BGPSettings != nil {
				b = *p.BGPSettings
			}
			if given("asn") {
				b.ASN = asn
			}
			if given("bgp-peering-address") {
				b.BGPPeeringAddress = bgpAddr
			}
			if given("peer-weight") {
				b.PeerWeight = &peerWeight
			}
			// A site's BGP needs both; name the flag of the one it
			// lacks (the API's answer said "BGP ASN 0 is out of range"
			// of an ASN no one gave, or named its field).
			switch {
			case b.ASN == 0:
				return nil, usagef("--asn is required for the site's BGP (--bgp-peering-address, --peer-weight): the AS number of its device")
			case b.BGPPeeringAddress == "":
				return nil, usagef("--bgp-peering-address is required for the site's BGP (--asn): the address its device speaks BGP from")
			}
			p.BGPSettings = &b
		}
		if !exists {
			return l, nil
		}
		return ifMatch{l, old.Etag}, nil
	})
	return g.verbs(k, create)
}

// Route tables.

func routeTableCommand(g *globals) *cobra.Command {
	k := kind{use: "route-table", short: "Manage route tables: user-defined routes of subnets (R26)", typ: "routeTables", strict: strictly[arm.RouteTable],
		columns: []column{nameCol, groupColumn, locationCol, col("Routes", "properties.routes"), col("Subnets", "properties.subnets"), stateCol}}
	var noPropagation bool
	create := g.writeCmds(k, "Create or update a route table (an existing one keeps its routes, and what the flags do not change)", func(cmd *cobra.Command) {
		cmd.Flags().BoolVar(&noPropagation, "disable-bgp-route-propagation", false, "the table's subnets do not take the gateway's routes (its sites' ranges, BGP, point-to-site): only user routes send traffic to it")
	},
		func(ctx context.Context, c *client.Client, rg, name, loc string, given func(string) bool) (any, error) {
			id, err := g.resourceID(rg, "routeTables", name)
			if err != nil {
				return nil, err
			}
			// Keep what a table already has (a PUT replaces it all): run
			// again, it lost its tags.
			var old arm.RouteTable
			if err := c.Get(ctx, id, &old); err != nil && !client.IsNotFound(err) {
				return nil, err
			}
			t := arm.RouteTable{Resource: arm.Resource{Location: loc, Tags: old.Tags}, Properties: old.Properties}
			if given("disable-bgp-route-propagation") {
				t.Properties.DisableBGPRoutePropagation = noPropagation
			}
			if old.Etag == "" {
				return t, nil
			}
			return ifMatch{t, old.Etag}, nil
		})
	parent := g.verbs(k, create)
	parent.AddCommand(routeCommand(g))
	return parent
}

// routeCommand is az's route-table route: the routes of a table, each a
// resource of its own (routeTables/{t}/routes/{r}).
func routeCommand(g *globals) *cobra.Command {
	parent := &cobra.Command{Use: "route", Short: "Manage the routes of a route table"}
	columns := []column{nameCol, col("Prefix", "properties.addressPrefix"), col("NextHop", "properties.nextHopType"),
		col("NextHopIP", "properties.nextHopIpAddress"), stateCol}
	var rg, table, name, prefix, hopType, hopIP string
	flags := func(c *cobra.Command, named bool) {
		f := c.Flags()
		f.StringVarP(&rg, "resource-group", "g", "", "resource group")
		f.StringVar(&table, "route-table-name", "", "route table name or id")
		if named {
			f.StringVarP(&name, "name", "n", "", "route name")
		}
	}
	// route is the route's id, and the client.
	route := func() (arm.ID, *client.Client, error) {
		id, c, err := g.targetBy("--route-table-name", rg, "routeTables", table)
		if err != nil {
			return arm.ID{}, nil, err
		}
		if name == "" {
			return arm.ID{}, nil, usagef("--name/-n is required")
		}
		if err := plainName(nameFlag, name); err != nil {
			return arm.ID{}, nil, err
		}
		return id.Child("routes", name), c, nil
	}
	// ids is az's --ids of show, update and delete: full route ids,
	// instead of -g, --route-table-name and -n, each acted on in turn.
	var ids []string
	routes := func() ([]arm.ID, *client.Client, error) {
		return g.childTargets(ids, rg != "" || table != "" || name != "", "--resource-group/-g, --route-table-name and --name/-n", "routeTables/routes", route)
	}
	// writeOne is create's and update's write of the route id.
	writeOne := func(cmd *cobra.Command, c *client.Client, id arm.ID, verb string, gu *genericUpdate) error {
		ctx, given := cmd.Context(), cmd.Flags().Changed
		return g.write(ctx, c, id, columns, verb == "update", gu, func() (any, error) {
			var old arm.Route
			if err := c.Get(ctx, id, &old); err != nil && !client.IsNotFound(err) {
				return nil, err
			}
			r := arm.Route{Properties: old.Properties}
			p := &r.Properties
			if given("address-prefix") {
				p.AddressPrefix = prefix
			}
			if given("next-hop-type") {
				p.NextHopType = hopType
				if !strings.EqualFold(hopType, arm.NextHopVirtualAppliance) {
					p.NextHopIPAddress = "" // only an appliance has one
				}
			}
			if given("next-hop-ip-address") {
				p.NextHopIPAddress = hopIP
			}
			if old.Etag == "" {
				return r, nil
			}
			return ifMatch{r, old.Etag}, nil
		})
	}
	// write is create's and update's: both keep what the flags do not
	// change of a route that exists; update changes only one that does.
	write := func(verb, short string) *cobra.Command {
		cmd := &cobra.Command{Use: verb, Short: short, Args: cobra.NoArgs}
		var gu *genericUpdate
		if verb == "update" {
			gu = addGenericUpdate(cmd, strictly[arm.Route])
		}
		cmd.RunE = func(cmd *cobra.Command, _ []string) error {
			ts, c, err := routes()
			if err != nil {
				return err
			}
			return g.forEach(ts, columns, func(id arm.ID) error { return writeOne(cmd, c, id, verb, gu) })
		}
		flags(cmd, true)
		f := cmd.Flags()
		f.StringVar(&prefix, "address-prefix", "", "destination prefix, CIDR")
		f.StringVar(&hopType, "next-hop-type", "", "VirtualAppliance, VirtualNetworkGateway, VnetLocal, None or Internet")
		f.StringVar(&hopIP, "next-hop-ip-address", "", "the appliance's address, for VirtualAppliance")
		return cmd
	}
	create := write("create", "Create or update a route (an existing one keeps what the flags do not change)")
	update := write("update", "Update a route that exists: change what the flags give, keep the rest")
	show := &cobra.Command{Use: "show", Short: "Show a route (or, with --ids, each it names)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ts, c, err := routes()
			if err != nil {
				return err
			}
			return g.showEach(cmd.Context(), c, ts, columns)
		}}
	flags(show, true)
	del := &cobra.Command{Use: "delete", Short: "Delete a route (or, with --ids, each it names, in turn)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ts, c, err := routes()
			if err != nil {
				return err
			}
			return eachTarget(ts, func(id arm.ID) error { return c.Delete(cmd.Context(), id) })
		}}
	flags(del, true)
	// az's route-table route wait, by -g, --route-table-name and -n or by
	// --ids; it was an unknown command.
	wait := g.waitCommand("route", func(cmd *cobra.Command) { flags(cmd, true) },
		func(*cobra.Command) ([]arm.ID, *client.Client, error) { return routes() })
	for _, c := range []*cobra.Command{update, show, del, wait} {
		idsFlag(c, &ids)
	}
	list := &cobra.Command{Use: "list", Short: "List the routes of a route table", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			id, c, err := g.targetBy("--route-table-name", rg, "routeTables", table)
			if err != nil {
				return err
			}
			var out arm.List[json.RawMessage]
			if _, err := c.Do(cmd.Context(), http.MethodGet, id.String()+"/routes", nil, &out); err != nil {
				return err
			}
			return g.print(append([]json.RawMessage{}, out.Value...), columns)
		}}
	flags(list, false)
	noWait(create)
	noWait(update)
	noWait(del)
	parent.AddCommand(create, update, show, del, list, wait)
	return parent
}

// Connections.

func connectionCommand(g *globals) *cobra.Command {
	const ends = "a connection's ends do not change (delete it and create it again)"
	k := kind{use: "vpn-connection", short: "Manage VPN connections", typ: "connections", strict: strictly[arm.Connection],
		columns: []column{nameCol, groupColumn, col("Type", "properties.connectionType"), col("Status", "properties.connectionStatus"),
			col("IngressBytes", "properties.ingressBytesTransferred"), col("EgressBytes", "properties.egressBytesTransferred"), stateCol},
		createOnly: map[string]string{"vnet-gateway1": ends, "local-gateway2": ends, "vnet-gateway2": ends}}
	var gw1, gw2, lng, key, protocol, mode string
	var bgp, policyTS bool
	var weight int32
	var ingressNAT, egressNAT []string
	create := g.writeCmds(k, "Create or update a VPN connection, site-to-site or VNet-to-VNet (an existing one keeps what the flags do not change)", func(cmd *cobra.Command) {
		f := cmd.Flags()
		f.StringVar(&gw1, "vnet-gateway1", "", "the gateway of this side (name or id)")
		f.StringVar(&lng, "local-gateway2", "", "site-to-site: the local network gateway (name or id)")
		f.StringVar(&gw2, "vnet-gateway2", "", "VNet-to-VNet: the other gateway (name or id; an id may name another subscription)")
		f.StringVar(&key, "shared-key", "", "pre-shared key, 1-128 letters and digits (default: generated)")
		f.StringVar(&protocol, "connection-protocol", "", "IKEv2 (default) or IKEv1")
		f.StringVar(&mode, "connection-mode", "", "Default, InitiatorOnly or ResponderOnly")
		f.BoolVar(&bgp, "enable-bgp", false, "exchange routes over BGP")
		f.BoolVar(&policyTS, "use-policy-based-traffic-selectors", false, "use policy-based traffic selectors (needs a custom IPsec policy)")
		f.Int32Var(&weight, "routing-weight", 0, "the connection's routing weight, 0-32000: kept, as Azure has it; no route choice of vnetgw's depends on it")
		f.StringSliceVar(&ingressNAT, "ingress-nat-rule", nil, "site-to-site: IngressSnat NAT rules of the connection's gateway (names or ids) that translate the site's addresses (repeatable)")
		f.StringSliceVar(&egressNAT, "egress-nat-rule", nil, "site-to-site: EgressSnat NAT rules of the connection's gateway (names or ids) that translate the VNet's addresses (repeatable)")
	}, func(ctx context.Context, c *client.Client, rg, name, loc string, given func(string) bool) (any, error) {
		// Keep what a connection already has that the flags do not change
		// (a PUT replaces it all): its custom IPsec policy, set by
		// ipsec-policy add, its BGP and NAT settings, its key, and
		// (without the flags that name them) its gateways.
		var old arm.Connection
		err := c.Get(ctx, arm.NetworkID(g.subscription, rg, "connections", name), &old)
		exists := err == nil
		if err != nil && !client.IsNotFound(err) {
			return nil, err
		}
		conn := arm.Connection{Resource: arm.Resource{Location: loc, Tags: old.Tags}, Properties: old.Properties}
		p := &conn.Properties
		ends := exists && gw1 == "" && lng == "" && gw2 == ""
		g1, err := g.resourceIDBy("--vnet-gateway1", rg, "virtualNetworkGateways", gw1)
		switch {
		case ends:
			if g1, err = arm.ParseID(p.VirtualNetworkGateway1.RefID()); err != nil {
				return nil, err
			}
		case err != nil:
			return nil, err
		default:
			p.LocalNetworkGateway2, p.VirtualNetworkGateway2 = nil, nil
			p.VirtualNetworkGateway1 = arm.Ref(g1.String())
		}
		switch {
		case ends:
		case lng != "" && gw2 == "":
			l, err := g.resourceID(rg, "localNetworkGateways", lng)
			if err != nil {
				return nil, err
			}
			p.ConnectionType, p.LocalNetworkGateway2 = arm.ConnectionIPsec, arm.Ref(l.String())
		case gw2 != "" && lng == "":
			g2, err := g.resourceID(rg, "virtualNetworkGateways", gw2)
			if err != nil {
				return nil, err
			}
			p.ConnectionType, p.VirtualNetworkGateway2 = arm.ConnectionVnet2Vnet, arm.Ref(g2.String())
		default:
			return nil, usagef("give exactly one of --local-gateway2 (site-to-site) and --vnet-gateway2 (VNet-to-VNet)")
		}
		set := func(flag string) bool { return !exists || given(flag) }
		if set("shared-key") {
			p.SharedKey = key
		}
		if set("connection-protocol") {
			p.ConnectionProtocol = protocol
		}
		if set("connection-mode") {
			p.ConnectionMode = mode
		}
		if set("enable-bgp") {
			p.EnableBGP = bgp
		}
		if set("use-policy-based-traffic-selectors") {
			p.UsePolicyBasedTrafficSelectors = policyTS
		}
		if set("routing-weight") {
			p.RoutingWeight = weight
		}
		natRefs := func(names []string) []arm.SubResource {
			var out []arm.SubResource
			for _, r := range names {
				if !strings.HasPrefix(r, "/") {
					r = g1.Child("natRules", r).String()
				}
				out = append(out, arm.SubResource{ID: r})
			}
			return out
		}
		if set("ingress-nat-rule") {
			p.IngressNatRules = natRefs(ingressNAT)
		}
		if set("egress-nat-rule") {
			p.EgressNatRules = natRefs(egressNAT)
		}
		if !exists {
			return conn, nil
		}
		return ifMatch{conn, old.Etag}, nil
	})
	parent := g.verbs(k, create)
	listByGateway(g, parent, k.columns)
	parent.AddCommand(sharedKeyCommand(g), deviceScriptCommand(g),
		g.postCmd("list-ike-sas", "List the IKE SAs and child SAs of a connection's tunnel", "connections", "/getikesas",
			[]column{col("State", "state"), col("Local", "localEndpoint"), col("Remote", "remoteEndpoint"), col("Proposal", "proposal"),
				col("InitiatorSPI", "initiatorSpi"), col("ResponderSPI", "responderSpi"), col("ChildSAs", "quickModeSa")}, nil),
		g.postCmd("reset", "End a connection's tunnel, telling the peer, and set it up again", "connections", "/resetconnection", nil, nil),
		g.packetCaptureCmd(k, "a connection's packets, both ways through its tunnel"), g.connectionPolicyCmd())
	return parent
}

// listByGateway gives vpn-connection list az's --vnet-gateway: the
// connections of one gateway (its first end) of the resource group, from
// the gateway's own list (Virtual Network Gateways - List Connections).
func listByGateway(g *globals, parent *cobra.Command, columns []column) {
	list, _, err := parent.Find([]string{"list"})
	if err != nil || list == parent {
		return
	}
	var gw string
	all := list.RunE
	list.RunE = func(cmd *cobra.Command, args []string) error {
		if !cmd.Flags().Changed("vnet-gateway") {
			return all(cmd, args)
		}
		rg, _ := cmd.Flags().GetString("resource-group")
		id, c, err := g.targetBy("--vnet-gateway", rg, "virtualNetworkGateways", gw)
		if err != nil {
			return err
		}
		items, err := client.List[json.RawMessage](cmd.Context(), c, id.String()+"/connections")
		if err != nil {
			return err
		}
		return g.print(items, columns)
	}
	list.Flags().StringVar(&gw, "vnet-gateway", "", "only the connections of this virtual network gateway (name, with --resource-group/-g, or id)")
}

// postCmd is a verb that POSTs to a sub-path of a resource of type typ and
// prints the answer, if any, with columns: a JSON string holding JSON
// (getikesas) is printed as that JSON, a list ({"value": [...]}) as its
// items. query, when not nil, gives the request's query ("?peer=...").
//
// It takes az's --ids too: each resource is asked in turn; the answers of
// several are printed as az prints them, a list of them with -o json, and
// one table after another with -o table or tsv.
func (g *globals) postCmd(use, short, typ, suffix string, columns []column, query func() string) *cobra.Command {
	var rg, name string
	var ids []string
	cmd := &cobra.Command{
		Use: use, Short: short, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			targets, c, err := g.targets(ids, rg, typ, name)
			if err != nil {
				return err
			}
			path := suffix
			if query != nil {
				path += query()
			}
			outs, err := postEach[json.RawMessage](cmd.Context(), c, targets, path, nil)
			if len(outs) == 0 {
				return err
			}
			var answers []json.RawMessage
			for _, out := range outs {
				var inner string
				if json.Unmarshal(out, &inner) == nil && json.Valid([]byte(inner)) {
					out = json.RawMessage(inner)
				}
				var list struct{ Value json.RawMessage }
				if json.Unmarshal(out, &list) == nil && len(list.Value) > 0 && list.Value[0] == '[' {
					out = list.Value
				}
				if len(out) > 0 { // else a 202: done
					answers = append(answers, out)
				}
			}
			if len(targets) > 1 && g.document() && len(answers) > 0 {
				if perr := g.print(answers, columns); err == nil {
					err = perr
				}
				return err
			}
			for _, out := range answers {
				var items []json.RawMessage
				if json.Unmarshal(out, &items) == nil {
					if perr := g.print(items, columns); perr != nil {
						return perr
					}
					continue
				}
				if perr := g.print(out, columns); perr != nil {
					return perr
				}
			}
			return err
		},
	}
	cmd.Flags().StringVarP(&rg, "resource-group", "g", "", "resource group")
	cmd.Flags().StringVarP(&name, "name", "n", "", "name, or full resource id")
	idsFlag(cmd, &ids)
	return cmd
}

// routeColumns show a gateway's BGP routes.
var routeColumns = []column{col("Network", "network"), col("NextHop", "nextHop"), col("SourcePeer", "sourcePeer"), col("Origin", "origin"),
	col("AsPath", "asPath"), col("Weight", "weight"), col("LocalAddress", "localAddress")}

// resetGatewayCmd is az's vnet-gateway reset; --gateway-vip names the
// instance of an active-active gateway to reset by its public address.
func (g *globals) resetGatewayCmd(columns []column) *cobra.Command {
	var vip string
	cmd := g.postCmd("reset", "End every tunnel of a gateway's primary instance, or of the active-active gateway's instance --gateway-vip names, telling the peers, and set them up again",
		"virtualNetworkGateways", "/reset", columns, func() string {
			if vip == "" {
				return ""
			}
			return "?gatewayVip=" + url.QueryEscape(vip)
		})
	cmd.Flags().StringVar(&vip, "gateway-vip", "", "the public address of the active-active gateway's instance to reset; without it, the primary (the first ipConfiguration's)")
	return cmd
}

// bgpCmd is one of a gateway's BGP verbs (R41); --peer names a peer's
// address, required when peerRequired.
func (g *globals) bgpCmd(use, short, suffix string, peerRequired bool, columns []column) *cobra.Command {
	var peer string
	cmd := g.postCmd(use, short, "virtualNetworkGateways", suffix, columns, func() string {
		if peer == "" {
			return ""
		}
		return "?peer=" + url.QueryEscape(peer)
	})
	cmd.Flags().StringVar(&peer, "peer", "", "the BGP peer's address")
	if peerRequired {
		cmd.MarkFlagRequired("peer")
	}
	return needsBGP(cmd)
}

// needsBGP says in a command's help that its gateway must have BGP on:
// the API refuses the others with BgpNotEnabled (R41).
func needsBGP(cmd *cobra.Command) *cobra.Command {
	cmd.Long = cmd.Short + `.

The gateway must have BGP on (vnet-gateway create or update --enable-bgp
true, or --asn): without it the API refuses with BgpNotEnabled.`
	return cmd
}

// deviceScriptCommand is az's show-device-config-script: the configuration
// of the on-premises device of a site-to-site connection.
func deviceScriptCommand(g *globals) *cobra.Command {
	var rg, name string
	var p arm.VPNDeviceScriptParameters
	cmd := &cobra.Command{
		Use:   "show-device-config-script",
		Short: "Show the configuration of the on-premises VPN device of a site-to-site connection (it holds the shared key)",
		Long: "Show the configuration of the on-premises VPN device at the far end of a site-to-site connection:\n" +
			"strongSwan's swanctl.conf, with the connection's addresses, proposals, traffic selectors and shared key.\n" +
			"With -o json it is a JSON string, as az prints it; with -o table or tsv, the text as it goes into the file.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			id, c, err := g.target(rg, "connections", name)
			if err != nil {
				return err
			}
			script, err := c.DeviceScript(cmd.Context(), id, p)
			if err != nil {
				return err
			}
			if !g.document() { // table or tsv: bare
				_, err := fmt.Fprint(g.stdout, script)
				return err
			}
			return g.print(script, nil)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&rg, "resource-group", "g", "", "resource group")
	f.StringVarP(&name, "name", "n", "", "connection name or id")
	f.StringVar(&p.Vendor, "vendor", "strongSwan", "device vendor (vnetgw writes for strongSwan)")
	f.StringVar(&p.DeviceFamily, "device-family", "swanctl", "device family")
	f.StringVar(&p.FirmwareVersion, "firmware-version", "5.9", "firmware version (strongSwan 5.9 or later)")
	return cmd
}

func sharedKeyCommand(g *globals) *cobra.Command {
	parent := &cobra.Command{Use: "shared-key", Short: "Show, set or reset the pre-shared key of a connection"}
	var rg, conn, value string
	var length int32
	common := func(cmd *cobra.Command) *cobra.Command {
		cmd.Flags().StringVarP(&rg, "resource-group", "g", "", "resource group")
		cmd.Flags().StringVar(&conn, "connection-name", "", "connection name or id")
		return cmd
	}
	cols := []column{col("Value", "value")}
	call := func(cmd *cobra.Command, method, suffix string, body any) error {
		id, c, err := g.targetBy("--connection-name", rg, "connections", conn)
		if err != nil {
			return err
		}
		var out json.RawMessage
		if _, err := c.Do(cmd.Context(), method, id.String()+suffix, body, &out); err != nil {
			return err
		}
		if method == http.MethodPost {
			return g.print(out, []column{col("KeyLength", "keyLength")})
		}
		return g.print(out, cols)
	}
	show := common(&cobra.Command{Use: "show", Short: "Show the shared key", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return call(cmd, http.MethodGet, "/sharedkey", nil) }})
	var gu *genericUpdate
	update := common(&cobra.Command{Use: "update", Short: "Set the shared key", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !gu.given() {
				return call(cmd, http.MethodPut, "/sharedkey", arm.ConnectionSharedKey{Value: value})
			}
			// The generic update arguments change the key as GET shows
			// it (--set value=KEY), after --value (required, as az's).
			id, c, err := g.targetBy("--connection-name", rg, "connections", conn)
			if err != nil {
				return err
			}
			var key arm.ConnectionSharedKey
			if _, err := c.Do(cmd.Context(), http.MethodGet, id.String()+"/sharedkey", nil, &key); err != nil {
				return err
			}
			key.Value = value
			body, err := gu.apply(key)
			if err != nil {
				return err
			}
			return call(cmd, http.MethodPut, "/sharedkey", body)
		}})
	update.Flags().StringVar(&value, "value", "", "the new key, 1-128 letters and digits")
	update.MarkFlagRequired("value")
	gu = addGenericUpdate(update, strictly[arm.ConnectionSharedKey])
	reset := common(&cobra.Command{Use: "reset", Short: "Replace the shared key by a new random one", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return call(cmd, http.MethodPost, "/sharedkey/reset", arm.ConnectionResetSharedKey{KeyLength: length})
		}})
	reset.Flags().Int32Var(&length, "key-length", 32, "length of the new key, 1-128")
	parent.AddCommand(show, update, reset)
	return parent
}

// Network interfaces.

func nicCommand(g *globals) *cobra.Command {
	k := kind{use: "nic", short: "Manage network interfaces (hosts in a VNet)", typ: "networkInterfaces", strict: strictly[arm.NetworkInterface],
		columns: []column{nameCol, groupColumn, locationCol, col("PrivateIP", "properties.ipConfigurations.0.properties.privateIPAddress"),
			col("Attachment", "properties.attachment.kind"), stateCol}}
	var vnet, subnet, ip, attach, netns string
	var forwarding bool
	create := g.writeCmds(k, "Create or update a network interface (an existing one keeps what the flags do not change)", func(cmd *cobra.Command) {
		f := cmd.Flags()
		f.BoolVar(&forwarding, "ip-forwarding", false, "enableIPForwarding, as az sets it for an appliance; kept, though vnetgw's hosts may send from any address without it")
		f.StringVar(&vnet, "vnet-name", "", "virtual network (name or id)")
		f.StringVar(&subnet, "subnet", "", "subnet: its name (with --vnet-name) or its id")
		f.StringVar(&ip, "private-ip-address", "", "static private address (default: the next free one; \"\" makes a static one dynamic)")
		f.StringVar(&attach, "attachment", "netstack", "how the host exists: netstack (built-in host) or tun (a TUN device in --netns, root)")
		f.StringVar(&netns, "netns", "", "network namespace of a tun attachment")
	}, func(ctx context.Context, c *client.Client, rg, name, loc string, given func(string) bool) (any, error) {
		// Keep what an interface already has that the flags do not
		// change (a PUT replaces it all): run again to give its host
		// another address, a TUN host in a namespace became a built-in
		// one, and a static address a dynamic one.
		var old arm.NetworkInterface
		err := c.Get(ctx, arm.NetworkID(g.subscription, rg, "networkInterfaces", name), &old)
		if err != nil && !client.IsNotFound(err) {
			return nil, err
		}
		// Without --vnet-name and --subnet, one that exists stays in its
		// subnet.
		var subnetRef *arm.SubResource
		switch {
		case strings.HasPrefix(subnet, "/"): // its id, as az takes it
			sid, err := g.resourceIDBy("--subnet", rg, "virtualNetworks/subnets", subnet)
			if err != nil {
				return nil, err
			}
			subnetRef = arm.Ref(sid.String())
		case old.Etag == "" || vnet != "" || subnet != "":
			vid, err := g.resourceIDBy("--vnet-name", rg, "virtualNetworks", vnet)
			if err != nil {
				return nil, err
			}
			if subnet == "" {
				return nil, usagef("--subnet is required")
			}
			subnetRef = arm.Ref(vid.Child("subnets", subnet).String())
		}
		n := arm.NetworkInterface{Resource: arm.Resource{Location: loc, Tags: old.Tags}, Properties: old.Properties}
		a := arm.Attachment{Kind: attach, NetNS: netns}
		if old.Properties.Attachment != nil && !given("attachment") {
			a = arm.Attachment{Kind: old.Properties.Attachment.Kind, NetNS: old.Properties.Attachment.NetNS}
			if given("netns") {
				a.NetNS = netns
			}
		}
		n.Properties.Attachment = &a
		if given("ip-forwarding") {
			n.Properties.EnableIPForwarding = forwarding
		}
		cfgs := slices.Clone(old.Properties.IPConfigurations)
		switch {
		case len(cfgs) == 0:
			cfgs = []arm.NetworkInterfaceIPConfiguration{{Name: "ipconfig1", Properties: arm.NetworkInterfaceIPConfigurationProperties{PrivateIPAddress: ip}}}
		case given("private-ip-address"):
			method := arm.Static
			if ip == "" {
				method = arm.Dynamic
			}
			cfgs[0].Properties.PrivateIPAddress, cfgs[0].Properties.PrivateIPAllocationMethod = ip, method
		}
		if subnetRef != nil {
			cfgs[0].Properties.Subnet = subnetRef
		}
		n.Properties.IPConfigurations = cfgs
		if old.Etag == "" {
			return n, nil
		}
		return ifMatch{n, old.Etag}, nil
	})
	parent := g.verbs(k, create)
	parent.AddCommand(g.ipConfigCommand())
	parent.AddCommand(g.postCmd("show-effective-route-table", "Show the routes a network interface's packets follow (its VNet's, its gateway's, user-defined, the Internet's)",
		"networkInterfaces", "/effectiveRouteTable",
		[]column{col("Source", "source"), col("State", "state"), col("AddressPrefix", "addressPrefix"), col("NextHopType", "nextHopType"),
			col("NextHopIP", "nextHopIpAddress")}, nil))
	return parent
}

// ipConfigCommand is az's nic ip-config: the IP configurations of a
// network interface, changed by reading the interface and writing it
// back. update is az's place for an interface's static address ("az
// network nic ip-config update --private-ip-address").
func (g *globals) ipConfigCommand() *cobra.Command {
	parent := &cobra.Command{Use: "ip-config", Short: "Manage the IP configurations of a network interface"}
	cols := []column{nameCol, col("PrivateIPAddress", "properties.privateIPAddress"), col("PrivateIPAllocationMethod", "properties.privateIPAllocationMethod"),
		col("Subnet", "properties.subnet"), col("Primary", "properties.primary"), stateCol}
	var rg, nic, name, ip, vnet, subnet string
	var gu *genericUpdate
	var ids []string
	var updateOne func(cmd *cobra.Command, c *client.Client, id arm.ID, rg, name string) error
	update := &cobra.Command{Use: "update", Short: "Update an IP configuration of a network interface that exists: its private address, static or dynamic, or its subnet", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			given := cmd.Flags().Changed
			if given("vnet-name") && !given("subnet") {
				return usagef("--vnet-name needs --subnet: the subnet of that network to move to")
			}
			// az's --ids: full IP configuration ids, each updated in turn.
			ts, c, err := g.childTargets(ids, rg != "" || nic != "" || name != "", "--resource-group/-g, --nic-name and --name/-n", "networkInterfaces/ipConfigurations",
				func() (arm.ID, *client.Client, error) {
					id, c, err := g.targetBy("--nic-name", rg, "networkInterfaces", nic)
					if err != nil {
						return arm.ID{}, nil, err
					}
					if name == "" {
						return arm.ID{}, nil, usagef("--name/-n is required: the IP configuration (ipconfig1, the first)")
					}
					if err := plainName(nameFlag, name); err != nil {
						return arm.ID{}, nil, err
					}
					return id.Child("ipConfigurations", name), c, nil
				})
			if err != nil {
				return err
			}
			return g.forEach(ts, cols, func(t arm.ID) error { return updateOne(cmd, c, t.Parent(), t.ResourceGroup, t.Name()) })
		}}
	updateOne = func(cmd *cobra.Command, c *client.Client, id arm.ID, rg, name string) error {
		given := cmd.Flags().Changed
		out, _, err := client.Modify(cmd.Context(), c, id, func(n *arm.NetworkInterface) string { return n.Etag }, func(n *arm.NetworkInterface) error {
			cfgs := slices.Clone(n.Properties.IPConfigurations)
			i := slices.IndexFunc(cfgs, func(c arm.NetworkInterfaceIPConfiguration) bool { return strings.EqualFold(c.Name, name) })
			if i < 0 {
				return &client.Error{Status: http.StatusNotFound, Code: arm.CodeResourceNotFound,
					Message: fmt.Sprintf("network interface %s has no IP configuration %s", n.Name, name)}
			}
			p := &cfgs[i].Properties
			if given("subnet") {
				sid, err := g.ipConfigSubnet(rg, vnet, subnet, p.Subnet.RefID())
				if err != nil {
					return err
				}
				p.Subnet = arm.Ref(sid.String())
			}
			if given("private-ip-address") {
				// "" makes it dynamic, as az does.
				p.PrivateIPAddress, p.PrivateIPAllocationMethod = ip, arm.Static
				if ip == "" {
					p.PrivateIPAllocationMethod = arm.Dynamic
				}
			}
			if gu.given() {
				v, err := gu.apply(cfgs[i])
				if err != nil {
					return err
				}
				cfgs[i] = v.(arm.NetworkInterfaceIPConfiguration)
			}
			n.Properties.IPConfigurations = cfgs
			return nil
		})
		if err != nil {
			return err
		}
		i := slices.IndexFunc(out.Properties.IPConfigurations, func(c arm.NetworkInterfaceIPConfiguration) bool { return strings.EqualFold(c.Name, name) })
		if i < 0 {
			return fmt.Errorf("network interface %s was written without IP configuration %s", out.Name, name)
		}
		return g.print(out.Properties.IPConfigurations[i], cols)
	}
	f := update.Flags()
	f.StringVarP(&rg, "resource-group", "g", "", "resource group")
	f.StringVar(&nic, "nic-name", "", "network interface name or id")
	f.StringVarP(&name, "name", "n", "", "IP configuration name (ipconfig1, the first)")
	f.StringVar(&ip, "private-ip-address", "", "static private address; \"\" makes it dynamic (it keeps its address until it moves)")
	f.StringVar(&subnet, "subnet", "", "subnet to move to: name (of --vnet-name, else of its network) or id")
	f.StringVar(&vnet, "vnet-name", "", "virtual network of --subnet (name or id)")
	gu = addGenericUpdate(update, strictly[arm.NetworkInterfaceIPConfiguration])
	idsFlag(update, &ids)
	parent.AddCommand(update)
	return parent
}

// ipConfigSubnet is the id of subnet, given by id, or by name in network
// vnet or else in the network of the subnet current.
func (g *globals) ipConfigSubnet(rg, vnet, subnet, current string) (arm.ID, error) {
	if strings.HasPrefix(subnet, "/") {
		return g.resourceIDBy("--subnet", rg, "virtualNetworks/subnets", subnet)
	}
	if subnet == "" {
		return arm.ID{}, usagef("--subnet is empty: name the subnet to move to")
	}
	if vnet == "" {
		cur, err := arm.ParseID(current)
		if err != nil {
			return arm.ID{}, usagef("--subnet %s: give --vnet-name too (the IP configuration is in no subnet of a network)", subnet)
		}
		return cur.Parent().Child("subnets", subnet), nil
	}
	v, err := g.resourceIDBy("--vnet-name", rg, "virtualNetworks", vnet)
	if err != nil {
		return arm.ID{}, err
	}
	return v.Child("subnets", subnet), nil
}
