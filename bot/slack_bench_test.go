package bot

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcloud/mcloud/internal/pgtest"
)

// BenchmarkSlashAck sends signed slash commands to the real handler (real
// store, dedupe row and delivery committed before the 200, its work
// running meanwhile) from 50 concurrent clients and reports the
// acknowledgement latency, next to a bare net/http handler measured in the
// same run with the same client, on SQLite and on PostgreSQL. Run it with
// a fixed count, for example:
//
//	go test -run '^$' -bench SlashAck -benchtime 2000x ./bot/
func BenchmarkSlashAck(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			o := harnessOptions{}
			if backend == "postgres" {
				o.dsn = pgtest.URL(b)
			}
			slashAck(b, backend, newHarness(b, o))
		})
	}
}

func slashAck(b *testing.B, backend string, h *harness) {
	const concurrency = 50
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
	defer bare.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency, MaxConnsPerHost: concurrency}}

	bodies := make([][]byte, b.N)
	for i := range bodies {
		bodies[i] = h.slashBody(alice, devops, "help")
	}
	// busy counts acknowledgements that said the bot was too busy (an
	// ephemeral in the 200): acknowledged in time, but not taken on.
	var busy atomic.Int64
	measure := func(url string, sign bool) ([]time.Duration, int) {
		lat := make([]time.Duration, b.N)
		var next, failed atomic.Int64
		var wg sync.WaitGroup
		for range concurrency {
			wg.Go(func() {
				for {
					i := int(next.Add(1)) - 1
					if i >= b.N {
						return
					}
					req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(bodies[i]))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					if sign {
						for k, v := range signedHeader(testSigningSecret, time.Now(), bodies[i]) {
							req.Header[k] = v
						}
					}
					start := time.Now()
					resp, err := client.Do(req)
					if err == nil {
						body, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						switch {
						case resp.StatusCode == http.StatusOK && bytes.Contains(body, []byte("cannot take this on right now")):
							busy.Add(1)
						case resp.StatusCode != http.StatusOK || len(body) != 0:
							err = fmt.Errorf("answered %d %q", resp.StatusCode, body)
						}
					}
					lat[i] = time.Since(start)
					if err != nil && failed.Add(1) == 1 {
						b.Log(err)
					}
				}
			})
		}
		wg.Wait()
		return lat, int(failed.Load())
	}

	// The bare handler first, on a quiet machine; the bot's own queued
	// work then runs while its acknowledgements are measured, as it would.
	base, _ := measure(bare.URL, false)
	b.ResetTimer()
	ack, failed := measure(h.srv.URL+"/slack/commands", true)
	b.StopTimer()
	h.waitTasks(b.N - int(busy.Load()))
	if failed > 0 {
		b.Fatalf("%d of %d slash commands were not acknowledged with a 200", failed, b.N)
	}
	p := func(lat []time.Duration, q float64) time.Duration {
		s := slices.Clone(lat)
		slices.Sort(s)
		return s[min(len(s)-1, int(float64(len(s))*q))]
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(p(ack, 0.50)), "ack-p50-ms")
	b.ReportMetric(ms(p(ack, 0.99)), "ack-p99-ms")
	b.ReportMetric(ms(p(base, 0.99)), "bare-p99-ms")
	b.ReportMetric(float64(p(ack, 0.99))/float64(p(base, 0.99)), "x-bare-p99")
	b.ReportMetric(float64(busy.Load()), "busy")
	b.ReportMetric(0, "ns/op")
	if b.N < 100 {
		return // the framework's probe run, not a measurement
	}
	round := func(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }
	fmt.Printf("\nslash command ack, %s, concurrency %d, %d requests\n", backend, concurrency, b.N)
	fmt.Printf("%-8s %10s %10s %10s\n", "", "p50", "p99", "max")
	fmt.Printf("%-8s %10v %10v %10v\n", "bare", round(p(base, 0.50)), round(p(base, 0.99)), round(slices.Max(base)))
	fmt.Printf("%-8s %10v %10v %10v\n", "mcloud", round(p(ack, 0.50)), round(p(ack, 0.99)), round(slices.Max(ack)))
	fmt.Printf("%-8s %9.2fx %9.2fx\n", "ratio", float64(p(ack, 0.50))/float64(p(base, 0.50)), float64(p(ack, 0.99))/float64(p(base, 0.99)))
	fmt.Printf("busy answers: %d of %d\n", busy.Load(), b.N)
}
