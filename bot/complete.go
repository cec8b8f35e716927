package bot

import (
	"slices"
	"strings"
)

// Completions are the words Tab offers in the shell.
type Completions struct {
	Verbs     []string
	Customers []string
	Envs      map[string][]string // by customer
	Users     []string
	Channels  []string
}

// shellCommands are the shell's own :commands.
var shellCommands = []string{":user", ":channel", ":whoami", ":wait", ":expect", ":help", ":quit"}

// Complete completes the word that ends at pos in line: "/mcloud" first,
// then a verb, then a customer, then that customer's environment (also
// after --env); :user and :channel take user and channel names. One match
// is completed with a space after it; several are completed as far as they
// agree, and when they part ways at once they are returned as choices to
// show. Nothing to offer returns line and pos unchanged.
func Complete(line string, pos int, c Completions) (newLine string, newPos int, choices []string) {
	before, after := line[:pos], line[pos:]
	start := strings.LastIndexByte(before, ' ') + 1
	word := before[start:]
	prev := strings.Fields(before[:start])
	var words []string
	switch {
	case len(prev) == 0 && strings.HasPrefix(word, ":"):
		words = shellCommands
	case len(prev) == 0:
		words = []string{"/mcloud"}
	case len(prev) == 1 && prev[0] == ":user":
		words = c.Users
	case len(prev) == 1 && prev[0] == ":channel":
		words = c.Channels
	case prev[0] != "/mcloud" && prev[0] != "mcloud":
	case len(prev) == 1:
		words = c.Verbs
	case prev[len(prev)-1] == "--env":
		for _, w := range prev {
			words = append(words, c.Envs[w]...)
		}
	case c.Envs[prev[len(prev)-1]] != nil:
		words = c.Envs[prev[len(prev)-1]]
	case len(prev) == 2:
		words = c.Customers
	}
	var matches []string
	for _, w := range words {
		if strings.HasPrefix(strings.ToLower(w), strings.ToLower(word)) && !slices.Contains(matches, w) {
			matches = append(matches, w)
		}
	}
	switch len(matches) {
	case 0:
		return line, pos, nil
	case 1:
		done := before[:start] + matches[0]
		if !strings.HasPrefix(after, " ") {
			done += " "
		}
		return done + after, len(done), nil
	}
	common := matches[0]
	for _, m := range matches[1:] {
		for !strings.HasPrefix(m, common) {
			common = common[:len(common)-1]
		}
	}
	if len(common) > len(word) {
		done := before[:start] + common
		return done + after, len(done), nil
	}
	return line, pos, matches
}
