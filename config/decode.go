package config

import (
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/mcloud/mcloud/internal/suggest"
)

// decoder fills a value from a YAML node, reporting unknown keys, keys
// written twice and wrongly typed values by their full path
// (customers[1].aws.region) and line, and going on after each, so that one
// run reports every such mistake (yaml.v3's KnownFields stops at the
// first).
type decoder struct {
	problems  []Problem
	positions map[string]position // every key and list item in the file
	broken    map[string]bool     // keys whose value could not be read
}

func newDecoder() *decoder {
	return &decoder{positions: map[string]position{}, broken: map[string]bool{}}
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

func (d *decoder) bad(n *yaml.Node, path, format string, args ...any) {
	d.problems = append(d.problems, Problem{Line: n.Line, Column: n.Column, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// invalid reports a value that could not be read; validation then says
// nothing more about path, which would only repeat the problem.
func (d *decoder) invalid(n *yaml.Node, path, format string, args ...any) {
	if path == "" {
		path = "(top level)"
	}
	d.bad(n, path, format, args...)
	d.broken[path] = true
}

func (d *decoder) walk(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Tag == "!!null" {
		return
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.walk(n, v.Elem(), path)
		return
	}
	if reflect.PointerTo(v.Type()).Implements(unmarshalerType) {
		if err := n.Decode(v.Addr().Interface()); err != nil {
			d.invalid(n, path, "%s", err)
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.walkStruct(n, v, path)
	case reflect.Slice:
		d.walkSlice(n, v, path)
	case reflect.Map:
		d.walkMap(n, v, path)
	default:
		if n.Kind != yaml.ScalarNode {
			d.invalid(n, path, "must be a single value")
			return
		}
		if err := n.Decode(v.Addr().Interface()); err != nil {
			d.invalid(n, path, "must be a %s, not %q", kindName(v.Kind()), n.Value)
		}
	}
}

// walkStruct fills a struct from a mapping by the fields' yaml keys; an
// unknown key is reported with the known key it is nearest to.
func (d *decoder) walkStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.invalid(n, path, "must be a mapping of keys")
		return
	}
	fields := map[string]int{}
	var names []string
	for i := 0; i < v.NumField(); i++ {
		if tag := yamlKey(v.Type().Field(i)); tag != "" && tag != "-" {
			fields[tag] = i
			names = append(names, tag)
		}
	}
	d.mapping(n, path, func(key *yaml.Node, val *yaml.Node) {
		idx, ok := fields[key.Value]
		if !ok {
			if near := suggest.Nearest(key.Value, names); near != "" {
				d.bad(key, join(path, key.Value), "unknown key; did you mean %s?", near)
				// "near: missing" would only repeat this.
				d.broken[join(path, near)] = true
			} else {
				d.bad(key, join(path, key.Value), "unknown key; known keys here: %s", strings.Join(names, ", "))
			}
			return
		}
		d.walk(val, v.Field(idx), join(path, key.Value))
	})
}

func (d *decoder) walkSlice(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.invalid(n, path, "must be a list")
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		ip := fmt.Sprintf("%s[%d]", path, i)
		d.positions[ip] = position{item.Line, item.Column}
		d.walk(item, s.Index(i), ip)
	}
	v.Set(s)
}

func (d *decoder) walkMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.invalid(n, path, "must be a mapping of keys")
		return
	}
	m := reflect.MakeMap(v.Type())
	d.mapping(n, path, func(key *yaml.Node, val *yaml.Node) {
		elem := reflect.New(v.Type().Elem()).Elem()
		d.walk(val, elem, join(path, key.Value))
		m.SetMapIndex(reflect.ValueOf(key.Value), elem)
	})
	v.Set(m)
}

// mapping calls each for every key of n once: a key written twice in one
// mapping is a mistake (YAML would silently keep the last), reported at
// the second and otherwise ignored.
func (d *decoder) mapping(n *yaml.Node, path string, each func(key, val *yaml.Node)) {
	first := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key := n.Content[i]
		kp := join(path, key.Value)
		if line, dup := first[key.Value]; dup {
			d.bad(key, kp, "written twice in one mapping (first at line %d); YAML would silently keep only the last", line)
			d.broken[kp] = true
			continue
		}
		first[key.Value] = key.Line
		if val := n.Content[i+1]; val.Tag != "!!null" { // "key:" with nothing after it is left out
			d.positions[kp] = position{key.Line, key.Column}
		}
		each(key, n.Content[i+1])
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func kindName(k reflect.Kind) string {
	switch k {
	case reflect.Bool:
		return "boolean (true or false)"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "whole number"
	}
	return k.String()
}
