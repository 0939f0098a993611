package cli

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/jmespath/go-jmespath"
)

// queryResult is what az's --query, a JMESPath expression, gives for v,
// taken as its JSON, as az takes a command's result.
func queryResult(query string, v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	out, err := jmespath.Search(query, withPropertiesUp(doc))
	if err != nil {
		return nil, fmt.Errorf("--query %q: %w", query, err)
	}
	return out, nil
}

// withPropertiesUp returns v with the fields of each object's properties
// also in the object itself, where it has no field of that name: az
// prints a resource and its parts so (its ipAddress, vnetgw's
// properties.ipAddress), and a script's --query names them so. Both
// paths find them.
func withPropertiesUp(v any) any {
	return mapJSON(v, func(v any) any {
		if m, ok := v.(map[string]any); ok {
			if p, ok := m["properties"].(map[string]any); ok {
				for k, x := range p {
					if _, taken := m[k]; !taken {
						m[k] = x
					}
				}
			}
		}
		return v
	})
}

// mapJSON replaces each value of a decoded JSON document v, the items of
// a list and the fields of an object first, by what f makes of it.
func mapJSON(v any, f func(any) any) any {
	switch x := v.(type) {
	case []any:
		for i := range x {
			x[i] = mapJSON(x[i], f)
		}
	case map[string]any:
		for k, y := range x {
			x[k] = mapJSON(y, f)
		}
	}
	return f(v)
}

// checkQuery refuses a query that is no JMESPath expression, before the
// command runs (a write must not be made only for its output to fail).
func checkQuery(query string) error {
	if _, err := jmespath.Compile(query); err != nil {
		return usagef("--query %q: not a JMESPath expression: %w", query, err)
	}
	return nil
}

// printQueried writes a query's result as az does (nothing for null):
// JSON; with -o tsv a row per item of a list (else one), an object's
// values in a row, a list's length and an object's nothing in its cells;
// with -o table an object's scalar fields as columns (id, type and etag
// left out, as az does). The fields of an object the query made ({name: name, ip:
// ipAddress}) come in the order it names them, the others' in the order
// of their names.
func (g *globals) printQueried(query string, r any) error {
	if r == nil {
		return nil // az prints nothing for a null result, in any format
	}
	order := hashOrders(query)
	switch g.output {
	case "tsv":
		items, ok := r.([]any)
		if !ok {
			items = []any{r}
		}
		var b strings.Builder
		for _, it := range items {
			switch it := it.(type) {
			case map[string]any:
				for i, k := range keysOf(it, order) {
					if i > 0 {
						b.WriteByte('\t')
					}
					b.WriteString(tsvCell(it[k]))
				}
			case []any:
				for i, v := range it {
					if i > 0 {
						b.WriteByte('\t')
					}
					b.WriteString(tsvCell(v))
				}
			case bool:
				b.WriteString(strconv.FormatBool(it))
			default:
				b.WriteString(tsvCell(it))
			}
			b.WriteByte('\n')
		}
		_, err := fmt.Fprint(g.stdout, b.String())
		return err
	case "table":
		return g.queriedTable(r, order)
	}
	return g.writeDoc(r)
}

// queriedTable writes r as az's table of a query's result.
func (g *globals) queriedTable(r any, order [][]string) error {
	items, ok := r.([]any)
	if !ok {
		items = []any{r}
	}
	var head []string
	var rows []map[string]string
	for _, it := range items {
		row := map[string]string{}
		add := func(col string, v any) {
			if !slices.Contains(head, col) {
				head = append(head, col)
			}
			row[col] = cell(v)
		}
		switch it := it.(type) {
		case map[string]any:
			for _, k := range keysOf(it, order) {
				switch v := it[k]; v.(type) {
				case nil, map[string]any, []any:
				default:
					if k != "id" && k != "type" && k != "etag" {
						add(strings.ToUpper(k[:1])+k[1:], v)
					}
				}
			}
		case []any:
			for i, v := range it {
				add(fmt.Sprint("Column", i+1), v)
			}
		default:
			add("Result", it)
		}
		rows = append(rows, row)
	}
	if len(head) == 0 {
		return fmt.Errorf("-o table: the query's result has no field to show (an object's scalar fields are its columns); use -o json or -o tsv")
	}
	cells := make([][]string, len(rows))
	for i, row := range rows {
		for _, h := range head {
			cells[i] = append(cells[i], row[h])
		}
	}
	return g.table(head, cells)
}

// keysOf returns m's keys: in the order a multi-select hash of the query
// names them when it made m (its keys are m's), else sorted, as az
// writes an object it did not make.
func keysOf(m map[string]any, order [][]string) []string {
	for _, o := range order {
		if len(o) == len(m) && !slices.ContainsFunc(o, func(k string) bool { _, ok := m[k]; return !ok }) {
			return o
		}
	}
	return slices.Sorted(maps.Keys(m))
}

// tsvCell is a value in a row of az's tsv: a list's length, nothing for
// an object, None for null, True or False (Python's words).
func tsvCell(v any) string {
	switch v := v.(type) {
	case []any:
		return strconv.Itoa(len(v))
	case map[string]any:
		return ""
	}
	return cell(v)
}

// cell is a scalar as az (Python) writes it.
func cell(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		if v {
			return "True"
		}
		return "False"
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case string:
		return v
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// hashOrders returns the keys of each multi-select hash of a JMESPath
// expression ({a: x, "b c": y}), in the order it names them: the
// library's result is a Go map, which has none.
func hashOrders(expr string) [][]string {
	var (
		out   [][]string
		open  []int // per open bracket: its index in out, or -1 for [ and (
		start = true
	)
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		switch {
		case c == '\'' || c == '`' || c == '"':
			j := closing(expr, i)
			if c == '"' && start && len(open) > 0 && open[len(open)-1] >= 0 {
				if k := nextNonSpace(expr, j+1); k < len(expr) && expr[k] == ':' {
					var key string
					if json.Unmarshal([]byte(expr[i:j+1]), &key) == nil {
						out[open[len(open)-1]] = append(out[open[len(open)-1]], key)
					}
				}
			}
			i, start = j, false
		case c == '{':
			open, start = append(open, len(out)), true
			out = append(out, nil)
		case c == '[' || c == '(':
			open, start = append(open, -1), false
		case c == '}' || c == ']' || c == ')':
			if len(open) > 0 {
				open = open[:len(open)-1]
			}
			start = false
		case c == ',':
			start = len(open) > 0 && open[len(open)-1] >= 0
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
		case isIdentStart(c):
			j := i
			for j < len(expr) && (isIdentStart(expr[j]) || expr[j] >= '0' && expr[j] <= '9') {
				j++
			}
			if start && len(open) > 0 && open[len(open)-1] >= 0 {
				if k := nextNonSpace(expr, j); k < len(expr) && expr[k] == ':' {
					out[open[len(open)-1]] = append(out[open[len(open)-1]], expr[i:j])
				}
			}
			i, start = j-1, false
		default:
			start = false
		}
	}
	return out
}

// closing returns the index of the quote that closes the string literal
// opening at i (a backslash escapes the next byte), or the last index.
func closing(s string, i int) int {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case s[i]:
			return j
		}
	}
	return len(s) - 1
}

func nextNonSpace(s string, i int) int {
	for i < len(s) && strings.IndexByte(" \t\n\r", s[i]) >= 0 {
		i++
	}
	return i
}

func isIdentStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
