package commands

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/aws"
	"github.com/mcloud/mcloud/jobs"
)

// AWSAccounts is what the AWS verbs need of integrations/aws: a
// customer's account, and how long to wait between polls of slow AWS work.
// The account is the adapter itself: each verb file declares the few calls
// it makes as a small interface of its own (restoreAccount in restore.go,
// snapshotAccount and dbAccount in backup.go, cfnAccount in provision.go,
// drAccount and route53Account in dr.go, secretsAccount in handover.go,
// ...), and *aws.Account satisfies each where it is handed over, checked
// by the compiler rather than by a type assertion at run time.
type AWSAccounts interface {
	// Account returns the customer's account, assuming its mcloud role
	// (with the external id) on first use. Its errors are user-facing.
	Account(cu *config.Customer) (*aws.Account, error)
	// Waits are the polling and lifetime settings for jobs.
	Waits() AWSWaits
}

// linkSigner is what handing out download links needs (shareLinks,
// makeLinks): signed GETs, how long they can last, and a place for the
// manifest.
type linkSigner interface {
	LinkExpiry(ctx context.Context, lifetime time.Duration) (time.Time, error)
	PresignGet(ctx context.Context, bucket, key string, expiry time.Duration) (string, error)
	PutObject(ctx context.Context, bucket, key string, body []byte, contentType string) error
}

// AWSWaits tune the durable waits of the AWS jobs. Production waits
// hours, so polls start at a minute and back off to fifteen; tests and
// the sandbox shorten everything.
type AWSWaits struct {
	// PollFirst is the first pause between polls of restores and exports;
	// each pause doubles, up to PollMax.
	PollFirst, PollMax time.Duration
	// SnapshotMaxWait bounds the wait for EBS and RDS snapshots and their
	// DR copies.
	SnapshotMaxWait time.Duration
	// LinkLifetime is how long download links should work; the customer
	// session that signs them may cut it short (see aws.LinkExpiry).
	LinkLifetime time.Duration
}

// DefaultAWSWaits are the production settings.
func DefaultAWSWaits() AWSWaits {
	return AWSWaits{PollFirst: time.Minute, PollMax: 15 * time.Minute, SnapshotMaxWait: 24 * time.Hour, LinkLifetime: time.Hour}
}

// AWS connects the verbs to integrations/aws, mapping a configured
// customer onto its account.
type AWS struct {
	Client *aws.Client
	Wait   AWSWaits
	// ExternalID returns a customer's external id; nil reads the
	// environment variable aws.external_id refers to.
	ExternalID func(cu *config.Customer) (string, bool)
}

// Account implements AWSAccounts.
func (a *AWS) Account(cu *config.Customer) (*aws.Account, error) {
	if cu.AWS.RoleARN == "" || cu.AWS.AccountID == "" {
		return nil, mcloud.Errorf(mcloud.ECONFLICT, "%s has no AWS account set up in mcloud (aws.account_id and aws.role_arn); ask the DevOps team to add it.", cu.Name)
	}
	ext, ok := "", false
	if a.ExternalID != nil {
		ext, ok = a.ExternalID(cu)
	} else {
		ext, ok = cu.AWS.ExternalID.Value()
	}
	if !ok && cu.AWS.ExternalID.Set() {
		return nil, mcloud.Errorf(mcloud.ECONFLICT, "The external id for %s's AWS role (environment variable %s) is not set where mcloud runs; ask the DevOps team to set it.", cu.Name, cu.AWS.ExternalID.Ref)
	}
	acct, err := a.Client.Account(aws.CustomerAccount{Name: cu.Name, AccountID: cu.AWS.AccountID, RoleARN: cu.AWS.RoleARN, ExternalID: ext,
		Region: cu.AWS.Region, DRRegion: cu.AWS.DRRegion})
	if err != nil {
		return nil, fmt.Errorf("AWS account of %s: %w", cu.Name, err)
	}
	return acct, nil
}

// Waits implements AWSAccounts.
func (a *AWS) Waits() AWSWaits { return a.Wait }

// Tags mcloud puts on what it creates and looks for on what it backs up.
const (
	TagCustomer = "mcloud:customer"
	TagEnv      = "mcloud:env"
	TagJob      = "mcloud:job"
)

// maxInlineLinks is how many download links go straight into the thread;
// beyond it one manifest link carries them all.
const maxInlineLinks = 20

// account returns the customer's AWS account, or a user-facing error when
// the bot has no AWS integration.
func (s *Service) account(cu *config.Customer) (*aws.Account, error) {
	if s.Deps.AWS == nil {
		return nil, mcloud.Errorf(mcloud.ECONFLICT, "AWS is not set up in this mcloud, so it cannot reach %s's account; ask the DevOps team.", cu.Name)
	}
	return s.Deps.AWS.Account(cu)
}

// awsFailed turns an AWS error into one user-facing sentence, prefixed by
// what was being done, and logs the full detail (operation, request id,
// AWS's message; never credentials). Cancellation passes through as is,
// so a job that is shutting down or cancelled is not reported as failed.
func (s *Service) awsFailed(what string, err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, jobs.ErrCancelled) {
		return err
	}
	var me *mcloud.Error
	if errors.As(err, &me) {
		return err
	}
	c := aws.Classify(err)
	s.Log.Warn("AWS call failed", "what", what, "code", c.Code, "err", c.Detail)
	if errors.Is(err, aws.ErrNoCredentials) {
		// Nothing this command did: the sentence says what to fix.
		return &mcloud.Error{Code: mcloud.ECONFLICT, Message: c.Message}
	}
	return &mcloud.Error{Code: mcloud.ECONFLICT, Message: what + " failed: " + c.Message}
}

// awsPoller paces a durable wait: each pause doubles up to a ceiling, and
// every pause ends early when ctx does, so a long wait is never a busy
// loop and never outlives its job.
type awsPoller struct{ next, max time.Duration }

func newAWSPoller(w AWSWaits) *awsPoller {
	first := max(w.PollFirst, time.Millisecond)
	return &awsPoller{next: first, max: max(w.PollMax, first)}
}

func (p *awsPoller) sleep(ctx context.Context) error {
	t := time.NewTimer(p.next)
	defer t.Stop()
	p.next = min(p.next*2, p.max)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// fileLink is one file a job hands out.
type fileLink struct {
	Key   string
	Size  int64
	Class string
	// Problem, when set, says why the file has no link (its restore
	// failed); it is listed in the manifest all the same.
	Problem string
}

// shareLinks posts download links in the job's thread: one per readable
// file when there are few files, otherwise one link to a CSV manifest (written to
// manifestBucket/manifestKey) that lists every file with its own link or
// its problem. Links are bearer secrets: they go only into the thread,
// never into step results, summaries or logs. It returns when the links
// expire.
func shareLinks(ctx context.Context, x *Exec, acct linkSigner, bucket string, files []fileLink, manifestBucket, manifestKey, what string) (time.Time, error) {
	text, exp, err := x.svc.makeLinks(ctx, acct, bucket, files, manifestBucket, manifestKey, what)
	if err != nil || text == "" {
		return exp, err
	}
	x.Say(ctx, text)
	return exp, nil
}

// makeLinks signs the links shareLinks and the links verb hand out and
// returns the message that carries them ("" when no file is readable) and
// when they expire.
func (s *Service) makeLinks(ctx context.Context, acct linkSigner, bucket string, files []fileLink, manifestBucket, manifestKey, what string) (string, time.Time, error) {
	readable := 0
	for _, f := range files {
		if f.Problem == "" {
			readable++
		}
	}
	if readable == 0 {
		return "", time.Time{}, nil
	}
	w := s.Deps.AWS.Waits()
	exp, err := acct.LinkExpiry(ctx, max(w.LinkLifetime, time.Minute))
	if err != nil {
		return "", time.Time{}, s.awsFailed("Preparing download links", err)
	}
	life := time.Until(exp).Truncate(time.Second)
	if life < time.Second {
		life = time.Second
	}
	expires := "links expire " + mcloud.FormatTime(exp)
	if len(files) <= maxInlineLinks {
		var b strings.Builder
		fmt.Fprintf(&b, "Download links for %s (%s):", what, expires)
		for _, f := range files {
			if f.Problem != "" {
				continue
			}
			u, err := acct.PresignGet(ctx, bucket, f.Key, life)
			if err != nil {
				return "", time.Time{}, s.awsFailed("Signing a download link", err)
			}
			fmt.Fprintf(&b, "\n  %s (%s): %s", f.Key, humanBytes(f.Size), u)
		}
		return b.String(), exp, nil
	}
	var csv strings.Builder
	csv.WriteString("key,size_bytes,storage_class,status,url\n")
	for _, f := range files {
		status, u := "ready", ""
		if f.Problem != "" {
			status = f.Problem
		} else if u, err = acct.PresignGet(ctx, bucket, f.Key, life); err != nil {
			return "", time.Time{}, s.awsFailed("Signing a download link", err)
		}
		fmt.Fprintf(&csv, "%s,%d,%s,%s,%s\n", csvField(f.Key), f.Size, f.Class, csvField(status), u)
	}
	if err := acct.PutObject(ctx, manifestBucket, manifestKey, []byte(csv.String()), "text/csv"); err != nil {
		return "", time.Time{}, s.awsFailed("Writing the manifest of download links", err)
	}
	u, err := acct.PresignGet(ctx, manifestBucket, manifestKey, life)
	if err != nil {
		return "", time.Time{}, s.awsFailed("Signing the manifest link", err)
	}
	return fmt.Sprintf("Download links for %s are in one manifest (a CSV with a link per file; %s): %s", what, expires, u), exp, nil
}

func csvField(s string) string {
	if strings.ContainsAny(s, ",\"\n\r") {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}

// Months are written YYYY-MM; this-month and last-month are accepted too,
// so a saved script or a habit ("restore last month's logs") keeps
// working as time passes.
var monthArgRE = regexp.MustCompile(`^([0-9]{4})-([0-9]{2})$`)

// parseMonth reads a month argument against now (UTC calendar months).
func parseMonth(w string, now time.Time) (time.Time, *mcloud.Error) {
	now = now.UTC()
	this := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	switch lower(w) {
	case "this-month":
		return this, nil
	case "last-month":
		return this.AddDate(0, -1, 0), nil
	}
	m := monthArgRE.FindStringSubmatch(w)
	if m == nil {
		return time.Time{}, invalid("%s is not a month: write it as YYYY-MM, like 2024-03 (or this-month, last-month)", quoted(w))
	}
	y, _ := strconv.Atoi(m[1])
	mo, _ := strconv.Atoi(m[2])
	if mo < 1 || mo > 12 {
		return time.Time{}, invalid("%s is not a month: the month must be 01 to 12", quoted(w))
	}
	return time.Date(y, time.Month(mo), 1, 0, 0, 0, 0, time.UTC), nil
}

// checkRetention refuses months in the future and months before the
// retention window, which is the current month and the `retention`
// months before it (retention 3 in July: April to July).
func checkRetention(month, now time.Time, retention int, customer string) *mcloud.Error {
	now = now.UTC()
	this := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	oldest := this.AddDate(0, -retention, 0)
	switch {
	case month.After(this):
		return invalid("%s is in the future; the newest month with archives is %s", month.Format("2006-01"), this.Format("2006-01"))
	case month.Before(oldest):
		return invalid("%s is outside %s's retention window: you can restore %s to %s (this month and the %d before it)",
			month.Format("2006-01"), customer, oldest.Format("2006-01"), this.Format("2006-01"), retention)
	}
	return nil
}
