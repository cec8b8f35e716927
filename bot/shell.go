package bot

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/commands"
	"github.com/mcloud/mcloud/config"
)

// Outbox is the part of the store the shell reads messages from.
type Outbox interface {
	PendingPosts(ctx context.Context, limit int) ([]mcloud.Post, error)
	MarkSent(ctx context.Context, id int64) error
	Jobs(ctx context.Context, customer string, active bool, limit int) ([]mcloud.Job, error)
}

// Shell is the terminal adapter, in the spirit of Hubot's shell: each line
// is a message from the current user in the current channel. Identities
// come from the configuration, as Slack's would come from a signed payload.
type Shell struct {
	Service *commands.Service
	Outbox  Outbox
	In      io.Reader
	Out     io.Writer
	// Interactive means In and Out are a terminal, already in raw mode:
	// the shell edits lines (arrows, Ctrl-A/E/W/U), recalls History with
	// up and down, completes with Tab, and prints job messages as they
	// come. Otherwise (a script on stdin) each input line is echoed and
	// the shell waits for the jobs it started, so a transcript reads in
	// order.
	Interactive bool
	// History keeps the lines typed interactively, across runs; nil keeps
	// them for this run only.
	History term.History
	// Width is the terminal's width in columns, for wrapping long lines
	// while editing (0: 80).
	Width   int
	User    string
	Channel string
	// Wait bounds how long a script waits for jobs after a line; 0 does
	// not wait (what has already been posted is still printed).
	Wait time.Duration
	// Sandbox, set only by `mcloud shell --sandbox`, carries out
	// ":sandbox ..." (changes to the stand-ins made behind mcloud's back)
	// and returns what to print.
	Sandbox func(ctx context.Context, args []string) string

	mu  sync.Mutex
	cfg *config.Config
	out io.Writer // Out, or the line editor writing to it
	ed  *term.Terminal
	// output is what the shell printed since the last line that ran
	// something, the text :expect checks; ran names that line.
	output strings.Builder
	ran    string
	// expects counts :expect lines; failed lists those that failed.
	expects int
	failed  []string
}

// ExpectationsFailed is Run's error when :expect lines did not hold: the
// script's check failed, not the shell.
type ExpectationsFailed struct {
	Of     int      // how many :expect lines ran
	Failed []string // "line N: :expect ...", in script order
}

func (e *ExpectationsFailed) Error() string {
	return fmt.Sprintf("%d of %d expectations failed:\n  %s", len(e.Failed), e.Of, strings.Join(e.Failed, "\n  "))
}

// Run reads lines until EOF or :quit. It returns *ExpectationsFailed when
// an :expect line did not hold.
func (s *Shell) Run(ctx context.Context) error {
	s.cfg = s.Service.Config()
	if _, ok := s.cfg.UserByName(s.User); !ok {
		return fmt.Errorf("unknown user %q; users: %s", s.User, strings.Join(s.userNames(), ", "))
	}
	if _, ok := s.cfg.ChannelByName(s.Channel); !ok {
		return fmt.Errorf("unknown channel %q; channels: %s", s.Channel, strings.Join(s.channelNames(), ", "))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	readLine := s.scriptReader()
	s.setOut(s.Out)
	if s.Interactive {
		s.ed = term.NewTerminal(struct {
			io.Reader
			io.Writer
		}{s.In, s.Out}, s.promptText())
		if s.History != nil {
			s.ed.History = s.History
		}
		if s.Width > 0 {
			s.ed.SetSize(s.Width, 24)
		}
		s.ed.AutoCompleteCallback = s.autocomplete
		s.setOut(s.ed)
		readLine = func() (string, error) {
			line, err := s.ed.ReadLine()
			if errors.Is(err, term.ErrPasteIndicator) {
				err = nil
			}
			return line, err
		}
		s.println("mcloud shell: type /mcloud help, or :help for shell commands. Tab completes, up recalls. Ctrl-D quits.")
		go s.printPosts(ctx)
	}
	for lineNo := 1; ; lineNo++ {
		raw, err := readLine()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read input: %w", err)
		}
		line := strings.TrimSpace(raw)
		if !s.Interactive && line != "" {
			s.echo(s.promptText() + line)
		}
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
			continue
		case strings.HasPrefix(line, ":expect"):
			s.expect(lineNo, line)
			continue
		}
		s.mu.Lock()
		s.output.Reset()
		s.ran = fmt.Sprintf("line %d (%s)", lineNo, line)
		s.mu.Unlock()
		if strings.HasPrefix(line, ":") {
			if quit := s.meta(ctx, line); quit {
				break
			}
			continue
		}
		caller := s.caller()
		if !strings.HasPrefix(line, "/mcloud") {
			s.println("(not a command: start with /mcloud, e.g. /mcloud help)")
			continue
		}
		reply := s.Service.Handle(ctx, caller, line)
		text := Text(reply, s.cfg)
		if !mcloud.Public(caller, reply.Private) {
			text += "\n(only you can see this)"
		}
		s.println(indent(text))
		if !s.Interactive {
			s.settle(ctx)
		}
	}
	if !s.Interactive {
		s.settle(ctx)
	}
	if len(s.failed) > 0 {
		return &ExpectationsFailed{Of: s.expects, Failed: s.failed}
	}
	return nil
}

// scriptReader reads plain lines, for a script or a pipe.
func (s *Shell) scriptReader() func() (string, error) {
	in := bufio.NewScanner(s.In)
	in.Buffer(make([]byte, 64*1024), 1024*1024)
	return func() (string, error) {
		if in.Scan() {
			return in.Text(), nil
		}
		if err := in.Err(); err != nil {
			return "", err
		}
		return "", io.EOF
	}
}

// expect checks the output of the line that last ran something against
// the pattern after ":expect": a substring, or a regular expression (Go
// syntax) when written between slashes. A failure is printed and counted;
// the script goes on, and Run reports every failure at the end.
func (s *Shell) expect(lineNo int, line string) {
	s.expects++
	pattern := strings.TrimSpace(strings.TrimPrefix(line, ":expect"))
	s.mu.Lock()
	output, ran := s.output.String(), s.ran
	s.mu.Unlock()
	fail := func(why string) {
		s.failed = append(s.failed, fmt.Sprintf("line %d: %s", lineNo, line))
		s.println(fmt.Sprintf("EXPECTATION FAILED at line %d: %s", lineNo, why))
	}
	matches, err := matchExpect(pattern, output)
	switch {
	case err != nil:
		fail(err.Error())
	case ran == "":
		fail("nothing has run yet; put :expect after the line whose output it checks")
	case !matches && strings.HasPrefix(pattern, "/"):
		fail(fmt.Sprintf("the output of %s does not match %s", ran, pattern))
	case !matches:
		fail(fmt.Sprintf("the output of %s does not contain %q", ran, pattern))
	}
}

// matchExpect is :expect's pattern language: /RE/ is a regular expression,
// anything else a plain substring (so "#1 (prod)" needs no escaping).
func matchExpect(pattern, output string) (bool, error) {
	if pattern == "" {
		return false, errors.New("an empty :expect; write :expect TEXT or :expect /REGEXP/")
	}
	if len(pattern) >= 2 && strings.HasPrefix(pattern, "/") && strings.HasSuffix(pattern, "/") {
		re, err := regexp.Compile(pattern[1 : len(pattern)-1])
		if err != nil {
			return false, fmt.Errorf("%s is not a regular expression: %v", pattern, err)
		}
		return re.MatchString(output), nil
	}
	return strings.Contains(output, pattern), nil
}

// meta runs a :command; it reports whether to quit.
func (s *Shell) meta(ctx context.Context, line string) bool {
	f := strings.Fields(line)
	arg := ""
	if len(f) > 1 {
		arg = f[1]
	}
	switch f[0] {
	case ":quit", ":exit", ":q":
		return true
	case ":user":
		if _, ok := s.cfg.UserByName(arg); !ok {
			s.println(fmt.Sprintf("Unknown user %q; users: %s", arg, strings.Join(s.userNames(), ", ")))
			return false
		}
		s.User = arg
		s.setPrompt()
		s.println("You are now " + arg + ".")
	case ":channel":
		arg = strings.TrimPrefix(arg, "#")
		if arg == "" {
			s.println(fmt.Sprintf("Which channel? Channels: %s, or any other name for a channel mcloud is not configured for.", strings.Join(s.channelNames(), ", ")))
			return false
		}
		s.Channel = arg
		s.setPrompt()
		if _, ok := s.cfg.ChannelByName(arg); !ok {
			// Like #general in Slack: the shell must show what Slack would.
			s.println("You are now in #" + arg + ", a channel mcloud is not configured for: only you see its answers, and requests are refused here.")
			return false
		}
		s.println("You are now in #" + arg + ".")
	case ":whoami":
		c := s.caller()
		who := fmt.Sprintf("%s (%s, team %s) in #%s (%s): %s", c.Name, c.UserID, c.TeamID, s.Channel, c.ChannelKind, c.Role)
		if c.Approver {
			who += ", approver"
		}
		if c.Customer != "" {
			who += " of " + c.Customer
		}
		s.println(who)
	case ":wait":
		s.settle(ctx)
	case ":sleep":
		// For schedules: nothing is typed, yet work arrives.
		d, err := time.ParseDuration(arg)
		if err != nil || d <= 0 || d > 10*time.Minute {
			s.println(fmt.Sprintf(":sleep needs a duration up to 10m, like 5s, not %q.", arg))
			return false
		}
		select {
		case <-ctx.Done():
		case <-time.After(d):
		}
		s.settle(ctx)
	case ":sandbox":
		if s.Sandbox == nil {
			s.println(":sandbox changes the sandbox's stand-ins behind mcloud's back; it works only in mcloud shell --sandbox.")
			return false
		}
		s.println(s.Sandbox(ctx, f[1:]))
	case ":help":
		s.println(strings.Join([]string{
			"/mcloud ...      run a command as the current user in the current channel",
			":user NAME       become another configured user (" + strings.Join(s.userNames(), ", ") + ")",
			":channel NAME    move to another channel (" + strings.Join(s.channelNames(), ", ") + ")",
			":whoami          who and where you are, and your role",
			":wait            wait until queued and running jobs finish",
			":sleep DURATION  let time pass (schedules fire meanwhile), then wait like :wait",
			":expect TEXT     check that the previous line's output contains TEXT (/REGEXP/ for a regular",
			"                 expression); a script with a failed :expect exits non-zero",
			":sandbox ...     with --sandbox: change AWS or a host behind mcloud's back (:sandbox lists how)",
			":quit            leave (Ctrl-D too)",
		}, "\n"))
	default:
		s.println(fmt.Sprintf("Unknown shell command %s; type :help.", f[0]))
	}
	return false
}

// caller is the current user in the current channel, resolved as Slack's
// would be; a channel the configuration does not name stands for an
// unlisted Slack channel.
func (s *Shell) caller() mcloud.Caller {
	id, _ := s.cfg.UserByName(s.User)
	ch, ok := s.cfg.ChannelByName(s.Channel)
	if !ok {
		ch = config.Channel{ID: s.Channel, Name: s.Channel}
	}
	return s.cfg.Resolve(config.Identity{UserID: id.UserID, TeamID: id.TeamID, Name: id.Name}, ch.ID)
}

// settle waits until no job is queued or running and every message has
// been printed, or until Wait passes.
func (s *Shell) settle(ctx context.Context) {
	deadline := time.Now().Add(s.Wait)
	for {
		if s.Wait <= 0 {
			s.flushPosts(ctx)
			return
		}
		// Jobs first, then messages: a job's outcome is queued in the
		// transaction that ends it, so once no job is active its last
		// messages are already in the outbox for this flush to print.
		active, err := s.Outbox.Jobs(ctx, "", true, 1)
		if err != nil || ctx.Err() != nil {
			return
		}
		printed := s.flushPosts(ctx)
		if len(active) == 0 && printed == 0 {
			return
		}
		if time.Now().After(deadline) {
			s.println(fmt.Sprintf("(still running after %s; not waiting any longer)", s.Wait))
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *Shell) printPosts(ctx context.Context) {
	for ctx.Err() == nil {
		s.flushPosts(ctx)
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// flushPosts prints undelivered messages and marks them sent.
func (s *Shell) flushPosts(ctx context.Context) int {
	posts, err := s.Outbox.PendingPosts(ctx, 100)
	if err != nil {
		return 0
	}
	for _, p := range posts {
		s.println(indent(PostText(p, s.cfg)))
		s.Outbox.MarkSent(ctx, p.ID)
	}
	return len(posts)
}

func (s *Shell) promptText() string { return s.User + "@#" + s.Channel + "> " }

func (s *Shell) setPrompt() {
	if s.ed != nil {
		s.ed.SetPrompt(s.promptText())
	}
}

// setOut sets where the shell prints; a job's direct message may be
// printed from another goroutine at any time.
func (s *Shell) setOut(w io.Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.out = w
}

// println prints text and keeps it for :expect. The line editor redraws
// the prompt and what is being typed below text.
func (s *Shell) println(text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.output.WriteString(text + "\n")
	out := s.out
	if out == nil {
		out = s.Out // before Run: a job resumed at start
	}
	io.WriteString(out, text+"\n")
}

// echo prints a script's line, which is input, not output to check.
func (s *Shell) echo(text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	io.WriteString(s.out, text+"\n")
}

// autocomplete is the line editor's Tab: it completes the word before the
// cursor, or lists the choices when they part ways there.
func (s *Shell) autocomplete(line string, pos int, key rune) (string, int, bool) {
	if key != '\t' {
		return "", 0, false
	}
	newLine, newPos, choices := Complete(line, pos, s.completions())
	if len(choices) > 0 {
		// The editor's lock is free during this call; Write redraws the
		// prompt and the line under the list.
		io.WriteString(s.out, strings.Join(choices, "  ")+"\n")
		return line, pos, true
	}
	if newLine == line {
		return "", 0, false
	}
	return newLine, newPos, true
}

func (s *Shell) completions() Completions {
	c := Completions{Users: s.userNames(), Channels: s.channelNames(), Envs: map[string][]string{}}
	for _, v := range s.Service.Verbs() {
		if !v.Hidden {
			c.Verbs = append(c.Verbs, v.Name)
		}
	}
	for _, cu := range s.cfg.Customers {
		c.Customers = append(c.Customers, cu.Name)
		c.Envs[cu.Name] = cu.EnvNames()
	}
	return c
}

func (s *Shell) userNames() []string {
	var out []string
	for _, u := range s.cfg.Team.Users {
		out = append(out, u.Name)
	}
	for _, c := range s.cfg.Customers {
		for _, u := range c.Users {
			out = append(out, u.Name)
		}
	}
	return out
}

func (s *Shell) channelNames() []string {
	var out []string
	for _, c := range s.cfg.Team.Channels {
		out = append(out, c.Name)
	}
	for _, c := range s.cfg.Customers {
		out = append(out, c.Channel.Name)
	}
	return out
}

func indent(text string) string {
	return "  mcloud: " + strings.ReplaceAll(text, "\n", "\n          ")
}
