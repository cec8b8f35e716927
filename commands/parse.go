package commands

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/internal/suggest"
)

// Kind is what a positional argument or flag value must be.
type Kind int

const (
	KindWord     Kind = iota // any single word (or one of Values)
	KindCustomer             // a configured customer the caller may act on
	KindEnv                  // an environment of the customer named before it
	KindMonth                // YYYY-MM
	KindDate                 // YYYY-MM-DD
	KindID                   // a request or job number, "12" or "#12"
	KindText                 // the rest of the line, as typed
	KindLiteral              // exactly the word in Values[0], e.g. "now"
	KindInt                  // a whole number within Min..Max
	KindDuration             // a Go duration like 30s, within Max seconds
)

// Arg is a positional argument.
type Arg struct {
	Name     string // the params key, and the <name> in the usage line
	Kind     Kind
	Optional bool
	Values   []string
	// About says, in a few words, what the argument is for; used in the
	// "missing" sentence.
	About string
	// AfterDashes (KindText only): the argument is everything after "--",
	// exactly as typed, quotes included, so a remote command's own
	// options and quoting reach it unchanged.
	AfterDashes bool
	// Shown, when set, is how the usage line writes the argument: for a
	// text whose first word the verb reads itself (ack's duration).
	Shown string
}

// Flag is a --flag, with or without a value.
type Flag struct {
	Name     string
	Kind     Kind
	Bool     bool // takes no value
	Values   []string
	Min, Max int
}

// Spec is a verb's grammar.
type Spec struct {
	Args  []Arg
	Flags []Flag
}

// Limits on what anyone may type, so a pasted novel costs nothing.
const (
	maxLine   = 4000
	maxTokens = 64
)

// tokenize splits a command line into words. Double or single quotes group
// words (Slack turns quotes into curly ones, which count too). An unclosed
// quote is an error rather than a guess. rest is the text after the first
// unquoted "--" word, as typed, for arguments that take it raw.
func tokenize(line string) (words []string, rest tail, err error) {
	rest.at = -1
	if len(line) > maxLine {
		return nil, rest, fmt.Errorf("the command is %d characters long; the limit is %d", len(line), maxLine)
	}
	if !utf8.ValidString(line) {
		return nil, rest, fmt.Errorf("the command is not valid UTF-8 text")
	}
	var (
		cur    strings.Builder
		quote  rune
		in     bool
		quoted bool // the current word had quotes, so "--" in it is text
	)
	end := func(at int) {
		w := cur.String()
		// A lone dash of another kind may be "--" (run's separator) or
		// prose (a reason, an echo): it is kept as typed and marks the
		// tail; parse decides which it is by the verb.
		lone := false
		if !quoted && rest.at < 0 {
			if n := normDashes(w); n == "--" && w != "--" {
				lone = true
			} else {
				w = n
			}
		}
		if (w == "--" || lone) && !quoted && rest.at < 0 {
			rest = tail{at: len(words), text: strings.TrimSpace(line[at:])}
		}
		words = append(words, w)
		cur.Reset()
		in, quoted = false, false
	}
	closing := map[rune]rune{'"': '"', '\'': '\'', '“': '”', '‘': '’'}
	for i, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case closing[r] != 0:
			quote, in, quoted = closing[r], true, true
		case unicode.IsSpace(r):
			if in {
				end(i)
			}
		case unicode.IsControl(r):
			return nil, rest, fmt.Errorf("the command contains a control character")
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quote != 0 {
		return nil, rest, fmt.Errorf("a quote is not closed")
	}
	if in {
		end(len(line))
	}
	if len(words) > maxTokens {
		return nil, rest, fmt.Errorf("the command has %d words; the limit is %d", len(words), maxTokens)
	}
	return words, rest, nil
}

// normDashes reads a word that starts with an em or en dash as starting
// with "--": phones and Slack's smart punctuation turn a typed "--" into
// "—", so "—dry-run" and a lone "—" mean what the person typed.
func normDashes(w string) string {
	if !strings.HasPrefix(w, "—") && !strings.HasPrefix(w, "–") {
		return w
	}
	return "--" + strings.TrimLeft(w, "-–—")
}

// lower folds ASCII letters only. Verbs, options, customers and
// environments are ASCII; folding other scripts' look-alikes (the Kelvin
// sign folds to "k" under Unicode rules) would let a different word pass
// for a configured name.
func lower(w string) string {
	b := []byte(w)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// quoted is w quoted for a message, cut short: a pasted wall of text is
// not worth echoing back in full.
func quoted(w string) string {
	const max = 40
	if utf8.RuneCountInString(w) > max {
		w = string([]rune(w)[:max-1]) + "…"
	}
	return strconv.Quote(w)
}

// tail is the text after the first unquoted "--": at is that word's index
// in the words (-1: none), text what followed it, as typed.
type tail struct {
	at   int
	text string
}

var (
	idRE = regexp.MustCompile(`^#?([0-9]{1,12})$`)
)

// parsed is the outcome of parsing: params by name, plus the customer and
// environment looked up on the way.
type parsed struct {
	params   mcloud.Params
	customer *config.Customer
	env      *config.Environment
	// Warnings are for the plan: mcloud options typed after "--", which
	// reach the hosts (or the text) instead of mcloud.
	warnings []string
	// lastPos is the index in the words of the last positional word (-1:
	// none), where a missing literal like "now" would go.
	lastPos int
	// missing is the literal argument that was absent or wrong, if that
	// was the problem.
	missing *Arg
	// defaulted: the customer is the channel's, not a typed word.
	// firstPos is the index in the words of the first positional word
	// (-1: none); failedPos the index among the positionals (the
	// defaulted customer included) of the one refused (-1: none).
	defaulted           bool
	firstPos, failedPos int
	typed               int // positional words typed
	// otherCustomer: a customer user named another configured customer.
	// They are answered as if it named nobody; DevOps see the attempt in
	// the audit log.
	otherCustomer bool
}

// parse checks words against spec for verb. Every problem is one
// sentence naming the word and what was expected; customers a customer
// user may not see are refused with the same sentence whether or not they
// exist.
//
// In a customer's channel the customer argument may be left out: the
// first word is read as the customer only when it names one (for a
// customer user: only when it names their own, so another customer's name
// gets the same answer as a word that names nobody); otherwise the
// channel's customer is used and the words fill the arguments after it.
func parse(verb string, spec Spec, words []string, rest tail, cfg *config.Config, caller mcloud.Caller) (parsed, *mcloud.Error) {
	p, err := parseOnce(spec, words, rest, cfg, caller)
	if err != nil && p.defaulted && p.firstPos >= 0 && caller.Role == mcloud.RoleCustomer {
		// The first word may have been meant as a customer. If the line
		// works with the caller's own customer in its place, say they
		// may act only on their own; the answer depends only on the
		// words' places, never on whether another customer exists.
		mine := slices.Clone(words)
		mine[p.firstPos] = caller.Customer
		if _, merr := parseOnce(spec, mine, rest, cfg, caller); merr == nil {
			p.otherCustomer = findCustomer(cfg, words[p.firstPos]) != nil
			// Say what was wrong with the word read as the next argument
			// too, when that reading could have worked with another word
			// ("status prd": maybe an environment); when the words are
			// too many for it ("patch customer-y prod P-1"), the customer
			// was surely meant.
			if max := maxPositional(spec); p.failedPos == 1 && (max < 0 || p.typed+1 <= max) {
				return p, invalid("%s; from this channel you can only act on %s", strings.TrimSuffix(err.Message, "."), caller.Customer)
			}
			return p, mcloud.Errorf(mcloud.EUNAUTHORIZED, "From this channel you can only act on %s.", caller.Customer)
		}
	}
	if err == nil || p.missing == nil {
		return p, err
	}
	// A missing literal ("backup customer-x prod" without now) is
	// answered with the line that works, when adding the word makes it
	// work: the person sees exactly what to type.
	lit := p.missing.Values[0]
	at := p.lastPos + 1
	fixed := append(append(slices.Clone(words[:at]), lit), words[at:]...)
	fixedRest := rest
	if rest.at >= at {
		fixedRest.at++
	}
	if _, ferr := parseOnce(spec, fixed, fixedRest, cfg, caller); ferr != nil {
		return p, err
	}
	line := strings.Join(append([]string{"/mcloud", verb}, fixed...), " ")
	if rest.at >= 0 {
		line = strings.Join(append([]string{"/mcloud", verb}, fixed[:fixedRest.at+1]...), " ") + " " + rest.text
	}
	return p, &mcloud.Error{Code: mcloud.EINVALID, Message: fmt.Sprintf("%s runs only when you say %q; add %s: %s", capitalize(verb), lit, lit, line)}
}

func parseOnce(spec Spec, words []string, rest tail, cfg *config.Config, caller mcloud.Caller) (parsed, *mcloud.Error) {
	p := parsed{params: mcloud.Params{}, lastPos: -1, firstPos: -1, failedPos: -1}
	var positional []string
	seen := map[string]bool{}
	dashed := false
	var envFlags []Flag
	for i := 0; i < len(words); i++ {
		w := words[i]
		if (w == "--" && (i == rest.at || rawArg(spec) == nil)) || (i == rest.at && w != "--" && rawArg(spec) != nil) {
			if raw := rawArg(spec); raw != nil {
				dashed = true
				if rest.text != "" {
					p.params[raw.Name] = rest.text
				}
			} else {
				positional = append(positional, words[i+1:]...)
				if len(words) > i+1 {
					p.lastPos = len(words) - 1
					if p.firstPos < 0 {
						p.firstPos = i + 1
					}
				}
			}
			p.warnings = optionsAfterDashes(spec, words[i+1:], rawArg(spec) != nil)
			break
		}
		if !strings.HasPrefix(w, "--") || len(w) == 2 {
			if strings.HasPrefix(w, "-") && len(w) > 1 && w != "--" && !isNumber(w) {
				// One dash: -n is the usual short form of a dry run, and
				// -tier is --tier with a dash lost; anything else is refused.
				switch name := lower(w[1:]); {
				case name == "n" && findFlag(spec.Flags, "dry-run") != nil:
					w = "--dry-run"
				case len(name) > 1 && findFlag(spec.Flags, strings.SplitN(name, "=", 2)[0]) != nil:
					w = "-" + w
				default:
					return p, invalid("%s is not an option; options start with two dashes, like --%s", quoted(w), strings.TrimLeft(w, "-"))
				}
			} else {
				positional = append(positional, w)
				p.lastPos = i
				if p.firstPos < 0 {
					p.firstPos = i
				}
				continue
			}
		}
		name, value, hasValue := strings.Cut(w[2:], "=")
		name = lower(name)
		f := findFlag(spec.Flags, name)
		if f == nil {
			if len(spec.Flags) == 0 {
				return p, invalid("unknown option --%s; this command takes no options", clipWord(name))
			}
			return p, invalid("unknown option --%s; this command takes %s", clipWord(name), flagList(spec.Flags))
		}
		if seen[name] {
			return p, invalid("option --%s is given twice", name)
		}
		seen[name] = true
		if f.Bool {
			if hasValue {
				return p, invalid("option --%s takes no value", name)
			}
			p.params[name] = "true"
			continue
		}
		if !hasValue {
			if i+1 >= len(words) || strings.HasPrefix(words[i+1], "--") {
				return p, invalid("option --%s needs a value%s", name, valuesHint(f.Values))
			}
			i++
			value = words[i]
		}
		if f.Kind == KindEnv {
			// Checked once the customer is known.
			envFlags = append(envFlags, *f)
			p.params[name] = value
			continue
		}
		v, err := checkFlag(*f, value)
		if err != nil {
			return p, err
		}
		p.params[name] = v
	}

	p.typed = len(positional)
	if len(spec.Args) > 0 && spec.Args[0].Kind == KindCustomer && caller.ChannelCustomer != "" &&
		(len(positional) == 0 || !namesCustomer(positional[0], cfg, caller)) {
		positional = append([]string{caller.ChannelCustomer}, positional...)
		p.defaulted = true
	}

	required := 0
	for _, a := range spec.Args {
		if !a.Optional {
			required++
		}
	}
	pos := 0
	for i, a := range spec.Args {
		if !a.Optional {
			required--
		}
		if a.AfterDashes {
			if !dashed && pos < len(positional) {
				return p, invalid("put <%s> after --, like: -- uptime (so its own options and quotes reach the hosts unchanged)", a.Name)
			}
			if p.params[a.Name] == "" && !a.Optional {
				return p, invalid("missing <%s>: %s", a.Name, a.About)
			}
			continue
		}
		if a.Kind == KindText {
			text := strings.TrimSpace(strings.Join(positional[pos:], " "))
			pos = len(positional)
			if text == "" && !a.Optional {
				return p, invalid("missing <%s>: %s", a.Name, a.About)
			}
			if text != "" {
				p.params[a.Name] = text
			}
			continue
		}
		if pos >= len(positional) {
			if a.Optional {
				continue
			}
			if a.Kind == KindLiteral {
				p.missing = &spec.Args[i]
			}
			return p, invalid("missing <%s>: %s", a.Name, a.About)
		}
		// An optional argument is skipped when the words left are only
		// enough for the required ones after it ("backup customer-x now").
		if a.Optional && len(positional)-pos <= required {
			continue
		}
		v, err := p.check(a, positional[pos], cfg, caller)
		if err != nil {
			p.failedPos = pos
			if a.Kind == KindLiteral {
				p.missing = &spec.Args[i]
			}
			return p, err
		}
		p.params[a.Name] = v
		pos++
	}
	if pos < len(positional) {
		return p, invalid("unexpected %s: this command takes no more arguments", quoted(positional[pos]))
	}
	for _, f := range envFlags {
		v, err := p.check(Arg{Name: f.Name, Kind: KindEnv}, p.params[f.Name], cfg, caller)
		if err != nil {
			return p, err
		}
		p.params[f.Name] = v
	}
	return p, nil
}

// maxPositional is how many positional words spec takes at most, -1 when
// a text argument takes any number.
func maxPositional(spec Spec) int {
	n := 0
	for _, a := range spec.Args {
		switch {
		case a.AfterDashes:
		case a.Kind == KindText:
			return -1
		default:
			n++
		}
	}
	return n
}

// namesCustomer reports whether w, in the customer argument's place, is
// read as a customer: any configured one for DevOps (who are then told
// that this channel is another's), only their own for a customer user.
func namesCustomer(w string, cfg *config.Config, caller mcloud.Caller) bool {
	if caller.Role == mcloud.RoleCustomer {
		return lower(w) == lower(caller.Customer)
	}
	return findCustomer(cfg, w) != nil
}

func findCustomer(cfg *config.Config, w string) *config.Customer {
	for _, name := range cfg.CustomerNames() {
		if lower(name) == lower(w) {
			return cfg.Customer(name)
		}
	}
	return nil
}

// optionsAfterDashes warns about mcloud's own options typed after "--":
// they are part of the command (or text) now, which is rarely what was
// meant with --dry-run.
func optionsAfterDashes(spec Spec, after []string, raw bool) []string {
	var out []string
	seen := map[string]bool{}
	for _, w := range after {
		w = lower(normDashes(w))
		if !strings.HasPrefix(w, "--") {
			continue
		}
		name, _, _ := strings.Cut(w[2:], "=")
		if findFlag(spec.Flags, name) == nil || seen[name] {
			continue
		}
		seen[name] = true
		if raw {
			out = append(out, fmt.Sprintf("--%s after -- is sent to the hosts, not read by mcloud; put mcloud's options before --.", name))
		} else {
			out = append(out, fmt.Sprintf("--%s after -- is taken as text, not read by mcloud; put mcloud's options before --.", name))
		}
	}
	return out
}

func (p *parsed) check(a Arg, w string, cfg *config.Config, caller mcloud.Caller) (string, *mcloud.Error) {
	switch a.Kind {
	case KindCustomer:
		if caller.Role == mcloud.RoleCustomer && lower(w) != lower(caller.Customer) {
			return "", mcloud.Errorf(mcloud.EUNAUTHORIZED, "From this channel you can only act on %s.", caller.Customer)
		}
		c := findCustomer(cfg, w)
		if c == nil {
			return "", invalid("unknown customer %s; known customers: %s", quoted(w), strings.Join(cfg.CustomerNames(), ", "))
		}
		p.customer = c
		return c.Name, nil
	case KindEnv:
		if p.customer == nil {
			return "", invalid("name the customer before the environment")
		}
		for _, name := range p.customer.EnvNames() {
			if lower(name) == lower(w) {
				p.env = p.customer.Env(name)
				return name, nil
			}
		}
		return "", invalid("unknown environment %s for %s; it has: %s", quoted(w), p.customer.Name, strings.Join(p.customer.EnvNames(), ", "))
	case KindMonth:
		// One month parser for every verb (see parseMonth), so a month
		// accepted here is one the verb can read.
		if _, err := parseMonth(w, time.Now()); err != nil {
			return "", err
		}
		return w, nil
	case KindDate:
		if _, err := time.Parse("2006-01-02", w); err != nil {
			return "", invalid("%s is not a date: write it as YYYY-MM-DD, like 2024-03-31", quoted(w))
		}
		return w, nil
	case KindID:
		m := idRE.FindStringSubmatch(w)
		if m == nil {
			return "", invalid("%s is not a %s number: use the number mcloud showed, like 12", quoted(w), a.Name)
		}
		n, _ := strconv.ParseInt(m[1], 10, 64)
		if n < 1 {
			return "", invalid("%s is not a %s number: numbers start at 1", quoted(w), a.Name)
		}
		return strconv.FormatInt(n, 10), nil
	case KindLiteral:
		if lower(w) != a.Values[0] {
			return "", invalid("expected %q, not %s", a.Values[0], quoted(w))
		}
		return a.Values[0], nil
	}
	if len(a.Values) > 0 {
		v, ok := oneOf(a.Values, w)
		if !ok {
			return "", invalid("%s is not a valid <%s>; use one of: %s", quoted(w), a.Name, strings.Join(a.Values, ", "))
		}
		return v, nil
	}
	return w, nil
}

// oneOf is the value of values that w names, in any case.
func oneOf(values []string, w string) (string, bool) {
	i := slices.Index(values, lower(w))
	if i < 0 {
		return "", false
	}
	return values[i], true
}

// clipWord cuts a word echoed inside a message (not quoted).
func clipWord(w string) string {
	q := quoted(w)
	return q[1 : len(q)-1]
}

func checkFlag(f Flag, v string) (string, *mcloud.Error) {
	switch f.Kind {
	case KindInt:
		n, err := strconv.Atoi(v)
		if err != nil || n < f.Min || n > f.Max {
			return "", invalid("--%s must be a whole number from %d to %d, not %s", f.Name, f.Min, f.Max, quoted(v))
		}
		return strconv.Itoa(n), nil
	case KindDuration:
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > time.Duration(f.Max)*time.Second {
			return "", invalid("--%s must be a duration up to %s, like 30s, not %s", f.Name, time.Duration(f.Max)*time.Second, quoted(v))
		}
		return d.String(), nil
	case KindDate:
		if _, err := time.Parse("2006-01-02", v); err != nil {
			return "", invalid("--%s must be a date written YYYY-MM-DD, not %s", f.Name, quoted(v))
		}
		return v, nil
	}
	if len(f.Values) > 0 {
		c, ok := oneOf(f.Values, v)
		if !ok {
			return "", invalid("--%s must be one of %s, not %s", f.Name, strings.Join(f.Values, ", "), quoted(v))
		}
		return c, nil
	}
	if v == "" {
		return "", invalid("--%s needs a value", f.Name)
	}
	return v, nil
}

// rawArg is the spec's argument that takes the text after "--", if any.
func rawArg(spec Spec) *Arg {
	for i := range spec.Args {
		if spec.Args[i].AfterDashes {
			return &spec.Args[i]
		}
	}
	return nil
}

func findFlag(flags []Flag, name string) *Flag {
	for i := range flags {
		if flags[i].Name == name {
			return &flags[i]
		}
	}
	return nil
}

func flagList(flags []Flag) string {
	names := make([]string, len(flags))
	for i, f := range flags {
		names[i] = "--" + f.Name
	}
	return strings.Join(names, ", ")
}

func valuesHint(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return " (" + strings.Join(v, ", ") + ")"
}

func isNumber(w string) bool {
	_, err := strconv.Atoi(w)
	return err == nil
}

func invalid(format string, args ...any) *mcloud.Error {
	return &mcloud.Error{Code: mcloud.EINVALID, Message: capitalize(fmt.Sprintf(format, args...)) + "."}
}

func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError || r == '"' {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

// usage renders the spec as a usage line after the verb's name.
func (s Spec) usage() string {
	var parts []string
	for _, a := range s.Args {
		if a.AfterDashes {
			continue // shown last, after the options
		}
		if a.Shown != "" {
			parts = append(parts, a.Shown)
			continue
		}
		var w string
		switch a.Kind {
		case KindLiteral:
			w = a.Values[0]
		case KindMonth:
			w = "<YYYY-MM>"
		case KindText:
			w = "<" + a.Name + "...>"
		default:
			if len(a.Values) > 0 {
				w = "<" + strings.Join(a.Values, "|") + ">"
			} else {
				w = "<" + a.Name + ">"
			}
		}
		if a.Optional {
			w = "[" + strings.Trim(w, "<>") + "]"
			if a.Kind == KindText {
				w = "[" + a.Name + "...]"
			}
		}
		parts = append(parts, w)
	}
	for _, f := range s.Flags {
		switch {
		case f.Bool:
			parts = append(parts, "[--"+f.Name+"]")
		case len(f.Values) > 0:
			parts = append(parts, "[--"+f.Name+" "+strings.Join(f.Values, "|")+"]")
		case f.Kind == KindDate:
			parts = append(parts, "[--"+f.Name+" YYYY-MM-DD]")
		default:
			parts = append(parts, "[--"+f.Name+" "+strings.ToUpper(f.Name)+"]")
		}
	}
	if raw := rawArg(s); raw != nil {
		parts = append(parts, "-- <"+raw.Name+"...>")
	}
	return strings.Join(parts, " ")
}

// aliases are other names people reach for, from the words in their
// heads ("logs", "export") rather than mcloud's. They work like the verb
// and help lists them. An alias of a verb that is not registered is
// ignored.
var aliases = map[string]string{
	"logs":      "restore-logs",
	"artifacts": "restore-artifacts",
	"export":    "db-export",
	"requests":  "pending",
}

// verbName is what verb resolution needs to know of a verb.
type verbName struct {
	name   string
	hidden bool
}

// minPrefix is the shortest prefix that names a verb by itself: "sta" is
// status, but "c" is not cancel, so a stray letter starts nothing.
const minPrefix = 3

// resolveVerb finds the verb a typed word names: the name or an alias in
// any case, or an unambiguous prefix of at least minPrefix letters. When
// it names none, plausible holds the plausible verbs, best first: every verb
// an ambiguous or short prefix could be ("resto": both restores), else the
// nearest by typing distance, and nothing when nothing is near. Hidden
// verbs are found only by their full name and never suggested.
func resolveVerb(word string, verbs []verbName) (name string, plausible []string) {
	w := lower(normDashes(word))
	switch w {
	case "?", "-h", "--help", "-?":
		w = "help"
	}
	known := map[string]bool{}
	var visible []string
	for _, v := range verbs {
		known[v.name] = true
		if !v.hidden {
			visible = append(visible, v.name)
		}
	}
	if known[w] {
		return w, nil
	}
	if t := aliases[w]; known[t] {
		return t, nil
	}
	// Every word a visible verb answers to: its name and its aliases.
	type callable struct{ word, verb string }
	var words []callable
	for _, n := range visible {
		words = append(words, callable{n, n})
	}
	for a, t := range aliases {
		if slices.Contains(visible, t) {
			words = append(words, callable{a, t})
		}
	}
	var prefixed []string
	for _, c := range words {
		if strings.HasPrefix(c.word, w) && w != "" && !slices.Contains(prefixed, c.verb) {
			prefixed = append(prefixed, c.verb)
		}
	}
	sort.Strings(prefixed)
	if len(prefixed) == 1 && utf8.RuneCountInString(w) >= minPrefix {
		return prefixed[0], nil
	}
	if len(prefixed) > 0 {
		return "", prefixed
	}
	// A typo: at most one edit for short words, two for longer ones.
	limit := 1
	if utf8.RuneCountInString(w) > 4 {
		limit = 2
	}
	best := limit + 1
	for _, c := range words {
		d := suggest.Distance(w, c.word)
		if d < best {
			best, plausible = d, nil
		}
		if d == best && !slices.Contains(plausible, c.verb) {
			plausible = append(plausible, c.verb)
		}
	}
	sort.Strings(plausible)
	return "", plausible
}

// didYouMean ends a sentence: `; did you mean "a"?`, `; did you mean "a"
// or "b"?`, or "." for no suggestion.
func didYouMean(suggest []string) string {
	if len(suggest) == 0 {
		return "."
	}
	q := make([]string, len(suggest))
	for i, s := range suggest {
		q[i] = strconv.Quote(s)
	}
	if len(q) == 1 {
		return "; did you mean " + q[0] + "?"
	}
	return "; did you mean " + strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1] + "?"
}

// aliasesOf lists the aliases of verb, sorted.
func aliasesOf(verb string) []string {
	var out []string
	for a, t := range aliases {
		if t == verb {
			out = append(out, a)
		}
	}
	sort.Strings(out)
	return out
}
