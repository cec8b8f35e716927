// Package awsemu is a small wire-level AWS emulator for tests and for the
// bot's sandbox mode. It speaks the real protocols (S3 REST-XML; EC2, RDS and
// STS query; Secrets Manager JSON) so the unmodified aws-sdk-go-v2 clients, with their
// serializers, paginators and waiters, run against it on 127.0.0.1.
//
// Plain S3 storage is delegated to gofakes3 (in-memory backend); the
// emulator adds what gofakes3 lacks in a front handler: storage classes,
// RestoreObject with a configurable delay, x-amz-restore, InvalidObjectState
// for archived objects, ListObjectsV2 with RestoreStatus, bucket ownership
// and SigV4-scoped identities.
//
// The emulator does not verify signatures. It does read the SigV4 credential
// scope of every request: the region comes from there (so one endpoint
// serves every region), and the access key decides the calling account.
package awsemu

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// DefaultAccountID is the account that requests signed with non-assumed
// (base) credentials act in, unless Options.DefaultAccountID says otherwise.
const DefaultAccountID = "000000000000"

// Clock lets tests and the sandbox decide what "now" is for every
// time-dependent state (restores, snapshots, exports, credential expiry).
type Clock interface {
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now().UTC() }

// ManualClock only moves when told to, so a test can make a five-hour
// restore complete deterministically.
type ManualClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewManualClock starts a manual clock at t.
func NewManualClock(t time.Time) *ManualClock { return &ManualClock{now: t.UTC()} }

// Now returns the clock's current time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Options configures an Emulator. The zero value is usable: every delay is
// zero (state changes are visible on the next request) and the real clock is
// used.
type Options struct {
	// Clock defaults to the real clock.
	Clock Clock

	// RestoreDelay is how long an S3 restore stays ongoing.
	// RestoreDelayFor, when set, overrides it per storage class and tier:
	// S3RestoreTimes is AWS's documented timing (Deep Archive: 12 h on
	// Standard, 48 h on Bulk), ScaledRestoreTimes the same shortened for
	// the sandbox.
	RestoreDelay    time.Duration
	RestoreDelayFor func(storageClass, tier string) time.Duration

	// SnapshotDelay is how long an EBS snapshot (created or copied) stays
	// pending before it is completed.
	SnapshotDelay time.Duration

	// DBSnapshotDelay is how long an RDS snapshot (created or copied) takes
	// to become available.
	DBSnapshotDelay time.Duration

	// DBRestoreDelay is how long RestoreDBInstanceFromDBSnapshot leaves
	// the new instance "creating".
	DBRestoreDelay time.Duration

	// ExportDelay is how long an RDS export task takes from STARTING to
	// COMPLETE; it spends the first tenth in STARTING, the rest IN_PROGRESS.
	ExportDelay time.Duration

	// PageLimit, when positive, caps every page the emulator returns
	// (ListObjectsV2, DescribeSnapshots, DescribeVolumes, DescribeImages,
	// DescribeDB*), so
	// tests can exercise pagination without seeding millions of items.
	PageLimit int

	// Latency is added to every request, to model the round trip to AWS
	// when measuring how a caller's concurrency pays off.
	Latency time.Duration

	// StackStepDelay is how long each resource of a CloudFormation change
	// set takes to create, update or delete (zero: all at once).
	StackStepDelay time.Duration

	// DefaultAccountID is the account for requests signed with credentials
	// that were not issued by the emulator's AssumeRole.
	DefaultAccountID string

	// Logf, when set, receives one line per request. Lines name the
	// service, operation, region, account and status, never credentials.
	Logf func(format string, args ...any)
}

// Emulator holds all emulated state. It is an http.Handler; Start serves it
// on 127.0.0.1.
type Emulator struct {
	opts  Options
	clock Clock

	s3      *gofakes3.GoFakeS3
	s3h     http.Handler
	backend *s3Backend

	mu       sync.Mutex
	accounts map[string]*accountState // by role ARN
	sessions map[string]*session      // by access key id
	buckets  map[string]*bucketState  // by bucket name
	volumes  map[string]*volume       // by volume id
	snaps    map[string]*snapshot     // by snapshot id
	images   map[string]*image        // by image id
	dbs      map[string]*dbInstance   // by ARN
	dbSnaps  map[string]*dbSnapshot   // by ARN
	exports  map[string]*exportTask   // by account|region|identifier
	secrets  map[string]*secretState  // by account|region|name
	faults   map[string][]fault       // by "service:Operation"
	cfnState
	r53 r53State
	seq int // creation order, for stable listings

	// seedAt, while set, is the Last-Modified time of the object being
	// seeded; seedMu serialises such seeds.
	seedMu sync.Mutex
	seedAt atomic.Pointer[time.Time]

	statsMu      sync.Mutex
	calls        map[string]int // by "service:Operation"
	restoreCalls map[string]int // by bucket/key
}

// New builds an emulator without serving it; use it as an http.Handler or
// call Start.
func New(opts Options) *Emulator {
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	if opts.DefaultAccountID == "" {
		opts.DefaultAccountID = DefaultAccountID
	}
	e := &Emulator{
		opts:         opts,
		clock:        opts.Clock,
		accounts:     map[string]*accountState{},
		sessions:     map[string]*session{},
		buckets:      map[string]*bucketState{},
		volumes:      map[string]*volume{},
		snaps:        map[string]*snapshot{},
		images:       map[string]*image{},
		dbs:          map[string]*dbInstance{},
		dbSnaps:      map[string]*dbSnapshot{},
		exports:      map[string]*exportTask{},
		faults:       map[string][]fault{},
		calls:        map[string]int{},
		restoreCalls: map[string]int{},
	}
	ts := timeSource{e}
	e.backend = &s3Backend{Backend: s3mem.New(s3mem.WithTimeSource(ts)), e: e, objects: map[string]*objectState{}}
	e.s3 = gofakes3.New(e.backend,
		gofakes3.WithTimeSource(ts),
		// The manual clock may run hours ahead of the SDK's signing time;
		// request-time skew is not what these tests are about.
		gofakes3.WithTimeSkewLimit(0),
		gofakes3.WithoutVersioning(),
	)
	e.s3h = e.s3.Server()
	return e
}

// Server is a running emulator.
type Server struct {
	*Emulator
	srv *http.Server
	ln  net.Listener
}

// Start serves a new emulator on addr (default "127.0.0.1:0", a free port).
func Start(addr string, opts Options) (*Server, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for aws emulator on %s: %w", addr, err)
	}
	s := &Server{Emulator: New(opts), ln: ln}
	s.srv = &http.Server{Handler: s.Emulator, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// URL is the endpoint to give the SDK (BaseEndpoint) for every service.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Close stops serving immediately.
func (s *Server) Close() error { return s.srv.Close() }

// timeSource adapts Clock to gofakes3's TimeSource so Last-Modified follows
// the emulator's clock, except while an object seeded with its own
// LastModified is being written.
type timeSource struct{ e *Emulator }

func (t timeSource) Now() time.Time {
	if at := t.e.seedAt.Load(); at != nil {
		return *at
	}
	return t.e.clock.Now()
}

func (t timeSource) Since(tm time.Time) time.Duration { return t.Now().Sub(tm) }

// apiError is an AWS error response; each protocol renders it its own way.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func errf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

type fault struct {
	status int
	code   string
}

// InjectError makes the next n calls of op (for example "s3:RestoreObject"
// or "ec2:DescribeSnapshots") fail with the given HTTP status and error code,
// so callers' handling of throttling and outages can be tested.
func (e *Emulator) InjectError(op string, status int, code string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for range n {
		e.faults[op] = append(e.faults[op], fault{status: status, code: code})
	}
}

func (e *Emulator) takeFault(op string) *apiError {
	e.mu.Lock()
	defer e.mu.Unlock()
	f := e.faults[op]
	if len(f) == 0 {
		return nil
	}
	e.faults[op] = f[1:]
	return errf(f[0].status, f[0].code, "injected failure for %s", op)
}

func (e *Emulator) count(op string) {
	e.statsMu.Lock()
	e.calls[op]++
	e.statsMu.Unlock()
}

// Calls reports how many requests for op ("service:Operation", e.g.
// "ec2:CreateSnapshot") the emulator has received, failed ones included.
func (e *Emulator) Calls(op string) int {
	e.statsMu.Lock()
	defer e.statsMu.Unlock()
	return e.calls[op]
}

// RestoreCalls reports how many RestoreObject requests were received for
// one object, refused ones included, so a test can prove nothing was
// re-requested.
func (e *Emulator) RestoreCalls(bucket, key string) int {
	e.statsMu.Lock()
	defer e.statsMu.Unlock()
	return e.restoreCalls[bucket+"/"+key]
}

// TotalRestoreCalls is the sum of RestoreCalls over all objects.
func (e *Emulator) TotalRestoreCalls() int {
	e.statsMu.Lock()
	defer e.statsMu.Unlock()
	n := 0
	for _, c := range e.restoreCalls {
		n += c
	}
	return n
}

func (e *Emulator) logf(format string, args ...any) {
	if e.opts.Logf != nil {
		e.opts.Logf(format, args...)
	}
}

// credScope is what the emulator reads from a SigV4 signature.
type credScope struct {
	accessKey string
	region    string
	service   string
	token     string
}

func parseScope(r *http.Request) credScope {
	var cred string
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "AWS4-HMAC-SHA256 ") {
		for part := range strings.SplitSeq(strings.TrimPrefix(h, "AWS4-HMAC-SHA256 "), ",") {
			part = strings.TrimSpace(part)
			if v, ok := strings.CutPrefix(part, "Credential="); ok {
				cred = v
			}
		}
	} else {
		cred = r.URL.Query().Get("X-Amz-Credential")
	}
	var s credScope
	// AKID/yyyymmdd/region/service/aws4_request
	if parts := strings.Split(cred, "/"); len(parts) == 5 {
		s.accessKey, s.region, s.service = parts[0], parts[2], parts[3]
	}
	s.token = r.Header.Get("X-Amz-Security-Token")
	if s.token == "" {
		s.token = r.URL.Query().Get("X-Amz-Security-Token")
	}
	return s
}

// identity is the caller as the emulator sees it.
type identity struct {
	account string
	arn     string
	userID  string
}

// resolve maps the signing access key to an account, enforcing the
// emulator-issued session's token and expiry like AWS does.
func (e *Emulator) resolve(sc credScope) (identity, *apiError) {
	if sc.accessKey == "" {
		return identity{}, errf(http.StatusForbidden, "AccessDenied", "Anonymous requests are not supported by this emulator; sign the request")
	}
	e.mu.Lock()
	sess := e.sessions[sc.accessKey]
	e.mu.Unlock()
	if sess == nil {
		if strings.HasPrefix(sc.accessKey, "ASIA") {
			return identity{}, errf(http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid.")
		}
		acct := e.opts.DefaultAccountID
		return identity{account: acct, arn: "arn:aws:iam::" + acct + ":user/mcloud", userID: "AIDAMCLOUDEMULATOR"}, nil
	}
	if sc.token != sess.token {
		return identity{}, errf(http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid.")
	}
	if !e.clock.Now().Before(sess.expires) {
		return identity{}, errf(http.StatusBadRequest, "ExpiredToken", "The provided token has expired.")
	}
	return sess.id, nil
}

// ServeHTTP dispatches on the service named in the SigV4 credential scope.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if e.opts.Latency > 0 {
		time.Sleep(e.opts.Latency)
	}
	sc := parseScope(r)
	if sc.region == "" {
		sc.region = "us-east-1"
	}
	switch sc.service {
	case "ec2", "rds", "sts", "cloudformation":
		e.serveQuery(w, r, sc)
	case "secretsmanager":
		e.serveSecrets(w, r, sc)
	case "route53":
		e.serveRoute53(w, r, sc)
	case "s3", "":
		e.serveS3(w, r, sc)
	default:
		writeQueryError(w, "sts", errf(http.StatusBadRequest, "InvalidAction", "service %q is not emulated", sc.service))
	}
}

func randomID(n int) string {
	b := make([]byte, (n+1)/2)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("awsemu: reading random bytes: %v", err))
	}
	return hex.EncodeToString(b)[:n]
}
