package aws_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	mcaws "github.com/mcloud/mcloud/integrations/aws"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
)

// TestObserveSeesEveryOperationOnce: with Options.Observe, each operation
// the SDK sends (the role assumption included) is reported once with its
// service, operation and error code, and presigning, which sends nothing,
// is not reported.
func TestObserveSeesEveryOperationOnce(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	e := newEnv(t, awsemu.Options{}, func(o *mcaws.Options) {
		o.Observe = func(service, operation, code string, took time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			if took <= 0 {
				t.Errorf("%s %s took %s", service, operation, took)
			}
			seen = append(seen, fmt.Sprintf("%s %s %q", service, operation, code))
		}
	})
	if err := e.emu.CreateBucket(awsemu.Bucket{Name: "logs", Region: primaryRegion, AccountID: testAccountID}); err != nil {
		t.Fatal(err)
	}
	if err := e.emu.PutObjects("logs", awsemu.Object{Key: "a.log", StorageClass: "STANDARD", Size: 10}); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	if _, err := e.acct.ListObjects(ctx, "logs", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.acct.PresignGet(ctx, "logs", "a.log", time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := e.acct.HeadObject(ctx, "logs", "missing.log"); err == nil {
		t.Fatal("HeadObject of a missing key succeeded")
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{`STS AssumeRole ""`, `S3 ListObjectsV2 ""`, `S3 HeadObject "NotFound"`}
	if !slices.Equal(seen, want) {
		t.Errorf("observed\n  %q\nwant\n  %q", seen, want)
	}
}
