package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcloud/mcloud/bot/slackfake"
)

// TestServeUnauthenticatedResourceUse attacks `mcloud serve` (the real
// binary, HTTP mode) as nobody who knows the signing secret can: 300
// connections trickling a body a byte every 2 s, then 800 concurrent
// unsigned 1 MiB bodies, then 800 concurrent 1 MiB bodies with forged but
// well-formed signatures. The server must close the trickling connections
// itself, answer unsigned requests without reading their bodies, and keep
// its memory and open files bounded; it prints open files, held
// connections and peak RSS before and after each attack.
func TestServeUnauthenticatedResourceUse(t *testing.T) {
	bin := mcloudBinary(t)
	ws := slackfake.New(t)
	srv := startServe(t, bin, slackConfig(t, ws), filepath.Join(t.TempDir(), "mcloud.db"))
	addr := strings.TrimPrefix(srv.base(t), "http://")
	pid := srv.cmd.Process.Pid
	time.Sleep(time.Second) // let start-up settle before the baseline
	report := func(when string) procStats {
		st := readProc(t, pid)
		t.Logf("%-44s open files %4d, held connections %4d, RSS %4d MB, peak RSS %4d MB", when+":", st.fds, st.sockets, st.rssKB/1024, st.hwmKB/1024)
		return st
	}
	base := report("before any attack")
	stamp := strconv.FormatInt(time.Now().Unix(), 10)
	forged := "X-Slack-Request-Timestamp: " + stamp + "\r\nX-Slack-Signature: v0=" + strings.Repeat("0f", 32) + "\r\n"

	t.Run("unsigned body is refused before it is sent", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /slack/commands HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n", 1<<20)
		conn.SetReadDeadline(time.Now().Add(30 * time.Second)) // a failsafe, not a measure
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("no answer to an unsigned request whose body was never sent: %v", err)
		}
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("unsigned request answered %d, want 401", resp.StatusCode)
		}
	})

	t.Run("300 trickling bodies", func(t *testing.T) {
		const n = 300
		// open: connections not closed yet; held: those the server had
		// not closed when the test gave up on them.
		var open, held atomic.Int64
		var wg sync.WaitGroup
		for range n {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			open.Add(1)
			wg.Go(func() {
				defer open.Add(-1)
				defer conn.Close()
				fmt.Fprintf(conn, "POST /slack/commands HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n%sContent-Length: 1000\r\n\r\n", forged)
				closed := make(chan struct{})
				go func() {
					defer close(closed)
					conn.SetReadDeadline(time.Now().Add(60 * time.Second)) // the failsafe
					// Until the server closes the connection.
					if _, err := bufio.NewReader(conn).WriteTo(discardWriter{}); err != nil {
						if ne, ok := err.(net.Error); ok && ne.Timeout() {
							held.Add(1)
						}
					}
				}()
				tick := time.NewTicker(2 * time.Second)
				defer tick.Stop()
				for {
					select {
					case <-closed:
						return
					case <-tick.C:
						conn.Write([]byte("a"))
					}
				}
			})
		}
		time.Sleep(3 * time.Second)
		during := report("300 trickling bodies, after 3 s")
		wg.Wait()
		after := report("300 trickling bodies, when all were closed")
		t.Logf("%d of %d trickling connections were closed by the server", n-int(held.Load()), n)
		_ = during
		if held.Load() != 0 || open.Load() != 0 {
			t.Fatalf("the server kept %d of %d trickling connections open for 60 s", held.Load(), n)
		}
		if after.sockets > base.sockets+5 {
			t.Errorf("the server still holds %d connections", after.sockets-base.sockets)
		}
	})

	flood := func(t *testing.T, header string, want ...int) {
		const n = 800
		body := bytes.Repeat([]byte("a"), 1<<20)
		var wg sync.WaitGroup
		var mu sync.Mutex
		statuses := map[int]int{}
		start := make(chan struct{})
		for range n {
			wg.Go(func() {
				conn, err := net.Dial("tcp", addr)
				if err != nil {
					mu.Lock()
					statuses[-1]++
					mu.Unlock()
					return
				}
				defer conn.Close()
				<-start
				conn.SetDeadline(time.Now().Add(2 * time.Minute)) // the failsafe
				go func() {
					fmt.Fprintf(conn, "POST /slack/commands HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n%sContent-Length: %d\r\n\r\n", header, len(body))
					conn.Write(body)
				}()
				status := 0
				if resp, err := http.ReadResponse(bufio.NewReader(conn), nil); err == nil {
					status = resp.StatusCode
				}
				mu.Lock()
				statuses[status]++
				mu.Unlock()
			})
		}
		close(start)
		wg.Wait()
		t.Logf("answers (status: count; 0 is none): %v", statuses)
		for status := range statuses {
			if !containsInt(want, status) {
				t.Errorf("%d requests answered %d; want only %v", statuses[status], status, want)
			}
		}
	}
	t.Run("800 unsigned 1 MiB bodies", func(t *testing.T) {
		flood(t, "", http.StatusUnauthorized)
		report("after 800 unsigned 1 MiB bodies")
		time.Sleep(2 * time.Second)
		report("2 s later")
	})
	t.Run("800 forged 1 MiB bodies", func(t *testing.T) {
		// Well-formed headers pass the cheap checks: at most the guard's
		// readers are read at once, the others are refused (503).
		flood(t, forged, http.StatusUnauthorized, http.StatusServiceUnavailable)
		report("after 800 forged 1 MiB bodies")
		time.Sleep(2 * time.Second)
		report("2 s later")
	})
	final := readProc(t, pid)
	if srv.cmd.ProcessState != nil {
		t.Fatalf("the server died:\n%s", srv.output())
	}
	t.Logf("peak RSS %d MB → %d MB; open files %d → %d", base.hwmKB/1024, final.hwmKB/1024, base.fds, final.fds)
}

type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }

func containsInt(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// procStats is what a process holds, from /proc.
type procStats struct {
	fds, sockets int
	rssKB, hwmKB int
}

func readProc(t *testing.T, pid int) procStats {
	t.Helper()
	var st procStats
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 {
			switch f[0] {
			case "VmRSS:":
				st.rssKB, _ = strconv.Atoi(f[1])
			case "VmHWM:":
				st.hwmKB, _ = strconv.Atoi(f[1])
			}
		}
	}
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	st.fds = len(ents)
	for _, e := range ents {
		if link, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && strings.HasPrefix(link, "socket:") {
			st.sockets++
		}
	}
	return st
}
