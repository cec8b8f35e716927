package sshsandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	xssh "golang.org/x/crypto/ssh"

	mssh "github.com/mcloud/mcloud/integrations/ssh"
)

// exec runs a command line the way the host's shell would, for the small
// language the sandbox understands.
func (h *Host) exec(ctx context.Context, cancel context.CancelCauseFunc, line string, ch xssh.Channel) int {
	words, err := tokenize(line)
	if err != nil {
		fmt.Fprintf(ch.Stderr(), "sh: syntax error: %v\n", err)
		return 2
	}
	// The client wraps Run commands in a guard script (see the ssh
	// package) that ends the command when stdin closes; emulate that
	// instead of interpreting the script.
	if cmd, ok := unguard(words); ok {
		h.record(cmd)
		go func() {
			io.Copy(io.Discard, ch)
			cancel(signalError("TERM"))
		}()
		return h.runLine(ctx, cmd, eofReader{}, ch, ch.Stderr())
	}
	h.record(line)
	return h.runWords(ctx, words, ch, ch, ch.Stderr())
}

// unguard recognises `exec /bin/sh -c SCRIPT mcloud-guard CMD`.
func unguard(words []token) (string, bool) {
	var w []string
	for _, t := range words {
		if t.op != "" {
			return "", false
		}
		w = append(w, t.word)
	}
	if len(w) > 0 && w[0] == "exec" {
		w = w[1:]
	}
	if len(w) == 5 && (w[0] == "/bin/sh" || w[0] == "sh") && w[1] == "-c" && w[3] == mssh.GuardName {
		return w[4], true
	}
	return "", false
}

func (h *Host) record(line string) {
	h.mu.Lock()
	h.log = append(h.log, line)
	h.mu.Unlock()
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

func (h *Host) runLine(ctx context.Context, line string, stdin io.Reader, stdout, stderr io.Writer) int {
	words, err := tokenize(line)
	if err != nil {
		fmt.Fprintf(stderr, "sh: syntax error: %v\n", err)
		return 2
	}
	return h.runWords(ctx, words, stdin, stdout, stderr)
}

type token struct {
	word string
	op   string // "&&", "||", ";", ">", ">>" or "" for a word
}

// tokenize splits a POSIX-ish command line: quotes, backslashes, the
// operators && || ; > >> and newlines as ;.
func tokenize(s string) ([]token, error) {
	var toks []token
	var cur strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			toks = append(toks, token{word: cur.String()})
			cur.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated '")
			}
			cur.WriteString(s[i+1 : i+1+j])
			inWord = true
			i += j + 1
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.ContainsRune(`"\$`+"`", rune(s[i+1])) {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New(`unterminated "`)
			}
			inWord = true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == ' ' || c == '\t':
			flush()
		case c == '\n' || c == ';':
			flush()
			toks = append(toks, token{op: ";"})
		case c == '&' && i+1 < len(s) && s[i+1] == '&':
			flush()
			toks = append(toks, token{op: "&&"})
			i++
		case c == '|' && i+1 < len(s) && s[i+1] == '|':
			flush()
			toks = append(toks, token{op: "||"})
			i++
		case c == '>':
			flush()
			if i+1 < len(s) && s[i+1] == '>' {
				toks = append(toks, token{op: ">>"})
				i++
			} else {
				toks = append(toks, token{op: ">"})
			}
		case c == '|' || c == '&' || c == '<' || c == '`' || c == '(' || c == ')':
			return nil, fmt.Errorf("%q is not supported by the sandbox shell", c)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	flush()
	return toks, nil
}

// runWords executes simple commands joined by && || ;.
func (h *Host) runWords(ctx context.Context, toks []token, stdin io.Reader, stdout, stderr io.Writer) int {
	status := 0
	skip := false
	var args []string
	redirect, appendTo := "", false
	runOne := func() {
		defer func() { args, redirect, appendTo = nil, "", false }()
		if skip || len(args) == 0 {
			return
		}
		out := stdout
		var buf *bytes.Buffer
		if redirect != "" {
			buf = &bytes.Buffer{}
			out = buf
		}
		status = h.runCommand(ctx, args, stdin, out, stderr)
		if buf != nil && status == 0 {
			h.mu.Lock()
			f := h.files[redirect]
			if appendTo {
				f.data = append(f.data, buf.Bytes()...)
			} else {
				f.data = append([]byte(nil), buf.Bytes()...)
			}
			if f.mode == 0 {
				f.mode = 0o644
			}
			h.files[redirect] = f
			h.mu.Unlock()
		}
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch t.op {
		case "":
			args = append(args, t.word)
		case ">", ">>":
			if i+1 >= len(toks) || toks[i+1].op != "" {
				fmt.Fprintln(stderr, "sh: syntax error: redirection without a file")
				return 2
			}
			redirect, appendTo = toks[i+1].word, t.op == ">>"
			i++
		default:
			runOne()
			if ctx.Err() != nil {
				return 143
			}
			switch t.op {
			case "&&":
				skip = status != 0
			case "||":
				skip = status == 0
			default:
				skip = false
			}
		}
	}
	runOne()
	return status
}

func (h *Host) runCommand(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if fn := h.spec.Commands[args[0]]; fn != nil {
		return fn(ctx, h, args, stdin, stdout, stderr)
	}
	switch args[0] {
	case "exec":
		if len(args) == 1 {
			return 0
		}
		return h.runCommand(ctx, args[1:], stdin, stdout, stderr)
	case "sh", "/bin/sh", "bash", "/bin/bash":
		if len(args) >= 3 && args[1] == "-c" {
			return h.runLine(ctx, args[2], stdin, stdout, stderr)
		}
	case "hostname":
		fmt.Fprintln(stdout, h.Name)
		return 0
	case "true", ":":
		return 0
	case "false":
		return 1
	case "exit":
		if len(args) > 1 {
			n, _ := strconv.Atoi(args[1])
			return n
		}
		return 0
	case "echo":
		fmt.Fprintln(stdout, strings.Join(args[1:], " "))
		return 0
	case "sleep":
		if len(args) != 2 {
			break
		}
		d, err := strconv.ParseFloat(args[1], 64)
		if err != nil {
			fmt.Fprintf(stderr, "sleep: invalid time interval '%s'\n", args[1])
			return 1
		}
		select {
		case <-time.After(time.Duration(d * float64(time.Second))):
			return 0
		case <-ctx.Done():
			return 143
		}
	case "cat":
		return h.cat(args[1:], stdin, stdout, stderr)
	case "chmod":
		return h.chmod(args[1:], stderr)
	case "mv":
		return h.mv(args[1:], stderr)
	case "rm":
		return h.rm(args[1:], stderr)
	case "systemctl":
		return h.systemctl(args[1:], stdout, stderr)
	case "apply-patch":
		return h.applyPatch(args[1:], stdout, stderr)
	case "healthcheck":
		if h.healthy() {
			fmt.Fprintln(stdout, "ok")
			return 0
		}
		fmt.Fprintln(stderr, "unhealthy")
		return 1
	case "curl":
		return h.curl(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "sh: 1: %s: not found\n", args[0])
	return 127
}

func (h *Host) cat(files []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(files) == 0 {
		if _, err := io.Copy(stdout, stdin); err != nil {
			return 1
		}
		return 0
	}
	for _, p := range files {
		data, ok := h.File(p)
		if !ok {
			fmt.Fprintf(stderr, "cat: %s: No such file or directory\n", p)
			return 1
		}
		stdout.Write(data)
	}
	return 0
}

func (h *Host) chmod(args []string, stderr io.Writer) int {
	if len(args) != 2 {
		fmt.Fprintln(stderr, "chmod: usage: chmod MODE FILE")
		return 1
	}
	mode, err := strconv.ParseUint(args[0], 8, 32)
	if err != nil {
		fmt.Fprintf(stderr, "chmod: invalid mode: '%s'\n", args[0])
		return 1
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	f, ok := h.files[args[1]]
	if !ok {
		fmt.Fprintf(stderr, "chmod: cannot access '%s': No such file or directory\n", args[1])
		return 1
	}
	f.mode = uint32(mode)
	h.files[args[1]] = f
	return 0
}

func (h *Host) mv(args []string, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "-f" {
		args = args[1:]
	}
	if len(args) != 2 {
		fmt.Fprintln(stderr, "mv: usage: mv [-f] SRC DST")
		return 1
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	f, ok := h.files[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "mv: cannot stat '%s': No such file or directory\n", args[0])
		return 1
	}
	delete(h.files, args[0])
	h.files[args[1]] = f
	return 0
}

func (h *Host) rm(args []string, stderr io.Writer) int {
	force := len(args) > 0 && args[0] == "-f"
	if force {
		args = args[1:]
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range args {
		if _, ok := h.files[p]; !ok && !force {
			fmt.Fprintf(stderr, "rm: cannot remove '%s': No such file or directory\n", p)
			return 1
		}
		delete(h.files, p)
	}
	return 0
}

// systemctl mimics systemd's exit codes: 3 for an inactive unit in
// status/is-active, 5 for start of an unknown unit, 4 for status of one.
func (h *Host) systemctl(args []string, stdout, stderr io.Writer) int {
	if len(args) != 2 {
		fmt.Fprintln(stderr, "systemctl: usage: systemctl start|stop|restart|status|is-active UNIT")
		return 1
	}
	verb, unit := args[0], strings.TrimSuffix(args[1], ".service")
	h.mu.Lock()
	defer h.mu.Unlock()
	active, known := h.services[unit]
	switch verb {
	case "start", "restart":
		if !known {
			fmt.Fprintf(stderr, "Failed to %s %s.service: Unit %s.service not found.\n", verb, unit, unit)
			return 5
		}
		h.services[unit] = true
		return 0
	case "stop":
		if !known {
			fmt.Fprintf(stderr, "Failed to stop %s.service: Unit %s.service not loaded.\n", unit, unit)
			return 5
		}
		h.services[unit] = false
		return 0
	case "is-active", "status":
		state := "inactive"
		if active {
			state = "active"
		}
		if !known {
			if verb == "status" {
				fmt.Fprintf(stderr, "Unit %s.service could not be found.\n", unit)
				return 4
			}
			fmt.Fprintln(stdout, "inactive")
			return 3
		}
		if verb == "status" {
			fmt.Fprintf(stdout, "● %s.service\n     Active: %s\n", unit, state)
		} else {
			fmt.Fprintln(stdout, state)
		}
		if !active {
			return 3
		}
		return 0
	}
	fmt.Fprintf(stderr, "Unknown command verb %s.\n", verb)
	return 1
}

func (h *Host) applyPatch(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "apply-patch: usage: apply-patch FILE")
		return 1
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.files[args[0]]; !ok {
		fmt.Fprintf(stderr, "apply-patch: %s: No such file or directory\n", args[0])
		return 1
	}
	if h.spec.FailApply {
		fmt.Fprintf(stderr, "apply-patch: %s: dependency conflict, nothing changed\n", args[0])
		return 1
	}
	h.applied = append(h.applied, args[0])
	fmt.Fprintf(stdout, "applied %s\n", args[0])
	return 0
}

// curl fetches from the host's own HTTP handler, like curl on the host
// would from its loopback. -f makes HTTP errors exit 22, as curl does.
func (h *Host) curl(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fail := false
	var url string
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			fail = fail || strings.Contains(a, "f")
			continue
		}
		url = a
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintf(stderr, "curl: (3) URL rejected: %v\n", err)
		return 3
	}
	tr := &http.Transport{DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
		host, port, _ := net.SplitHostPort(addr)
		if (host != "127.0.0.1" && host != "localhost") || port != strconv.Itoa(h.httpPort) {
			return nil, errors.New("connection refused")
		}
		a, b := net.Pipe()
		if !h.httpLn.push(a) {
			return nil, errors.New("connection refused")
		}
		return b, nil
	}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "curl: (7) Failed to connect: %v\n", err)
		return 7
	}
	defer resp.Body.Close()
	if fail && resp.StatusCode >= 400 {
		fmt.Fprintf(stderr, "curl: (22) The requested URL returned error: %d\n", resp.StatusCode)
		return 22
	}
	io.Copy(stdout, resp.Body)
	return 0
}
