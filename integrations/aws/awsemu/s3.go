package awsemu

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Bucket seeds an S3 bucket.
type Bucket struct {
	Name   string
	Region string // informational; S3 requests are not region-checked
	// AccountID owns the bucket; requests from other accounts get
	// AccessDenied. Empty leaves the bucket open to every caller, which is
	// convenient for tests that are not about cross-account access.
	AccountID string
}

// RestoreSeed is the restore state an archived object is seeded in.
type RestoreSeed int

const (
	// NotRestored is an archived object nobody asked to restore yet.
	NotRestored RestoreSeed = iota
	// RestoreOngoing is an object whose restore was requested now and
	// completes after the restore delay.
	RestoreOngoing
	// Restored is an object with a readable restored copy.
	Restored
)

// Object seeds an S3 object.
type Object struct {
	Key          string
	StorageClass string // default STANDARD
	// Body is the content. When Body is nil, Size declares a synthetic
	// size: listings and HEAD report it and GET streams that many zero
	// bytes, so 10,000 "1 GiB" objects cost nothing to seed.
	Body        []byte
	Size        int64
	ContentType string
	Restore     RestoreSeed
	// RestoreDays is the lifetime of a seeded restored copy (default 7).
	RestoreDays int
	// LastModified, when set, dates the object (an archive written months
	// ago); default now. Requests served while it is being seeded see it
	// as the time too, so seed before serving traffic.
	LastModified time.Time
}

type bucketState struct {
	owner  string
	region string
}

type objectState struct {
	class   string
	phantom bool
	size    int64 // declared size of a phantom object
	// Zero until a restore is requested. Expiry moves the object back to
	// the archive, as S3 deletes the temporary copy.
	requested, ready, expiry time.Time
}

type restoreStatus int

const (
	restoreNone restoreStatus = iota
	restoreInProgress
	restoreDone
)

func (o *objectState) restore(now time.Time) restoreStatus {
	switch {
	case o.requested.IsZero() || !now.Before(o.expiry):
		return restoreNone
	case now.Before(o.ready):
		return restoreInProgress
	default:
		return restoreDone
	}
}

// xAmzRestore is the x-amz-restore header value, empty when there is none.
func (o *objectState) xAmzRestore(now time.Time) string {
	switch o.restore(now) {
	case restoreInProgress:
		return `ongoing-request="true"`
	case restoreDone:
		return fmt.Sprintf(`ongoing-request="false", expiry-date="%s"`, o.expiry.UTC().Format(http.TimeFormat))
	}
	return ""
}

func archived(class string) bool { return class == "GLACIER" || class == "DEEP_ARCHIVE" }

var storageClasses = map[string]bool{
	"STANDARD": true, "REDUCED_REDUNDANCY": true, "STANDARD_IA": true, "ONEZONE_IA": true,
	"INTELLIGENT_TIERING": true, "GLACIER": true, "DEEP_ARCHIVE": true, "GLACIER_IR": true,
	"OUTPOSTS": true, "SNOW": true, "EXPRESS_ONEZONE": true,
}

// s3Backend wraps gofakes3's in-memory backend with the per-object state
// gofakes3 has no notion of (storage class, restore, synthetic size).
type s3Backend struct {
	*s3mem.Backend
	e *Emulator

	mu      sync.Mutex
	objects map[string]*objectState // by bucket + "/" + key
}

var _ gofakes3.Backend = (*s3Backend)(nil)

func objKey(bucket, key string) string { return bucket + "/" + key }

// state returns a copy so callers can read it without holding the lock.
func (b *s3Backend) state(bucket, key string) (objectState, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.objects[objKey(bucket, key)]
	if st == nil {
		// Objects written by paths the wrapper does not see (multipart
		// uploads) are plain STANDARD objects.
		return objectState{class: "STANDARD"}, false
	}
	return *st, true
}

// keepMeta drops what gofakes3 would otherwise store and echo back on GET
// and HEAD: every x-amz-* request header, including the caller's session
// token and signing details.
func keepMeta(meta map[string]string) map[string]string {
	out := make(map[string]string, len(meta))
	for k, v := range meta {
		switch {
		case strings.HasPrefix(k, "X-Amz-Meta-"), k == "Content-Type", k == "Content-Disposition",
			k == "Content-Encoding", k == "Last-Modified":
			out[k] = v
		}
	}
	return out
}

func (b *s3Backend) PutObject(bucket, key string, meta map[string]string, input io.Reader, size int64, cond *gofakes3.PutConditions) (gofakes3.PutObjectResult, error) {
	class := meta["X-Amz-Storage-Class"]
	if class == "" {
		class = "STANDARD"
	}
	res, err := b.Backend.PutObject(bucket, key, keepMeta(meta), input, size, cond)
	if err != nil {
		return res, err
	}
	b.mu.Lock()
	b.objects[objKey(bucket, key)] = &objectState{class: class}
	b.mu.Unlock()
	return res, nil
}

// CopyObject goes through the wrapper (not s3mem's own copy) so the
// destination gets a storage class and synthetic bodies are materialised.
func (b *s3Backend) CopyObject(srcBucket, srcKey, dstBucket, dstKey string, meta map[string]string) (gofakes3.CopyObjectResult, error) {
	return gofakes3.CopyObject(b, srcBucket, srcKey, dstBucket, dstKey, meta)
}

func (b *s3Backend) DeleteObject(bucket, key string) (gofakes3.ObjectDeleteResult, error) {
	res, err := b.Backend.DeleteObject(bucket, key)
	if err == nil {
		b.mu.Lock()
		delete(b.objects, objKey(bucket, key))
		b.mu.Unlock()
	}
	return res, err
}

func (b *s3Backend) DeleteMulti(bucket string, keys ...string) (gofakes3.MultiDeleteResult, error) {
	res, err := b.Backend.DeleteMulti(bucket, keys...)
	b.mu.Lock()
	for _, d := range res.Deleted {
		delete(b.objects, objKey(bucket, d.Key))
	}
	b.mu.Unlock()
	return res, err
}

func (b *s3Backend) ListBucket(bucket string, prefix *gofakes3.Prefix, page gofakes3.ListBucketPage) (*gofakes3.ObjectList, error) {
	list, err := b.Backend.ListBucket(bucket, prefix, page)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range list.Contents {
		if st := b.objects[objKey(bucket, c.Key)]; st != nil {
			c.StorageClass = gofakes3.StorageClass(st.class)
			if st.phantom {
				c.Size = st.size
			}
		}
	}
	return list, nil
}

// decorate adds the headers gofakes3 does not know (storage class,
// restore) and the synthetic size; metadata is copied because s3mem hands
// out its stored map.
func (b *s3Backend) decorate(bucket, key string, obj *gofakes3.Object) objectState {
	st, _ := b.state(bucket, key)
	meta := make(map[string]string, len(obj.Metadata)+2)
	for k, v := range obj.Metadata {
		meta[k] = v
	}
	if st.class != "STANDARD" {
		meta["x-amz-storage-class"] = st.class
	}
	if v := st.xAmzRestore(b.e.clock.Now()); v != "" {
		meta["x-amz-restore"] = v
	}
	obj.Metadata = meta
	if st.phantom {
		obj.Size = st.size
	}
	return st
}

func (b *s3Backend) HeadObject(bucket, key string) (*gofakes3.Object, error) {
	obj, err := b.Backend.HeadObject(bucket, key)
	if err != nil {
		return nil, err
	}
	b.decorate(bucket, key, obj)
	return obj, nil
}

func (b *s3Backend) GetObject(bucket, key string, rng *gofakes3.ObjectRangeRequest) (*gofakes3.Object, error) {
	st, _ := b.state(bucket, key)
	if !st.phantom {
		obj, err := b.Backend.GetObject(bucket, key, rng)
		if err != nil {
			return nil, err
		}
		b.decorate(bucket, key, obj)
		return obj, nil
	}
	obj, err := b.Backend.GetObject(bucket, key, nil)
	if err != nil {
		return nil, err
	}
	_ = obj.Contents.Close()
	b.decorate(bucket, key, obj)
	r, err := rng.Range(obj.Size)
	if err != nil {
		return nil, err
	}
	n := obj.Size
	if r != nil {
		n = r.Length
	}
	obj.Range = r
	obj.Contents = io.NopCloser(io.LimitReader(zeros{}, n))
	return obj, nil
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// seedObject writes straight into s3mem, skipping HTTP, so bulk seeding
// of tens of thousands of objects stays fast.
func (b *s3Backend) seedObject(bucket string, o Object) error {
	class := o.StorageClass
	if class == "" {
		class = "STANDARD"
	}
	if !storageClasses[class] {
		return fmt.Errorf("seed s3://%s/%s: unknown storage class %q", bucket, o.Key, class)
	}
	modified := b.e.clock.Now()
	if !o.LastModified.IsZero() {
		modified = o.LastModified.UTC()
		b.e.seedMu.Lock()
		b.e.seedAt.Store(&modified)
		defer func() {
			b.e.seedAt.Store(nil)
			b.e.seedMu.Unlock()
		}()
	}
	meta := map[string]string{"Last-Modified": modified.UTC().Format(http.TimeFormat)}
	if o.ContentType != "" {
		meta["Content-Type"] = o.ContentType
	}
	if _, err := b.Backend.PutObject(bucket, o.Key, meta, bytes.NewReader(o.Body), int64(len(o.Body)), nil); err != nil {
		return fmt.Errorf("seed s3://%s/%s: %w", bucket, o.Key, err)
	}
	st := &objectState{class: class}
	if o.Body == nil && o.Size > 0 {
		st.phantom, st.size = true, o.Size
	}
	now := b.e.clock.Now()
	days := o.RestoreDays
	if days <= 0 {
		days = 7
	}
	switch o.Restore {
	case RestoreOngoing:
		st.requested = now
		st.ready = now.Add(b.e.restoreDelay(class, "Standard"))
		st.expiry = st.ready.Add(time.Duration(days) * 24 * time.Hour)
	case Restored:
		st.requested, st.ready = now, now
		st.expiry = now.Add(time.Duration(days) * 24 * time.Hour)
	}
	b.mu.Lock()
	b.objects[objKey(bucket, o.Key)] = st
	b.mu.Unlock()
	return nil
}

// S3RestoreTimes is how long S3 documents a restore of class at tier may
// take, the upper end of each range: GLACIER 1-5 minutes Expedited, 3-5
// hours Standard, 5-12 hours Bulk; DEEP_ARCHIVE within 12 hours Standard
// and 48 hours Bulk (S3 refuses Expedited for it, so it has no time).
func S3RestoreTimes(class, tier string) time.Duration {
	if class == "DEEP_ARCHIVE" {
		if tier == "Bulk" {
			return 48 * time.Hour
		}
		return 12 * time.Hour
	}
	switch tier {
	case "Expedited":
		return 5 * time.Minute
	case "Bulk":
		return 12 * time.Hour
	}
	return 5 * time.Hour
}

// ScaledRestoreTimes is S3RestoreTimes with every AWS hour lasting hour,
// so the sandbox keeps S3's proportions (Deep Archive Bulk is the slowest,
// Expedited the fastest) in seconds instead of days.
func ScaledRestoreTimes(hour time.Duration) func(class, tier string) time.Duration {
	return func(class, tier string) time.Duration {
		return time.Duration(float64(S3RestoreTimes(class, tier)) / float64(time.Hour) * float64(hour))
	}
}

func (e *Emulator) restoreDelay(class, tier string) time.Duration {
	if e.opts.RestoreDelayFor != nil {
		return e.opts.RestoreDelayFor(class, tier)
	}
	return e.opts.RestoreDelay
}

// CreateBucket seeds a bucket.
func (e *Emulator) CreateBucket(b Bucket) error {
	if err := e.backend.CreateBucket(b.Name); err != nil {
		return fmt.Errorf("seed bucket %s: %w", b.Name, err)
	}
	e.mu.Lock()
	e.buckets[b.Name] = &bucketState{owner: b.AccountID, region: b.Region}
	e.mu.Unlock()
	return nil
}

// PutObjects seeds objects into an existing bucket without going through
// HTTP.
func (e *Emulator) PutObjects(bucket string, objs ...Object) error {
	if ok, _ := e.backend.BucketExists(bucket); !ok {
		return fmt.Errorf("seed objects into %s: bucket does not exist", bucket)
	}
	for _, o := range objs {
		if err := e.backend.seedObject(bucket, o); err != nil {
			return err
		}
	}
	return nil
}

// ObjectBody returns an object's stored content, for assertions on what the
// code under test wrote (a manifest, say).
func (e *Emulator) ObjectBody(bucket, key string) ([]byte, error) {
	obj, err := e.backend.GetObject(bucket, key, nil)
	if err != nil {
		return nil, fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
	}
	defer obj.Contents.Close()
	return io.ReadAll(obj.Contents)
}

// s3Op names the S3 operation of a request, for counters, faults and logs.
func s3Op(r *http.Request, bucket, key string) string {
	q := r.URL.Query()
	has := func(k string) bool { _, ok := q[k]; return ok }
	if bucket == "" {
		return "ListBuckets"
	}
	if key == "" {
		switch r.Method {
		case http.MethodGet:
			switch {
			case q.Get("list-type") == "2":
				return "ListObjectsV2"
			case has("location"):
				return "GetBucketLocation"
			case has("versions"):
				return "ListObjectVersions"
			case has("uploads"):
				return "ListMultipartUploads"
			}
			return "ListObjects"
		case http.MethodPut:
			return "CreateBucket"
		case http.MethodDelete:
			return "DeleteBucket"
		case http.MethodHead:
			return "HeadBucket"
		case http.MethodPost:
			if has("delete") {
				return "DeleteObjects"
			}
		}
		return "Bucket" + r.Method
	}
	switch r.Method {
	case http.MethodGet:
		return "GetObject"
	case http.MethodHead:
		return "HeadObject"
	case http.MethodPut:
		switch {
		case r.Header.Get("X-Amz-Copy-Source") != "":
			return "CopyObject"
		case has("partNumber"):
			return "UploadPart"
		}
		return "PutObject"
	case http.MethodDelete:
		if has("uploadId") {
			return "AbortMultipartUpload"
		}
		return "DeleteObject"
	case http.MethodPost:
		switch {
		case has("restore"):
			return "RestoreObject"
		case has("uploads"):
			return "CreateMultipartUpload"
		case has("uploadId"):
			return "CompleteMultipartUpload"
		}
	}
	return "Object" + r.Method
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(p)
}

func (e *Emulator) serveS3(w http.ResponseWriter, r *http.Request, sc credScope) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	bucket, key, _ := strings.Cut(path, "/")
	op := s3Op(r, bucket, key)
	e.count("s3:" + op)
	if op == "RestoreObject" {
		e.statsMu.Lock()
		e.restoreCalls[objKey(bucket, key)]++
		e.statsMu.Unlock()
	}
	rec := &statusRecorder{ResponseWriter: w}
	reqID := strings.ToUpper(randomID(16))
	rec.Header().Set("x-amz-request-id", reqID)
	var id identity
	defer func() {
		e.logf("s3 %s bucket=%s region=%s account=%s status=%d", op, bucket, sc.region, id.account, rec.status)
	}()
	fail := func(err *apiError, extra ...any) { writeS3Error(rec, r, err, reqID, "/"+path, extra...) }

	id, aerr := e.resolve(sc)
	if aerr != nil {
		fail(aerr)
		return
	}
	if aerr := e.checkPresignExpiry(r); aerr != nil {
		fail(aerr)
		return
	}
	if f := e.takeFault("s3:" + op); f != nil {
		fail(f)
		return
	}
	if bucket != "" {
		e.mu.Lock()
		bs := e.buckets[bucket]
		e.mu.Unlock()
		if bs != nil && bs.owner != "" && bs.owner != id.account {
			fail(errf(http.StatusForbidden, "AccessDenied", "Access Denied"))
			return
		}
	}

	switch op {
	case "RestoreObject":
		e.s3Restore(rec, r, bucket, key, fail)
		return
	case "ListObjectsV2":
		e.s3ListV2(rec, r, bucket, fail)
		return
	case "GetObject":
		if st, ok := e.backend.state(bucket, key); ok && archived(st.class) && st.restore(e.clock.Now()) != restoreDone {
			fail(errf(http.StatusForbidden, "InvalidObjectState", "The operation is not valid for the object's storage class"), st.class)
			return
		}
	case "PutObject", "CopyObject":
		if c := r.Header.Get("X-Amz-Storage-Class"); c != "" && !storageClasses[c] {
			fail(errf(http.StatusBadRequest, "InvalidStorageClass", "The storage class you specified is not valid"))
			return
		}
		if op == "CopyObject" {
			src := strings.TrimPrefix(r.Header.Get("X-Amz-Copy-Source"), "/")
			sb, sk, _ := strings.Cut(src, "/")
			if st, ok := e.backend.state(sb, sk); ok && archived(st.class) && st.restore(e.clock.Now()) != restoreDone {
				fail(errf(http.StatusForbidden, "InvalidObjectState", "The source object of the COPY action is not in the active tier and is only stored in Amazon S3 Glacier."), st.class)
				return
			}
		}
	}

	e.s3h.ServeHTTP(rec, r)

	if rec.status == 0 {
		// gofakes3 answers some calls (CreateBucket) without writing;
		// net/http then sends 200.
		rec.status = http.StatusOK
	}
	if rec.status == http.StatusOK {
		switch op {
		case "CreateBucket":
			e.mu.Lock()
			e.buckets[bucket] = &bucketState{owner: id.account, region: sc.region}
			e.mu.Unlock()
		case "DeleteBucket":
			e.mu.Lock()
			delete(e.buckets, bucket)
			e.mu.Unlock()
		}
	}
}

// checkPresignExpiry enforces X-Amz-Expires on presigned URLs against the
// emulator's clock, as S3 does.
func (e *Emulator) checkPresignExpiry(r *http.Request) *apiError {
	q := r.URL.Query()
	date, exp := q.Get("X-Amz-Date"), q.Get("X-Amz-Expires")
	if date == "" || exp == "" {
		return nil
	}
	t, err := time.Parse("20060102T150405Z", date)
	secs, err2 := strconv.Atoi(exp)
	if err != nil || err2 != nil {
		return errf(http.StatusBadRequest, "AuthorizationQueryParametersError", "X-Amz-Date or X-Amz-Expires is malformed")
	}
	if e.clock.Now().After(t.Add(time.Duration(secs) * time.Second)) {
		return errf(http.StatusForbidden, "AccessDenied", "Request has expired")
	}
	return nil
}

func writeS3Error(w http.ResponseWriter, r *http.Request, err *apiError, reqID, resource string, storageClass ...any) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(err.status)
	if r.Method == http.MethodHead {
		return
	}
	body := struct {
		XMLName      xml.Name `xml:"Error"`
		Code         string   `xml:"Code"`
		Message      string   `xml:"Message"`
		StorageClass string   `xml:"StorageClass,omitempty"`
		Resource     string   `xml:"Resource,omitempty"`
		RequestID    string   `xml:"RequestId"`
	}{Code: err.code, Message: err.message, Resource: resource, RequestID: reqID}
	if len(storageClass) > 0 {
		body.StorageClass, _ = storageClass[0].(string)
	}
	_, _ = w.Write([]byte(xml.Header))
	_ = xml.NewEncoder(w).Encode(body)
}

// fromGofakes3 turns a gofakes3 backend error into the S3 error it stands
// for.
func fromGofakes3(err error) *apiError {
	var ge gofakes3.Error
	if errors.As(err, &ge) {
		code := ge.ErrorCode()
		return errf(code.Status(), string(code), "%s", strings.TrimPrefix(err.Error(), string(code)+": "))
	}
	return errf(http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
}

type restoreRequest struct {
	Days                 int    `xml:"Days"`
	Type                 string `xml:"Type"`
	Tier                 string `xml:"Tier"`
	GlacierJobParameters struct {
		Tier string `xml:"Tier"`
	} `xml:"GlacierJobParameters"`
}

func (e *Emulator) s3Restore(w http.ResponseWriter, r *http.Request, bucket, key string, fail func(*apiError, ...any)) {
	var req restoreRequest
	if err := xml.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		fail(errf(http.StatusBadRequest, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema"))
		return
	}
	if req.Type != "" {
		fail(errf(http.StatusNotImplemented, "NotImplemented", "Restore of type %s is not emulated", req.Type))
		return
	}
	if _, err := e.backend.Backend.HeadObject(bucket, key); err != nil {
		fail(fromGofakes3(err))
		return
	}
	tier := req.GlacierJobParameters.Tier
	if tier == "" {
		tier = req.Tier
	}
	if tier == "" {
		tier = "Standard"
	}
	if tier != "Standard" && tier != "Bulk" && tier != "Expedited" {
		fail(errf(http.StatusBadRequest, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema"))
		return
	}

	now := e.clock.Now()
	b := e.backend
	b.mu.Lock()
	st := b.objects[objKey(bucket, key)]
	class := "STANDARD"
	if st != nil {
		class = st.class
	}
	var (
		aerr   *apiError
		status int
	)
	switch {
	case !archived(class):
		aerr = errf(http.StatusForbidden, "InvalidObjectState", "Restore is not allowed for the object's current storage class")
	case req.Days < 1:
		aerr = errf(http.StatusBadRequest, "InvalidArgument", "Days must be a positive integer for objects in the %s storage class", class)
	case tier == "Expedited" && class == "DEEP_ARCHIVE":
		// S3 has no Expedited retrieval for Deep Archive and refuses
		// the request as an operation the object's storage class does
		// not allow, naming the class.
		aerr = errf(http.StatusForbidden, "InvalidObjectState", "Expedited retrieval is not available for objects in the DEEP_ARCHIVE storage class; use Standard or Bulk")
	default:
		switch st.restore(now) {
		case restoreInProgress:
			aerr = errf(http.StatusConflict, "RestoreAlreadyInProgress", "Object restore is already in progress")
		case restoreDone:
			// Reissuing a restore on a restored copy only moves its expiry.
			st.expiry = now.Add(time.Duration(req.Days) * 24 * time.Hour)
			status = http.StatusOK
		default:
			st.requested = now
			st.ready = now.Add(e.restoreDelay(class, tier))
			st.expiry = st.ready.Add(time.Duration(req.Days) * 24 * time.Hour)
			status = http.StatusAccepted
		}
	}
	b.mu.Unlock()
	if aerr != nil {
		fail(aerr, class)
		return
	}
	w.WriteHeader(status)
}

type listContent struct {
	Key           string               `xml:"Key"`
	LastModified  gofakes3.ContentTime `xml:"LastModified"`
	ETag          string               `xml:"ETag"`
	Size          int64                `xml:"Size"`
	StorageClass  string               `xml:"StorageClass"`
	RestoreStatus *restoreStatusXML    `xml:"RestoreStatus,omitempty"`
}

type restoreStatusXML struct {
	IsRestoreInProgress bool   `xml:"IsRestoreInProgress"`
	RestoreExpiryDate   string `xml:"RestoreExpiryDate,omitempty"`
}

// s3ListV2 answers ListObjectsV2 itself, from the same gofakes3 backend,
// because gofakes3's response type has no RestoreStatus element.
func (e *Emulator) s3ListV2(w http.ResponseWriter, r *http.Request, bucket string, fail func(*apiError, ...any)) {
	q := r.URL.Query()
	maxKeys := 1000
	if v := q.Get("max-keys"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			fail(errf(http.StatusBadRequest, "InvalidArgument", "Provided max-keys not an integer or within integer range"))
			return
		}
		maxKeys = min(n, 1000)
	}
	if e.opts.PageLimit > 0 {
		maxKeys = min(maxKeys, e.opts.PageLimit)
	}
	prefix := gofakes3.Prefix{Prefix: q.Get("prefix"), Delimiter: q.Get("delimiter")}
	_, prefix.HasPrefix = q["prefix"]
	_, prefix.HasDelimiter = q["delimiter"]
	page := gofakes3.ListBucketPage{MaxKeys: int64(maxKeys)}
	if tok := q.Get("continuation-token"); tok != "" {
		raw, err := base64.URLEncoding.DecodeString(tok)
		if err != nil {
			fail(errf(http.StatusBadRequest, "InvalidArgument", "The continuation token provided is incorrect"))
			return
		}
		page.Marker, page.HasMarker = string(raw), true
	} else if sa := q.Get("start-after"); sa != "" {
		page.Marker, page.HasMarker = sa, true
	}
	wantRestore := strings.Contains(r.Header.Get("X-Amz-Optional-Object-Attributes"), "RestoreStatus")

	type commonPrefix struct {
		Prefix string `xml:"Prefix"`
	}
	out := struct {
		XMLName               xml.Name       `xml:"ListBucketResult"`
		NS                    string         `xml:"xmlns,attr"`
		Name                  string         `xml:"Name"`
		Prefix                string         `xml:"Prefix"`
		Delimiter             string         `xml:"Delimiter,omitempty"`
		MaxKeys               int            `xml:"MaxKeys"`
		KeyCount              int            `xml:"KeyCount"`
		IsTruncated           bool           `xml:"IsTruncated"`
		ContinuationToken     string         `xml:"ContinuationToken,omitempty"`
		NextContinuationToken string         `xml:"NextContinuationToken,omitempty"`
		StartAfter            string         `xml:"StartAfter,omitempty"`
		Contents              []listContent  `xml:"Contents"`
		CommonPrefixes        []commonPrefix `xml:"CommonPrefixes"`
	}{
		NS: "http://s3.amazonaws.com/doc/2006-03-01/", Name: bucket, Prefix: prefix.Prefix, Delimiter: prefix.Delimiter,
		MaxKeys: maxKeys, ContinuationToken: q.Get("continuation-token"), StartAfter: q.Get("start-after"),
	}
	if ok, _ := e.backend.BucketExists(bucket); !ok {
		fail(fromGofakes3(gofakes3.BucketNotFound(bucket)))
		return
	}
	if maxKeys > 0 {
		list, err := e.backend.ListBucket(bucket, &prefix, page)
		if err != nil {
			fail(fromGofakes3(err))
			return
		}
		now := e.clock.Now()
		e.backend.mu.Lock()
		for _, c := range list.Contents {
			lc := listContent{Key: c.Key, LastModified: c.LastModified, ETag: c.ETag, Size: c.Size, StorageClass: string(c.StorageClass)}
			if lc.StorageClass == "" {
				lc.StorageClass = "STANDARD"
			}
			if st := e.backend.objects[objKey(bucket, c.Key)]; wantRestore && st != nil {
				switch st.restore(now) {
				case restoreInProgress:
					lc.RestoreStatus = &restoreStatusXML{IsRestoreInProgress: true}
				case restoreDone:
					lc.RestoreStatus = &restoreStatusXML{RestoreExpiryDate: isoTime(st.expiry)}
				}
			}
			out.Contents = append(out.Contents, lc)
		}
		e.backend.mu.Unlock()
		for _, p := range list.CommonPrefixes {
			out.CommonPrefixes = append(out.CommonPrefixes, commonPrefix{p.Prefix})
		}
		out.IsTruncated = list.IsTruncated
		if list.IsTruncated && list.NextMarker != "" {
			marker := list.NextMarker
			// s3mem's marker is the page's last key; when that key was
			// rolled up into a common prefix, S3 resumes after the whole
			// prefix, not inside it (0xff sorts after every UTF-8 key).
			if n := len(list.CommonPrefixes); n > 0 && strings.HasPrefix(marker, list.CommonPrefixes[n-1].Prefix) {
				marker = list.CommonPrefixes[n-1].Prefix + "\xff"
			}
			out.NextContinuationToken = base64.URLEncoding.EncodeToString([]byte(marker))
		}
	}
	out.KeyCount = len(out.Contents) + len(out.CommonPrefixes)
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(xml.Header))
	_ = xml.NewEncoder(w).Encode(out)
}
