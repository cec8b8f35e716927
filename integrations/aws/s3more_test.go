package aws_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	mcaws "github.com/mcloud/mcloud/integrations/aws"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
)

func TestListPrefixesPagesThroughDirectories(t *testing.T) {
	e := newEnv(t, awsemu.Options{PageLimit: 3})
	seedBucket(t, e, archiveBucket)
	var objs []awsemu.Object
	var want []string
	for i := range 10 {
		host := fmt.Sprintf("logs/prod/host-%02d/", i)
		want = append(want, host)
		objs = append(objs, awsemu.Object{Key: host + "2024/03/01/a.log.gz", Size: 10}, awsemu.Object{Key: host + "2024/04/01/b.log.gz", Size: 10})
	}
	objs = append(objs, awsemu.Object{Key: "logs/prod-readme.txt", Size: 1}, awsemu.Object{Key: "logs/staging/h/2024/03/01/c", Size: 1})
	if err := e.emu.PutObjects(archiveBucket, objs...); err != nil {
		t.Fatal(err)
	}
	got, err := e.acct.ListPrefixes(ctxT(t), archiveBucket, "logs/prod/")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("prefixes = %v\nwant %v", got, want)
	}
	envs, err := e.acct.ListPrefixes(ctxT(t), archiveBucket, "logs/")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(envs, []string{"logs/prod/", "logs/staging/"}) {
		t.Fatalf("env prefixes = %v", envs)
	}
}

func TestHeadManyReportsRestoreStatePerObject(t *testing.T) {
	e := newEnv(t, awsemu.Options{RestoreDelay: time.Hour})
	seedBucket(t, e, archiveBucket)
	if err := e.emu.PutObjects(archiveBucket,
		awsemu.Object{Key: "a", StorageClass: "GLACIER", Size: 1, Restore: awsemu.RestoreOngoing},
		awsemu.Object{Key: "b", StorageClass: "DEEP_ARCHIVE", Size: 1, Restore: awsemu.Restored},
		awsemu.Object{Key: "c", StorageClass: "GLACIER", Size: 1},
	); err != nil {
		t.Fatal(err)
	}
	e.emu.InjectError("s3:HeadObject", http.StatusForbidden, "AccessDenied", 0)
	objs, errs := e.acct.HeadMany(ctxT(t), archiveBucket, []string{"a", "b", "c", "missing"}, 2)
	want := []mcaws.RestoreStatus{mcaws.RestoreOngoing, mcaws.RestoreCompleted, mcaws.RestoreNone}
	for i, st := range want {
		if errs[i] != nil || objs[i].Restore.Status != st {
			t.Errorf("object %d: %+v, %v; want restore %v", i, objs[i].Restore, errs[i], st)
		}
	}
	if errs[3] == nil || mcaws.Code(errs[3]) != "NotFound" {
		t.Errorf("missing object: err %v (code %q), want NotFound", errs[3], mcaws.Code(errs[3]))
	}
}

func TestLinkExpiryRenewsAShortSession(t *testing.T) {
	e := newEnv(t, awsemu.Options{}, func(o *mcaws.Options) { o.AssumeRoleDuration = 20 * time.Minute })
	ctx := ctxT(t)
	// The first call assumes the role: the session lasts 20 minutes, of
	// which the credentials cache keeps 5 in reserve, so links asked for
	// an hour are promised for 15.
	exp, err := e.acct.LinkExpiry(ctx, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(exp); d > 16*time.Minute || d < 14*time.Minute {
		t.Fatalf("links expire in %s, want 15 minutes: the session less the cache's reserve", d)
	}
	calls := e.emu.Calls("sts:AssumeRole")
	// Links for 10 minutes fit in the session: no new session.
	exp, err = e.acct.LinkExpiry(ctx, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(exp); d > 11*time.Minute || d < 9*time.Minute {
		t.Fatalf("links expire in %s, want 10 minutes", d)
	}
	if got := e.emu.Calls("sts:AssumeRole"); got != calls {
		t.Fatalf("AssumeRole called %d more times for links that fit the session", got-calls)
	}
}

func TestSeededLastModifiedIsListed(t *testing.T) {
	e := newEnv(t, awsemu.Options{})
	seedBucket(t, e, archiveBucket)
	old := time.Date(2024, 3, 5, 23, 55, 0, 0, time.UTC)
	if err := e.emu.PutObjects(archiveBucket,
		awsemu.Object{Key: "old", StorageClass: "GLACIER", Size: 5, LastModified: old},
		awsemu.Object{Key: "new", Size: 5},
	); err != nil {
		t.Fatal(err)
	}
	objs, err := e.acct.ListObjects(ctxT(t), archiveBucket, "")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]time.Time{}
	for _, o := range objs {
		got[o.Key] = o.LastModified
	}
	if !got["old"].Equal(old) || time.Since(got["new"]) > time.Minute {
		t.Fatalf("last modified = %v; want old at %v and new now", got, old)
	}
	head, err := e.acct.HeadObject(ctxT(t), archiveBucket, "old")
	if err != nil || !head.LastModified.Equal(old) {
		t.Fatalf("head: %v, %v; want %v", head.LastModified, err, old)
	}
}
