package bot

// The way in, one for both transports: every Slack delivery, over HTTP or
// Socket Mode, is verified, mapped (payload.go), stored with its dedupe
// key in one transaction, and only then acknowledged; from there the
// transport forgets it. Workers on any replica claim stored deliveries and
// do their work (workers.go). A process killed after the acknowledgement
// leaves the delivery in the database, claimed under a lease that runs
// out, and the next process (or another replica) finishes it. Working a
// delivery again must not repeat what the first run did: the request it
// created is found by the delivery's key (store.WithDelivery), and the
// messages it queues are queued in the transaction that marks it done.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

const (
	// dedupeTTL is how long a delivery is remembered; Slack retries for
	// minutes, 15 at most.
	dedupeTTL = time.Hour
	// submitTimeout bounds storing a delivery: Slack wants its
	// acknowledgement within 3 seconds.
	submitTimeout = 2 * time.Second
)

// submit stores d for the workers, once however often Slack delivers it,
// and tells the transport whether it may acknowledge: an error means it
// was not stored in time, and, with store.ErrMaybeAccepted, that it may
// still be (its commit was running when time ran out), so the caller must
// not be told nothing was done. retry is how Slack marked
// a redelivery, for the log.
func (s *Slack) submit(ctx context.Context, d delivery, retry string) error {
	ctx, cancel := context.WithTimeout(ctx, submitTimeout)
	defer cancel()
	if err := s.keep(ctx, d.key, d.payload, retry); err != nil {
		s.log.Error("store Slack delivery", "key", d.key, "err", err)
		return err
	}
	return nil
}

// keep stores a delivery to be worked, unless key was seen already. A
// delivery without a key (Slack always sends one) cannot be recognised
// when repeated, and is stored under a key of its own.
func (s *Slack) keep(ctx context.Context, key string, p deliveryPayload, retry string) error {
	if key == "" {
		b := make([]byte, 12)
		rand.Read(b)
		key = "slack:unkeyed:" + hex.EncodeToString(b)
	}
	js, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode delivery: %w", err)
	}
	first, err := s.db.AcceptDelivery(ctx, key, string(js), dedupeTTL)
	if err != nil {
		return err
	}
	if !first {
		s.log.Info("duplicate Slack delivery dropped", "key", key, "retry", retry)
		return nil
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}
