package commands_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mcloud/mcloud/integrations/aws/awsemu"
)

const benchArchives = 10_000

// BenchmarkRestoreLogs drives /mcloud restore-logs through the command
// layer (plan, job, both listings, the restore requests) for a month of
// 10,000 archived log files, and reports restore requests issued per
// second: one at a time (concurrency=1) against the default bounded
// concurrency (16) and a wider one (64). With no added latency the
// emulator and the bot share the CPU; with 2ms of emulated round trip the
// figures show what concurrency buys against a remote S3. Each iteration
// is a fresh world; run it once:
//
//	go test -run '^$' -bench RestoreLogs -benchtime 1x ./commands/
func BenchmarkRestoreLogs(b *testing.B) {
	for _, latency := range []time.Duration{0, 2 * time.Millisecond} {
		for _, workers := range []int{1, 16, 64} {
			b.Run(fmt.Sprintf("latency=%s/concurrency=%d", latency, workers), func(b *testing.B) {
				var elapsed time.Duration
				for range b.N {
					b.StopTimer()
					w := newAWSWorld(b, awsWorldOptions{now: julyNow, restoreConcurrency: workers,
						emu: awsemu.Options{RestoreDelay: 12 * time.Hour, Latency: latency}})
					seedMonth(w, "2024-05", benchArchives, []string{"GLACIER", "DEEP_ARCHIVE"})
					alice := w.as("alice", "devops")
					b.StartTimer()
					start := time.Now()
					r := w.svc.Handle(context.Background(), alice, "/mcloud restore-logs customer-x 2024-05 --tier bulk")
					if r.Job == nil {
						b.Fatalf("restore-logs: %+v", r)
					}
					w.waitFor("the restore requests", func() bool {
						steps, _ := w.db.JobSteps(context.Background(), r.Job.ID)
						return len(steps) == 1
					})
					elapsed += time.Since(start)
					b.StopTimer()
					if n := w.emu.TotalRestoreCalls(); n != benchArchives {
						b.Fatalf("%d restores requested, want %d", n, benchArchives)
					}
					w.stopQueue()
				}
				b.ReportMetric(float64(benchArchives*b.N)/elapsed.Seconds(), "restores/s")
			})
		}
	}
}
