package alerts_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/alerts"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/monitoring"
	"github.com/mcloud/mcloud/integrations/store"
	"github.com/mcloud/mcloud/internal/storetest"
)

// BenchmarkStorm is the storm benchmark (go test -run '^$' -bench Storm -benchtime=1x
// ./alerts/; one round, it is slow): 10,000 Alertmanager alerts over 100
// problems through the real receiver, pipeline and store. Every POST ends
// 2xx (a 503 is retried), each channel gets at most its budget of problem
// messages plus one summary per interval, and the counts the messages show
// add up to 10,000. It prints ingest p50/p99 and alerts/second, and the
// same for a bare handler that only decodes, in the same run; it asserts
// no timing.
func BenchmarkStorm(b *testing.B) {
	for b.Loop() {
		storm(b)
	}
}

func storm(t testing.TB) {
	cfg, err := config.Load("../examples/mcloud.yaml")
	if err != nil {
		t.Fatal(err)
	}
	db := storetest.Open(t, "")
	p := alerts.New(db, cfg, nil)
	real := monitoring.Alertmanager(monitoring.Auth{Token: "t"}, monitoring.Options{}, p.Receive)
	bare := monitoring.Alertmanager(monitoring.Auth{Token: "t"}, monitoring.Options{}, func(context.Context, []mcloud.Alert) error { return nil })

	const total, problems, clients = 10000, 100, 16
	body := func(i int) string {
		return fmt.Sprintf(`{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"Storm%d","severity":"critical","customer":"customer-x"},"annotations":{},"startsAt":"2026-12-02T05:00:00Z","fingerprint":"storm-%d"}]}`, i%problems, i%problems)
	}
	run := func(h http.Handler) (lat []time.Duration, retries int, took time.Duration) {
		srv := httptest.NewServer(h)
		defer srv.Close()
		// Keep a connection per client, as a sender does, rather than
		// dialling anew for all but two of them (the default).
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
		defer client.CloseIdleConnections()
		var mu sync.Mutex
		var wg sync.WaitGroup
		next := make(chan int)
		start := time.Now()
		for range clients {
			wg.Go(func() {
				for i := range next {
					t0 := time.Now()
					for {
						req, _ := http.NewRequest("POST", srv.URL, strings.NewReader(body(i)))
						req.Header.Set("Authorization", "Bearer t")
						resp, err := client.Do(req)
						if err != nil {
							t.Error(err)
							return
						}
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode == 503 {
							mu.Lock()
							retries++
							mu.Unlock()
							time.Sleep(10 * time.Millisecond)
							continue
						}
						if resp.StatusCode/100 != 2 {
							t.Errorf("alert %d: HTTP %d", i, resp.StatusCode)
						}
						break
					}
					mu.Lock()
					lat = append(lat, time.Since(t0))
					mu.Unlock()
				}
			})
		}
		for i := range total {
			next <- i
		}
		close(next)
		wg.Wait()
		return lat, retries, time.Since(start)
	}
	report := func(name string, lat []time.Duration, retries int, took time.Duration) {
		slices.Sort(lat)
		t.Logf("%-28s %d alerts in %s: %.0f alerts/s, p50 %s, p99 %s, %d retried 503s", name, len(lat), took.Round(time.Millisecond),
			float64(len(lat))/took.Seconds(), lat[len(lat)/2], lat[len(lat)*99/100], retries)
	}
	lat, retries, took := run(bare)
	report("bare handler (decode only)", lat, retries, took)
	lat, retries, took = run(real)
	report("receiver+route+store", lat, retries, took)

	n, err := db.AlertCounted(context.Background())
	if err != nil || n != total {
		t.Fatalf("counted %d alerts (%v), want %d", n, err, total)
	}
	// The newest text of every message in the customer's channel: the
	// counts shown add up to every alert (once the summary's last
	// rendering, at most a second after the storm, is queued).
	var created, shown int
	deadline := time.Now().Add(time.Minute)
	for {
		created, shown = channelCounts(t, db, "C0CUSTX")
		if shown == total || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("customer-x's channel: %d messages created (budget 10 per minute, plus a summary per minute), counts shown add up to %d", created, shown)
	if shown != total {
		t.Errorf("the messages' counts add up to %d, want %d", shown, total)
	}
	if created > 10*3+3 { // at most three one-minute intervals in a slow run
		t.Errorf("%d messages created for 100 problems: the storm was not folded", created)
	}
}

// channelCounts reads channel's outbox: how many messages were created,
// and the sum of the counts their newest texts show.
func channelCounts(t testing.TB, db *store.DB, channel string) (created, shown int) {
	items, err := db.OutboxItems(context.Background(), channel)
	if err != nil {
		t.Fatal(err)
	}
	latest := map[int64]store.OutboxItem{}
	for _, it := range items {
		if it.Kind == store.KindPlan {
			created++
		}
		if it.Kind != store.KindPost {
			latest[it.RequestID] = it
		}
	}
	own := regexp.MustCompile(`, ([\d,]+) alerts? from`)
	storm := regexp.MustCompile(`: ([\d,]+) alerts? in ([\d,]+) problems?`)
	for _, it := range latest {
		m := own.FindStringSubmatch(it.Text)
		if m == nil {
			m = storm.FindStringSubmatch(it.Text)
		}
		if m == nil {
			t.Fatalf("message without a count: %q", it.Text)
		}
		c, _ := strconv.Atoi(strings.ReplaceAll(m[1], ",", ""))
		shown += c
	}
	return created, shown
}
