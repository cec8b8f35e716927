// Package aws is mcloud's gateway to customers' AWS accounts: it assumes
// each customer's mcloud role through STS and runs the S3, EC2 and RDS
// operations the bot's jobs need, with pagination, waiting and error
// classification handled here rather than in every job.
//
// It deliberately imports nothing else from the repository; callers map
// their own configuration onto Options and CustomerAccount.
package aws

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"
)

// Defaults applied when Options leaves a field zero.
const (
	DefaultAssumeRoleDuration = time.Hour
	// DefaultRestoreConcurrency is 64 because a real region answers in
	// tens of milliseconds: at 20 ms, 16 in flight made a 10,000-file
	// restore at most 16x faster than one at a time. 64 stays well under
	// S3's 3,500 requests/s per prefix, and the retryer backs off on
	// SlowDown.
	DefaultRestoreConcurrency = 64
	// Credentials are refreshed this long before they expire so a request
	// signed just before expiry does not fail in flight.
	credentialExpiryWindow = 5 * time.Minute
)

// StaticCredentials are fixed base credentials, meant for tests and the
// sandbox; production uses the default credential chain.
type StaticCredentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
}

// String keeps secrets out of logs when the struct is printed.
func (c StaticCredentials) String() string {
	return fmt.Sprintf("StaticCredentials{AccessKeyID: %s, SecretAccessKey: <redacted>}", c.AccessKeyID)
}

// GoString covers %#v, which bypasses String.
func (c StaticCredentials) GoString() string { return c.String() }

// Options configures the base AWS config and how customer accounts are
// accessed.
type Options struct {
	// Region is the base region, used for STS and as the default for
	// accounts that do not name one.
	Region string
	// Endpoint, when set, replaces every service's endpoint (the emulator,
	// a VPC endpoint proxy). S3 then uses path-style addressing, since
	// bucket subdomains of an arbitrary host do not resolve.
	Endpoint string
	// Credentials, when set, replaces the default credential chain for the
	// base identity that assumes customer roles.
	Credentials *StaticCredentials
	// NoInstanceRole keeps the SDK off the EC2 instance metadata service
	// (169.254.169.254), which it otherwise asks for an instance role when
	// nothing else provides credentials. It is implied by Endpoint and
	// Credentials: an emulator or the sandbox never has an instance role,
	// and nothing of theirs may leave loopback.
	NoInstanceRole bool
	// HTTPClient defaults to the SDK's client with enough idle connections
	// per host for RestoreConcurrency.
	HTTPClient awssdk.HTTPClient
	// Retryer defaults to the SDK's standard retryer.
	Retryer func() awssdk.Retryer

	// AssumeRoleDuration is the lifetime requested for customer sessions.
	// It also caps presigned URL lifetime, because a URL signed with
	// session credentials dies with the session.
	AssumeRoleDuration time.Duration
	// SessionName names the assumed-role sessions in the customer's
	// CloudTrail; the account id is appended.
	SessionName string

	// WaitMinDelay and WaitMaxDelay bound the polling of the snapshot
	// waiters; zero keeps the SDK defaults (15s/120s for EBS, 30s/120s for
	// RDS). Tests against the emulator set them to milliseconds.
	WaitMinDelay time.Duration
	WaitMaxDelay time.Duration

	// RestoreConcurrency bounds RestoreMany when its own options do not.
	RestoreConcurrency int

	// Observe, when set, hears of every operation (metrics).
	Observe ObserveFunc
}

func (o Options) withDefaults() Options {
	if o.AssumeRoleDuration == 0 {
		o.AssumeRoleDuration = DefaultAssumeRoleDuration
	}
	if o.SessionName == "" {
		o.SessionName = "mcloud"
	}
	if o.RestoreConcurrency <= 0 {
		o.RestoreConcurrency = DefaultRestoreConcurrency
	}
	return o
}

// LoadConfig builds the base AWS config once; the result can be shared by
// every Client and is what NewFromConfig expects.
func LoadConfig(ctx context.Context, o Options) (awssdk.Config, error) {
	o = o.withDefaults()
	var loadOpts []func(*config.LoadOptions) error
	if o.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(o.Region))
	}
	if o.Endpoint != "" {
		loadOpts = append(loadOpts, config.WithBaseEndpoint(o.Endpoint))
	}
	if c := o.Credentials; c != nil {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)))
	}
	if o.NoInstanceRole || o.Endpoint != "" || o.Credentials != nil {
		loadOpts = append(loadOpts, config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	}
	httpClient := o.HTTPClient
	if httpClient == nil {
		// The SDK keeps 10 idle connections per host; RestoreMany runs more
		// requests than that in parallel against one S3 host, and every
		// connection beyond the idle pool would be torn down and redialled.
		idle := max(o.RestoreConcurrency, awshttp.DefaultHTTPTransportMaxIdleConnsPerHost)
		httpClient = awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConnsPerHost = idle
		})
	}
	loadOpts = append(loadOpts, config.WithHTTPClient(httpClient))
	if o.Retryer != nil {
		loadOpts = append(loadOpts, config.WithRetryer(o.Retryer))
	}
	if o.Observe != nil {
		loadOpts = append(loadOpts, config.WithAPIOptions([]func(*middleware.Stack) error{observeCalls(o.Observe)}))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return awssdk.Config{}, fmt.Errorf("load AWS config: %w", err)
	}
	if cfg.Region == "" {
		return awssdk.Config{}, errors.New("load AWS config: no region configured (set Options.Region or AWS_REGION)")
	}
	return cfg, nil
}

// Client hands out per-customer Accounts that share one base config.
type Client struct {
	base awssdk.Config
	opts Options

	mu       sync.Mutex
	accounts map[CustomerAccount]*Account
}

// New loads the AWS config and returns a Client.
func New(ctx context.Context, o Options) (*Client, error) {
	cfg, err := LoadConfig(ctx, o)
	if err != nil {
		return nil, err
	}
	return NewFromConfig(cfg, o), nil
}

// NewFromConfig returns a Client around an already loaded config; only the
// non-config fields of o (session, waiter, concurrency settings) are used.
func NewFromConfig(cfg awssdk.Config, o Options) *Client {
	return &Client{base: cfg, opts: o.withDefaults(), accounts: map[CustomerAccount]*Account{}}
}

// CustomerAccount is one customer AWS account mcloud manages.
type CustomerAccount struct {
	// Name is who the account is for (the customer), for messages.
	Name       string
	AccountID  string
	RoleARN    string
	ExternalID string
	Region     string // primary region
	DRRegion   string // disaster-recovery region
}

// String omits the external id, which is the customer's shared secret
// against confused-deputy use of the role.
func (a CustomerAccount) String() string {
	return fmt.Sprintf("account %s (role %s, region %s, DR %s)", a.AccountID, a.RoleARN, a.Region, a.DRRegion)
}

// GoString covers %#v, which bypasses String.
func (a CustomerAccount) GoString() string { return a.String() }

// Account is a customer account with assumed-role credentials and per
// region service clients. It is safe for concurrent use; keep it for the
// life of the process so its credentials cache is reused.
type Account struct {
	spec CustomerAccount
	cfg  awssdk.Config
	opts Options

	clients *serviceClients
}

// serviceClients are an account's service clients, one per service and
// region, made on first use and shared by every call after: a client holds
// a connection pool and is safe for concurrent use. InRegion views of the
// account share them (a client names its region; the view only changes
// the default).
type serviceClients struct {
	s3      regional[s3.Client]
	ec2     regional[ec2.Client]
	rds     regional[rds.Client]
	cfn     regional[cloudformation.Client]
	route53 regional[route53.Client]
	secrets regional[secretsmanager.Client]
}

// regional is one service's clients by region. It is the one cache every
// service's client goes through.
type regional[C any] struct {
	mu sync.Mutex
	m  map[string]*C
}

// get returns region's client, making it with build the first time.
func (r *regional[C]) get(region string, build func(region string) *C) *C {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.m[region]; c != nil {
		return c
	}
	if r.m == nil {
		r.m = map[string]*C{}
	}
	c := build(region)
	r.m[region] = c
	return c
}

// Account returns the Account for spec, creating it on first use. The same
// spec always yields the same Account, so credentials are assumed once and
// cached until shortly before they expire; a changed external id or role
// yields a fresh one.
func (c *Client) Account(spec CustomerAccount) (*Account, error) {
	if spec.AccountID == "" || spec.RoleARN == "" {
		return nil, fmt.Errorf("set up customer %s: account id and role ARN are required", spec)
	}
	if !strings.HasPrefix(spec.RoleARN, "arn:") {
		return nil, fmt.Errorf("set up customer %s: role ARN %q is not an ARN", spec, spec.RoleARN)
	}
	if spec.Region == "" {
		spec.Region = c.base.Region
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if a := c.accounts[spec]; a != nil {
		return a, nil
	}
	stsClient := sts.NewFromConfig(c.base, func(o *sts.Options) {
		o.Region = spec.Region
		o.Credentials = baseCredentials{p: o.Credentials, account: spec.Name}
	})
	ext := spec.ExternalID
	provider := stscreds.NewAssumeRoleProvider(stsClient, spec.RoleARN, func(o *stscreds.AssumeRoleOptions) {
		if ext != "" {
			o.ExternalID = &ext
		}
		o.RoleSessionName = sessionName(c.opts.SessionName, spec.AccountID)
		o.Duration = c.opts.AssumeRoleDuration
	})
	cache := awssdk.NewCredentialsCache(provider, func(o *awssdk.CredentialsCacheOptions) {
		o.ExpiryWindow = min(credentialExpiryWindow, c.opts.AssumeRoleDuration/4)
	})
	cfg := c.base.Copy()
	cfg.Region = spec.Region
	cfg.Credentials = cache
	// Clone before appending: Copy shares the slice with the base config
	// and every other account.
	cfg.APIOptions = append(slices.Clone(cfg.APIOptions), invalidateOnExpiry(cache))
	a := &Account{spec: spec, cfg: cfg, opts: c.opts, clients: &serviceClients{}}
	c.accounts[spec] = a
	return a, nil
}

// baseCredentials marks a failure to get mcloud's own credentials, the
// ones that assume the customer's role, as ErrNoCredentials: the SDK's
// chain reports it as whatever its last source said (often an instance
// metadata error), which tells a user nothing.
type baseCredentials struct {
	p       awssdk.CredentialsProvider
	account string
}

func (b baseCredentials) Retrieve(ctx context.Context) (awssdk.Credentials, error) {
	if b.p == nil {
		return awssdk.Credentials{}, &NoCredentialsError{Account: b.account, Err: errors.New("no credential provider is configured")}
	}
	creds, err := b.p.Retrieve(ctx)
	if err != nil && ctx.Err() == nil {
		return creds, &NoCredentialsError{Account: b.account, Err: err}
	}
	return creds, err
}

// expiredCodes are the answers AWS gives for a session it no longer
// accepts even though the cache still believes it valid (revoked session,
// clock skew).
var expiredCodes = []string{"ExpiredToken", "ExpiredTokenException", "RequestExpired", "InvalidClientTokenId"}

// invalidateOnExpiry drops the cached credentials when AWS rejects them as
// expired, so the next call assumes the role again instead of failing
// until the cache's own expiry time.
func invalidateOnExpiry(cache *awssdk.CredentialsCache) func(*middleware.Stack) error {
	return func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("mcloudInvalidateExpiredCredentials",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleInitialize(ctx, in)
				if err != nil && IsCode(err, expiredCodes...) && !assumeRoleFailed(err) {
					cache.Invalidate()
				}
				return out, md, err
			}), middleware.Before)
	}
}

// sessionName keeps to STS's 2–64 characters of [\w+=,.@-].
func sessionName(base, account string) string {
	name := base + "-" + account
	var b strings.Builder
	for _, r := range name {
		if r < 128 && (r == '_' || r == '+' || r == '=' || r == ',' || r == '.' || r == '@' || r == '-' ||
			(r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')) {
			b.WriteRune(r)
		}
	}
	s := b.String()
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

// ID is the customer's AWS account id.
func (a *Account) ID() string { return a.spec.AccountID }

// Region is the customer's primary region.
func (a *Account) Region() string { return a.spec.Region }

// DRRegion is the customer's disaster-recovery region (may be empty).
func (a *Account) DRRegion() string { return a.spec.DRRegion }

func (a *Account) region(r string) string {
	if r == "" {
		return a.spec.Region
	}
	return r
}

func (a *Account) s3Client(region string) *s3.Client {
	return a.clients.s3.get(a.region(region), func(region string) *s3.Client {
		return s3.NewFromConfig(a.cfg, func(o *s3.Options) {
			o.Region = region
			o.UsePathStyle = a.cfg.BaseEndpoint != nil
		})
	})
}

func (a *Account) ec2Client(region string) *ec2.Client {
	return a.clients.ec2.get(a.region(region), func(region string) *ec2.Client {
		return ec2.NewFromConfig(a.cfg, func(o *ec2.Options) { o.Region = region })
	})
}

func (a *Account) rdsClient(region string) *rds.Client {
	return a.clients.rds.get(a.region(region), func(region string) *rds.Client {
		return rds.NewFromConfig(a.cfg, func(o *rds.Options) { o.Region = region })
	})
}

// Identity is who AWS says the assumed role is.
type Identity struct {
	AccountID string
	ARN       string
}

// Verify assumes the role and asks STS who it is, which is the cheapest
// proof that the role, trust policy and external id are right. It fails
// when the role lives in a different account than the one on file.
func (a *Account) Verify(ctx context.Context) (Identity, error) {
	c := sts.NewFromConfig(a.cfg)
	out, err := c.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return Identity{}, fmt.Errorf("verify access to %s: %w", a.spec, err)
	}
	id := Identity{AccountID: awssdk.ToString(out.Account), ARN: awssdk.ToString(out.Arn)}
	if id.AccountID != a.spec.AccountID {
		return id, fmt.Errorf("verify access to %s: role belongs to account %s: %w", a.spec, id.AccountID, ErrWrongAccount)
	}
	return id, nil
}

// waiterDelays applies Options' polling bounds, keeping min <= max as the
// SDK waiters require.
func (a *Account) waiterDelays(defMin, defMax time.Duration) (time.Duration, time.Duration) {
	lo, hi := defMin, defMax
	if a.opts.WaitMinDelay > 0 {
		lo = a.opts.WaitMinDelay
	}
	if a.opts.WaitMaxDelay > 0 {
		hi = a.opts.WaitMaxDelay
	}
	if hi < lo {
		hi = lo
	}
	return lo, hi
}
