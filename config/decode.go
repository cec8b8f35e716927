package config

import (
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// decode fills v from n, reporting unknown keys and wrongly typed values by
// their full path (customers[1].aws.region) rather than by line number
// alone, which is what yaml.v3's KnownFields gives.
func decode(n *yaml.Node, v any) []string {
	var problems []string
	walk(n, reflect.ValueOf(v).Elem(), "", &problems)
	return problems
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

func walk(n *yaml.Node, v reflect.Value, path string, problems *[]string) {
	at := func(format string, args ...any) {
		p := path
		if p == "" {
			p = "(top level)"
		}
		*problems = append(*problems, fmt.Sprintf("%s: %s (line %d)", p, fmt.Sprintf(format, args...), n.Line))
	}
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
		walk(n, v.Elem(), path, problems)
		return
	}
	if reflect.PointerTo(v.Type()).Implements(unmarshalerType) {
		if err := n.Decode(v.Addr().Interface()); err != nil {
			at("%s", err)
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			at("must be a mapping of keys")
			return
		}
		fields := map[string]int{}
		var names []string
		for i := 0; i < v.NumField(); i++ {
			tag := strings.Split(v.Type().Field(i).Tag.Get("yaml"), ",")[0]
			if tag != "" && tag != "-" {
				fields[tag] = i
				names = append(names, tag)
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i].Value, n.Content[i+1]
			idx, ok := fields[key]
			if !ok {
				*problems = append(*problems, fmt.Sprintf("%s: unknown key (line %d); known keys here: %s",
					join(path, key), n.Content[i].Line, strings.Join(names, ", ")))
				continue
			}
			walk(val, v.Field(idx), join(path, key), problems)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			at("must be a list")
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			walk(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i), problems)
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			at("must be a mapping of keys")
			return
		}
		m := reflect.MakeMap(v.Type())
		for i := 0; i+1 < len(n.Content); i += 2 {
			elem := reflect.New(v.Type().Elem()).Elem()
			walk(n.Content[i+1], elem, join(path, n.Content[i].Value), problems)
			m.SetMapIndex(reflect.ValueOf(n.Content[i].Value), elem)
		}
		v.Set(m)
	default:
		if n.Kind != yaml.ScalarNode {
			at("must be a single value")
			return
		}
		if err := n.Decode(v.Addr().Interface()); err != nil {
			at("must be a %s, not %q", kindName(v.Kind()), n.Value)
		}
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
