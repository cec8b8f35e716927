package commands

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/aws"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
	"github.com/mcloud/mcloud/jobs"
)

const pollFiles = 10_000

// BenchmarkRestorePollRound runs one poll round of a restore-logs wait
// over a month of 10,000 archived files whose restores are in progress,
// and, in the same run, the round as it was (a HeadObject per file at the
// default concurrency), and prints requests and time of each with the
// ratio, with 0 and 2 ms of emulated S3 latency. Run it once:
//
//	go test -run '^$' -bench RestorePollRound -benchtime 1x ./commands/
func BenchmarkRestorePollRound(b *testing.B) {
	for _, latency := range []time.Duration{0, 2 * time.Millisecond} {
		b.Run(fmt.Sprintf("latency=%s", latency), func(b *testing.B) {
			for range b.N {
				benchPollRound(b, latency)
			}
		})
	}
}

func benchPollRound(b *testing.B, latency time.Duration) {
	ctx := context.Background()
	cfg, err := config.Load("../examples/mcloud.yaml")
	if err != nil {
		b.Fatal(err)
	}
	cu := cfg.Customer("customer-x")
	emu, err := awsemu.Start("", awsemu.Options{RestoreDelay: 12 * time.Hour, Latency: latency})
	if err != nil {
		b.Fatal(err)
	}
	defer emu.Close()
	const ext = "ext-x-7f3a9c1e"
	if err := emu.AddAccount(awsemu.Account{ID: cu.AWS.AccountID, RoleARN: cu.AWS.RoleARN, ExternalID: ext}); err != nil {
		b.Fatal(err)
	}
	if err := emu.CreateBucket(awsemu.Bucket{Name: cu.Buckets.Logs, Region: cu.AWS.Region, AccountID: cu.AWS.AccountID}); err != nil {
		b.Fatal(err)
	}
	objs := make([]awsemu.Object, pollFiles)
	hosts := []string{"prod/x-prod-apim-1", "prod/x-prod-apim-2", "staging/x-stg-apim-1"}
	for i := range objs {
		objs[i] = awsemu.Object{Key: fmt.Sprintf("logs/%s/2024/05/%02d/%05d.log.gz", hosts[i%3], 1+i%28, i),
			StorageClass: "DEEP_ARCHIVE", Size: 1 << 20, Restore: awsemu.RestoreOngoing}
	}
	if err := emu.PutObjects(cu.Buckets.Logs, objs...); err != nil {
		b.Fatal(err)
	}
	client, err := aws.New(ctx, aws.Options{Region: "eu-west-1", Endpoint: emu.URL(),
		Credentials: &aws.StaticCredentials{AccessKeyID: "AKIAMCLOUDTEST000001", SecretAccessKey: "test-secret"}})
	if err != nil {
		b.Fatal(err)
	}
	deps := &AWS{Client: client, ExternalID: func(*config.Customer) (string, bool) { return ext, true }}
	acct, err := deps.Account(cu)
	if err != nil {
		b.Fatal(err)
	}
	svc := &Service{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	a := restoreArgs{month: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), tier: aws.TierBulk, bucket: cu.Buckets.Logs}
	listed, err := logArchives.list(ctx, acct, a)
	if err != nil || len(listed) != pollFiles {
		b.Fatalf("listed %d files: %v", len(listed), err)
	}
	requests := func() int { return emu.Calls("s3:ListObjectsV2") + emu.Calls("s3:HeadObject") }

	// The restore job's second round: the first one also lists the
	// sources, once per job.
	r := &restoreAttempt{k: logArchives, x: &Exec{Attempt: &jobs.Attempt{Job: &mcloud.Job{ID: 1}}, svc: svc}, acct: acct, a: a,
		archived: listed, failed: map[string]string{}, states: map[string]aws.RestoreStatus{}}
	if _, err := r.poll(ctx); err != nil {
		b.Fatal(err)
	}
	before := requests()
	b.StartTimer()
	start := time.Now()
	pending, err := r.poll(ctx)
	took := time.Since(start)
	b.StopTimer()
	if err != nil || len(pending) != pollFiles {
		b.Fatalf("poll: %d pending, %v", len(pending), err)
	}
	n := requests() - before

	keys := make([]string, len(listed))
	for i, o := range listed {
		keys[i] = o.Key
	}
	before = requests()
	start = time.Now()
	_, errs := acct.HeadMany(ctx, a.bucket, keys, 0)
	headTook := time.Since(start)
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	heads := requests() - before

	fmt.Fprintf(os.Stdout, "\nrestore poll round, %d archived files restoring, S3 latency %s\n", pollFiles, latency)
	fmt.Fprintf(os.Stdout, "%-10s %22s %22s %8s\n", "", "listing (mcloud)", "HEAD per file (before)", "ratio")
	fmt.Fprintf(os.Stdout, "%-10s %22d %22d %7.4fx\n", "requests", n, heads, float64(n)/float64(heads))
	fmt.Fprintf(os.Stdout, "%-10s %22s %22s %7.3fx\n", "time", took.Round(time.Millisecond), headTook.Round(time.Millisecond), took.Seconds()/headTook.Seconds())
	b.ReportMetric(float64(n), "requests/round")
	b.ReportMetric(took.Seconds(), "s/round")
}
