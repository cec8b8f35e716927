package alerts_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/alerts"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/store"
	"github.com/mcloud/mcloud/internal/storetest"
)

// TestPipelineConcurrentReceives: alerts received at once are committed
// together, and every Receive that returned nil is counted, under the
// right problem, with the problem's newest message showing its count.
func TestPipelineConcurrentReceives(t *testing.T) {
	cfg, err := config.Load("../examples/mcloud.yaml")
	if err != nil {
		t.Fatal(err)
	}
	db := storetest.Open(t, "")
	p := alerts.New(db, cfg, nil)
	const n, problems = 300, 3
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			a := mcloud.Alert{Source: "alertmanager", Key: fmt.Sprintf("k%d", i%problems), Status: mcloud.AlertFiring,
				Severity: mcloud.SeverityCritical, Name: fmt.Sprintf("P%d", i%problems), Customer: "customer-x"}
			if err := p.Receive(context.Background(), []mcloud.Alert{a}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	ctx := context.Background()
	if got, err := db.AlertCounted(ctx); err != nil || got != n {
		t.Fatalf("counted %d (%v), want %d", got, err, n)
	}
	ps, err := db.OpenProblems(ctx, "customer-x")
	if err != nil || len(ps) != problems {
		t.Fatalf("%d problems (%v), want %d", len(ps), err, problems)
	}
	items, err := db.OutboxItems(ctx, "C0CUSTX")
	if err != nil {
		t.Fatal(err)
	}
	newest := map[int64]string{}
	for _, it := range items {
		if it.Kind != store.KindPost {
			newest[it.RequestID] = it.Text
		}
	}
	for _, pr := range ps {
		if pr.Count != n/problems || !strings.Contains(newest[store.AlertMessageKey(pr.ID)], fmt.Sprintf("%d alerts from", n/problems)) {
			t.Errorf("problem %s: count %d, newest message %q; want %d", pr.Name, pr.Count, newest[store.AlertMessageKey(pr.ID)], n/problems)
		}
	}
}

// TestStormSummaryShowsTheLastAlerts: a summary is rendered at most once
// a second, and the alerts folded meanwhile still show in it soon after
// the storm, without another alert to trigger it.
func TestStormSummaryShowsTheLastAlerts(t *testing.T) {
	cfg, err := config.Load("../examples/mcloud.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Alerts.Budget = 1
	db := storetest.Open(t, "")
	p := alerts.New(db, cfg, nil)
	const problems, repeats = 20, 5
	for r := range repeats {
		for i := range problems {
			a := mcloud.Alert{Source: "alertmanager", Key: fmt.Sprintf("s%d", i), Status: mcloud.AlertFiring,
				Severity: mcloud.SeverityCritical, Name: fmt.Sprintf("S%d-%d", i, r), Customer: "customer-x"}
			if err := p.Receive(context.Background(), []mcloud.Alert{a}); err != nil {
				t.Fatal(err)
			}
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		created, shown := channelCounts(t, db, "C0CUSTX")
		if shown == problems*repeats {
			if created != 2 {
				t.Errorf("%d messages created, want the first problem's and one summary", created)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the channel's messages show %d alerts, want %d", shown, problems*repeats)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBatchWriteSurvivesAPanic: a write that panics fails its own request
// (the sender is answered 5xx and retries), and the alerts that come
// after it are recorded: the receivers do not wait forever for a writer
// that is gone.
func TestBatchWriteSurvivesAPanic(t *testing.T) {
	cfg, err := config.Load("../examples/mcloud.yaml")
	if err != nil {
		t.Fatal(err)
	}
	db := storetest.Open(t, "")
	p := alerts.New(db, cfg, nil)
	var once sync.Once
	p.SetRecord(func(ctx context.Context, items []store.AlertItem) ([]store.AlertOutcome, error) {
		once.Do(func() { panic("write broke") })
		return db.RecordAlerts(ctx, items)
	})
	alert := func(i int) []mcloud.Alert {
		return []mcloud.Alert{{Source: "alertmanager", Key: fmt.Sprintf("p%d", i), Status: mcloud.AlertFiring,
			Severity: mcloud.SeverityCritical, Name: fmt.Sprintf("P%d", i), Customer: "customer-x"}}
	}
	// Like net/http, which recovers a handler's panic.
	receive := func(i int) (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("handler panicked: %v", r)
			}
		}()
		return p.Receive(context.Background(), alert(i))
	}
	if err := receive(0); err == nil {
		t.Fatal("the alert whose write panicked was answered as recorded")
	}
	done := make(chan error, 1)
	go func() {
		for i := 1; i <= 3; i++ {
			if err := receive(i); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("an alert after the panic: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the alerts after a panicked write were never answered")
	}
	if got, err := db.AlertCounted(context.Background()); err != nil || got != 3 {
		t.Fatalf("counted %d (%v), want the 3 alerts after the panic", got, err)
	}
}
