package commands_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/commands"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/aws"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
	"github.com/mcloud/mcloud/integrations/store"
	"github.com/mcloud/mcloud/internal/storetest"
	"github.com/mcloud/mcloud/jobs"
)

// awsWorld is the real command service, store and job queue, with the
// real AWS SDK pointed at the emulator, seeded with the example config's
// customer accounts and buckets.
type awsWorld struct {
	t      testing.TB
	svc    *commands.Service
	db     *store.DB
	cfg    *config.Config
	emu    *awsemu.Server
	client *aws.Client
	queue  *jobs.Queue
	// rescueAfter is the queue's; a restarted queue uses it too.
	rescueAfter time.Duration
	cancel      context.CancelFunc
}

// awsWorldOptions tune newAWSWorld.
type awsWorldOptions struct {
	emu awsemu.Options
	// now fixes the service clock (retention, ages); zero keeps time.Now.
	now func() time.Time
	// storeNow, when set, is the store's clock too (job start times, the
	// heartbeat); approvals then expire by it.
	storeNow bool
	// restoreConcurrency bounds RestoreMany (default the package's).
	restoreConcurrency int
	// attempts is the SDK's retry budget (default 3).
	attempts    int
	rescueAfter time.Duration
	// session is the assumed-role session length (default 1h).
	session time.Duration
	// cfg replaces examples/mcloud.yaml.
	cfg *config.Config
}

var awsExternalIDs = map[string]string{"customer-x": "ext-x-7f3a9c1e", "customer-y": "ext-y-0b2d4e6f"}

func newAWSWorld(t testing.TB, o awsWorldOptions) *awsWorld {
	t.Helper()
	cfg := o.cfg
	if cfg == nil {
		var err error
		if cfg, err = config.Load("../examples/mcloud.yaml"); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	db := storetest.Open(t, "")
	if o.storeNow {
		db.Now = o.now
	}
	svc, err := commands.New(cfg, db)
	if err != nil {
		t.Fatal(err)
	}
	svc.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	if o.now != nil {
		svc.Now = o.now
	}
	emu, err := awsemu.Start("", o.emu)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	for _, cu := range cfg.Customers {
		if err := emu.AddAccount(awsemu.Account{ID: cu.AWS.AccountID, RoleARN: cu.AWS.RoleARN, ExternalID: awsExternalIDs[cu.Name]}); err != nil {
			t.Fatal(err)
		}
		for _, b := range []string{cu.Buckets.Logs, cu.Buckets.Artifacts, cu.Buckets.Exports} {
			if err := emu.CreateBucket(awsemu.Bucket{Name: b, Region: cu.AWS.Region, AccountID: cu.AWS.AccountID}); err != nil {
				t.Fatal(err)
			}
		}
	}
	attempts := o.attempts
	if attempts == 0 {
		attempts = 3
	}
	client, err := aws.New(ctx, aws.Options{
		Region:             "eu-west-1",
		Endpoint:           emu.URL(),
		Credentials:        &aws.StaticCredentials{AccessKeyID: "AKIAMCLOUDTEST000001", SecretAccessKey: "test-secret"},
		RestoreConcurrency: o.restoreConcurrency,
		AssumeRoleDuration: o.session,
		WaitMinDelay:       10 * time.Millisecond,
		WaitMaxDelay:       50 * time.Millisecond,
		Retryer: func() awssdk.Retryer {
			return retry.NewStandard(func(so *retry.StandardOptions) {
				so.MaxAttempts = attempts
				so.MaxBackoff = 20 * time.Millisecond
				so.RateLimiter = ratelimit.None // tests inject many failures on purpose
			})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	svc.Deps.AWS = &commands.AWS{Client: client,
		Wait: commands.AWSWaits{PollFirst: 10 * time.Millisecond, PollMax: 50 * time.Millisecond, SnapshotMaxWait: 30 * time.Second, LinkLifetime: time.Hour},
		ExternalID: func(cu *config.Customer) (string, bool) {
			id, ok := awsExternalIDs[cu.Name]
			return id, ok
		}}
	w := &awsWorld{t: t, svc: svc, db: db, cfg: cfg, emu: emu, client: client, rescueAfter: o.rescueAfter}
	if w.rescueAfter == 0 {
		w.rescueAfter = time.Hour
	}
	w.startQueue()
	return w
}

// startQueue connects and starts a new job queue.
func (w *awsWorld) startQueue() {
	w.t.Helper()
	q, err := jobs.New(w.db, w.svc, jobs.Options{RescueAfter: w.rescueAfter, PollInterval: 20 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		w.t.Fatal(err)
	}
	w.svc.SetQueue(q.Enqueue)
	w.queue = q
	ctx, cancel := context.WithCancel(context.Background())
	if err := q.Start(ctx); err != nil {
		w.t.Fatal(err)
	}
	w.cancel = cancel
	w.t.Cleanup(w.stopQueue)
}

// stopQueue stops the running queue as a shutdown would: a job in
// progress stays "running" in the store, to be resumed.
func (w *awsWorld) stopQueue() {
	if w.cancel == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w.queue.Stop(ctx)
	w.cancel()
	w.cancel = nil
}

func (w *awsWorld) as(user, channel string) mcloud.Caller { return caller(w.t, w.cfg, user, channel) }

// do runs a command line and fails the test on an error reply.
func (w *awsWorld) do(who mcloud.Caller, line string) commands.Reply {
	w.t.Helper()
	r := w.svc.Handle(context.Background(), who, line)
	if r.Error != "" {
		w.t.Fatalf("%s: %s", line, r.Error)
	}
	return r
}

// waitJob waits until job id is finished and returns it.
func (w *awsWorld) waitJob(id int64) *mcloud.Job {
	w.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		j, err := w.db.Job(context.Background(), id)
		if err != nil {
			w.t.Fatal(err)
		}
		if j.Status.Done() {
			return j
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("job #%d still %s after 90s; thread:\n%s", id, j.Status, w.thread())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitFor polls cond until it holds.
func (w *awsWorld) waitFor(what string, cond func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			w.t.Fatalf("timed out waiting for %s; thread:\n%s", what, w.thread())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// thread is every message the bot has queued for chat, in order.
func (w *awsWorld) thread() string {
	posts, err := w.db.PendingPosts(context.Background(), 10000)
	if err != nil {
		w.t.Fatal(err)
	}
	var b strings.Builder
	for _, p := range posts {
		b.WriteString(p.Text + "\n")
	}
	return b.String()
}

// account is the customer's account as the bot sees it, for assertions.
func (w *awsWorld) account(customer string) *aws.Account {
	w.t.Helper()
	cu := w.cfg.Customer(customer)
	a, err := w.client.Account(aws.CustomerAccount{AccountID: cu.AWS.AccountID, RoleARN: cu.AWS.RoleARN, ExternalID: awsExternalIDs[customer],
		Region: cu.AWS.Region, DRRegion: cu.AWS.DRRegion})
	if err != nil {
		w.t.Fatal(err)
	}
	return a
}

func (w *awsWorld) put(bucket string, objs ...awsemu.Object) {
	w.t.Helper()
	if err := w.emu.PutObjects(bucket, objs...); err != nil {
		w.t.Fatal(err)
	}
}
