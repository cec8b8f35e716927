package provision

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// PseudoParameters are the names CloudFormation resolves by itself.
var PseudoParameters = []string{"AWS::AccountId", "AWS::Region", "AWS::StackName", "AWS::StackId", "AWS::Partition", "AWS::URLSuffix", "AWS::NoValue"}

// Template is a parsed CloudFormation template (JSON, or YAML in long form:
// Fn::GetAtt, not !GetAtt).
type Template struct {
	Parameters map[string]any `yaml:"Parameters"`
	Resources  map[string]struct {
		Type       string         `yaml:"Type"`
		Properties map[string]any `yaml:"Properties"`
		DependsOn  any            `yaml:"DependsOn"`
	} `yaml:"Resources"`
	Outputs map[string]struct {
		Value any `yaml:"Value"`
	} `yaml:"Outputs"`
}

// Parse reads a template.
func Parse(body []byte) (*Template, error) {
	var t Template
	if err := yaml.Unmarshal(body, &t); err != nil {
		return nil, fmt.Errorf("not a CloudFormation template: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(t.Resources) == 0 {
		return nil, fmt.Errorf("not a CloudFormation template: it has no Resources")
	}
	return &t, nil
}

var subVar = regexp.MustCompile(`\$\{([^}!][^}]*)\}`)

// Check lists what is wrong with a template, sorted: resource types not in
// known (type → the attributes Fn::GetAtt may read), Ref, Fn::GetAtt,
// Fn::Sub and DependsOn naming nothing. cfn-lint is not available here;
// these are the mistakes that would fail only at apply time.
func Check(body []byte, known map[string][]string) []string {
	t, err := Parse(body)
	if err != nil {
		return []string{err.Error()}
	}
	var p []string
	bad := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	isRef := func(name string) bool {
		if _, ok := t.Resources[name]; ok {
			return true
		}
		if _, ok := t.Parameters[name]; ok {
			return true
		}
		return slices.Contains(PseudoParameters, name)
	}
	getAtt := func(where, id, attr string) {
		r, ok := t.Resources[id]
		if !ok {
			bad("%s: Fn::GetAtt %s.%s names no resource", where, id, attr)
			return
		}
		if attrs, ok := known[r.Type]; ok && !slices.Contains(attrs, attr) {
			bad("%s: Fn::GetAtt %s.%s: %s has no attribute %s", where, id, attr, r.Type, attr)
		}
	}
	var walk func(where string, v any)
	walk = func(where string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if len(v) == 1 {
				for k, arg := range v {
					switch k {
					case "Ref":
						if s, _ := arg.(string); !isRef(s) {
							bad("%s: Ref %v names no resource or parameter", where, arg)
						}
						return
					case "Fn::GetAtt":
						switch a := arg.(type) {
						case []any:
							if len(a) == 2 {
								id, _ := a[0].(string)
								attr, _ := a[1].(string)
								getAtt(where, id, attr)
								return
							}
						case string:
							if id, attr, ok := strings.Cut(a, "."); ok {
								getAtt(where, id, attr)
								return
							}
						}
						bad("%s: Fn::GetAtt wants [resource, attribute], not %v", where, arg)
						return
					case "Fn::Sub":
						s, vars := "", map[string]any{}
						switch a := arg.(type) {
						case string:
							s = a
						case []any:
							if len(a) == 2 {
								s, _ = a[0].(string)
								vars, _ = a[1].(map[string]any)
								walk(where, a[1])
							}
						}
						for _, m := range subVar.FindAllStringSubmatch(s, -1) {
							name := m[1]
							if _, ok := vars[name]; ok {
								continue
							}
							if id, attr, ok := strings.Cut(name, "."); ok && !strings.HasPrefix(name, "AWS::") {
								getAtt(where, id, attr)
							} else if !isRef(name) {
								bad("%s: Fn::Sub ${%s} names no resource or parameter", where, name)
							}
						}
						return
					}
				}
			}
			for _, k := range sortedKeys(v) {
				walk(where, v[k])
			}
		case []any:
			for _, x := range v {
				walk(where, x)
			}
		}
	}
	for _, id := range sortedKeys(t.Resources) {
		r := t.Resources[id]
		if _, ok := known[r.Type]; !ok {
			bad("resource %s: type %q is not one mcloud's AWS emulator knows", id, r.Type)
		}
		walk("resource "+id, r.Properties)
		for _, d := range dependsOn(r.DependsOn) {
			if _, ok := t.Resources[d]; !ok {
				bad("resource %s: DependsOn %s names no resource", id, d)
			}
		}
	}
	for _, id := range sortedKeys(t.Outputs) {
		walk("output "+id, t.Outputs[id].Value)
	}
	sort.Strings(p)
	return p
}

func dependsOn(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
