// Package configtest builds configurations for tests: examples/mcloud.yaml
// with edits applied to its YAML tree by key path (the paths problems are
// reported at, customers[1].aws.dr_region), so a test names the key it
// changes rather than a piece of the example's text, and keeps working
// when the example is laid out differently.
package configtest

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/examples"
)

// Builder is a configuration being edited. Every method fails the test on
// a path that is not in the file, so an edit cannot silently miss.
type Builder struct {
	tb  testing.TB
	doc *yaml.Node // the document's root mapping
}

// Example starts from examples/mcloud.yaml.
func Example(tb testing.TB) *Builder {
	tb.Helper()
	return FromBytes(tb, examples.Config)
}

// FromFile starts from the configuration at path (another example).
func FromFile(tb testing.TB, path string) *Builder {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return FromBytes(tb, data)
}

// FromBytes starts from a configuration's text.
func FromBytes(tb testing.TB, data []byte) *Builder {
	tb.Helper()
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		tb.Fatalf("configtest: %v", err)
	}
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		tb.Fatal("configtest: the configuration is not a mapping")
	}
	return &Builder{tb: tb, doc: root.Content[0]}
}

// A path is keys and list indices as problems name them:
// customers[0].environments[1].patch.apply. A list item may also be picked
// by its name key, customers[customer-x].environments[prod], which reads
// better where the index is not what the test is about.
type step struct {
	key   string // a mapping key, or
	index int    // a list index when key is "" and name is ""
	name  string // a list item's name
}

func (b *Builder) parse(path string) []step {
	b.tb.Helper()
	var steps []step
	for _, part := range strings.Split(path, ".") {
		key, rest, _ := strings.Cut(part, "[")
		if key != "" {
			steps = append(steps, step{key: key})
		}
		for rest != "" {
			sel, after, ok := strings.Cut(rest, "]")
			if !ok {
				b.tb.Fatalf("configtest: %q: unclosed [", path)
			}
			if i, err := strconv.Atoi(sel); err == nil {
				steps = append(steps, step{index: i})
			} else {
				steps = append(steps, step{name: sel})
			}
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return steps
}

// walk follows path from the root. With create, missing mapping keys on
// the way are added (as empty mappings, the last one as null); it returns
// the mapping or list holding the last step and the position of the last
// step in it (for a mapping, the index of its key node).
func (b *Builder) walk(path string, create bool) (parent *yaml.Node, at int) {
	b.tb.Helper()
	steps := b.parse(path)
	n := b.doc
	for i, s := range steps {
		last := i == len(steps)-1
		switch {
		case s.key != "":
			if n.Kind != yaml.MappingNode {
				b.tb.Fatalf("configtest: %s: %q is not in a mapping", path, s.key)
			}
			at = keyIndex(n, s.key)
			if at < 0 {
				if !create {
					b.tb.Fatalf("configtest: %s: no key %q", path, s.key)
				}
				val := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
				if last {
					val = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}
				}
				n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s.key}, val)
				at = len(n.Content) - 2
			}
			if last {
				return n, at
			}
			n = n.Content[at+1]
		default:
			if n.Kind != yaml.SequenceNode {
				b.tb.Fatalf("configtest: %s: not a list where an item is asked for", path)
			}
			at = s.index
			if s.name != "" {
				at = -1
				for j, item := range n.Content {
					if k := keyIndex(item, "name"); k >= 0 && item.Content[k+1].Value == s.name {
						at = j
					}
				}
			}
			if at < 0 || at >= len(n.Content) {
				b.tb.Fatalf("configtest: %s: no such list item", path)
			}
			if last {
				return n, at
			}
			n = n.Content[at]
		}
	}
	b.tb.Fatalf("configtest: empty path")
	return nil, 0
}

func keyIndex(m *yaml.Node, key string) int {
	if m.Kind != yaml.MappingNode {
		return -1
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return i
		}
	}
	return -1
}

// node is v as YAML: a scalar, a list or a mapping (map[string]any; its
// keys come out sorted). nil is a key left empty, which the configuration
// reads as left out.
func (b *Builder) node(v any) *yaml.Node {
	b.tb.Helper()
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		b.tb.Fatalf("configtest: %v", err)
	}
	return &n
}

// Set gives the key at path the value v, adding the key (and the
// mappings leading to it) when the file does not have it.
func (b *Builder) Set(path string, v any) *Builder {
	b.tb.Helper()
	parent, at := b.walk(path, true)
	if parent.Kind == yaml.MappingNode {
		at++
	}
	n := b.node(v)
	n.LineComment = parent.Content[at].LineComment
	parent.Content[at] = n
	return b
}

// Delete removes the key or list item at path.
func (b *Builder) Delete(path string) *Builder {
	b.tb.Helper()
	parent, at := b.walk(path, false)
	width := 1
	if parent.Kind == yaml.MappingNode {
		width = 2
	}
	parent.Content = append(parent.Content[:at], parent.Content[at+width:]...)
	return b
}

// Rename writes the key at path as key instead (a misspelt key).
func (b *Builder) Rename(path, key string) *Builder {
	b.tb.Helper()
	parent, at := b.walk(path, false)
	if parent.Kind != yaml.MappingNode {
		b.tb.Fatalf("configtest: %s is a list item, not a key", path)
	}
	parent.Content[at].Value = key
	return b
}

// Repeat writes the key at path a second time, with the value v, right
// after the first.
func (b *Builder) Repeat(path string, v any) *Builder {
	b.tb.Helper()
	parent, at := b.walk(path, false)
	if parent.Kind != yaml.MappingNode {
		b.tb.Fatalf("configtest: %s is a list item, not a key", path)
	}
	key := *parent.Content[at]
	key.LineComment, key.HeadComment, key.FootComment = "", "", ""
	parent.Content = append(parent.Content[:at+2], append([]*yaml.Node{&key, b.node(v)}, parent.Content[at+2:]...)...)
	return b
}

// Append adds v at the end of the list at path.
func (b *Builder) Append(path string, v any) *Builder {
	b.tb.Helper()
	parent, at := b.walk(path, false)
	list := parent.Content[at]
	if parent.Kind == yaml.MappingNode {
		list = parent.Content[at+1]
	}
	if list.Kind != yaml.SequenceNode {
		b.tb.Fatalf("configtest: %s is not a list", path)
	}
	list.Content = append(list.Content, b.node(v))
	return b
}

// Bytes is the configuration's text.
func (b *Builder) Bytes() []byte {
	b.tb.Helper()
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(b.doc); err != nil {
		b.tb.Fatalf("configtest: %v", err)
	}
	if err := enc.Close(); err != nil {
		b.tb.Fatalf("configtest: %v", err)
	}
	return buf.Bytes()
}

// Line is the line of Bytes that the key or list item at path is on (the
// first one, for a key written twice): where a problem with it is reported.
func (b *Builder) Line(path string) int {
	b.tb.Helper()
	again := FromBytes(b.tb, b.Bytes())
	parent, at := again.walk(path, false)
	return parent.Content[at].Line
}

// Check is config.Check of the configuration.
func (b *Builder) Check() (*config.Config, []config.Problem) {
	b.tb.Helper()
	c, problems, err := config.Check(b.Bytes())
	if err != nil {
		b.tb.Fatalf("configtest: %v", err)
	}
	return c, problems
}

// Parse is config.Parse of the configuration.
func (b *Builder) Parse() (*config.Config, error) {
	b.tb.Helper()
	return config.Parse(b.Bytes())
}

// Config is the configuration, which must be valid.
func (b *Builder) Config() *config.Config {
	b.tb.Helper()
	c, err := b.Parse()
	if err != nil {
		b.tb.Fatalf("test configuration: %v", err)
	}
	return c
}

// Write writes the configuration to mcloud.yaml in a directory of the
// test's and returns its path.
func (b *Builder) Write() string {
	b.tb.Helper()
	path := filepath.Join(b.tb.TempDir(), "mcloud.yaml")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		b.tb.Fatal(err)
	}
	return path
}

// String is the configuration's text, for a failing test's message.
func (b *Builder) String() string { return string(b.Bytes()) }
