package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// az's generic update arguments, which every `az network ... update`
// takes: --set KEY=VALUE, --add KEY VALUE..., --remove KEY [INDEX] and
// --force-string. They change the object the command's own flags made of
// what GET read, by its paths as show prints them (properties.bgpSettings.asn,
// properties.subnets[0].name, tags.env; az's flattened bgpSettings.asn
// too), before it is PUT.

// wordsKey is the annotation of a flag that takes the words after it, as
// az's nargs='+' does: "each" makes each word a value of its own (--set a=1
// b=2), "one" joins them into one value, separated by wordSep (--add
// PATH VALUE...).
const wordsKey = "vnetgw/words"

// wordSep separates the words of one --add or --remove: a command line's
// words cannot hold a NUL byte.
const wordSep = "\x00"

// genericUpdate holds a command's generic update arguments.
type genericUpdate struct {
	set, add, remove []string
	forceString      bool
	// strict decodes JSON into the object's type, refusing what it has
	// no field for.
	strict func([]byte) (any, error)
}

// addGenericUpdate gives the update command cmd az's generic update
// arguments, for an object that strict decodes (strictly[T]).
func addGenericUpdate(cmd *cobra.Command, strict func([]byte) (any, error)) *genericUpdate {
	gu := &genericUpdate{strict: strict}
	f := cmd.Flags()
	f.StringArrayVar(&gu.set, "set", nil, "set a property by its path as show prints it, KEY=VALUE (properties.bgpSettings.asn=65010, tags.env=prod, properties.subnets[0].name=web); VALUE is JSON, or a string when it is not")
	f.StringArrayVar(&gu.add, "add", nil, "add to a list by its path: KEY VALUE... (properties.addressSpace.addressPrefixes 10.2.0.0/16); a VALUE is JSON, a string, or key=value words that make one object")
	f.StringArrayVar(&gu.remove, "remove", nil, "remove a property, KEY (tags.env), or an item of a list, KEY INDEX (properties.subnets 1)")
	f.BoolVar(&gu.forceString, "force-string", false, "take the values of --set and --add as strings, not JSON (tags.flag=true stays \"true\")")
	f.SetAnnotation("set", wordsKey, []string{"each"})
	f.SetAnnotation("add", wordsKey, []string{"one"})
	f.SetAnnotation("remove", wordsKey, []string{"one"})
	return gu
}

// given says whether any generic update argument was given.
func (gu *genericUpdate) given() bool {
	return gu != nil && len(gu.set)+len(gu.add)+len(gu.remove) > 0
}

// takeWords is spaceSeparatedLists for a flag with wordsKey: the words
// after args[i], up to the next flag, and the index of the last one taken.
func takeWords(f *pflag.Flag, args []string, i int, value string, hasValue bool) ([]string, int) {
	mode := f.Annotations[wordsKey]
	if len(mode) == 0 {
		return nil, i
	}
	var words []string
	if hasValue {
		words = append(words, value)
	}
	for i+1 < len(args) && !isFlag(args[i+1]) {
		i++
		words = append(words, args[i])
	}
	if len(words) == 0 {
		return nil, i
	}
	if mode[0] == "one" {
		return []string{"--" + f.Name + "=" + strings.Join(words, wordSep)}, i
	}
	var out []string
	for _, w := range words {
		out = append(out, "--"+f.Name+"="+w)
	}
	return out, i
}

// isFlag says whether a word of a command line is a flag (--name, -g), not
// a value (a negative number, JSON).
func isFlag(w string) bool {
	if strings.HasPrefix(w, "--") {
		return true
	}
	return len(w) >= 2 && w[0] == '-' && (w[1] >= 'a' && w[1] <= 'z' || w[1] >= 'A' && w[1] <= 'Z')
}

// apply changes body, the JSON of the object to PUT, by the arguments in
// the order az takes them (--set, --add, --remove), and returns the
// result as the object's type reads it.
func (gu *genericUpdate) apply(body any) (any, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	d := &doc{strict: gu.strict}
	if d.root, err = decodeJSON(raw); err != nil {
		return nil, err
	}
	// An error names the path, not the value, which may be a secret
	// (shared-key update --set value=KEY).
	for _, s := range gu.set {
		if err := d.set(s, gu.forceString); err != nil {
			key, _, _ := strings.Cut(s, "=")
			return nil, fmt.Errorf("--set %s: %w", key, err)
		}
	}
	for _, a := range gu.add {
		words := strings.Split(a, wordSep)
		if err := d.add(words, gu.forceString); err != nil {
			return nil, fmt.Errorf("--add %s: %w", words[0], err)
		}
	}
	for _, r := range gu.remove {
		if err := d.remove(strings.Split(r, wordSep)); err != nil {
			return nil, fmt.Errorf("--remove %s: %w", strings.ReplaceAll(r, wordSep, " "), err)
		}
	}
	raw, err = json.Marshal(d.root)
	if err != nil {
		return nil, err
	}
	return gu.strict(raw)
}

// strictly decodes JSON into a T, refusing a field T has not.
func strictly[T any](b []byte) (any, error) {
	var v T
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

func decodeJSON(b []byte) (any, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // an ASN of 4294967295 stays as it is
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("more than one JSON value")
	}
	return v, nil
}

// doc is the object being changed.
type doc struct {
	root   any
	strict func([]byte) (any, error)
}

// seg is one step of a path: a key of an object, or an index of a list.
type seg struct {
	key   string
	index int
	isIdx bool
}

func (s seg) String() string {
	if s.isIdx {
		return "[" + strconv.Itoa(s.index) + "]"
	}
	return s.key
}

// pathString writes a path as az does: properties.subnets[0].name.
func pathString(p []seg) string {
	var b strings.Builder
	for i, s := range p {
		if i > 0 && !s.isIdx {
			b.WriteByte('.')
		}
		b.WriteString(s.String())
	}
	return b.String()
}

// parsePath reads a.b[0].c.
func parsePath(s string) ([]seg, error) {
	if s == "" {
		return nil, errors.New("empty path")
	}
	var out []seg
	for _, part := range strings.Split(s, ".") {
		key, rest, _ := strings.Cut(part, "[")
		if key == "" && (rest == "" || len(out) == 0) {
			return nil, fmt.Errorf("path %q has an empty name", s)
		}
		if key != "" {
			out = append(out, seg{key: key})
		}
		for rest != "" {
			n, after, ok := strings.Cut(rest, "]")
			i, err := strconv.Atoi(n)
			if !ok || err != nil || i < 0 {
				return nil, fmt.Errorf("path %q: [%s is no index: index a list with a number, [0] for the first", s, n)
			}
			out = append(out, seg{index: i, isIdx: true})
			if after == "" {
				break
			}
			if rest, ok = strings.CutPrefix(after, "["); !ok {
				return nil, fmt.Errorf("path %q: %q after an index", s, after)
			}
		}
	}
	return out, nil
}

// known says whether the resource's type has a place at path (with items
// at its indexes), which the object may leave out (a false, an empty
// list): an object with null there is read strictly.
func (d *doc) known(path []seg) bool {
	var v any
	for i := len(path) - 1; i >= 0; i-- {
		if path[i].isIdx {
			v = []any{v}
		} else {
			v = map[string]any{path[i].key: v}
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return false
	}
	_, err = d.strict(b)
	return err == nil
}

// resolve is path as the object has it: a key's case as the object spells
// it, and under properties when the object has it there, as az's
// flattened paths name it (bgpSettings.asn).
func (d *doc) resolve(path []seg) []seg {
	top, ok := d.root.(map[string]any)
	if !ok || len(path) == 0 || path[0].isIdx || strings.EqualFold(path[0].key, "properties") {
		return path
	}
	if _, found := lookup(top, path[0].key); found {
		return path
	}
	props, ok := top["properties"].(map[string]any)
	if !ok {
		return path
	}
	under := append([]seg{{key: "properties"}}, path...)
	if _, found := lookup(props, path[0].key); found || (!d.known(path[:1]) && d.known(under[:2])) {
		return under
	}
	return path
}

// lookup finds key in m, in its own case or, failing that, in another.
func lookup(m map[string]any, key string) (string, bool) {
	if _, ok := m[key]; ok {
		return key, true
	}
	for k := range m {
		if strings.EqualFold(k, key) {
			return k, true
		}
	}
	return key, false
}

// notFound is az's "Couldn't find" of key in the object at parent.
func notFound(key string, parent []seg, in any) error {
	where := pathString(parent)
	if where == "" {
		where = "the top level"
	} else {
		where = "'" + where + "'"
	}
	msg := fmt.Sprintf("couldn't find '%s' in %s", key, where)
	switch t := in.(type) {
	case map[string]any:
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range t {
				if !yield(k) {
					return
				}
			}
		})
		if len(keys) > 0 {
			msg += "; it has " + strings.Join(keys, ", ")
		}
	case []any:
		msg += "; it is a list: index it with [0] to [" + strconv.Itoa(len(t)-1) + "]"
	default:
		msg += fmt.Sprintf("; it is %s, which has nothing in it", describe(in))
	}
	return errors.New(msg)
}

func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case []any:
		return "a list"
	}
	return "an object"
}

func outOfRange(i int, path []seg, list []any) error {
	items := "items"
	if len(list) == 1 {
		items = "item"
	}
	return fmt.Errorf("index %d doesn't exist on '%s', which has %d %s", i, pathString(path), len(list), items)
}

// walk returns the value at path, creating the objects a set needs
// (create) where the type has a place for them.
func (d *doc) walk(path []seg, create bool) (any, error) {
	cur := d.root
	for i, s := range path {
		switch t := cur.(type) {
		case map[string]any:
			if s.isIdx {
				return nil, notFound(s.String(), path[:i], cur)
			}
			k, ok := lookup(t, s.key)
			if !ok || t[k] == nil {
				if !create || !d.known(path[:i+1]) {
					return nil, notFound(s.key, path[:i], cur)
				}
				t[k] = map[string]any{}
			}
			cur = t[k]
		case []any:
			if !s.isIdx {
				return nil, notFound(s.key, path[:i], cur)
			}
			if s.index >= len(t) {
				return nil, outOfRange(s.index, path[:i], t)
			}
			cur = t[s.index]
		default:
			return nil, notFound(s.String(), path[:i], cur)
		}
	}
	return cur, nil
}

// value reads a value of --set or --add: JSON, else a string; a value
// that is meant as JSON (an object, a list, a quoted string) must be it.
func value(s string, forceString bool) (any, error) {
	if forceString {
		return s, nil
	}
	v, err := decodeJSON([]byte(s))
	if err == nil {
		return v, nil
	}
	if t := strings.TrimSpace(s); t != "" && strings.ContainsRune("{[\"", rune(t[0])) {
		return nil, fmt.Errorf("the value is not valid JSON: %v (--force-string takes it as a string)", err)
	}
	return s, nil
}

// check reads the object as the resource's type does: a value of another
// type than the type's is refused here, before anything is written.
func (d *doc) check() error {
	b, err := json.Marshal(d.root)
	if err != nil {
		return err
	}
	if _, err := d.strict(b); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			// Said in JSON's words, not the Go type's.
			hint := ""
			if te.Type.Kind() == reflect.String {
				hint = " (--force-string takes the value as a string)"
			}
			given := map[string]string{"bool": "true or false", "number": "a number", "string": "a string", "array": "a list", "object": "an object"}[te.Value]
			if given == "" {
				given = te.Value
			}
			return fmt.Errorf("the value does not fit: it takes %s, not %s%s", jsonKind(te.Type), given, hint)
		}
		return fmt.Errorf("the value does not fit: %w", err)
	}
	return nil
}

// jsonKind says what JSON value decodes into t.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	default:
		return "an object"
	}
}

// set is --set KEY=VALUE.
func (d *doc) set(expr string, forceString bool) error {
	key, raw, ok := strings.Cut(expr, "=")
	if !ok || key == "" {
		return errors.New("usage: --set KEY=VALUE")
	}
	path, err := parsePath(key)
	if err != nil {
		return err
	}
	path = d.resolve(path)
	v, err := value(raw, forceString)
	if err != nil {
		return err
	}
	parentPath, last := path[:len(path)-1], path[len(path)-1]
	parent, err := d.walk(parentPath, true)
	if err != nil {
		return err
	}
	switch t := parent.(type) {
	case map[string]any:
		if last.isIdx {
			return notFound(last.String(), parentPath, parent)
		}
		k, found := lookup(t, last.key)
		if !found && !d.known(path) {
			return notFound(last.key, parentPath, parent)
		}
		if old := t[k]; !forceString && isContainer(old) && !isContainer(v) && v != nil {
			return fmt.Errorf("'%s' is %s: give its value as JSON", pathString(path), describe(old))
		}
		t[k] = v
	case []any:
		if !last.isIdx {
			return notFound(last.key, parentPath, parent)
		}
		if last.index >= len(t) {
			return outOfRange(last.index, parentPath, t)
		}
		t[last.index] = v
	default:
		return notFound(last.String(), parentPath, parent)
	}
	return d.check()
}

func isContainer(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return true
	}
	return false
}

// add is --add KEY VALUE...: key=value words make one object, the others
// are values of their own.
func (d *doc) add(words []string, forceString bool) error {
	if len(words) < 2 {
		return errors.New("usage: --add KEY VALUE [VALUE ...]")
	}
	path, err := parsePath(words[0])
	if err != nil {
		return err
	}
	path = d.resolve(path)
	cur, err := d.walk(path, false)
	if err != nil {
		// A list the object leaves out (empty) is made, as az does.
		parent, perr := d.walk(path[:len(path)-1], true)
		m, ok := parent.(map[string]any)
		if perr != nil || !ok || path[len(path)-1].isIdx || !d.known(append(slices.Clone(path), seg{isIdx: true})) {
			return err
		}
		k, _ := lookup(m, path[len(path)-1].key)
		m[k] = []any{}
		cur = m[k]
	}
	list, ok := cur.([]any)
	if !ok {
		return fmt.Errorf("'%s' is %s, not a list", pathString(path), describe(cur))
	}
	var obj map[string]any
	for _, w := range words[1:] {
		if k, v, ok := strings.Cut(w, "="); ok && k != "" && !strings.ContainsAny(k[:1], "{[\"") {
			if obj == nil {
				obj = map[string]any{}
			}
			obj[k] = v
			continue
		}
		if obj != nil {
			list, obj = append(list, obj), nil
		}
		v, err := value(w, forceString)
		if err != nil {
			return err
		}
		list = append(list, v)
	}
	if obj != nil {
		list = append(list, obj)
	}
	if err := d.replace(path, list); err != nil {
		return err
	}
	return d.check()
}

// replace puts v at path, which exists.
func (d *doc) replace(path []seg, v any) error {
	parent, err := d.walk(path[:len(path)-1], false)
	if err != nil {
		return err
	}
	last := path[len(path)-1]
	switch t := parent.(type) {
	case map[string]any:
		k, _ := lookup(t, last.key)
		t[k] = v
	case []any:
		t[last.index] = v
	}
	return nil
}

// remove is --remove KEY, or --remove KEY INDEX of a list.
func (d *doc) remove(words []string) error {
	if len(words) == 0 || len(words) > 2 {
		return errors.New("usage: --remove KEY [INDEX]")
	}
	path, err := parsePath(words[0])
	if err != nil {
		return err
	}
	path = d.resolve(path)
	if len(words) == 2 {
		i, err := strconv.Atoi(words[1])
		if err != nil || i < 0 {
			return fmt.Errorf("index %q: give the index of an item of the list, 0 for the first", words[1])
		}
		path = append(path, seg{index: i, isIdx: true})
	}
	parentPath, last := path[:len(path)-1], path[len(path)-1]
	parent, err := d.walk(parentPath, false)
	if err != nil {
		return err
	}
	switch t := parent.(type) {
	case map[string]any:
		k, found := lookup(t, last.key)
		if last.isIdx || !found {
			return notFound(last.String(), parentPath, parent)
		}
		delete(t, k)
	case []any:
		if !last.isIdx {
			return notFound(last.key, parentPath, parent)
		}
		if last.index >= len(t) {
			return outOfRange(last.index, parentPath, t)
		}
		if err := d.replace(parentPath, slices.Delete(slices.Clone(t), last.index, last.index+1)); err != nil {
			return err
		}
	default:
		return notFound(last.String(), parentPath, parent)
	}
	return d.check()
}
