package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// openPTY opens a pseudo-terminal: the shell gets the terminal end as its
// stdin and stdout, the test types into and reads from the other end, as
// a person at a terminal would.
func openPTY(t *testing.T) (user, tty *os.File) {
	t.Helper()
	user, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open a pseudo-terminal: %v", err)
	}
	var unlock int32
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, user.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); errno != 0 {
		t.Fatalf("unlock the pseudo-terminal: %v", errno)
	}
	var n uint32
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, user.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); errno != 0 {
		t.Fatalf("name the pseudo-terminal: %v", errno)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open the terminal end: %v", err)
	}
	t.Cleanup(func() { user.Close(); tty.Close() })
	return user, tty
}

// screen collects what the shell writes to the terminal.
type screen struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// waitFor waits until the screen shows want count times.
func (s *screen) waitFor(t *testing.T, want string, count int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for strings.Count(s.String(), want) < count {
		if time.Now().After(deadline) {
			t.Fatalf("the terminal never showed %q %d times:\n%s", want, count, s.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// interactiveShell runs `mcloud shell` on a terminal and returns the
// keyboard, the screen, and a wait for its exit code.
func interactiveShell(t *testing.T, history string) (keys func(string), scr *screen, exit func() int) {
	t.Helper()
	user, tty := openPTY(t)
	scr = &screen{}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := user.Read(b)
			scr.mu.Lock()
			scr.buf.Write(b[:n])
			scr.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	code := make(chan int, 1)
	var stderr bytes.Buffer
	go func() {
		code <- Run(ctx, []string{"shell", "--history", history}, tty, tty, &stderr)
	}()
	scr.waitFor(t, "alice@#devops> ", 1)
	keys = func(s string) {
		if _, err := user.Write([]byte(s)); err != nil {
			t.Fatalf("type %q: %v", s, err)
		}
	}
	exit = func() int {
		select {
		case c := <-code:
			if c != 0 {
				t.Logf("stderr: %s", stderr.String())
			}
			return c
		case <-time.After(time.Minute):
			t.Fatalf("the shell did not exit:\n%s", scr.String())
			return -1
		}
	}
	return keys, scr, exit
}

const (
	keyUp  = "\x1b[A"
	keyTab = "\t"
	ctrlD  = "\x04"
	ctrlU  = "\x15"
)

// On a terminal the shell edits lines: Tab completes commands, customers
// and environments, the up arrow recalls the previous line instead of
// printing ^[[A, and what was typed is there again in the next run.
func TestShellTerminalEditing(t *testing.T) {
	history := filepath.Join(t.TempDir(), "state", "mcloud", "history")
	keys, scr, exit := interactiveShell(t, history)

	keys("/mcloud sta" + keyTab + "cus" + keyTab + "y" + keyTab + "d" + keyTab + "\r")
	scr.waitFor(t, "/mcloud status customer-y dev ", 1)
	scr.waitFor(t, "Status of customer-y", 1)
	keys(":user c" + keyTab + "\r")
	scr.waitFor(t, "You are now carol.", 1)
	keys(":user alice\r")
	scr.waitFor(t, "You are now alice.", 1)
	// Up three times: back to the status line, run again.
	keys(keyUp + keyUp + keyUp + "\r")
	scr.waitFor(t, "/mcloud status customer-y dev", 2)
	scr.waitFor(t, "Status of customer-y", 2)
	// Where the choices part ways, Tab lists them; Ctrl-U clears the line.
	keys("/mcloud backup" + keyTab)
	scr.waitFor(t, "backup  backups\r\n", 1)
	keys(ctrlU + ctrlD)
	if code := exit(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	out := scr.String()
	t.Logf("the terminal showed:\n%q", out)
	for _, bad := range []string{"^[[A", "^I", "Unknown command", "not a command"} {
		if strings.Contains(out, bad) {
			t.Errorf("the terminal shows %q:\n%s", bad, out)
		}
	}
	if n := strings.Count(out, "mcloud: Error"); n != 0 {
		t.Errorf("%d errors on the terminal:\n%s", n, out)
	}

	data, err := os.ReadFile(history)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(data), "/mcloud status customer-y dev\n:user carol\n:user alice\n/mcloud status customer-y dev\n"; got != want {
		t.Fatalf("history file = %q, want %q", got, want)
	}

	// The next run remembers: up twice recalls the first run's last :user.
	keys, scr, exit = interactiveShell(t, history)
	keys(keyUp + keyUp + "\r")
	scr.waitFor(t, "You are now alice.", 1)
	keys(ctrlD)
	if code := exit(); code != 0 {
		t.Fatalf("second run: exit %d", code)
	}
}
