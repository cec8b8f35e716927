package aws_test

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	mcaws "github.com/mcloud/mcloud/integrations/aws"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
)

const archiveBucket = "acme-archive"

func seedBucket(t testing.TB, e *env, name string) {
	t.Helper()
	if err := e.emu.CreateBucket(awsemu.Bucket{Name: name, Region: primaryRegion, AccountID: testAccountID}); err != nil {
		t.Fatal(err)
	}
}

func TestListObjectsPagesThroughMixedClasses(t *testing.T) {
	e := newEnv(t, awsemu.Options{PageLimit: 250})
	seedBucket(t, e, archiveBucket)
	classes := []string{"STANDARD", "GLACIER", "DEEP_ARCHIVE", "STANDARD_IA", "GLACIER_IR"}
	var objs []awsemu.Object
	var wantBytes int64
	for i := range 2000 {
		size := int64(i+1) * 1 << 20
		wantBytes += size
		objs = append(objs, awsemu.Object{Key: fmt.Sprintf("backups/2024/obj-%05d.bin", i), StorageClass: classes[i%len(classes)], Size: size})
	}
	// Keys outside the prefix, before and after it, must not leak in.
	objs = append(objs, awsemu.Object{Key: "a-before/x", Size: 1}, awsemu.Object{Key: "zz-after/y", Size: 1})
	if err := e.emu.PutObjects(archiveBucket, objs...); err != nil {
		t.Fatal(err)
	}

	got, err := e.acct.ListObjects(ctxT(t), archiveBucket, "backups/")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2000 {
		t.Fatalf("listed %d objects, want 2000", len(got))
	}
	perClass := map[string]int{}
	var bytes int64
	for i, o := range got {
		perClass[o.StorageClass]++
		bytes += o.Size
		if want := fmt.Sprintf("backups/2024/obj-%05d.bin", i); o.Key != want {
			t.Fatalf("object %d is %s, want %s (order or duplicates broken across pages)", i, o.Key, want)
		}
		if !o.RestoreKnown || o.Restore.Status != mcaws.RestoreNone {
			t.Fatalf("%s: restore state %+v, want known and none", o.Key, o.Restore)
		}
	}
	for _, c := range classes {
		if perClass[c] != 400 {
			t.Errorf("%s: %d objects, want 400", c, perClass[c])
		}
	}
	if bytes != wantBytes {
		t.Errorf("total size %d, want %d", bytes, wantBytes)
	}
	if pages := e.emu.Calls("s3:ListObjectsV2"); pages < 8 {
		t.Errorf("ListObjectsV2 called %d times, want at least 8 pages of 250", pages)
	}
}

func TestRestoreManyOnlyRestoresArchivedObjects(t *testing.T) {
	clock := awsemu.NewManualClock(time.Now())
	e := newEnv(t, awsemu.Options{Clock: clock, RestoreDelay: 4 * time.Hour, PageLimit: 100})
	seedBucket(t, e, archiveBucket)
	seed := func(n int, class string, restore awsemu.RestoreSeed, name string) {
		for i := range n {
			if err := e.emu.PutObjects(archiveBucket, awsemu.Object{
				Key: fmt.Sprintf("r/%s-%03d", name, i), StorageClass: class, Size: 1 << 30, Restore: restore,
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	seed(50, "STANDARD", awsemu.NotRestored, "standard")
	seed(50, "GLACIER", awsemu.NotRestored, "glacier")
	seed(50, "DEEP_ARCHIVE", awsemu.NotRestored, "deep")
	seed(10, "GLACIER", awsemu.Restored, "glacier-restored")
	seed(10, "DEEP_ARCHIVE", awsemu.RestoreOngoing, "deep-ongoing")
	seed(10, "GLACIER_IR", awsemu.NotRestored, "glacier-ir")
	seed(10, "STANDARD_IA", awsemu.NotRestored, "standard-ia")

	ctx := ctxT(t)
	objs, err := e.acct.ListObjects(ctx, archiveBucket, "r/")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		reported int
	)
	results := e.acct.RestoreMany(ctx, archiveBucket, objs, mcaws.RestoreManyOptions{
		Days: 3, Tier: mcaws.TierBulk, Concurrency: 8,
		OnResult: func(mcaws.RestoreResult) { mu.Lock(); reported++; mu.Unlock() },
	})
	if len(results) != len(objs) || reported != len(objs) {
		t.Fatalf("%d results, %d reported, for %d objects", len(results), reported, len(objs))
	}
	counts := map[mcaws.RestoreOutcome]int{}
	for i, r := range results {
		if r.Key != objs[i].Key {
			t.Fatalf("result %d is for %s, want %s (input order)", i, r.Key, objs[i].Key)
		}
		counts[r.Outcome]++
		want := map[string]mcaws.RestoreOutcome{
			"standard": mcaws.RestoreSkippedNotArchived, "glacier": mcaws.RestoreIssued, "deep": mcaws.RestoreIssued,
			"glacier-restored": mcaws.RestoreAlreadyRestored, "deep-ongoing": mcaws.RestoreInProgress,
			"glacier-ir": mcaws.RestoreSkippedNotArchived, "standard-ia": mcaws.RestoreSkippedNotArchived,
		}[group(r.Key)]
		if r.Outcome != want {
			t.Errorf("%s: outcome %v (%s), want %v", r.Key, r.Outcome, r.Reason, want)
		}
		wantCalls := 0
		if want == mcaws.RestoreIssued {
			wantCalls = 1
		}
		if n := e.emu.RestoreCalls(archiveBucket, r.Key); n != wantCalls {
			t.Errorf("%s: %d RestoreObject calls, want %d", r.Key, n, wantCalls)
		}
	}
	if counts[mcaws.RestoreIssued] != 100 || counts[mcaws.RestoreSkippedNotArchived] != 70 ||
		counts[mcaws.RestoreAlreadyRestored] != 10 || counts[mcaws.RestoreInProgress] != 10 {
		t.Errorf("outcomes %v", counts)
	}

	// A resumed job lists again: everything it asked for is now ongoing
	// and must not be requested a second time.
	objs, err = e.acct.ListObjects(ctx, archiveBucket, "r/")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range e.acct.RestoreMany(ctx, archiveBucket, objs, mcaws.RestoreManyOptions{Days: 3, Tier: mcaws.TierBulk}) {
		if r.Outcome == mcaws.RestoreIssued || r.Outcome == mcaws.RestoreFailed {
			t.Errorf("resumed run: %s %v %s", r.Key, r.Outcome, r.Reason)
		}
	}
	if n := e.emu.TotalRestoreCalls(); n != 100 {
		t.Errorf("after resume, %d RestoreObject calls in total, want still 100", n)
	}

	// Objects known only by key are checked with HeadObject first.
	byKey := []mcaws.Object{{Key: "r/standard-000"}, {Key: "r/glacier-000"}}
	res := e.acct.RestoreMany(ctx, archiveBucket, byKey, mcaws.RestoreManyOptions{Days: 3})
	if res[0].Outcome != mcaws.RestoreSkippedNotArchived || res[1].Outcome != mcaws.RestoreInProgress {
		t.Errorf("by key: %v, %v", res[0].Outcome, res[1].Outcome)
	}
	if n := e.emu.TotalRestoreCalls(); n != 100 {
		t.Errorf("after by-key run, %d RestoreObject calls, want 100", n)
	}

	// Asking S3 directly for an ongoing restore is answered 409
	// RestoreAlreadyInProgress, which is not an error.
	out, err := e.acct.RestoreObject(ctx, archiveBucket, "r/glacier-001", 3, mcaws.TierBulk)
	if err != nil || out != mcaws.RestoreInProgress {
		t.Errorf("RestoreObject on ongoing restore: %v, %v", out, err)
	}
	// And for a STANDARD object S3 refuses with InvalidObjectState, which
	// means there is nothing to restore.
	out, err = e.acct.RestoreObject(ctx, archiveBucket, "r/standard-001", 3, mcaws.TierBulk)
	if err != nil || out != mcaws.RestoreSkippedNotArchived {
		t.Errorf("RestoreObject on STANDARD: %v, %v", out, err)
	}
}

func group(key string) string {
	name := strings.TrimPrefix(key, "r/")
	return name[:strings.LastIndex(name, "-")]
}

func TestExpeditedRestoreOfDeepArchiveIsRefused(t *testing.T) {
	e := newEnv(t, awsemu.Options{RestoreDelay: time.Hour})
	seedBucket(t, e, archiveBucket)
	if err := e.emu.PutObjects(archiveBucket,
		awsemu.Object{Key: "deep.tar", StorageClass: "DEEP_ARCHIVE", Size: 5 << 30},
		awsemu.Object{Key: "glacier.tar", StorageClass: "GLACIER", Size: 5 << 30},
	); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	out, err := e.acct.RestoreObject(ctx, archiveBucket, "deep.tar", 1, mcaws.TierExpedited)
	if err == nil || out != mcaws.RestoreFailed {
		t.Fatalf("Expedited on DEEP_ARCHIVE: %v, %v; want refused", out, err)
	}
	// S3 refuses it as an operation the storage class does not allow;
	// the same code means "not archived" for a STANDARD object, so the
	// client must not take this refusal for a skip.
	if code := mcaws.Code(err); code != "InvalidObjectState" {
		t.Errorf("code %q, want InvalidObjectState", code)
	}
	if msg := mcaws.Describe(err); !strings.Contains(msg, "Standard or Bulk") {
		t.Errorf("sentence %q does not tell the user what to do", msg)
	}

	objs, err := e.acct.ListObjects(ctx, archiveBucket, "")
	if err != nil {
		t.Fatal(err)
	}
	res := e.acct.RestoreMany(ctx, archiveBucket, objs, mcaws.RestoreManyOptions{Days: 1, Tier: mcaws.TierExpedited})
	got := map[string]mcaws.RestoreResult{}
	for _, r := range res {
		got[r.Key] = r
	}
	if r := got["deep.tar"]; r.Outcome != mcaws.RestoreFailed || !strings.Contains(r.Reason, "Standard or Bulk") || r.Err == nil {
		t.Errorf("deep.tar: %+v", r)
	}
	if r := got["glacier.tar"]; r.Outcome != mcaws.RestoreIssued {
		t.Errorf("glacier.tar: %+v", r)
	}
}

func TestRestoreCompletesAndPresignedURLDownloads(t *testing.T) {
	clock := awsemu.NewManualClock(time.Now())
	// Hours of Glacier time pass as the test advances the clock; the delay
	// stays under the one-hour role session the emulator also enforces.
	e := newEnv(t, awsemu.Options{Clock: clock, RestoreDelay: 30 * time.Minute})
	seedBucket(t, e, archiveBucket)
	body := []byte("ledger 2019-Q4: 42 rows\n")
	if err := e.emu.PutObjects(archiveBucket, awsemu.Object{Key: "ledgers/2019-q4.csv", StorageClass: "GLACIER", Body: body, ContentType: "text/csv"}); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	url, err := e.acct.PresignGet(ctx, archiveBucket, "ledgers/2019-q4.csv", 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if status, b := get(url); status != http.StatusForbidden || !strings.Contains(b, "InvalidObjectState") {
		t.Fatalf("GET of archived object: %d %s", status, b)
	}

	objs, err := e.acct.ListObjects(ctx, archiveBucket, "ledgers/")
	if err != nil {
		t.Fatal(err)
	}
	res := e.acct.RestoreMany(ctx, archiveBucket, objs, mcaws.RestoreManyOptions{Days: 2, Tier: mcaws.TierStandard})
	if res[0].Outcome != mcaws.RestoreIssued {
		t.Fatalf("restore: %+v", res[0])
	}
	head, err := e.acct.HeadObject(ctx, archiveBucket, "ledgers/2019-q4.csv")
	if err != nil {
		t.Fatal(err)
	}
	if head.Restore.Status != mcaws.RestoreOngoing || head.StorageClass != "GLACIER" || head.Size != int64(len(body)) {
		t.Fatalf("head while restoring: %+v", head)
	}

	clock.Advance(31 * time.Minute)
	head, err = e.acct.HeadObject(ctx, archiveBucket, "ledgers/2019-q4.csv")
	if err != nil {
		t.Fatal(err)
	}
	wantExpiry := clock.Now().Add(2*24*time.Hour - time.Minute)
	if head.Restore.Status != mcaws.RestoreCompleted || head.Restore.Expiry.Sub(wantExpiry).Abs() > 2*time.Second {
		t.Fatalf("head after restore: %+v, want completed expiring about %s", head.Restore, wantExpiry)
	}
	listed, err := e.acct.ListObjects(ctx, archiveBucket, "ledgers/")
	if err != nil {
		t.Fatal(err)
	}
	if listed[0].Restore.Status != mcaws.RestoreCompleted || !listed[0].Readable() {
		t.Fatalf("listing after restore: %+v", listed[0])
	}

	// The SDK signs with the real clock, which the manual clock has left
	// 31 minutes behind, so this URL has 14 emulated minutes to live.
	url, err = e.acct.PresignGet(ctx, archiveBucket, "ledgers/2019-q4.csv", 45*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if status, b := get(url); status != http.StatusOK || b != string(body) {
		t.Fatalf("GET of restored object: %d %q", status, b)
	}

	// The URL is only good until its expiry.
	clock.Advance(15 * time.Minute)
	if status, b := get(url); status != http.StatusForbidden || !strings.Contains(b, "Request has expired") {
		t.Fatalf("GET with expired URL: %d %s", status, b)
	}
}

func TestPutObjectManifest(t *testing.T) {
	e := newEnv(t, awsemu.Options{})
	seedBucket(t, e, archiveBucket)
	ctx := ctxT(t)
	manifest := []byte(`{"job":"restore-42","objects":2000}`)
	if err := e.acct.PutObject(ctx, archiveBucket, "mcloud/manifests/restore-42.json", manifest, "application/json"); err != nil {
		t.Fatal(err)
	}
	got, err := e.emu.ObjectBody(archiveBucket, "mcloud/manifests/restore-42.json")
	if err != nil || string(got) != string(manifest) {
		t.Fatalf("stored manifest %q, %v", got, err)
	}
	head, err := e.acct.HeadObject(ctx, archiveBucket, "mcloud/manifests/restore-42.json")
	if err != nil || head.StorageClass != "STANDARD" || head.Size != int64(len(manifest)) {
		t.Fatalf("head manifest: %+v, %v", head, err)
	}
}

func TestParseRestoreHeader(t *testing.T) {
	for _, tc := range []struct {
		in     string
		status mcaws.RestoreStatus
		expiry string
		err    bool
	}{
		{in: "", status: mcaws.RestoreNone},
		{in: `ongoing-request="true"`, status: mcaws.RestoreOngoing},
		{in: `ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"`, status: mcaws.RestoreCompleted, expiry: "2012-12-21T00:00:00Z"},
		{in: `ongoing-request="false"`, status: mcaws.RestoreCompleted},
		{in: `expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"`, err: true},
		{in: `ongoing-request="false", expiry-date="tomorrow"`, err: true},
	} {
		got, err := mcaws.ParseRestoreHeader(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("%q: err %v, want error %v", tc.in, err, tc.err)
			continue
		}
		if tc.err {
			continue
		}
		if got.Status != tc.status {
			t.Errorf("%q: status %v, want %v", tc.in, got.Status, tc.status)
		}
		if tc.expiry != "" && got.Expiry.Format(time.RFC3339) != tc.expiry {
			t.Errorf("%q: expiry %s, want %s", tc.in, got.Expiry.Format(time.RFC3339), tc.expiry)
		}
	}
}

// Restores take S3's documented time per storage class and tier: Deep
// Archive up to 12 hours on Standard and 48 on Bulk, GLACIER 5 minutes
// Expedited, 5 hours Standard, 12 hours Bulk. Each file is readable only
// once its time has passed.
func TestRestoreTimesFollowClassAndTier(t *testing.T) {
	start := time.Now().UTC()
	clock := awsemu.NewManualClock(start)
	e := newEnv(t, awsemu.Options{Clock: clock, RestoreDelayFor: awsemu.S3RestoreTimes},
		func(o *mcaws.Options) { o.AssumeRoleDuration = 12 * time.Hour })
	seedBucket(t, e, archiveBucket)
	cases := []struct {
		key, class string
		tier       mcaws.Tier
		takes      time.Duration
	}{
		{"deep-standard", "DEEP_ARCHIVE", mcaws.TierStandard, 12 * time.Hour},
		{"deep-bulk", "DEEP_ARCHIVE", mcaws.TierBulk, 48 * time.Hour},
		{"glacier-expedited", "GLACIER", mcaws.TierExpedited, 5 * time.Minute},
		{"glacier-standard", "GLACIER", mcaws.TierStandard, 5 * time.Hour},
		{"glacier-bulk", "GLACIER", mcaws.TierBulk, 12 * time.Hour},
	}
	ctx := ctxT(t)
	for _, c := range cases {
		if err := e.emu.PutObjects(archiveBucket, awsemu.Object{Key: c.key, StorageClass: c.class, Size: 1 << 30}); err != nil {
			t.Fatal(err)
		}
		if out, err := e.acct.RestoreObject(ctx, archiveBucket, c.key, 7, c.tier); err != nil || out != mcaws.RestoreIssued {
			t.Fatalf("%s: %v, %v", c.key, out, err)
		}
	}
	// Walk the clock over each boundary, a minute before and at it.
	var marks []time.Duration
	for _, c := range cases {
		marks = append(marks, c.takes-time.Minute, c.takes)
	}
	sort.Slice(marks, func(i, j int) bool { return marks[i] < marks[j] })
	for _, m := range marks {
		clock.Advance(start.Add(m).Sub(clock.Now()))
		// A listing, not HEAD: days pass, the role session expires, and
		// only a response with a body tells the client to renew it,
		// which it does for the next call.
		objs, err := e.acct.ListObjects(ctx, archiveBucket, "")
		if mcaws.IsCode(err, "ExpiredToken") {
			objs, err = e.acct.ListObjects(ctx, archiveBucket, "")
		}
		if err != nil {
			t.Fatalf("after %s: %v", m, err)
		}
		got := map[string]mcaws.RestoreStatus{}
		for _, o := range objs {
			got[o.Key] = o.Restore.Status
		}
		for _, c := range cases {
			want := mcaws.RestoreOngoing
			if m >= c.takes {
				want = mcaws.RestoreCompleted
			}
			if got[c.key] != want {
				t.Errorf("%s after %s: restore %v, want %v", c.key, m, got[c.key], want)
			}
		}
	}

	// The sandbox's scale keeps the proportions: an AWS hour in 250 ms
	// makes a Deep Archive Bulk restore 12 s, a GLACIER Expedited one 21 ms.
	scaled := awsemu.ScaledRestoreTimes(250 * time.Millisecond)
	if got := scaled("DEEP_ARCHIVE", "Bulk"); got != 12*time.Second {
		t.Errorf("scaled Deep Archive Bulk = %s, want 12s", got)
	}
	if got := scaled("DEEP_ARCHIVE", "Standard"); got != 3*time.Second {
		t.Errorf("scaled Deep Archive Standard = %s, want 3s", got)
	}
}
