package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmespath/go-jmespath"
	"github.com/spf13/cobra"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/client"
)

// waitCmd is az's wait of a resource kind, which scripts call after a
// write with --no-wait: it returns once the resource is as asked, looking
// every --interval seconds for at most --timeout. vnetgw answers a write
// when it is made, so that after one of the script's own it returns at
// the first look; it waits for what another writer does.
func (g *globals) waitCmd(k kind) *cobra.Command {
	var rg, name string
	var ids []string
	return g.waitCommand(k.use, func(cmd *cobra.Command) {
		f := cmd.Flags()
		f.StringVarP(&rg, "resource-group", "g", "", "resource group")
		f.StringVarP(&name, "name", "n", "", "name, or full resource id")
		idsFlag(cmd, &ids)
	}, func(*cobra.Command) ([]arm.ID, *client.Client, error) { return g.targets(ids, rg, k.typ, name) })
}

// gatewayPartWaitCmd is az's wait of a gateway's parts (nat-rule,
// root-cert and revoked-cert wait): as az's, it waits for the gateway
// they are part of, named by -g and --gateway-name or by --ids, the
// gateway's full id. parts says which parts, for the help.
func (g *globals) gatewayPartWaitCmd(parts string) *cobra.Command {
	var rg, gateway string
	var ids []string
	cmd := g.waitCommand("vnet-gateway", func(cmd *cobra.Command) {
		f := cmd.Flags()
		f.StringVarP(&rg, "resource-group", "g", "", "resource group")
		f.StringVar(&gateway, "gateway-name", "", "the virtual network gateway (name or id)")
		idsFlag(cmd, &ids)
	}, func(*cobra.Command) ([]arm.ID, *client.Client, error) {
		return g.targetsBy("--gateway-name", ids, rg, "virtualNetworkGateways", gateway)
	})
	cmd.Short = "Wait until the gateway of the " + parts + " is created, updated, there or deleted (as az scripts do after --no-wait)"
	return cmd
}

// minLook is the least time wait gives a look at a resource, also once
// --timeout has run out: each of several --ids is looked at.
const minLook = 10 * time.Second

// waitCommand is waitCmd for a resource named by the flags flags adds, of
// which targets finds it (or them, with --ids): a child's wait (vnet
// subnet wait) names its parent too.
func (g *globals) waitCommand(use string, flags func(*cobra.Command), targets func(*cobra.Command) ([]arm.ID, *client.Client, error)) *cobra.Command {
	var created, updated, exists, deleted bool
	var custom string
	var interval, timeout int
	cmd := &cobra.Command{
		Use:   "wait",
		Short: "Wait until a " + use + " is created, updated, there or deleted (as az scripts do after --no-wait)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n := 0
			for _, b := range []bool{created, updated, exists, deleted, custom != ""} {
				if b {
					n++
				}
			}
			if n != 1 {
				return usagef("--created, --updated, --exists, --deleted or --custom: give one, what to wait for")
			}
			if custom != "" {
				if _, err := jmespath.Compile(custom); err != nil {
					return usagef("--custom %q: not a JMESPath expression: %w", custom, err)
				}
			}
			// What the timeout's error says was waited for.
			var asked string
			switch {
			case created:
				asked = "created (--created: there, provisioningState Succeeded)"
			case updated:
				asked = "updated (--updated: provisioningState Succeeded)"
			case exists:
				asked = "there (--exists)"
			case custom != "":
				asked = fmt.Sprintf("as asked (--custom %q)", custom)
			default:
				asked = "deleted (--deleted)"
			}
			if interval < 1 || timeout < 1 {
				return usagef("--interval %d, --timeout %d: seconds, at least 1", interval, timeout)
			}
			targets, c, err := targets(cmd)
			if err != nil {
				return err
			}
			// --timeout bounds the wait for all of them together; one
			// that fails does not stop the wait for the others
			// (eachTarget), and each is looked at at least once, so that
			// those already as asked when another's wait ran out are not
			// named with it.
			deadline := time.Now().Add(time.Duration(timeout) * time.Second)
			return eachTarget(targets, func(id arm.ID) error {
				for {
					var out any
					look, cancel := context.WithTimeout(cmd.Context(), max(time.Until(deadline), minLook))
					err := c.Get(look, id, &out)
					cancel()
					switch {
					case deleted && client.IsNotFound(err):
						return nil
					case err == nil && custom != "":
						if r, err := jmespath.Search(custom, withPropertiesUp(out)); err != nil {
							return fmt.Errorf("--custom %q: %w", custom, err)
						} else if truthy(r) {
							return nil
						}
					case err == nil && !deleted && (exists || strings.EqualFold(provisioningState(out), "Succeeded")):
						return nil
					case err != nil && !client.IsNotFound(err) && (time.Now().Before(deadline) || !errors.Is(err, context.DeadlineExceeded)):
						return err
					}
					left := time.Until(deadline)
					if left <= 0 {
						return fmt.Errorf("%s %s is not %s after %d s (--timeout)", use, id.Name(), asked, timeout)
					}
					t := time.NewTimer(min(time.Duration(interval)*time.Second, left))
					select {
					case <-cmd.Context().Done():
						t.Stop()
						return cmd.Context().Err()
					case <-t.C:
					}
				}
			})
		},
	}
	flags(cmd)
	f := cmd.Flags()
	f.BoolVar(&created, "created", false, "until it is there, its provisioningState Succeeded")
	f.BoolVar(&updated, "updated", false, "until its provisioningState is Succeeded")
	f.BoolVar(&exists, "exists", false, "until it is there")
	f.BoolVar(&deleted, "deleted", false, "until it is gone")
	f.IntVar(&interval, "interval", 30, "seconds between looks")
	f.IntVar(&timeout, "timeout", 3600, "seconds to wait at most")
	f.StringVar(&custom, "custom", "", "until a JMESPath condition of its JSON holds, as az's; its properties' fields are at its top level too (\"connectionStatus=='Connected'\")")
	return cmd
}

// provisioningState is the properties.provisioningState of a resource's
// JSON, or "".
func provisioningState(resource any) string {
	m, _ := resource.(map[string]any)
	p, _ := m["properties"].(map[string]any)
	s, _ := p["provisioningState"].(string)
	return s
}

// truthy tells whether a JMESPath result holds: false, null and an empty
// string, list or object do not (JMESPath's falsy values).
func truthy(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case bool:
		return v
	case string:
		return v != ""
	case []any:
		return len(v) > 0
	case map[string]any:
		return len(v) > 0
	}
	return true
}
