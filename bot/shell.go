package bot

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

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
	// Interactive shows a prompt and prints job messages as they come.
	// Otherwise (a script on stdin) each input line is echoed and the shell
	// waits for the jobs it started, so a transcript reads in order.
	Interactive bool
	User        string
	Channel     string
	// Wait bounds how long a script waits for jobs after a line.
	Wait time.Duration

	mu  sync.Mutex
	cfg *config.Config
}

// Run reads lines until EOF or :quit.
func (s *Shell) Run(ctx context.Context) error {
	s.cfg = s.Service.Config()
	if s.Wait == 0 {
		s.Wait = 10 * time.Minute
	}
	if _, ok := s.cfg.UserByName(s.User); !ok {
		return fmt.Errorf("unknown user %q; users: %s", s.User, strings.Join(s.userNames(), ", "))
	}
	if _, ok := s.cfg.ChannelByName(s.Channel); !ok {
		return fmt.Errorf("unknown channel %q; channels: %s", s.Channel, strings.Join(s.channelNames(), ", "))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if s.Interactive {
		s.println("mcloud shell: type /mcloud help, or :help for shell commands. Ctrl-D quits.")
		go s.printPosts(ctx)
	}
	in := bufio.NewScanner(s.In)
	in.Buffer(make([]byte, 64*1024), 1024*1024)
	for {
		s.prompt()
		if !in.Scan() {
			break
		}
		line := strings.TrimSpace(in.Text())
		if !s.Interactive && line != "" {
			s.println(s.promptText() + line)
		}
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
			continue
		case strings.HasPrefix(line, ":"):
			if quit := s.meta(ctx, line); quit {
				return nil
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
	if err := in.Err(); err != nil {
		return fmt.Errorf("read input: %w", err)
	}
	if !s.Interactive {
		s.settle(ctx)
	}
	return nil
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
		s.println("You are now " + arg + ".")
	case ":channel":
		arg = strings.TrimPrefix(arg, "#")
		if arg == "" {
			s.println(fmt.Sprintf("Which channel? Channels: %s, or any other name for a channel mcloud is not configured for.", strings.Join(s.channelNames(), ", ")))
			return false
		}
		s.Channel = arg
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
	case ":help":
		s.println(strings.Join([]string{
			"/mcloud ...      run a command as the current user in the current channel",
			":user NAME       become another configured user (" + strings.Join(s.userNames(), ", ") + ")",
			":channel NAME    move to another channel (" + strings.Join(s.channelNames(), ", ") + ")",
			":whoami          who and where you are, and your role",
			":wait            wait until queued and running jobs finish",
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
		printed := s.flushPosts(ctx)
		active, err := s.Outbox.Jobs(ctx, "", true, 1)
		if err != nil || ctx.Err() != nil {
			return
		}
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
		if s.flushPosts(ctx) > 0 {
			s.prompt()
		}
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

func (s *Shell) prompt() {
	if s.Interactive {
		s.mu.Lock()
		fmt.Fprint(s.Out, s.promptText())
		s.mu.Unlock()
	}
}

func (s *Shell) println(text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Interactive {
		fmt.Fprint(s.Out, "\r")
	}
	fmt.Fprintln(s.Out, text)
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
