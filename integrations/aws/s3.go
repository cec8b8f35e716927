package aws

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Storage classes whose objects must be restored before they can be read.
// GLACIER_IR is readable directly. Intelligent-Tiering archive tiers would
// need HeadObject's x-amz-archive-status to detect and are not handled.
const (
	StorageClassStandard    = "STANDARD"
	StorageClassGlacier     = "GLACIER"
	StorageClassDeepArchive = "DEEP_ARCHIVE"
)

// Tier is the retrieval speed (and price) of a restore.
type Tier string

// Retrieval tiers. Expedited is not available for DEEP_ARCHIVE.
const (
	TierBulk      Tier = "Bulk"
	TierStandard  Tier = "Standard"
	TierExpedited Tier = "Expedited"
)

// RestoreStatus says whether an archived object has a readable copy.
type RestoreStatus int

// Restore states.
const (
	RestoreNone      RestoreStatus = iota // archived, no restore requested (or the copy expired)
	RestoreOngoing                        // restore requested, copy not ready
	RestoreCompleted                      // readable copy until Expiry
)

func (s RestoreStatus) String() string {
	switch s {
	case RestoreOngoing:
		return "ongoing"
	case RestoreCompleted:
		return "restored"
	}
	return "none"
}

// RestoreState is an object's restore status and, once completed, when the
// restored copy will be deleted.
type RestoreState struct {
	Status RestoreStatus
	Expiry time.Time
}

// Object is an S3 object as listed or headed.
type Object struct {
	Key          string
	Size         int64
	StorageClass string // always set; STANDARD when S3 omits it
	ETag         string
	LastModified time.Time
	Restore      RestoreState
	// RestoreKnown is false when Restore was not reported (an Object built
	// by hand, or a listing that did not include it); RestoreMany then asks
	// HeadObject before acting.
	RestoreKnown bool
}

// Archived reports whether the object has to be restored before reading.
func (o Object) Archived() bool {
	return o.StorageClass == StorageClassGlacier || o.StorageClass == StorageClassDeepArchive
}

// Readable reports whether a GET would succeed now.
func (o Object) Readable() bool {
	return !o.Archived() || o.Restore.Status == RestoreCompleted
}

func normalizeClass(c string) string {
	if c == "" {
		return StorageClassStandard
	}
	return c
}

// ListObjects returns every object under prefix. It pages through
// ListObjectsV2 and asks for RestoreStatus so no HeadObject per archived
// object is needed.
func (a *Account) ListObjects(ctx context.Context, bucket, prefix string) ([]Object, error) {
	var out []Object
	err := a.WalkObjects(ctx, bucket, prefix, func(o Object) error {
		out = append(out, o)
		return nil
	})
	return out, err
}

// WalkObjects calls fn for every object under prefix, page by page, so
// very large prefixes need not be held in memory. fn's error stops the walk
// and is returned as is.
func (a *Account) WalkObjects(ctx context.Context, bucket, prefix string, fn func(Object) error) error {
	in := &s3.ListObjectsV2Input{
		Bucket:                   awssdk.String(bucket),
		OptionalObjectAttributes: []s3types.OptionalObjectAttributes{s3types.OptionalObjectAttributesRestoreStatus},
	}
	if prefix != "" {
		in.Prefix = awssdk.String(prefix)
	}
	p := s3.NewListObjectsV2Paginator(a.s3Client(""), in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, c := range page.Contents {
			o := Object{
				Key:          awssdk.ToString(c.Key),
				Size:         awssdk.ToInt64(c.Size),
				StorageClass: normalizeClass(string(c.StorageClass)),
				ETag:         awssdk.ToString(c.ETag),
				LastModified: awssdk.ToTime(c.LastModified),
				RestoreKnown: true,
			}
			if rs := c.RestoreStatus; rs != nil {
				if awssdk.ToBool(rs.IsRestoreInProgress) {
					o.Restore.Status = RestoreOngoing
				} else if rs.RestoreExpiryDate != nil {
					o.Restore = RestoreState{Status: RestoreCompleted, Expiry: *rs.RestoreExpiryDate}
				}
			}
			if err := fn(o); err != nil {
				return err
			}
		}
	}
	return nil
}

// HeadObject returns one object's size, class and restore state.
func (a *Account) HeadObject(ctx context.Context, bucket, key string) (Object, error) {
	out, err := a.s3Client("").HeadObject(ctx, &s3.HeadObjectInput{Bucket: awssdk.String(bucket), Key: awssdk.String(key)})
	if err != nil {
		return Object{}, fmt.Errorf("head s3://%s/%s: %w", bucket, key, err)
	}
	rs, err := ParseRestoreHeader(awssdk.ToString(out.Restore))
	if err != nil {
		return Object{}, fmt.Errorf("head s3://%s/%s: %w", bucket, key, err)
	}
	return Object{
		Key:          key,
		Size:         awssdk.ToInt64(out.ContentLength),
		StorageClass: normalizeClass(string(out.StorageClass)),
		ETag:         awssdk.ToString(out.ETag),
		LastModified: awssdk.ToTime(out.LastModified),
		Restore:      rs,
		RestoreKnown: true,
	}, nil
}

var (
	restoreOngoingRe = regexp.MustCompile(`ongoing-request\s*=\s*"(true|false)"`)
	restoreExpiryRe  = regexp.MustCompile(`expiry-date\s*=\s*"([^"]+)"`)
)

// ParseRestoreHeader parses x-amz-restore, e.g.
// `ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"`.
// An empty header means no restore.
func ParseRestoreHeader(v string) (RestoreState, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return RestoreState{}, nil
	}
	m := restoreOngoingRe.FindStringSubmatch(v)
	if m == nil {
		return RestoreState{}, fmt.Errorf("parse x-amz-restore %q: no ongoing-request", v)
	}
	if m[1] == "true" {
		return RestoreState{Status: RestoreOngoing}, nil
	}
	st := RestoreState{Status: RestoreCompleted}
	if e := restoreExpiryRe.FindStringSubmatch(v); e != nil {
		t, err := http.ParseTime(e[1])
		if err != nil {
			return RestoreState{}, fmt.Errorf("parse x-amz-restore expiry %q: %w", e[1], err)
		}
		st.Expiry = t.UTC()
	}
	return st, nil
}

// RestoreOutcome is what happened to one restore request.
type RestoreOutcome int

// Restore outcomes.
const (
	// RestoreIssued: S3 accepted a new restore request (202).
	RestoreIssued RestoreOutcome = iota + 1
	// RestoreInProgress: a restore was already running; nothing was
	// re-requested, or S3 answered RestoreAlreadyInProgress.
	RestoreInProgress
	// RestoreAlreadyRestored: a readable copy exists. RestoreObject
	// reports this when S3 only extended the copy's lifetime (200);
	// RestoreMany reports it without calling S3.
	RestoreAlreadyRestored
	// RestoreSkippedNotArchived: the object is readable without a restore.
	RestoreSkippedNotArchived
	// RestoreFailed: see Reason and Err.
	RestoreFailed
)

func (o RestoreOutcome) String() string {
	switch o {
	case RestoreIssued:
		return "issued"
	case RestoreInProgress:
		return "already in progress"
	case RestoreAlreadyRestored:
		return "already restored"
	case RestoreSkippedNotArchived:
		return "skipped (not archived)"
	case RestoreFailed:
		return "failed"
	}
	return "unknown"
}

// RestoreObject asks S3 to restore one archived object for days days.
// RestoreAlreadyInProgress is not an error: it returns RestoreInProgress.
// Neither is InvalidObjectState for an object that is not archived: it
// returns RestoreSkippedNotArchived. S3 answers InvalidObjectState to an
// Expedited restore of a DEEP_ARCHIVE object too, so that answer is only
// taken as "not archived" once a HEAD says the object is not archived.
func (a *Account) RestoreObject(ctx context.Context, bucket, key string, days int32, tier Tier) (RestoreOutcome, error) {
	if days < 1 {
		return RestoreFailed, fmt.Errorf("restore s3://%s/%s: days must be at least 1, got %d", bucket, key, days)
	}
	out, err := a.s3Client("").RestoreObject(ctx, &s3.RestoreObjectInput{
		Bucket: awssdk.String(bucket),
		Key:    awssdk.String(key),
		RestoreRequest: &s3types.RestoreRequest{
			Days:                 awssdk.Int32(days),
			GlacierJobParameters: &s3types.GlacierJobParameters{Tier: s3types.Tier(tier)},
		},
	})
	if err != nil {
		switch Code(err) {
		case "RestoreAlreadyInProgress":
			return RestoreInProgress, nil
		case "InvalidObjectState":
			head, herr := a.HeadObject(ctx, bucket, key)
			switch {
			case herr == nil && !head.Archived():
				return RestoreSkippedNotArchived, nil
			case herr == nil && head.StorageClass == StorageClassDeepArchive && tier == TierExpedited:
				err = fmt.Errorf("%w: %w", ErrNoExpeditedForDeepArchive, err)
			}
		}
		return RestoreFailed, fmt.Errorf("restore s3://%s/%s (%s, %d days): %w", bucket, key, tier, days, err)
	}
	// S3 says 200 when a restored copy already existed and only its expiry
	// moved, 202 when it started a new restore; the SDK hides the status,
	// the raw response keeps it.
	if raw, ok := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response); ok && raw.StatusCode == http.StatusOK {
		return RestoreAlreadyRestored, nil
	}
	return RestoreIssued, nil
}

// RestoreManyOptions configures RestoreMany.
type RestoreManyOptions struct {
	Days int32
	Tier Tier
	// Concurrency bounds in-flight RestoreObject calls; default
	// Options.RestoreConcurrency. S3 limits request rates per prefix, and
	// the SDK retryer backs off on SlowDown, so more is not always faster.
	Concurrency int
	// OnResult, if set, is called once per object as it is decided, from
	// one goroutine at a time, so a job can checkpoint progress.
	OnResult func(RestoreResult)
}

// RestoreResult is the outcome for one object of RestoreMany.
type RestoreResult struct {
	Key          string
	StorageClass string
	Outcome      RestoreOutcome
	Reason       string // user-facing, set for RestoreFailed
	Err          error  // full detail for logs, set for RestoreFailed
}

// RestoreMany restores every archived object in objs with bounded
// concurrency and returns one result per object, in input order.
// Objects that are not archived, already restored or already being
// restored are decided from the listing without calling S3, so re-running
// a job never re-requests a restore. A cancelled ctx marks the objects not
// yet requested as failed.
func (a *Account) RestoreMany(ctx context.Context, bucket string, objs []Object, o RestoreManyOptions) []RestoreResult {
	if o.Tier == "" {
		o.Tier = TierStandard
	}
	workers := o.Concurrency
	if workers <= 0 {
		workers = a.opts.RestoreConcurrency
	}
	results := make([]RestoreResult, len(objs))
	var cbMu sync.Mutex
	report := func(i int, r RestoreResult) {
		results[i] = r
		if o.OnResult != nil {
			cbMu.Lock()
			o.OnResult(r)
			cbMu.Unlock()
		}
	}

	todo := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, max(len(objs), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range todo {
				report(i, a.restoreOne(ctx, bucket, objs[i], o))
			}
		}()
	}
	for i, obj := range objs {
		if r, decided := decideWithoutS3(obj); decided {
			report(i, r)
			continue
		}
		select {
		case todo <- i:
		case <-ctx.Done():
			report(i, failed(obj, fmt.Errorf("restore s3://%s/%s: %w", bucket, obj.Key, ctx.Err()), o.Tier))
		}
	}
	close(todo)
	wg.Wait()
	return results
}

// decideWithoutS3 settles objects whose listing already says what to do.
func decideWithoutS3(obj Object) (RestoreResult, bool) {
	r := RestoreResult{Key: obj.Key, StorageClass: obj.StorageClass}
	if !obj.RestoreKnown || obj.StorageClass == "" {
		return r, false
	}
	switch {
	case !obj.Archived():
		r.Outcome = RestoreSkippedNotArchived
	case obj.Restore.Status == RestoreOngoing:
		r.Outcome = RestoreInProgress
	case obj.Restore.Status == RestoreCompleted:
		r.Outcome = RestoreAlreadyRestored
	default:
		return r, false
	}
	return r, true
}

func (a *Account) restoreOne(ctx context.Context, bucket string, obj Object, o RestoreManyOptions) RestoreResult {
	if err := ctx.Err(); err != nil {
		return failed(obj, fmt.Errorf("restore s3://%s/%s: %w", bucket, obj.Key, err), o.Tier)
	}
	if !obj.RestoreKnown || obj.StorageClass == "" {
		head, err := a.HeadObject(ctx, bucket, obj.Key)
		if err != nil {
			return failed(obj, err, o.Tier)
		}
		if r, decided := decideWithoutS3(head); decided {
			return r
		}
		obj = head
	}
	outcome, err := a.RestoreObject(ctx, bucket, obj.Key, o.Days, o.Tier)
	if err != nil {
		return failed(obj, err, o.Tier)
	}
	return RestoreResult{Key: obj.Key, StorageClass: obj.StorageClass, Outcome: outcome}
}

func failed(obj Object, err error, tier Tier) RestoreResult {
	reason := Describe(err)
	// A listing that already said DEEP_ARCHIVE explains S3's refusal of
	// Expedited without RestoreObject's extra HEAD.
	if tier == TierExpedited && obj.StorageClass == StorageClassDeepArchive && !errors.Is(err, context.Canceled) {
		reason = Describe(ErrNoExpeditedForDeepArchive)
	}
	return RestoreResult{Key: obj.Key, StorageClass: obj.StorageClass, Outcome: RestoreFailed, Reason: reason, Err: err}
}

// PutObject writes body to bucket/key, for manifests and reports.
func (a *Account) PutObject(ctx context.Context, bucket, key string, body []byte, contentType string) error {
	in := &s3.PutObjectInput{
		Bucket:        awssdk.String(bucket),
		Key:           awssdk.String(key),
		Body:          bytes.NewReader(body),
		ContentLength: awssdk.Int64(int64(len(body))),
	}
	if contentType != "" {
		in.ContentType = awssdk.String(contentType)
	}
	if _, err := a.s3Client("").PutObject(ctx, in); err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", bucket, key, err)
	}
	return nil
}

// MaxPresignExpiry is SigV4's limit on presigned URL lifetime.
const MaxPresignExpiry = 7 * 24 * time.Hour

// PresignGet returns a URL that downloads bucket/key without credentials
// until expiry. The URL is a bearer secret: share it, don't log it.
// Because it is signed with the assumed-role session, it also stops
// working when that session expires (Options.AssumeRoleDuration).
func (a *Account) PresignGet(ctx context.Context, bucket, key string, expiry time.Duration) (string, error) {
	if expiry <= 0 || expiry > MaxPresignExpiry {
		return "", fmt.Errorf("presign s3://%s/%s: expiry %s must be between 1s and %s", bucket, key, expiry, MaxPresignExpiry)
	}
	req, err := s3.NewPresignClient(a.s3Client("")).PresignGetObject(ctx,
		&s3.GetObjectInput{Bucket: awssdk.String(bucket), Key: awssdk.String(key)},
		s3.WithPresignExpires(expiry))
	if err != nil {
		return "", fmt.Errorf("presign s3://%s/%s: %w", bucket, key, err)
	}
	return req.URL, nil
}

// ListPrefixes returns the "directories" directly under prefix: the
// common prefixes of a ListObjectsV2 with delimiter "/", each ending in
// "/". It pages like ListObjects, so a bucket with thousands of hosts
// under one environment is listed whole.
func (a *Account) ListPrefixes(ctx context.Context, bucket, prefix string) ([]string, error) {
	in := &s3.ListObjectsV2Input{Bucket: awssdk.String(bucket), Delimiter: awssdk.String("/")}
	if prefix != "" {
		in.Prefix = awssdk.String(prefix)
	}
	p := s3.NewListObjectsV2Paginator(a.s3Client(""), in)
	var out []string
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list prefixes of s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, cp := range page.CommonPrefixes {
			out = append(out, awssdk.ToString(cp.Prefix))
		}
	}
	return out, nil
}

// HeadMany heads every key with at most concurrency requests in flight
// (default Options.RestoreConcurrency) and returns, in input order, each
// object or the error heading it. Jobs use it to poll x-amz-restore of
// thousands of objects without a request per object in series.
func (a *Account) HeadMany(ctx context.Context, bucket string, keys []string, concurrency int) ([]Object, []error) {
	if concurrency <= 0 {
		concurrency = a.opts.RestoreConcurrency
	}
	objs := make([]Object, len(keys))
	errs := make([]error, len(keys))
	todo := make(chan int)
	var wg sync.WaitGroup
	for range min(concurrency, max(len(keys), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range todo {
				objs[i], errs[i] = a.HeadObject(ctx, bucket, keys[i])
			}
		}()
	}
	for i := range keys {
		if ctx.Err() != nil {
			errs[i] = fmt.Errorf("head s3://%s/%s: %w", bucket, keys[i], ctx.Err())
			continue
		}
		todo <- i
	}
	close(todo)
	wg.Wait()
	return objs, errs
}

// LinkExpiry prepares the account for presigning links that should live
// for lifetime and returns when they will stop working. A presigned URL
// dies with the session that signed it, so when the cached session ends
// sooner than lifetime a fresh one is assumed first; the result is the
// earlier of now+lifetime and the session's end, which is what to tell
// the people who get the links.
func (a *Account) LinkExpiry(ctx context.Context, lifetime time.Duration) (time.Time, error) {
	want := time.Now().Add(lifetime)
	creds, err := a.cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return time.Time{}, fmt.Errorf("credentials for presigned links in %s: %w", a.spec, err)
	}
	if creds.CanExpire && creds.Expires.Before(want) {
		if cache, ok := a.cfg.Credentials.(*awssdk.CredentialsCache); ok {
			cache.Invalidate()
			if creds, err = a.cfg.Credentials.Retrieve(ctx); err != nil {
				return time.Time{}, fmt.Errorf("credentials for presigned links in %s: %w", a.spec, err)
			}
		}
	}
	if creds.CanExpire && creds.Expires.Before(want) {
		return creds.Expires, nil
	}
	return want, nil
}
