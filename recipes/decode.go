package recipes

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// The decoder walks the yaml.Node tree against the recipe types by
// reflection, so every unknown key and every value of the wrong kind is
// reported with its position and field path, and every value's position is
// remembered for the validation messages.

const (
	// maxVisits bounds the values decoded, against alias bombs.
	maxVisits = 100000
	// maxErrors bounds the errors reported for one file.
	maxErrors = 100
)

var (
	pathType   = reflect.TypeFor[Path]()
	sizeType   = reflect.TypeFor[ByteSize]()
	recipeType = reflect.TypeFor[Recipe]()
)

// ExtensionPrefix starts top-level recipe keys that are ignored, a place for
// YAML anchors shared by several packages ("x-common: &common").
const ExtensionPrefix = "x-"

type decoder struct {
	file   string
	dir    string
	errs   []*Error
	pos    map[string]Pos
	visits int
	// active holds the collections being decoded, to catch aliases that
	// refer to their own ancestors.
	active  map[*yaml.Node]bool
	stopped bool
	// undecoded holds the fields whose value was given but could not be
	// decoded.
	undecoded []string
	// suggested holds the fields an unknown key was probably meant to be,
	// so that their validation ("required") is not reported on top.
	suggested []string
}

func newDecoder(file, dir string) *decoder {
	return &decoder{file: file, dir: dir, pos: map[string]Pos{}, active: map[*yaml.Node]bool{}}
}

func (d *decoder) errorAt(n *yaml.Node, field, format string, args ...any) {
	if d.stopped {
		return
	}
	if len(d.errs) >= maxErrors {
		d.stopped = true
		d.errs = append(d.errs, &Error{File: d.file, Pos: Pos{n.Line, n.Column}, Msg: fmt.Sprintf("too many errors; stopped after %d", maxErrors)})
		return
	}
	d.errs = append(d.errs, &Error{File: d.file, Pos: Pos{n.Line, n.Column}, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// undecodable reports a value that could not be decoded into field.
func (d *decoder) undecodable(n *yaml.Node, field, format string, args ...any) {
	d.undecoded = append(d.undecoded, field)
	d.errorAt(n, field, format, args...)
}

var plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// fieldPath extends a field path by a struct field or map key.
func fieldPath(parent, key string) string {
	if !plainKey.MatchString(key) {
		return parent + "[" + strconv.Quote(key) + "]"
	}
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func indexPath(parent string, i int) string { return parent + "[" + strconv.Itoa(i) + "]" }

// describe names a node's value for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	v := n.Value
	if utf8.RuneCountInString(v) > 40 {
		v = string([]rune(v)[:40]) + "..."
	}
	switch n.ShortTag() {
	case "!!str":
		return strconv.Quote(v)
	case "!!null":
		return "null"
	}
	return v
}

// decode stores node n into v, reporting problems under field.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, field string) {
	if d.stopped {
		return
	}
	d.visits++
	if d.visits > maxVisits {
		d.errorAt(n, field, "too many values (more than %d, after expanding aliases)", maxVisits)
		d.stopped = true
		return
	}
	if _, seen := d.pos[field]; !seen {
		d.pos[field] = Pos{n.Line, n.Column}
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil || d.active[n.Alias] {
			d.undecodable(n, field, "alias *%s refers to a value that contains it", n.Value)
			return
		}
		d.decode(n.Alias, v, field)
		return
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // absent: the zero value
	}
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		d.active[n] = true
		defer delete(d.active, n)
	}
	switch v.Type() {
	case pathType:
		if s, ok := d.scalar(n, field); ok {
			v.Set(reflect.ValueOf(NewPath(d.dir, s)))
		}
		return
	case sizeType:
		d.size(n, v, field)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		nv := reflect.New(v.Type().Elem())
		d.decode(n, nv.Elem(), field)
		v.Set(nv)
	case reflect.Struct:
		d.structure(n, v, field)
	case reflect.Slice:
		d.list(n, v, field)
	case reflect.Map:
		d.mapping(n, v, field)
	case reflect.String:
		if s, ok := d.scalar(n, field); ok {
			v.SetString(s)
		}
	case reflect.Int:
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
			var i int64
			if err := n.Decode(&i); err == nil {
				v.SetInt(i)
				return
			}
		}
		d.undecodable(n, field, "expected an integer, got %s%s", describe(n), quoteHint(n, "!!int"))
	case reflect.Bool:
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
			var b bool
			if err := n.Decode(&b); err == nil {
				v.SetBool(b)
				return
			}
		}
		d.undecodable(n, field, "expected true or false, got %s%s", describe(n), quoteHint(n, "!!bool"))
	default:
		// Unreachable while every schema type is handled above.
		d.undecodable(n, field, "internal error: no decoder for %s", v.Type())
	}
}

// quoteHint explains a quoted value that would have had the wanted type
// without its quotes.
func quoteHint(n *yaml.Node, want string) string {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" || n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 {
		return ""
	}
	var probe yaml.Node
	if yaml.Unmarshal([]byte(n.Value), &probe) == nil && len(probe.Content) == 1 && probe.Content[0].ShortTag() == want {
		return " (remove the quotes)"
	}
	return ""
}

// scalar reads a string value. Numbers and dates are taken as written
// (version: 2.10 is "2.10"); booleans are refused so that a forgotten pair
// of quotes does not turn into "true".
func (d *decoder) scalar(n *yaml.Node, field string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.undecodable(n, field, "expected a string, got %s", describe(n))
		return "", false
	}
	switch n.ShortTag() {
	case "!!str", "!!int", "!!float", "!!timestamp":
		return n.Value, true
	case "!!bool":
		d.undecodable(n, field, "expected a string, got %s (quote it to mean the text)", n.Value)
	default:
		d.undecodable(n, field, "expected a string, got a value tagged %s", n.Tag)
	}
	return "", false
}

func (d *decoder) size(n *yaml.Node, v reflect.Value, field string) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
		var i int64
		if err := n.Decode(&i); err == nil {
			v.SetInt(i)
			return
		}
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!bool" {
		d.undecodable(n, field, "expected a size such as \"4G\" or \"512M\", got %s", describe(n))
		return
	}
	b, err := ParseByteSize(n.Value)
	if err != nil {
		d.undecodable(n, field, "%v", err)
		return
	}
	v.SetInt(int64(b))
}

func (d *decoder) list(n *yaml.Node, v reflect.Value, field string) {
	if n.Kind != yaml.SequenceNode {
		hint := ""
		if n.Kind == yaml.ScalarNode && v.Type().Elem().Kind() == reflect.String {
			hint = fmt.Sprintf(" (write [%s] for a list of one)", n.Value)
		}
		d.undecodable(n, field, "expected a list, got %s%s", describe(n), hint)
		return
	}
	et := v.Type().Elem()
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, c := range n.Content {
		ev := s.Index(i)
		if et.Kind() == reflect.Pointer {
			// a null entry still becomes an (empty, invalid) element, so
			// that the list never holds nil.
			ev.Set(reflect.New(et.Elem()))
			ev = ev.Elem()
		}
		d.decode(c, ev, indexPath(field, i))
	}
	v.Set(s)
}

type pair struct{ key, val *yaml.Node }

// pairs lists a mapping's entries with merge keys (<<) expanded; explicit
// keys win over merged ones. Duplicate and non-scalar keys are errors.
func (d *decoder) pairs(n *yaml.Node, field string) []pair {
	var explicit, merged []pair
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merged = append(merged, d.mergeSources(val, field)...)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.errorAt(k, field, "keys must be plain names, got %s", describe(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.errorAt(k, fieldPath(field, k.Value), "duplicate key; first given at line %d", first.Line)
			continue
		}
		seen[k.Value] = k
		explicit = append(explicit, pair{k, val})
	}
	for _, p := range merged {
		if _, ok := seen[p.key.Value]; !ok {
			seen[p.key.Value] = p.key
			explicit = append(explicit, p)
		}
	}
	return explicit
}

func (d *decoder) mergeSources(n *yaml.Node, field string) []pair {
	if d.stopped {
		return nil
	}
	d.visits++
	if d.visits > maxVisits {
		d.errorAt(n, field, "too many values (more than %d, after expanding aliases)", maxVisits)
		d.stopped = true
		return nil
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil || d.active[n.Alias] {
			d.errorAt(n, field, "alias *%s refers to a value that contains it", n.Value)
			return nil
		}
		n = n.Alias
	}
	d.active[n] = true
	defer delete(d.active, n)
	switch n.Kind {
	case yaml.MappingNode:
		return d.pairs(n, field)
	case yaml.SequenceNode:
		var out []pair
		for _, c := range n.Content {
			m := c
			if m.Kind == yaml.AliasNode {
				m = m.Alias
			}
			if m == nil || m.Kind != yaml.MappingNode {
				d.errorAt(c, field, "<<: expected a mapping or a list of mappings to merge, got %s", describe(c))
				continue
			}
			out = append(out, d.mergeSources(c, field)...)
		}
		return out
	}
	d.errorAt(n, field, "<<: expected a mapping or a list of mappings to merge, got %s", describe(n))
	return nil
}

type structField struct {
	name  string
	index int
}

func structFields(t reflect.Type) []structField {
	var out []structField
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		out = append(out, structField{name, i})
	}
	return out
}

func (d *decoder) structure(n *yaml.Node, v reflect.Value, field string) {
	if n.Kind != yaml.MappingNode {
		d.undecodable(n, field, "expected a mapping, got %s", describe(n))
		return
	}
	fields := structFields(v.Type())
	for _, p := range d.pairs(n, field) {
		name := p.key.Value
		i := slices.IndexFunc(fields, func(f structField) bool { return f.name == name })
		if i < 0 && v.Type() == recipeType && strings.HasPrefix(name, ExtensionPrefix) {
			continue
		}
		if i < 0 {
			known := make([]string, len(fields))
			for j, f := range fields {
				known[j] = f.name
			}
			if s := suggest(name, known); s != "" {
				d.errorAt(p.key, fieldPath(field, name), "unknown field; did you mean %q?", s)
				d.suggested = append(d.suggested, fieldPath(field, s))
			} else {
				d.errorAt(p.key, fieldPath(field, name), "unknown field; expected one of %s", strings.Join(known, ", "))
			}
			continue
		}
		d.decode(p.val, v.Field(fields[i].index), fieldPath(field, name))
	}
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, field string) {
	if n.Kind != yaml.MappingNode {
		d.undecodable(n, field, "expected a mapping, got %s", describe(n))
		return
	}
	m := reflect.MakeMap(v.Type())
	for _, p := range d.pairs(n, field) {
		ev := reflect.New(v.Type().Elem()).Elem()
		f := fieldPath(field, p.key.Value)
		// an entry's validation is about its key as much as its value
		d.pos[f] = Pos{p.key.Line, p.key.Column}
		d.decode(p.val, ev, f)
		m.SetMapIndex(reflect.ValueOf(p.key.Value), ev)
	}
	v.Set(m)
}
