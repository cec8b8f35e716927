package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcloud/mcloud/bot/slackfake"
	"github.com/mcloud/mcloud/integrations/store"
	"github.com/mcloud/mcloud/internal/httpguard"
)

// TestAlertReceiversGuarded: serve's alert receivers read bodies through
// the HTTP guard. A sender without the token is refused on its headers,
// before it sends its body; a body over 1 MiB is 413 and stores nothing;
// with every body reader held by senders that trickle their bodies, a
// further alert is answered 503 with Retry-After (never a 4xx, so the
// sender retries), and once they are gone the retry is taken.
func TestAlertReceiversGuarded(t *testing.T) {
	bin := mcloudBinary(t)
	ws := slackfake.New(t)
	cfg := alertsConfig(t, ws, "")
	t.Setenv("MCLOUD_AM_TOKEN", alertsToken)
	dbPath := filepath.Join(t.TempDir(), "mcloud.db")
	addr := listenAddr(t, startServe(t, bin, cfg, dbPath))
	const alert = `{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"DiskFull","severity":"critical","customer":"customer-x"},"annotations":{},"startsAt":"2026-12-02T05:00:00Z","fingerprint":"guard-1"}]}`
	post := func(body string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", "http://"+addr+"/alerts/alertmanager", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+alertsToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	// A raw request: its headers, and only the first byte of a body.
	trickle := func(token string) net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		fmt.Fprintf(c, "POST /alerts/alertmanager HTTP/1.1\r\nHost: mcloud\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n{", token, len(alert))
		return c
	}

	c := trickle("wrong")
	c.SetReadDeadline(time.Now().Add(time.Minute))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !resp.Close {
		t.Fatalf("wrong token, body not sent: %v %v; want 401 and the connection closed", resp, err)
	}
	if resp := post(alert[:len(alert)-1] + `,"pad":"` + strings.Repeat("x", 1<<20) + `"}`); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("body over 1 MiB: HTTP %d, want 413", resp.StatusCode)
	}

	var slow []net.Conn
	for range httpguard.DefaultReaders {
		slow = append(slow, trickle(alertsToken))
	}
	var busy *http.Response
	waitDB(t, time.Minute, "an alert refused with 503 while every body reader is held", func() bool {
		busy = post(alert)
		return busy.StatusCode == http.StatusServiceUnavailable
	})
	if busy.Header.Get("Retry-After") == "" {
		t.Errorf("503 without Retry-After")
	}
	for _, c := range slow {
		c.Close()
	}
	waitDB(t, time.Minute, "the retried alert to be taken", func() bool { return post(alert).StatusCode == http.StatusOK })

	db, err := store.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ps, err := db.OpenProblems(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	// Only whole, authenticated alerts were stored: the probes that got
	// in before the readers were all held, and the retry.
	for _, p := range ps {
		if p.Key != "guard-1" {
			t.Errorf("stored problem %q", p.Key)
		}
	}
	if len(ps) != 1 {
		t.Errorf("%d problems stored, want 1", len(ps))
	}
}
