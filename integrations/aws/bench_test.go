package aws_test

import (
	"fmt"
	"testing"
	"time"

	mcaws "github.com/mcloud/mcloud/integrations/aws"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
)

const benchObjects = 10_000

// BenchmarkRestoreMany measures restores issued per second for 10,000
// archived objects, one at a time versus bounded concurrency, against the
// emulator. Run it with -benchtime=1x: each iteration is 10,000 requests.
// With no added latency the emulator and the client share the CPU, so the
// figures show CPU cost; with 2ms of emulated round trip they show what
// concurrency buys against a remote endpoint.
//
//	go test -run '^$' -bench RestoreMany -benchtime 1x ./integrations/aws/
func BenchmarkRestoreMany(b *testing.B) {
	for _, latency := range []time.Duration{0, 2 * time.Millisecond} {
		for _, workers := range []int{1, 4, 16, 64} {
			benchRestoreMany(b, latency, workers)
		}
	}
}

func benchRestoreMany(b *testing.B, latency time.Duration, workers int) {
	b.Run(fmt.Sprintf("latency=%s/concurrency=%d", latency, workers), func(b *testing.B) {
		e := newEnv(b, awsemu.Options{RestoreDelay: 12 * time.Hour, Latency: latency},
			func(o *mcaws.Options) { o.RestoreConcurrency = workers })
		seedBucket(b, e, archiveBucket)
		ctx := ctxT(b)
		var elapsed time.Duration
		for i := range b.N {
			b.StopTimer()
			prefix := fmt.Sprintf("run-%d/", i)
			objs := make([]awsemu.Object, benchObjects)
			for j := range objs {
				objs[j] = awsemu.Object{Key: fmt.Sprintf("%sobj-%05d", prefix, j), StorageClass: "DEEP_ARCHIVE", Size: 1 << 30}
			}
			if err := e.emu.PutObjects(archiveBucket, objs...); err != nil {
				b.Fatal(err)
			}
			listed, err := e.acct.ListObjects(ctx, archiveBucket, prefix)
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			start := time.Now()
			res := e.acct.RestoreMany(ctx, archiveBucket, listed, mcaws.RestoreManyOptions{Days: 7, Tier: mcaws.TierBulk, Concurrency: workers})
			elapsed += time.Since(start)
			b.StopTimer()
			for _, r := range res {
				if r.Outcome != mcaws.RestoreIssued {
					b.Fatalf("%s: %v %v", r.Key, r.Outcome, r.Err)
				}
			}
		}
		b.ReportMetric(float64(benchObjects*b.N)/elapsed.Seconds(), "restores/s")
	})
}
