package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// -o tsv prints az's tab-separated values: a table's rows without its
// header, a cell per column, for cut and read in a script. It was
// refused ("use json or table"), and scripts written for az, which take
// an address or a state with -o tsv, stopped there.
func TestOutputTSV(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	must(t, "vnet", "create", "-g", "rg", "-n", "hub", "--address-prefixes", "10.1.0.0/16", "--subnet-name", "default")
	must(t, "vnet", "create", "-g", "rg", "-n", "spoke", "--address-prefixes", "10.2.0.0/16")
	out := must(t, "vnet", "list", "-g", "rg", "-o", "tsv")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	want := [][]string{
		{"hub", "rg", "westeurope", "10.1.0.0/16", "default", "Succeeded"},
		{"spoke", "rg", "westeurope", "10.2.0.0/16", "", "Succeeded"},
	}
	if len(lines) != len(want) {
		t.Fatalf("vnet list -o tsv: %d lines, want %d, without a header:\n%s", len(lines), len(want), out)
	}
	for i, l := range lines {
		cells := strings.Split(l, "\t")
		if len(cells) < len(want[i]) || strings.Join(cells[:len(want[i])], "|") != strings.Join(want[i], "|") {
			t.Errorf("line %d: %q, want it to begin %q", i, cells, want[i])
		}
	}
	if out := must(t, "vnet", "show", "-g", "rg", "-n", "hub", "-o", "tsv"); !strings.HasPrefix(out, "hub\trg\twesteurope\t10.1.0.0/16\t") {
		t.Errorf("vnet show -o tsv: %q", out)
	}
}

// --query is az's: a JMESPath expression of the output's JSON, whose
// result is printed in the -o format as az prints it (tsv: a row per
// item, an object's values in the order the query names them; table: its
// scalar fields as columns). It was refused. A query that is no
// expression is refused before the command writes anything; a command
// that prints no JSON refuses it.
func TestQuery(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	code, out, errOut := vnetgw(t, "vnet", "create", "-g", "rg", "-n", "hub", "--address-prefixes", "10.1.0.0/16", "--query", "properties.[", "-o", "tsv")
	if code != 2 || out != "" || !strings.Contains(errOut, `--query "properties.[": not a JMESPath expression`) {
		t.Errorf("a --query that is no expression: exit %d, want 2 and nothing printed\n%s%s", code, out, errOut)
	}
	if code, _, _ := vnetgw(t, "vnet", "show", "-g", "rg", "-n", "hub"); code != 3 {
		t.Errorf("vnet create with a bad --query made the network (show: exit %d): it was refused after the write", code)
	}
	must(t, "vnet", "create", "-g", "rg", "-n", "hub", "--address-prefixes", "10.1.0.0/16", "--subnet-name", "default", "-o", "none")
	must(t, "vnet", "create", "-g", "rg", "-n", "spoke", "--address-prefixes", "10.2.0.0/16", "-o", "none")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"vnet", "show", "-g", "rg", "-n", "hub", "--query", "properties.addressSpace.addressPrefixes[0]", "-o", "tsv"}, "10.1.0.0/16\n"},
		{[]string{"vnet", "show", "-g", "rg", "-n", "hub", "--query", "properties.addressSpace.addressPrefixes[0]"}, "\"10.1.0.0/16\"\n"},
		{[]string{"vnet", "list", "-g", "rg", "--query", "[].name", "-o", "json"}, "[\n  \"hub\",\n  \"spoke\"\n]\n"},
		{[]string{"vnet", "list", "-g", "rg", "--query", "[].name", "-o", "tsv"}, "hub\nspoke\n"},
		// The fields in the order the query names them, not sorted.
		{[]string{"vnet", "list", "-g", "rg", "--query", "[].{state: properties.provisioningState, name: name, subnets: properties.subnets}", "-o", "tsv"},
			"Succeeded\thub\t1\nSucceeded\tspoke\t0\n"},
		{[]string{"vnet", "list", "-g", "rg", "--query", "[?name=='spoke'].{Name: name, \"Address space\": properties.addressSpace.addressPrefixes[0]}", "-o", "table"},
			"Name   Address space\n----   -------------\nspoke  10.2.0.0/16\n"},
		{[]string{"vnet", "list", "-g", "rg", "--query", "length(@)", "-o", "tsv"}, "2\n"},
		// az's paths, its properties flattened, find them too.
		{[]string{"vnet", "show", "-g", "rg", "-n", "hub", "--query", "addressSpace.addressPrefixes[0]", "-o", "tsv"}, "10.1.0.0/16\n"},
		{[]string{"vnet", "list", "-g", "rg", "--query", "[].{name: name, state: provisioningState, subnet: subnets[0].addressPrefix}", "-o", "tsv"},
			"hub\tSucceeded\t10.1.0.0/24\nspoke\tSucceeded\tNone\n"},
		// A null result prints nothing, as az's.
		{[]string{"vnet", "show", "-g", "rg", "-n", "hub", "--query", "properties.noSuchField"}, ""},
		{[]string{"vnet", "show", "-g", "rg", "-n", "hub", "--query", "properties.noSuchField", "-o", "tsv"}, ""},
		{[]string{"vnet", "show", "-g", "rg", "-n", "hub", "--query", "contains(properties.addressSpace.addressPrefixes, '10.1.0.0/16')", "-o", "tsv"}, "true\n"},
	} {
		if out := must(t, c.args...); out != c.want {
			t.Errorf("vnetgw %s:\n%q\nwant\n%q", strings.Join(c.args, " "), out, c.want)
		}
	}
	if code, out, errOut := vnetgw(t, "version", "--query", "x"); code != 2 || out != "" || !strings.Contains(errOut, "--query: vnetgw version does not use it") {
		t.Errorf("version --query: exit %d, want 2 and nothing printed\n%s%s", code, out, errOut)
	}
}

// -o none and -o jsonc are az's: none runs the command and prints nothing
// (a script that wants the exit code alone), jsonc prints the JSON. Both
// were refused ("use json, table or tsv"), after nothing was written.
func TestOutputNoneAndJSONC(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	if out := must(t, "vnet", "create", "-g", "rg", "-n", "hub", "--address-prefixes", "10.1.0.0/16", "-o", "none"); out != "" {
		t.Errorf("vnet create -o none printed %q", out)
	}
	if out := must(t, "vnet", "show", "-g", "rg", "-n", "hub", "-o", "jsonc"); !strings.Contains(out, `"addressPrefixes": [`) {
		t.Errorf("vnet show -o jsonc: %q, want the network's JSON", out)
	}
	if code, out, _ := vnetgw(t, "vnet", "show", "-g", "rg", "-n", "spoke", "-o", "none"); code != 3 || out != "" {
		t.Errorf("vnet show -o none of a missing network: exit %d, printed %q; want 3 and nothing", code, out)
	}
}

// --verbose and --debug are az's: each API request is told on stderr,
// its method, URL, status and time, and with --debug its headers too,
// the token left out; the output is as without them. They were unknown
// flags, and a script that passed one failed.
func TestVerboseAndDebug(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	code, out, errOut := vnetgw(t, "group", "show", "-n", "rg", "--query", "name", "-o", "tsv", "--verbose")
	if code != 0 || out != "rg\n" || !regexp.MustCompile(`(?m)^INFO: GET https://\S+/subscriptions/\S+/resourceGroups/rg\?api-version=\S+: 200 OK \([0-9.]+m?s\)$`).MatchString(errOut) {
		t.Errorf("group show --verbose: exit %d, printed %q, stderr:\n%s", code, out, errOut)
	}
	if strings.Contains(errOut, "DEBUG:") {
		t.Errorf("--verbose told the headers:\n%s", errOut)
	}
	code, out, errOut = vnetgw(t, "group", "show", "-n", "rg", "--query", "name", "-o", "tsv", "--debug")
	b, err := os.ReadFile(filepath.Join(os.Getenv("VNETGW_DATA_DIR"), "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(b))
	if code != 0 || out != "rg\n" || !strings.Contains(errOut, "DEBUG: request header Authorization: Bearer (left out)") ||
		!strings.Contains(errOut, "DEBUG: response header Content-Type: application/json") {
		t.Errorf("group show --debug: exit %d, printed %q, stderr:\n%s", code, out, errOut)
	}
	if token == "" || strings.Contains(errOut, token) {
		t.Errorf("--debug told the admin token (%d bytes):\n%s", len(token), errOut)
	}
	if code, _, errOut := vnetgw(t, "version", "--verbose"); code != 2 || !strings.Contains(errOut, "--verbose: vnetgw version does not use it") {
		t.Errorf("version --verbose: exit %d\n%s", code, errOut)
	}
}

// -o yaml (and yamlc, az's coloured one) is az's: the JSON's document as
// YAML, its fields in the order of their names; a --query's result so
// too. It was refused.
func TestOutputYAML(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	must(t, "vnet", "create", "-g", "rg", "-n", "hub", "--address-prefixes", "10.1.0.0/16", "-o", "none")
	must(t, "vnet", "create", "-g", "rg", "-n", "spoke", "--address-prefixes", "10.2.0.0/16", "-o", "none")
	var fromJSON, fromYAML any
	if err := json.Unmarshal([]byte(must(t, "vnet", "show", "-g", "rg", "-n", "hub")), &fromJSON); err != nil {
		t.Fatal(err)
	}
	out := must(t, "vnet", "show", "-g", "rg", "-n", "hub", "-o", "yaml")
	err := yaml.Unmarshal([]byte(out), &fromYAML)
	a, _ := json.Marshal(fromJSON)
	b, _ := json.Marshal(fromYAML) // its numbers as JSON's, to compare
	if err != nil || string(a) != string(b) {
		t.Errorf("vnet show -o yaml (%v) is not its JSON's document:\n%s", err, out)
	}
	if !strings.Contains(out, "name: hub\n") {
		t.Errorf("vnet show -o yaml:\n%s", out)
	}
	if out := must(t, "vnet", "list", "-g", "rg", "--query", "[].name", "-o", "yamlc"); out != "- hub\n- spoke\n" {
		t.Errorf("vnet list --query [].name -o yamlc: %q", out)
	}
	// Numbers as they are: a whole one was a float, 1.024e+08.
	if out := must(t, "vnet", "list", "-g", "rg", "--query", "{count: length(@), kb: `102400000`, half: `0.5`}", "-o", "yaml"); out != "count: 2\nhalf: 0.5\nkb: 102400000\n" {
		t.Errorf("numbers -o yaml: %q", out)
	}
}

// -o json writes as az does: each object's fields in the order of their
// names (it wrote them in the order of the Go structs': name before id,
// properties before etag), and <, > and & as they are (a tag "r&d" came
// out as "r\u0026d").
func TestOutputJSONAsAz(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	out := must(t, "vnet", "create", "-g", "rg", "-n", "hub", "--address-prefixes", "10.1.0.0/16", "--subnet-name", "default", "--tags", "team=r&d<x>")
	if !strings.Contains(out, `"team": "r&d<x>"`) {
		t.Errorf("the tag team=r&d<x> is not written as it is:\n%s", out)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	// Every object's keys, in the order written, at each level.
	checkSorted := func(what string, doc string, indent string) {
		t.Helper()
		var keys []string
		for _, line := range strings.Split(doc, "\n") {
			if rest, ok := strings.CutPrefix(line, indent+`"`); ok {
				k, _, _ := strings.Cut(rest, `"`)
				keys = append(keys, k)
			}
		}
		if len(keys) < 3 || !slices.IsSorted(keys) {
			t.Errorf("%s: keys %v, want several, in the order of their names", what, keys)
		}
	}
	checkSorted("the VNet", out, "  ")
	props := out[strings.Index(out, `"properties": {`):]
	props = props[:strings.Index(props, "\n  }")]
	checkSorted("its properties", props, "    ")
}
