package httpguard_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mcloud/mcloud/internal/httpguard"
)

func TestGuard(t *testing.T) {
	release := make(chan struct{})
	inVerify := make(chan struct{}, 1)
	g := httpguard.New(httpguard.Options{MaxBody: 64, Readers: 1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	check := func(h http.Header) error {
		if h.Get("X-Token") == "" {
			return errors.New("no token")
		}
		return nil
	}
	verify := func(h http.Header, body []byte) error {
		if string(body) == "slow" {
			inVerify <- struct{}{}
			<-release
		}
		if h.Get("X-Token") != "good" {
			return errors.New("bad token")
		}
		return nil
	}
	srv := httptest.NewServer(g.Wrap(check, verify, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := httpguard.Body(r)
		fmt.Fprintf(w, "%v %s", ok, body)
	})))
	defer srv.Close()
	post := func(token, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
		if token != "" {
			req.Header.Set("X-Token", token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	if code, body := post("good", "hello"); code != http.StatusOK || body != "true hello" {
		t.Fatalf("good request: %d %q", code, body)
	}
	if code, _ := post("forged", "hello"); code != http.StatusUnauthorized {
		t.Fatalf("bad token: %d, want 401", code)
	}
	if code, _ := post("good", strings.Repeat("x", 65)); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("65 bytes: %d, want 413", code)
	}

	// Refused on its headers, before its body is sent.
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 60\r\n\r\n")
	conn.SetReadDeadline(time.Now().Add(30 * time.Second)) // a failsafe
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !resp.Close {
		t.Fatalf("no token, no body sent: %v %v; want 401 and the connection closed", resp, err)
	}

	// One reader: while it is busy, the next is refused, not queued.
	done := make(chan int)
	go func() { code, _ := post("good", "slow"); done <- code }()
	<-inVerify
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("next"))
	req.Header.Set("X-Token", "good")
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusServiceUnavailable || r2.Header.Get("Retry-After") != "1" {
		t.Fatalf("with the reader busy: %d, want 503 with Retry-After", r2.StatusCode)
	}
	close(release)
	if code := <-done; code != http.StatusOK {
		t.Fatalf("slow request: %d", code)
	}
	if code, _ := post("good", "after"); code != http.StatusOK {
		t.Fatalf("after the reader was free again: %d", code)
	}
}

// A body not read in time (a slow sender, or a machine too busy to read
// it) is answered 503 with Retry-After, which Alertmanager and SNS retry,
// not a 4xx they drop; the connection is closed.
func TestSlowBodyIsRetried(t *testing.T) {
	g := httpguard.New(httpguard.Options{BodyTimeout: 200 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ok := func(http.Header) error { return nil }
	srv := httptest.NewServer(g.Wrap(ok, func(http.Header, []byte) error { return nil }, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the handler ran for a body never sent in full")
	})))
	defer srv.Close()
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 60\r\n\r\nhalf a body")
	conn.SetReadDeadline(time.Now().Add(30 * time.Second)) // a failsafe
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !resp.Close {
		t.Fatalf("a body not sent in time: %d, Retry-After %q, closed %v; want 503 with Retry-After, closed", resp.StatusCode, resp.Header.Get("Retry-After"), resp.Close)
	}
}
