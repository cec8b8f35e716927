package commands

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/config"
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
		if w == "--" && !quoted && rest.at < 0 {
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

// tail is the text after the first unquoted "--": at is that word's index
// in the words (-1: none), text what followed it, as typed.
type tail struct {
	at   int
	text string
}

var (
	monthRE = regexp.MustCompile(`^([0-9]{4})-([0-9]{2})$`)
	idRE    = regexp.MustCompile(`^#?([0-9]{1,12})$`)
)

// parsed is the outcome of parsing: params by name, plus the customer and
// environment looked up on the way.
type parsed struct {
	params   mcloud.Params
	customer *config.Customer
	env      *config.Environment
}

// parse checks words against spec. Every problem is one sentence naming
// the word and what was expected; customers a customer user may not see
// are refused with the same sentence whether or not they exist.
func parse(spec Spec, words []string, rest tail, cfg *config.Config, caller mcloud.Caller) (parsed, *mcloud.Error) {
	p := parsed{params: mcloud.Params{}}
	var positional []string
	seen := map[string]bool{}
	dashed := false
	for i := 0; i < len(words); i++ {
		w := words[i]
		if w == "--" && (i == rest.at || rawArg(spec) == nil) {
			if raw := rawArg(spec); raw != nil {
				dashed = true
				if rest.text != "" {
					p.params[raw.Name] = rest.text
				}
			} else {
				positional = append(positional, words[i+1:]...)
			}
			break
		}
		if !strings.HasPrefix(w, "--") || len(w) == 2 {
			if strings.HasPrefix(w, "-") && len(w) > 1 && w != "--" && !isNumber(w) {
				return p, invalid("%q is not an option; options start with two dashes, like --%s", w, strings.TrimLeft(w, "-"))
			}
			positional = append(positional, w)
			continue
		}
		name, value, hasValue := strings.Cut(w[2:], "=")
		f := findFlag(spec.Flags, name)
		if f == nil {
			if len(spec.Flags) == 0 {
				return p, invalid("unknown option --%s; this command takes no options", name)
			}
			return p, invalid("unknown option --%s; this command takes %s", name, flagList(spec.Flags))
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
		v, err := checkFlag(*f, value)
		if err != nil {
			return p, err
		}
		p.params[name] = v
	}

	required := 0
	for _, a := range spec.Args {
		if !a.Optional {
			required++
		}
	}
	pos := 0
	for _, a := range spec.Args {
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
			return p, invalid("missing <%s>: %s", a.Name, a.About)
		}
		// An optional argument is skipped when the words left are only
		// enough for the required ones after it ("backup customer-x now").
		if a.Optional && len(positional)-pos <= required {
			continue
		}
		v, err := p.check(a, positional[pos], cfg, caller)
		if err != nil {
			return p, err
		}
		p.params[a.Name] = v
		pos++
	}
	if pos < len(positional) {
		return p, invalid("unexpected %q: this command takes no more arguments", positional[pos])
	}
	return p, nil
}

func (p *parsed) check(a Arg, w string, cfg *config.Config, caller mcloud.Caller) (string, *mcloud.Error) {
	switch a.Kind {
	case KindCustomer:
		if caller.Role == mcloud.RoleCustomer && w != caller.Customer {
			return "", mcloud.Errorf(mcloud.EUNAUTHORIZED, "From this channel you can only act on %s.", caller.Customer)
		}
		c := cfg.Customer(w)
		if c == nil {
			return "", invalid("unknown customer %q; known customers: %s", w, strings.Join(cfg.CustomerNames(), ", "))
		}
		p.customer = c
		return w, nil
	case KindEnv:
		if p.customer == nil {
			return "", invalid("name the customer before the environment")
		}
		e := p.customer.Env(w)
		if e == nil {
			return "", invalid("unknown environment %q for %s; it has: %s", w, p.customer.Name, strings.Join(p.customer.EnvNames(), ", "))
		}
		p.env = e
		return w, nil
	case KindMonth:
		m := monthRE.FindStringSubmatch(w)
		if m == nil {
			return "", invalid("%q is not a month: write it as YYYY-MM, like 2024-03", w)
		}
		if mo, _ := strconv.Atoi(m[2]); mo < 1 || mo > 12 {
			return "", invalid("%q is not a month: the month must be 01 to 12", w)
		}
		return w, nil
	case KindDate:
		if _, err := time.Parse("2006-01-02", w); err != nil {
			return "", invalid("%q is not a date: write it as YYYY-MM-DD, like 2024-03-31", w)
		}
		return w, nil
	case KindID:
		m := idRE.FindStringSubmatch(w)
		if m == nil {
			return "", invalid("%q is not a %s number: use the number mcloud showed, like 12", w, a.Name)
		}
		n, _ := strconv.ParseInt(m[1], 10, 64)
		if n < 1 {
			return "", invalid("%q is not a %s number: numbers start at 1", w, a.Name)
		}
		return strconv.FormatInt(n, 10), nil
	case KindLiteral:
		if w != a.Values[0] {
			return "", invalid("expected %q, not %q", a.Values[0], w)
		}
		return w, nil
	}
	if len(a.Values) > 0 && !slices.Contains(a.Values, w) {
		return "", invalid("%q is not a valid <%s>; use one of: %s", w, a.Name, strings.Join(a.Values, ", "))
	}
	return w, nil
}

func checkFlag(f Flag, v string) (string, *mcloud.Error) {
	switch f.Kind {
	case KindInt:
		n, err := strconv.Atoi(v)
		if err != nil || n < f.Min || n > f.Max {
			return "", invalid("--%s must be a whole number from %d to %d, not %q", f.Name, f.Min, f.Max, v)
		}
		return strconv.Itoa(n), nil
	case KindDuration:
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > time.Duration(f.Max)*time.Second {
			return "", invalid("--%s must be a duration up to %s, like 30s, not %q", f.Name, time.Duration(f.Max)*time.Second, v)
		}
		return d.String(), nil
	case KindDate:
		if _, err := time.Parse("2006-01-02", v); err != nil {
			return "", invalid("--%s must be a date written YYYY-MM-DD, not %q", f.Name, v)
		}
		return v, nil
	}
	if len(f.Values) > 0 && !slices.Contains(f.Values, v) {
		return "", invalid("--%s must be one of %s, not %q", f.Name, strings.Join(f.Values, ", "), v)
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
