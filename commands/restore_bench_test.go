package commands_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/mcloud/mcloud/integrations/aws"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
)

const benchArchives = 10_000

// BenchmarkRestoreLogs drives /mcloud restore-logs through the command
// layer (plan, job, both listings, the restore requests) for a month of
// 10,000 archived log files, one restore request at a time and at the
// default concurrency (aws.DefaultRestoreConcurrency), with 0, 2 and 20 ms
// of emulated S3 latency (20 ms is closer to a real region), and prints
// the table of restores/s with the speed-up of the default over one at a
// time. With no added latency the emulator and the bot share the CPU.
// Each iteration is a fresh world; one at a time at 20 ms takes about
// four minutes. Run it once:
//
//	go test -run '^$' -bench RestoreLogs -benchtime 1x -timeout 30m ./commands/
func BenchmarkRestoreLogs(b *testing.B) {
	latencies := []time.Duration{0, 2 * time.Millisecond, 20 * time.Millisecond}
	rate := map[time.Duration]map[int]float64{}
	for _, latency := range latencies {
		rate[latency] = map[int]float64{}
		for _, workers := range []int{1, 0} {
			name := fmt.Sprintf("latency=%s/concurrency=%d", latency, workers)
			if workers == 0 {
				name = fmt.Sprintf("latency=%s/concurrency=default(%d)", latency, aws.DefaultRestoreConcurrency)
			}
			b.Run(name, func(b *testing.B) {
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
					// One at a time at 20 ms takes minutes: longer than
					// waitFor's minute.
					for deadline := time.Now().Add(20 * time.Minute); ; time.Sleep(5 * time.Millisecond) {
						if steps, _ := w.db.JobSteps(context.Background(), r.Job.ID); len(steps) == 1 {
							break
						}
						if time.Now().After(deadline) {
							b.Fatalf("the restore requests took over 20 minutes; thread:\n%s", w.thread())
						}
					}
					elapsed += time.Since(start)
					b.StopTimer()
					if n := w.emu.TotalRestoreCalls(); n != benchArchives {
						b.Fatalf("%d restores requested, want %d", n, benchArchives)
					}
					w.stopQueue()
				}
				rate[latency][workers] = float64(benchArchives*b.N) / elapsed.Seconds()
				b.ReportMetric(rate[latency][workers], "restores/s")
			})
		}
	}
	fmt.Fprintf(os.Stdout, "\nrestore-logs of %d archived files: restores/s\n", benchArchives)
	fmt.Fprintf(os.Stdout, "%-12s %14s %14s %10s\n", "S3 latency", "one at a time", fmt.Sprintf("default (%d)", aws.DefaultRestoreConcurrency), "speed-up")
	for _, l := range latencies {
		one, def := rate[l][1], rate[l][0]
		if one == 0 || def == 0 {
			continue // filtered out by -bench
		}
		fmt.Fprintf(os.Stdout, "%-12s %14.0f %14.0f %9.1fx\n", l, one, def, def/one)
	}
}
