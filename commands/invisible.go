package commands

import (
	"fmt"
	"strings"
	"unicode"
)

// invisibleNames are the names of the format characters people meet; any
// other Unicode "Cf" character is refused under a generic name.
var invisibleNames = map[rune]string{
	'\u00AD': "SOFT HYPHEN",
	'\u061C': "ARABIC LETTER MARK",
	'\u200B': "ZERO WIDTH SPACE",
	'\u200C': "ZERO WIDTH NON-JOINER",
	'\u200D': "ZERO WIDTH JOINER",
	'\u200E': "LEFT-TO-RIGHT MARK",
	'\u200F': "RIGHT-TO-LEFT MARK",
	'\u202A': "LEFT-TO-RIGHT EMBEDDING",
	'\u202B': "RIGHT-TO-LEFT EMBEDDING",
	'\u202C': "POP DIRECTIONAL FORMATTING",
	'\u202D': "LEFT-TO-RIGHT OVERRIDE",
	'\u202E': "RIGHT-TO-LEFT OVERRIDE",
	'\u2060': "WORD JOINER",
	'\u2066': "LEFT-TO-RIGHT ISOLATE",
	'\u2067': "RIGHT-TO-LEFT ISOLATE",
	'\u2068': "FIRST STRONG ISOLATE",
	'\u2069': "POP DIRECTIONAL ISOLATE",
	'\uFEFF': "ZERO WIDTH NO-BREAK SPACE",
}

// invisible finds the first invisible formatting character in line (a
// Unicode "Cf" character: bidi overrides and isolates, zero-width
// characters, the byte-order mark, ...) and says which and where, counting
// characters from 1. Such characters make text read differently from what
// it is: a plan an approver reads must be what runs.
func invisible(line string) (msg string, found bool) {
	pos := 0
	for _, r := range line {
		pos++
		if !unicode.Is(unicode.Cf, r) {
			continue
		}
		name := invisibleNames[r]
		if name == "" {
			name = "FORMAT CHARACTER"
		}
		return fmt.Sprintf("Invisible character U+%04X (%s) at position %d; retype the command without it.", r, name, pos), true
	}
	return "", false
}

// refuseInvisible refuses a line carrying an invisible character before
// anything else reads it, with the usage of the verb it names, if any.
func (s *Service) refuseInvisible(line string) (Reply, bool) {
	msg, found := invisible(line)
	if !found {
		return Reply{}, false
	}
	usage := "/mcloud help"
	clean := strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, line)
	if v := s.verbs[verbOf(clean)]; v != nil {
		usage = v.Usage()
	}
	return Reply{Error: msg, Usage: usage, Private: true}, true
}
