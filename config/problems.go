package config

import (
	"fmt"
	"slices"
	"strings"
)

// Problem is one mistake in the configuration: the key's path, what is
// wrong with it, and where it is in the file (0 when the file has no
// place for it, such as a section left out altogether).
type Problem struct {
	Line, Column int
	Path         string
	Msg          string
}

func (p Problem) String() string {
	if p.Line == 0 {
		return p.Path + ": " + p.Msg
	}
	return fmt.Sprintf("line %d: %s: %s", p.Line, p.Path, p.Msg)
}

// position is where a key (or a list item) starts in the file.
type position struct{ line, column int }

// Problems puts problems found elsewhere ("path: message", as
// CheckSecrets, CheckSlack and the commands' rule check write them)
// together with what Check found, in file order, each at its key's line or,
// for a missing key, at the line of the mapping it belongs in. A problem
// with a key that could not be read at all is dropped: that key's own
// problem says what is wrong with it. A problem with a value filled from a
// default is reported at the default.
func (c *Config) Problems(found []Problem, more ...string) []Problem {
	out := slices.Clone(found)
	for _, s := range more {
		path, msg, _ := strings.Cut(s, ": ")
		if from, ok := c.origin[path]; ok {
			path = from // a default's problem is the default's, wherever it reached
		}
		if c.unreadable(path) {
			continue
		}
		pos := c.locate(path)
		out = append(out, Problem{Line: pos.line, Column: pos.column, Path: path, Msg: msg})
	}
	slices.SortStableFunc(out, func(a, b Problem) int {
		switch {
		case a.Line == b.Line && a.Column == b.Column:
			return strings.Compare(a.Path, b.Path)
		case a.Line == 0:
			return 1 // nowhere in the file: after everything that is
		case b.Line == 0:
			return -1
		case a.Line != b.Line:
			return a.Line - b.Line
		}
		return a.Column - b.Column
	})
	// A default that is wrong in every environment it reaches is one
	// problem, not one per environment.
	seen := map[Problem]bool{}
	return slices.DeleteFunc(out, func(p Problem) bool {
		dup := seen[p]
		seen[p] = true
		return dup
	})
}

// locate is where path is in the file, or where its nearest enclosing key
// is when path itself is missing.
func (c *Config) locate(path string) position {
	for p := path; p != ""; p = parent(p) {
		if pos, ok := c.positions[p]; ok {
			return pos
		}
	}
	return position{}
}

// unreadable reports whether path, or a key enclosing it, is one decode
// could not read (an inline secret, a word where a number goes).
func (c *Config) unreadable(path string) bool {
	for p := path; p != ""; p = parent(p) {
		if c.broken[p] {
			return true
		}
	}
	return false
}

// has reports whether the file sets path, so that a default does not
// overwrite what the operator wrote (retention_months: 0 is a mistake, not
// "use the default").
func (c *Config) has(path string) bool {
	_, ok := c.positions[path]
	return ok
}

// parent is the path enclosing path: customers[0].aws for
// customers[0].aws.region, customers[0] for customers[0].aws, customers
// for customers[0].
func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// strings renders problems one per line.
func problemStrings(ps []Problem) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}
