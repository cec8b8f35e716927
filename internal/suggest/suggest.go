// Package suggest finds the word someone probably meant: the "did you mean"
// of config keys, AWS regions and mcloud's subcommands.
package suggest

// Nearest returns the candidate closest to word, or "" when none is close
// enough to be a plausible typo: at most two edits, and fewer edits than
// half the word (so "xy" does not suggest "dr"). A candidate that word is a
// prefix of counts as one edit ("serv" suggests "serve"). Ties go to the
// candidate listed first, so callers decide by their order.
func Nearest(word string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if c == word {
			return c
		}
		d := Distance(word, c)
		if len(word) >= 3 && len(c) > len(word) && c[:len(word)] == word {
			d = 1
		}
		if d < bestD && 2*d < max(len(word), 2)+1 {
			best, bestD = c, d
		}
	}
	return best
}

// Distance is the Levenshtein edit distance between a and b in letters
// (runes), counting a swap of two neighbouring letters ("retnetion") as one
// edit. Long inputs
// are far from everything, which keeps the cost bounded.
func Distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
