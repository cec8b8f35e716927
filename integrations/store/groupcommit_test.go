package store_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mcloud/mcloud/integrations/store"
	"github.com/mcloud/mcloud/internal/storetest"
)

// acceptAll accepts the deliveries (key, payload) concurrently, all in one
// transaction, and returns each one's answer.
func acceptAll(t *testing.T, db *store.DB, deliveries [][2]string) (firsts []bool, errs []error) {
	t.Helper()
	ctx := context.Background()
	release, queued := db.HoldDeliveries()
	defer release()
	firsts, errs = make([]bool, len(deliveries)), make([]error, len(deliveries))
	var wg sync.WaitGroup
	for i, d := range deliveries {
		wg.Go(func() { firsts[i], errs[i] = db.AcceptDelivery(ctx, d[0], d[1], time.Hour) })
	}
	deadline := time.Now().Add(30 * time.Second)
	for queued() < len(deliveries) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d deliveries queued", queued(), len(deliveries))
		}
		time.Sleep(time.Millisecond)
	}
	release()
	wg.Wait()
	return firsts, errs
}

// stored claims every delivery waiting to be worked: key -> payload.
func stored(t *testing.T, db *store.DB) map[string]string {
	t.Helper()
	got := map[string]string{}
	for {
		d, err := db.ClaimDelivery(context.Background(), "test", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if d == nil {
			return got
		}
		got[d.Key] = d.Payload
	}
}

// Deliveries that arrive together are committed together, and each is
// answered as if alone: a duplicate (of an older delivery, or of another
// in the same batch) is reported as one and does not fail the others;
// every delivery answered as new is stored with its payload.
func TestAcceptDeliveriesTogether(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		if first, err := db.AcceptDelivery(context.Background(), "slack:old", "old", time.Hour); err != nil || !first {
			t.Fatalf("take = %v, %v", first, err)
		}
		stored(t, db) // claimed: only this test's batch is left to see
		in := [][2]string{{"slack:a", "a"}, {"slack:b", "b"}, {"slack:c", "c1"}, {"slack:c", "c2"}, {"slack:old", "old again"}, {"slack:d", "d"}}
		firsts, errs := acceptAll(t, db, in)
		for i, err := range errs {
			if err != nil {
				t.Fatalf("%s answered %v", in[i][0], err)
			}
		}
		want := map[string]string{"slack:a": "a", "slack:b": "b", "slack:d": "d"}
		switch {
		case firsts[2] && !firsts[3]:
			want["slack:c"] = "c1"
		case firsts[3] && !firsts[2]:
			want["slack:c"] = "c2"
		default:
			t.Errorf("slack:c twice in a batch: new = %v and %v, want one of them", firsts[2], firsts[3])
		}
		if firsts[4] {
			t.Error("a duplicate of an earlier delivery was answered as new")
		}
		if !firsts[0] || !firsts[1] || !firsts[5] {
			t.Errorf("new deliveries answered %v", firsts)
		}
		if got := stored(t, db); !mapsEqual(got, want) {
			t.Errorf("stored %v, want %v", got, want)
		}
	})
}

// A commit that fails answers every delivery in it with an error, and
// none of them is kept, not even its dedupe key: Slack's retry of each is
// taken as new.
func TestAcceptDeliveriesFailedCommit(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		// One delivery makes the commit fail (SQLite: a deferred
		// constraint; PostgreSQL: a deferred trigger failing as a full
		// disk does): the database failed, not just refused a delivery.
		poison(t, db, "poison", true)
		in := [][2]string{{"slack:a", "a"}, {"slack:b", "b"}, {"slack:p", "poison"}, {"slack:c", "c"}}
		firsts, errs := acceptAll(t, db, in)
		for i, err := range errs {
			if err == nil {
				t.Errorf("%s was answered (new: %v) though its commit failed", in[i][0], firsts[i])
			}
		}
		if got := stored(t, db); len(got) != 0 {
			t.Errorf("a failed commit stored %v", got)
		}
		firsts, errs = acceptAll(t, db, [][2]string{{"slack:a", "a"}, {"slack:b", "b"}, {"slack:c", "c"}})
		for i, err := range errs {
			if err != nil || !firsts[i] {
				t.Errorf("retry %d answered %v, %v; want taken as new", i, firsts[i], err)
			}
		}
		if got := stored(t, db); len(got) != 3 {
			t.Errorf("retries stored %v", got)
		}
	})
}

// One delivery the database refuses fails alone: the others in its batch
// are stored and answered.
func TestAcceptDeliveriesOneRefused(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		poison(t, db, "refused", false)
		in := [][2]string{{"slack:a", "a"}, {"slack:r", "refused"}, {"slack:b", "b"}}
		firsts, errs := acceptAll(t, db, in)
		if errs[1] == nil {
			t.Error("the refused delivery was answered")
		}
		if errs[0] != nil || errs[2] != nil || !firsts[0] || !firsts[2] {
			t.Errorf("the others answered %v %v / %v %v; want both taken", firsts[0], errs[0], firsts[2], errs[2])
		}
		if got := stored(t, db); !mapsEqual(got, map[string]string{"slack:a": "a", "slack:b": "b"}) {
			t.Errorf("stored %v", got)
		}
	})
}

// Closing the store while deliveries wait answers each of them (stored,
// or an error) and returns; what was answered as taken is in the database
// when it is opened again, and a delivery after the close gets an error.
func TestAcceptDeliveriesClose(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		db := storetest.Open(t, dsn)
		ctx := context.Background()
		release, queued := db.HoldDeliveries()
		defer release()
		const n = 8
		firsts, errs := make([]bool, n), make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { firsts[i], errs[i] = db.AcceptDelivery(ctx, fmt.Sprintf("slack:%d", i), "p", time.Hour) })
		}
		for deadline := time.Now().Add(30 * time.Second); queued() < n; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d deliveries queued", queued(), n)
			}
		}
		closed := make(chan struct{})
		go func() { db.Close(); close(closed) }()
		release()
		wg.Wait()
		select {
		case <-closed:
		case <-time.After(time.Minute):
			t.Fatal("Close did not return")
		}
		if _, err := db.AcceptDelivery(ctx, "slack:late", "p", time.Hour); err == nil {
			t.Error("a delivery was taken by a closed store")
		}
		var want []string
		for i := range n {
			if errs[i] == nil && firsts[i] {
				want = append(want, fmt.Sprintf("slack:%d", i))
			}
		}
		got := stored(t, storetest.Open(t, dsn))
		for _, k := range want {
			if _, ok := got[k]; !ok {
				t.Errorf("%s was answered as taken but is not stored", k)
			}
		}
	})
}

func mapsEqual(a, b map[string]string) bool {
	ka, kb := keysOf(a), keysOf(b)
	if !slices.Equal(ka, kb) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func keysOf(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// poison makes the database refuse a delivery with payload: at its
// INSERT, or (deferred) at the commit of the transaction holding it.
func poison(t *testing.T, db *store.DB, payload string, atCommit bool) {
	t.Helper()
	var stmts []string
	switch {
	case db.Dialect() == store.SQLite && atCommit:
		stmts = []string{
			`CREATE TABLE poison_parent (id INTEGER PRIMARY KEY)`,
			`CREATE TABLE poison_child (parent INTEGER REFERENCES poison_parent (id) DEFERRABLE INITIALLY DEFERRED)`,
			`CREATE TRIGGER poison AFTER INSERT ON slack_deliveries WHEN NEW.payload = '` + payload + `' BEGIN INSERT INTO poison_child (parent) VALUES (1); END`,
		}
	case db.Dialect() == store.SQLite:
		stmts = []string{`CREATE TRIGGER poison BEFORE INSERT ON slack_deliveries WHEN NEW.payload = '` + payload + `' BEGIN SELECT RAISE(ABORT, 'refused'); END`}
	case atCommit:
		// A deferred trigger runs at commit; it fails as a full disk would.
		stmts = []string{
			`CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
				IF NEW.payload = '` + payload + `' THEN RAISE EXCEPTION 'no space left on device' USING ERRCODE = 'disk_full'; END IF; RETURN NEW; END $$`,
			`CREATE CONSTRAINT TRIGGER poison AFTER INSERT ON slack_deliveries DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION poison()`,
		}
	default:
		stmts = []string{
			`CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
				IF NEW.payload = '` + payload + `' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$`,
			`CREATE TRIGGER poison BEFORE INSERT ON slack_deliveries FOR EACH ROW EXECUTE FUNCTION poison()`,
		}
	}
	for _, q := range stmts {
		if _, err := db.SQL().Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// A key seen longer ago than its TTL is a new delivery again, and its
// new payload replaces the old row.
func TestAcceptDeliveryAfterTTL(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		c := withClock(db)
		ctx := context.Background()
		if first, err := db.AcceptDelivery(ctx, "slack:k", "one", time.Hour); err != nil || !first {
			t.Fatalf("take = %v, %v", first, err)
		}
		stored(t, db)
		c.advance(2 * time.Hour)
		firsts, errs := acceptAll(t, db, [][2]string{{"slack:k", "two"}, {"slack:k", "three"}})
		if errs[0] != nil || errs[1] != nil || firsts[0] == firsts[1] {
			t.Fatalf("answers %v %v; want one new, one duplicate", firsts, errs)
		}
		want := "two"
		if firsts[1] {
			want = "three"
		}
		if got := stored(t, db); got["slack:k"] != want || len(got) != 1 {
			t.Errorf("stored %v, want slack:k = %s", got, want)
		}
	})
}

// While deliveries are being stored, workers claim nothing (the
// acknowledgements go first); once they are stored, the work is claimed.
func TestClaimsYieldToTakes(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := db.AcceptDelivery(ctx, "slack:1", "one", time.Hour); err != nil {
			t.Fatal(err)
		}
		release, queued := db.HoldDeliveries()
		defer release()
		done := make(chan error)
		go func() { _, err := db.AcceptDelivery(ctx, "slack:2", "two", time.Hour); done <- err }()
		for queued() < 1 {
			time.Sleep(time.Millisecond)
		}
		if d, err := db.ClaimDelivery(ctx, "w", time.Minute); err != nil || d != nil {
			t.Errorf("claimed %+v, %v while a delivery was being stored", d, err)
		}
		release()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := stored(t, db); len(got) != 2 {
			t.Errorf("claimed %v after the delivery was stored, want both", got)
		}
	})
}
