// Package cli holds vnetgw's commands: `serve`, and resource verbs shaped
// like `az network`, which are clients of the REST API only.
package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"go.yaml.in/yaml/v3"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/client"
	"github.com/vnetgw/vnetgw/internal/datadir"
)

// DefaultSubscription is the subscription used when none is named.
const DefaultSubscription = "00000000-0000-0000-0000-000000000000"

// globals are the flags every command has.
type globals struct {
	dataDir      string
	subscription string
	output       string
	query        string // az's --query: a JMESPath expression
	stdout       io.Writer
	stderr       io.Writer
	quiet        bool // --only-show-errors: no warnings
	// verbose and debug (az's --verbose and --debug) have each API
	// request told on stderr, debug with its headers.
	verbose, debug bool
	// collected, while not nil, takes what print is given instead
	// (forEach).
	collected *[]any
}

// forEach runs run for each target (az's --ids; eachTarget: one that
// fails does not stop the others) and prints what they print as one list,
// as az does, not one document each (several JSON documents one after
// another are no JSON); one prints its own. What the others printed is
// printed before the errors of those that failed.
func (g *globals) forEach(targets []arm.ID, columns []column, run func(arm.ID) error) error {
	if len(targets) == 1 {
		return run(targets[0])
	}
	var out []any
	g.collected = &out
	err := eachTarget(targets, run)
	g.collected = nil
	if len(out) > 0 {
		if perr := g.print(out, columns); err == nil {
			err = perr
		}
	}
	return err
}

// Execute runs the command line and returns the process exit code, as
// az's commands exit, whatever the command: 0; 2 for a command line that
// is wrong (an unknown command or flag, a flag's value of the wrong type,
// a required one missing, an unknown --output, a --query that is no
// JMESPath), as az's parser exits, before it asks anything; 3 when the
// API answered 404 (a resource, its group or its parent not there); 1 for
// another error. Scripts tell a typo and "not there" from a failure by
// it.
func Execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(spaceSeparatedLists(root, args))
	if err := helpOfUnknown(root, args); err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 2
	}
	ran := false
	noteRuns(root, &ran)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, "error:", err)
		switch {
		case !ran || errors.As(err, new(usageError)):
			return 2
		case client.IsNotFound(err):
			// az: a 404 is a ResourceNotFoundError, exit 3, in any
			// command (azure/cli/core/util.py handle_exception), not
			// only show's.
			return 3
		}
		return 1
	}
	return 0
}

// noteRuns sets *ran as a command of root's tree starts its work: an error
// before that is the command line's (cobra parses the flags, checks the
// words, the root's PersistentPreRunE the global flags, then the required
// flags, before RunE).
func noteRuns(c *cobra.Command, ran *bool) {
	if run := c.RunE; run != nil {
		c.RunE = func(cmd *cobra.Command, args []string) error {
			*ran = true
			return run(cmd, args)
		}
	}
	for _, sub := range c.Commands() {
		noteRuns(sub, ran)
	}
}

// usageError is an error of the command line that a command finds itself
// (a flag required with another), which exits 2 as cobra's own do.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// usagef returns a usageError that says format with args.
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// spaceSeparatedLists takes az's lists: the words after a flag of several
// values ("--local-address-prefixes 10.0.0.0/24 20.0.0.0/24", as Azure's
// walk-throughs write them) are its values, as if given comma-separated.
// The second was refused as an unknown command; no command takes
// arguments that are not flags. A word may hold values one a line
// (oneALine). It takes az's booleans too (azBool).
func spaceSeparatedLists(root *cobra.Command, args []string) []string {
	cmd, _, err := root.Find(args)
	if err != nil {
		return args
	}
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		out = append(out, a)
		if a == "--" {
			return append(out, args[i+1:]...)
		}
		name, ok := strings.CutPrefix(a, "--")
		if !ok {
			continue
		}
		name, value, hasValue := strings.Cut(name, "=")
		f := cmd.Flags().Lookup(name)
		switch {
		case f == nil:
		case len(f.Annotations[wordsKey]) > 0:
			var words []string
			if words, i = takeWords(f, args, i, value, hasValue); len(words) > 0 {
				out = append(out[:len(out)-1], words...)
			}
		case f.Value.Type() == "bool" && hasValue:
			if v, ok := azBool(value); ok {
				out[len(out)-1] = "--" + name + "=" + v
			}
		case f.Value.Type() == "bool" && i+1 < len(args):
			if v, ok := azBool(args[i+1]); ok {
				i++
				out[len(out)-1] = "--" + name + "=" + v
			}
		case f.Value.Type() == "stringSlice" && hasValue:
			out[len(out)-1] = "--" + name + "=" + oneALine(value)
		case f.Value.Type() == "stringSlice" && i+1 < len(args):
			i++ // its value, as pflag takes it, then the words after it
			out = append(out, oneALine(args[i]))
			for i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				i++
				out[len(out)-1] += "," + oneALine(args[i])
			}
		}
	}
	return out
}

// oneALine takes the values of a list flag's word one a line, as az takes
// --ids ("$(... | jq -r '.[].id')", quoted, as a script quotes it):
// pflag reads the word as CSV, and took its first line alone, leaving out
// the others without a word.
func oneALine(word string) string {
	return strings.Join(strings.FieldsFunc(word, func(r rune) bool { return r == '\n' || r == '\r' }), ",")
}

// azBool reads the value of one of az's boolean flags, which take one
// (az network vpn-connection update --enable-bgp true, route-table create
// --disable-bgp-route-propagation true): the word after the flag was
// refused as an unknown command, and yes, no, y and n were not booleans.
func azBool(word string) (string, bool) {
	switch strings.ToLower(word) {
	case "true", "t", "yes", "y", "1":
		return "true", true
	case "false", "f", "no", "n", "0":
		return "false", true
	}
	return "", false
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "vnetgw",
		Short: "Self-hosted VPN gateways, virtual networks and IPsec tunnels, shaped like Azure",
		Long: `vnetgw runs virtual networks, VPN gateways in them, on-premises sites and the
IPsec tunnels between them, behind an API shaped like Azure Resource Manager.

Start a region with 'vnetgw serve'; the other commands are its clients. They
find the endpoint, admin token and CA in the data directory, or in
$VNETGW_ENDPOINT, $VNETGW_TOKEN and $VNETGW_CA.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Checked before any command runs: a write must not be made only
		// for its answer to be refused.
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			for _, name := range unusedGlobals(cmd) {
				if f := cmd.Flags().Lookup(name); f.Changed {
					flag := "--" + name
					if f.Shorthand != "" {
						flag += "/-" + f.Shorthand
					}
					return fmt.Errorf("%s: %s does not use it", flag, cmd.CommandPath())
				}
			}
			switch g.output {
			case "json", "table", "tsv", "yaml":
			case "jsonc": // az's coloured JSON; vnetgw's is plain
				g.output = "json"
			case "yamlc": // likewise
				g.output = "yaml"
			case "none": // az's: the command runs and exits as it would, printing nothing
				g.output, g.stdout = "json", io.Discard
			default:
				return usagef("--output/-o %q: use json, jsonc, yaml, yamlc, table, tsv or none", g.output)
			}
			if f := cmd.Flags().Lookup("no-wait"); f != nil && f.Value.String() == "true" {
				// az prints nothing for a write with --no-wait, whose
				// answer it does not wait for (x=$(az ... --no-wait) is
				// empty); errors and warnings are still told.
				g.stdout = io.Discard
			}
			if g.query != "" {
				return checkQuery(g.query)
			}
			return nil
		},
	}
	root.Version = readBuildVersion().String()
	root.SetVersionTemplate("vnetgw {{.Version}}\n")
	root.SetOut(stdout)
	root.SetErr(stderr)
	pf := root.PersistentFlags()
	pf.StringVar(&g.dataDir, "data-dir", envOr("VNETGW_DATA_DIR", datadir.Default()), "data directory of the vnetgw serve to use ($VNETGW_DATA_DIR)")
	pf.StringVar(&g.subscription, "subscription", envOr("VNETGW_SUBSCRIPTION", DefaultSubscription), "subscription id ($VNETGW_SUBSCRIPTION)")
	pf.StringVarP(&g.output, "output", "o", "json", "output format: json (jsonc is the same), yaml (yamlc is the same), table, tsv (the table's rows, tab-separated, without its header), or none (nothing: the exit code alone)")
	pf.BoolVar(&g.quiet, "only-show-errors", false, "print no warnings, only errors, as az's flag")
	pf.BoolVar(&g.verbose, "verbose", false, "tell each API request on stderr: method, URL, status and time, as az's flag")
	pf.BoolVar(&g.debug, "debug", false, "as --verbose, with the requests' and answers' headers (not the token, nor bodies, which may hold shared keys)")
	pf.StringVar(&g.query, "query", "", "JMESPath query of the output's JSON, as az's, each resource's properties also at its top level as az shows them (--query ipAddress -o tsv; --query \"[].{name: name, state: provisioningState}\" -o table)")
	root.AddCommand(newServe(g), newVersion(g), newDemo(g), newDev(g), newP2S(g), newCluster(g), newMetrics(g), newMonitor(g))
	for _, c := range resourceCommands(g) {
		root.AddCommand(c)
	}
	refuseUnknownSubcommands(root)
	// A command's help lists only the global flags it uses: demo's
	// listed --data-dir, -o and --subscription, which it does not read.
	help := root.HelpFunc()
	root.SetHelpFunc(func(cmd *cobra.Command, args []string) {
		for _, name := range unusedGlobals(cmd) {
			f := pf.Lookup(name)
			f.Hidden = true
			defer func() { f.Hidden = false }()
		}
		help(cmd, args)
	})
	return root
}

// globalsKey is the annotation that lists the global flags a command uses
// (usesGlobals); a command without it uses them all.
const globalsKey = "vnetgw/globals"

// globalNames are the flags every command has.
var globalNames = []string{"data-dir", "subscription", "output", "query", "only-show-errors", "verbose", "debug"}

// usesGlobals says that cmd uses only the global flags named: the others
// are refused when given (they were accepted and ignored) and left out of
// its help.
func usesGlobals(cmd *cobra.Command, names ...string) *cobra.Command {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[globalsKey] = strings.Join(names, ",")
	return cmd
}

// unusedGlobals are the global flags cmd does not use.
func unusedGlobals(cmd *cobra.Command) []string {
	used, ok := cmd.Annotations[globalsKey]
	if !ok {
		return nil
	}
	names := strings.Split(used, ",")
	if slices.Contains(names, "output") {
		// It picks from what -o formats; they tell the requests that
		// get it.
		names = append(names, "query", "verbose", "debug")
	}
	var out []string
	for _, name := range globalNames {
		if !slices.Contains(names, name) {
			out = append(out, name)
		}
	}
	return out
}

// refuseUnknownSubcommands makes each command that only groups others
// (vnet-gateway, vpn-client, ...) fail on a word that names none of them,
// with the ones it may have meant: cobra printed the group's help and
// succeeded, so that a script went on after a typo. Alone, the command
// still prints its help.
func refuseUnknownSubcommands(c *cobra.Command) {
	for _, sub := range c.Commands() {
		refuseUnknownSubcommands(sub)
	}
	if !c.HasSubCommands() || c.Runnable() {
		return
	}
	c.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += ": did you mean " + strings.Join(s, " or ") + "?"
		}
		return errors.New(msg)
	}
	c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	// With flags after the word ("root-cert list -g rg"), cobra parses
	// them as the group's, before Args: the error was "unknown shorthand
	// flag: 'g' in -g", about a flag the user meant for a command that
	// does not exist. The word that names none is the error.
	c.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		if args := cmd.Flags().Args(); cmd == c && len(args) > 0 {
			if aerr := cmd.Args(cmd, args); aerr != nil {
				return aerr
			}
		}
		return flagValueError(err)
	})
}

// flagValueError says what is wrong with a flag's value that does not
// parse as a number in the user's words: pflag said `invalid argument
// "70000" for "--ike-port" flag: strconv.ParseUint: parsing "70000":
// value out of range`. Other errors are left as they are.
func flagValueError(err error) error {
	var ive *pflag.InvalidValueError
	var ne *strconv.NumError
	if !errors.As(err, &ive) || !errors.As(err, &ne) {
		return err
	}
	name := fmt.Sprintf("--%s %q", ive.GetFlag().Name, ive.GetValue())
	bits := map[string]uint{"int8": 8, "int16": 16, "int32": 32, "int64": 64, "int": strconv.IntSize,
		"uint8": 8, "uint16": 16, "uint32": 32, "uint64": 64, "uint": strconv.IntSize}
	typ := ive.GetFlag().Value.Type()
	n, ok := bits[typ]
	unsigned := strings.HasPrefix(typ, "u")
	_, signedErr := strconv.ParseInt(ive.GetValue(), 0, 64)
	switch {
	case !ok:
		return err
	case !errors.Is(ne.Err, strconv.ErrRange) && !(unsigned && signedErr == nil):
		return fmt.Errorf("%s: not a whole number", name)
	case unsigned:
		return fmt.Errorf("%s: out of range: from 0 to %d", name, uint64(1)<<n-1)
	default:
		return fmt.Errorf("%s: out of range: from %d to %d", name, -(int64(1) << (n - 1)), int64(1)<<(n-1)-1)
	}
}

// helpOfUnknown refuses help asked for a command that does not exist
// (vnetgw vnett --help, vnetgw help vnet-gateway creat) as the command
// line without the help is refused: cobra asks for help before it checks
// a group's words, and printed the help of the group above the word,
// exiting 0, so that a script or a user took the typo for a command.
func helpOfUnknown(root *cobra.Command, args []string) error {
	if i := slices.Index(args, "--"); i >= 0 {
		args = args[:i]
	}
	words := args
	if len(args) > 0 && args[0] == "help" {
		words = args[1:]
	} else if !slices.Contains(args, "--help") && !slices.Contains(args, "-h") {
		return nil
	}
	cmd, rest, err := root.Find(words)
	if err != nil || !cmd.HasSubCommands() || cmd.Args == nil {
		return err
	}
	// A group's flags are the global ones and help: parsed as the
	// command line would be, then parsed again when it runs.
	cmd.InitDefaultHelpFlag()
	if err := cmd.ParseFlags(rest); err != nil {
		return cmd.FlagErrorFunc()(cmd, err)
	}
	return cmd.Args(cmd, cmd.Flags().Args())
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func (g *globals) client() (*client.Client, error) {
	cfg, err := client.Discover(g.dataDir)
	if err != nil {
		return nil, err
	}
	if g.verbose || g.debug {
		cfg.Trace, cfg.TraceHeaders = g.stderr, g.debug
	}
	return client.New(cfg)
}

// print writes v as a table with the given columns, a row per item of a
// list, else one (-o tsv: its rows without the header, tab-separated); or
// as JSON: with -o json, and when there are no columns (a table would
// show nothing). -o was checked before the command ran.
func (g *globals) print(v any, columns []column) error {
	if g.collected != nil {
		*g.collected = append(*g.collected, v)
		return nil
	}
	if g.query != "" {
		r, err := queryResult(g.query, v)
		if err != nil {
			return err
		}
		return g.printQueried(g.query, r)
	}
	if g.output == "json" || g.output == "yaml" || len(columns) == 0 {
		return g.writeDoc(v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var items []json.RawMessage
	if json.Unmarshal(b, &items) != nil {
		items = []json.RawMessage{b}
	}
	var head []string
	for _, c := range columns {
		head = append(head, c.name)
	}
	var rows [][]string
	for _, it := range items {
		var cells []string
		for _, c := range columns {
			cells = append(cells, c.value(it))
		}
		rows = append(rows, cells)
	}
	return g.table(head, rows)
}

// document tells whether the output is a document, JSON or YAML, or a
// query's result (which a table of columns does not show), rather than
// a command's own table or text.
func (g *globals) document() bool {
	return g.output == "json" || g.output == "yaml" || g.query != ""
}

// writeDoc writes v as JSON, or as YAML with -o yaml: its JSON's fields in
// the order of their names and its characters as they are (<, > and &
// not escaped: a URL's query reads as it is), as az writes them
// (json.dumps with sort_keys and ensure_ascii off, PyYAML's safe_dump).
func (g *globals) writeDoc(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return err
	}
	var out bytes.Buffer
	if g.output != "yaml" {
		enc := json.NewEncoder(&out)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(doc); err != nil {
			return err
		}
	} else {
		enc := yaml.NewEncoder(&out)
		enc.SetIndent(2)
		if err := enc.Encode(yamlNumbers(doc)); err != nil {
			return err
		}
	}
	_, err = g.stdout.Write(out.Bytes())
	return err
}

// yamlNumbers returns v with its JSON numbers as YAML writes them as
// they are: a whole one as an integer (a float64 came out as
// 1.024e+08), another as a float.
func yamlNumbers(v any) any {
	return mapJSON(v, func(v any) any {
		n, ok := v.(json.Number)
		if !ok {
			return v
		}
		if i, err := n.Int64(); err == nil {
			return i
		}
		if f, err := n.Float64(); err == nil {
			return f
		}
		return n.String()
	})
}

// table writes rows under the header head, aligned and underlined with
// -o table; with -o tsv, as az writes tsv: the rows alone, their cells
// separated by tabs, for cut and read in a script.
func (g *globals) table(head []string, rows [][]string) error {
	if g.output == "tsv" {
		for _, r := range rows {
			if _, err := fmt.Fprintln(g.stdout, strings.Join(r, "\t")); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	var under []string
	for _, h := range head {
		under = append(under, strings.Repeat("-", len(h)))
	}
	fmt.Fprintln(tw, strings.Join(under, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// warn prints the warnings an answer carried.
func (g *globals) warn(r client.Response) {
	if g.quiet {
		return
	}
	for _, w := range r.Warnings {
		fmt.Fprintln(g.stderr, "WARNING:", w)
	}
}

// target resolves the resource a command is about and the client that
// reaches it.
func (g *globals) target(rg, typ, nameOrID string) (arm.ID, *client.Client, error) {
	return g.targetBy(nameFlag, rg, typ, nameOrID)
}

// targetBy is target for a resource named by another flag than --name/-n
// (--gateway-name, --connection-name, ...), which an error names.
func (g *globals) targetBy(flag, rg, typ, nameOrID string) (arm.ID, *client.Client, error) {
	id, err := g.resourceIDBy(flag, rg, typ, nameOrID)
	if err != nil {
		return arm.ID{}, nil, err
	}
	c, err := g.client()
	return id, c, err
}

// nameFlag is the flag that names the resource a command is about.
const nameFlag = "--name/-n"

// resourceID makes the id of a network resource from a name, or takes an id
// as it is (for references across resource groups and subscriptions).
func (g *globals) resourceID(rg, typ, nameOrID string) (arm.ID, error) {
	return g.resourceIDBy(nameFlag, rg, typ, nameOrID)
}

// resourceIDBy is resourceID for a resource named by flag: a missing name
// is "FLAG is required" (it said --name/-n, also when -n was given and the
// flag missing was --gateway-name or --vnet-name).
func (g *globals) resourceIDBy(flag, rg, typ, nameOrID string) (arm.ID, error) {
	if strings.HasPrefix(nameOrID, "/") {
		id, err := arm.ParseID(nameOrID)
		if err != nil {
			return arm.ID{}, err
		}
		if !strings.EqualFold(id.Type(), arm.NamespaceNetwork+"/"+typ) {
			return arm.ID{}, fmt.Errorf("%s is not a %s/%s id: it names a %s", nameOrID, arm.NamespaceNetwork, typ, id.Type())
		}
		return id, nil
	}
	if rg == "" {
		return arm.ID{}, usagef("--resource-group/-g is required")
	}
	if nameOrID == "" {
		return arm.ID{}, usagef("%s is required", flag)
	}
	if err := plainName("--resource-group/-g", rg); err != nil {
		return arm.ID{}, err
	}
	if err := plainName(flag, nameOrID); err != nil {
		return arm.ID{}, err
	}
	return arm.NetworkID(g.subscription, rg, typ, nameOrID), nil
}

// plainName refuses a name of flag that would make a path of its own in
// the URL, for which the API answered 404 InvalidResourceType.
func plainName(flag, name string) error {
	if strings.ContainsAny(name, "/?#") {
		return fmt.Errorf("%s %q: a name holds no '/', '?' or '#' (a full id begins with /subscriptions/)", flag, name)
	}
	return nil
}
