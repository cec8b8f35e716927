package commands

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/aws"
	"github.com/mcloud/mcloud/jobs"
)

// archiveKind is one kind of S3 archive a customer may ask back. Both
// live under the same key layout in their own bucket:
//
//	<root><env>/<source>/YYYY/MM/DD/<file>
//
// e.g. logs/prod/x-prod-apim-1/2024/03/05/wso2carbon.log.gz, so a month is
// listed per environment and source without reading other months.
type archiveKind struct {
	verb   string // restore-logs
	noun   string // log
	root   string // logs/
	source string // what the level under the environment is: host, product
	key    string // the bucket's config key, for messages
	bucket func(cu *config.Customer) string
}

var (
	logArchives = archiveKind{verb: "restore-logs", noun: "log", root: "logs/", source: "host", key: "buckets.logs",
		bucket: func(cu *config.Customer) string { return cu.Buckets.Logs }}
	artifactArchives = archiveKind{verb: "restore-artifacts", noun: "artifact", root: "artifacts/", source: "product", key: "buckets.artifacts",
		bucket: func(cu *config.Customer) string { return cu.Buckets.Artifacts }}
)

// restoreDays is how long S3 keeps a restored copy readable.
const restoreDays = 7

// giveUpAfter is how many times AWS's expected restore time a job waits
// before it stops and says so.
const giveUpAfter = 3

func restoreLogsVerb() *Verb      { return restoreVerb(logArchives) }
func restoreArtifactsVerb() *Verb { return restoreVerb(artifactArchives) }

func restoreVerb(k archiveKind) *Verb {
	return &Verb{
		Name:    k.verb,
		Summary: fmt.Sprintf("restore a month of %s archives from Glacier and post download links when they are ready", k.noun),
		Help: fmt.Sprintf("Lists the month's %s archives (s3://<%s>/%s<env>/<%s>/YYYY/MM/...), restores the ones in GLACIER or DEEP_ARCHIVE "+
			"for %d days, waits for them (hours; the job survives restarts) and posts download links: one per file, or one manifest "+
			"link when there are more than %d. Customer users can restore the current month and the customer's retention_months before it; "+
			"DevOps can restore any month whose archives exist, and the plan says when it is outside the customer's window. "+
			"--tier: bulk (cheapest, 5-12 h from GLACIER, up to 48 h from DEEP_ARCHIVE), standard (default, 3-5 h / up to 12 h) or "+
			"expedited (1-5 min, GLACIER only). --env restricts it to one environment.",
			k.noun, k.key, k.root, k.source, restoreDays, maxInlineLinks),
		Examples: []string{
			fmt.Sprintf("/mcloud %s customer-x 2024-03", k.verb),
			fmt.Sprintf("/mcloud %s customer-x last-month --env prod --tier bulk", k.verb),
			fmt.Sprintf("/mcloud %s customer-x 2024-03 --dry-run", k.verb),
		},
		Spec: Spec{
			Args: []Arg{
				{Name: "customer", Kind: KindCustomer, About: "whose archives to restore"},
				{Name: "month", About: "which month, as YYYY-MM (or this-month, last-month)"},
			},
			Flags: []Flag{
				{Name: "env", Kind: KindEnv},
				{Name: "tier", Values: []string{"bulk", "standard", "expedited"}},
			},
		},
		Access:            mcloud.AccessCustomer,
		DevOpsApprovals:   0,
		CustomerApprovals: 1,
		DryRun:            true,
		Resumable:         true,
		Plan:              func(ctx context.Context, c *Call) (mcloud.Plan, error) { return k.plan(ctx, c) },
		Execute:           func(ctx context.Context, x *Exec) (string, error) { return k.execute(ctx, x) },
	}
}

// restoreArgs are a restore's parsed parameters.
type restoreArgs struct {
	month  time.Time
	tier   aws.Tier
	env    string
	bucket string
}

func (a restoreArgs) monthText() string { return a.month.Format("2006-01") }

func (a restoreArgs) where() string {
	if a.env == "" {
		return "all environments"
	}
	return a.env
}

// args reads and checks the parameters. now is used to resolve
// this-month and last-month; the retention window is checked by the plan
// only, since an approved request runs what was approved.
func (k archiveKind) args(p mcloud.Params, cu *config.Customer, now time.Time) (restoreArgs, error) {
	var a restoreArgs
	month, merr := parseMonth(p["month"], now)
	if merr != nil {
		return a, merr
	}
	a.month = month
	switch p["tier"] {
	case "bulk":
		a.tier = aws.TierBulk
	case "expedited":
		a.tier = aws.TierExpedited
	default:
		a.tier = aws.TierStandard
	}
	if a.env = p["env"]; a.env != "" && cu.Env(a.env) == nil {
		return a, invalid("unknown environment %q for %s; it has: %s", a.env, cu.Name, strings.Join(cu.EnvNames(), ", "))
	}
	if a.bucket = k.bucket(cu); a.bucket == "" {
		return a, mcloud.Errorf(mcloud.ECONFLICT, "%s has no %s bucket in mcloud's configuration (%s); ask the DevOps team to add it.", cu.Name, k.noun, k.key)
	}
	return a, nil
}

// monthAccess is what a restore of a month may do, decided by
// decideMonth.
type monthAccess struct {
	// outsideWindow: DevOps asked for a month before the customer's
	// self-service window, which the plan says.
	outsideWindow bool
	// oldest and newest are the window's months: this month and the
	// retention months before it.
	oldest, newest time.Time
}

// decideMonth decides whether caller may restore month. Customer users
// keep the self-service promise (this month and the customer's
// retention months before it) and are refused outside it, with the same
// sentence as ever. DevOps may go further back, since archives are kept
// longer than the promise; whether anything is there is for the listing
// to tell. A month in the future is refused for everyone.
func decideMonth(month, now time.Time, retention int, role mcloud.Role, customer string) (monthAccess, *mcloud.Error) {
	refused := checkRetention(month, now, retention, customer)
	now = now.UTC()
	acc := monthAccess{newest: time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)}
	acc.oldest = acc.newest.AddDate(0, -retention, 0)
	switch {
	case refused == nil:
		return acc, nil
	case role == mcloud.RoleDevOps && month.Before(acc.oldest):
		acc.outsideWindow = true
		return acc, nil
	}
	return acc, refused
}

// layout is the listed key pattern, for messages.
func (k archiveKind) layout(a restoreArgs) string {
	env := "<env>"
	if a.env != "" {
		env = a.env
	}
	return fmt.Sprintf("s3://%s/%s%s/<%s>/%s/", a.bucket, k.root, env, k.source, a.month.Format("2006/01"))
}

// archiveLister finds archives: restore, links and the backups report.
type archiveLister interface {
	ListPrefixes(ctx context.Context, bucket, prefix string) ([]string, error)
	WalkObjects(ctx context.Context, bucket, prefix string, fn func(aws.Object) error) error
}

// restoreAccount is what a restore job calls: it finds the month's
// archives, asks S3 to restore them, watches them, and hands out links.
type restoreAccount interface {
	archiveLister
	HeadMany(ctx context.Context, bucket string, keys []string, concurrency int) ([]aws.Object, []error)
	RestoreMany(ctx context.Context, bucket string, objs []aws.Object, o aws.RestoreManyOptions) []aws.RestoreResult
	linkSigner
}

// sources returns the "<root><env>/<source>/" prefixes the archives live
// under: of every environment, or of the chosen one.
func (k archiveKind) sources(ctx context.Context, acct archiveLister, a restoreArgs) ([]string, error) {
	envs := []string{k.root + a.env + "/"}
	if a.env == "" {
		var err error
		if envs, err = acct.ListPrefixes(ctx, a.bucket, k.root); err != nil {
			return nil, err
		}
	}
	var out []string
	for _, env := range envs {
		sources, err := acct.ListPrefixes(ctx, a.bucket, env)
		if err != nil {
			return nil, err
		}
		out = append(out, sources...)
	}
	return out, nil
}

// list returns every archive of the month, source by source, paging
// through each.
func (k archiveKind) list(ctx context.Context, acct archiveLister, a restoreArgs) ([]aws.Object, error) {
	sources, err := k.sources(ctx, acct, a)
	if err != nil {
		return nil, err
	}
	var out []aws.Object
	for _, src := range sources {
		if err := acct.WalkObjects(ctx, a.bucket, src+a.month.Format("2006/01/"), func(o aws.Object) error {
			out = append(out, o)
			return nil
		}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// months returns, oldest first, every month that has archives under the
// kind's root (or the chosen environment), read from the key layout's
// year and month levels: a few listings per source, none of the files.
func (k archiveKind) months(ctx context.Context, acct archiveLister, a restoreArgs) ([]time.Time, error) {
	sources, err := k.sources(ctx, acct, a)
	if err != nil {
		return nil, err
	}
	seen := map[time.Time]bool{}
	for _, src := range sources {
		years, err := acct.ListPrefixes(ctx, a.bucket, src)
		if err != nil {
			return nil, err
		}
		for _, y := range years {
			months, err := acct.ListPrefixes(ctx, a.bucket, y)
			if err != nil {
				return nil, err
			}
			for _, m := range months {
				// src + "2024/03/"; anything else is not an archive month.
				if t, err := time.Parse("2006/01/", strings.TrimPrefix(m, src)); err == nil {
					seen[t] = true
				}
			}
		}
	}
	out := make([]time.Time, 0, len(seen))
	for t := range seen {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out, nil
}

// noArchives is the one sentence for a month with nothing under it: where
// mcloud looked and which months do have archives. A customer user only
// learns about the months of their own window.
func (k archiveKind) noArchives(a restoreArgs, cu *config.Customer, have []time.Time, acc monthAccess, devops bool) *mcloud.Error {
	const ym = "2006-01"
	where := fmt.Sprintf("There are no %s archives for %s under %s", k.noun, a.monthText(), k.layout(a))
	root := fmt.Sprintf("s3://%s/%s", a.bucket, k.root)
	if a.env != "" {
		root += a.env + "/"
	}
	if !devops {
		var inWindow []time.Time
		for _, t := range have {
			if !t.Before(acc.oldest) && !t.After(acc.newest) {
				inWindow = append(inWindow, t)
			}
		}
		have = inWindow
		if len(have) == 0 {
			return mcloud.Errorf(mcloud.ENOTFOUND, "%s; none of the months you can restore (%s to %s) has %s archives under %s.",
				where, acc.oldest.Format(ym), acc.newest.Format(ym), k.noun, root)
		}
	}
	if len(have) == 0 {
		return mcloud.Errorf(mcloud.ENOTFOUND, "%s; %s has no %s archives under %s at all.", where, cu.Name, k.noun, root)
	}
	first, last := have[0].Format(ym), have[len(have)-1].Format(ym)
	span := fmt.Sprintf("from %s to %s", first, last)
	if first == last {
		span = "for " + first + " only"
	}
	if !devops {
		return mcloud.Errorf(mcloud.ENOTFOUND, "%s; of the months you can restore (%s to %s), %s's %s archives exist %s.",
			where, acc.oldest.Format(ym), acc.newest.Format(ym), cu.Name, k.noun, span)
	}
	return mcloud.Errorf(mcloud.ENOTFOUND, "%s; %s's %s archives exist %s.", where, cu.Name, k.noun, span)
}

// archiveStats sums up a month's listing for the plan.
type archiveStats struct {
	files, readable, restoring, restored int
	bytes                                int64
	classes                              map[string]int
	classBytes                           map[string]int64
	toRestore                            map[string]int // archived, no restore yet, by class
	restoreBytes                         int64
}

func statsOf(objs []aws.Object) archiveStats {
	s := archiveStats{classes: map[string]int{}, classBytes: map[string]int64{}, toRestore: map[string]int{}}
	for _, o := range objs {
		s.files++
		s.bytes += o.Size
		s.classes[o.StorageClass]++
		s.classBytes[o.StorageClass] += o.Size
		switch {
		case !o.Archived():
			s.readable++
		case o.Restore.Status == aws.RestoreOngoing:
			s.restoring++
		case o.Restore.Status == aws.RestoreCompleted:
			s.restored++
		default:
			s.toRestore[o.StorageClass]++
			s.restoreBytes += o.Size
		}
	}
	return s
}

// classList is "800 GLACIER, 400 DEEP_ARCHIVE", in a stable order; with
// sizes, "800 GLACIER (1.2 GiB), 400 DEEP_ARCHIVE (3.0 GiB)".
func classList(byClass map[string]int, sizes ...map[string]int64) string {
	names := make([]string, 0, len(byClass))
	for c := range byClass {
		names = append(names, c)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, c := range names {
		part := fmt.Sprintf("%s %s", thousands(byClass[c]), c)
		if len(sizes) > 0 {
			part += " (" + humanBytes(sizes[0][c]) + ")"
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, ", ")
}

// restoreTime is what AWS documents for a restore of class at tier.
type restoreTime struct {
	text string
	max  time.Duration
}

func expectedRestore(class string, tier aws.Tier) restoreTime {
	if class == aws.StorageClassDeepArchive {
		if tier == aws.TierBulk {
			return restoreTime{"within 48 hours", 48 * time.Hour}
		}
		return restoreTime{"within 12 hours", 12 * time.Hour}
	}
	switch tier {
	case aws.TierExpedited:
		return restoreTime{"in 1-5 minutes", 5 * time.Minute}
	case aws.TierBulk:
		return restoreTime{"in 5-12 hours", 12 * time.Hour}
	}
	return restoreTime{"in 3-5 hours", 5 * time.Hour}
}

// expectation says how long restores of these classes take at tier.
func expectation(classes map[string]int, tier aws.Tier) string {
	var parts []string
	for _, c := range []string{aws.StorageClassGlacier, aws.StorageClassDeepArchive} {
		if classes[c] > 0 {
			parts = append(parts, fmt.Sprintf("%s %s", c, expectedRestore(c, tier).text))
		}
	}
	return strings.Join(parts, ", ")
}

func (k archiveKind) plan(ctx context.Context, c *Call) (mcloud.Plan, error) {
	cu := c.Customer
	now := c.svc.Now()
	a, err := k.args(c.Params, cu, now)
	if err != nil {
		return mcloud.Plan{}, err
	}
	devops := c.Caller.Role == mcloud.RoleDevOps
	access, merr := decideMonth(a.month, now, cu.RetentionMonths, c.Caller.Role, cu.Name)
	if merr != nil {
		return mcloud.Plan{}, merr
	}
	// The request stores the month itself, so "last-month" approved after
	// midnight on the 1st still restores the month that was planned.
	c.Params["month"] = a.monthText()
	c.Params["tier"] = strings.ToLower(string(a.tier))
	acct, err := c.svc.account(cu)
	if err != nil {
		return mcloud.Plan{}, err
	}
	objs, err := k.list(ctx, acct, a)
	if err != nil {
		return mcloud.Plan{}, c.svc.awsFailed(fmt.Sprintf("Listing %s's %s archives", cu.Name, k.noun), err)
	}
	if len(objs) == 0 {
		have, err := k.months(ctx, acct, a)
		if err != nil {
			return mcloud.Plan{}, c.svc.awsFailed(fmt.Sprintf("Listing %s's %s archive months", cu.Name, k.noun), err)
		}
		return mcloud.Plan{}, k.noArchives(a, cu, have, access, devops)
	}
	st := statsOf(objs)
	if a.tier == aws.TierExpedited && st.toRestore[aws.StorageClassDeepArchive] > 0 {
		return mcloud.Plan{}, invalid("expedited retrieval is not available for DEEP_ARCHIVE, and %s of these archives are in DEEP_ARCHIVE; use --tier standard or --tier bulk",
			thousands(st.toRestore[aws.StorageClassDeepArchive]))
	}
	toRestore := st.files - st.readable - st.restoring - st.restored
	p := mcloud.Plan{Summary: fmt.Sprintf("Restore %s's %s archives of %s (%s): %s, %s; %s tier",
		cu.Name, k.noun, a.monthText(), a.where(), nOf(st.files, "file", "files"), humanBytes(st.bytes), a.tier)}
	if toRestore > 0 {
		p.Steps = append(p.Steps, fmt.Sprintf("request restores of %s (%s; %s to retrieve), several at a time",
			nOf(toRestore, "archived file", "archived files"), classList(st.toRestore), humanBytes(st.restoreBytes)))
	} else {
		p.Steps = append(p.Steps, "request no restores: no file of the month needs one")
	}
	waiting := map[string]int{}
	for _, o := range objs {
		if o.Archived() && o.Restore.Status != aws.RestoreCompleted {
			waiting[o.StorageClass]++
		}
	}
	if len(waiting) > 0 {
		p.Steps = append(p.Steps, fmt.Sprintf("wait for the restored copies, checking with backoff; AWS expects %s (%s tier)", expectation(waiting, a.tier), a.tier))
	}
	p.Steps = append(p.Steps, fmt.Sprintf("post download links (one manifest link when there are more than %d files)", maxInlineLinks))
	if access.outsideWindow {
		p.Notes = append(p.Notes, fmt.Sprintf("%s is outside %s's %d-month self-service window (%s to %s); restoring because DevOps asked.",
			a.monthText(), cu.Name, cu.RetentionMonths, access.oldest.Format("2006-01"), access.newest.Format("2006-01")))
	}
	p.Notes = append(p.Notes, fmt.Sprintf("Found under %s: %s.", k.layout(a), classList(st.classes, st.classBytes)))
	if waiting[aws.StorageClassDeepArchive] > 0 {
		deep := aws.StorageClassDeepArchive
		p.Notes = append(p.Notes, fmt.Sprintf("%s in DEEP_ARCHIVE, whose restores complete %s on Standard and %s on Bulk; "+
			"Expedited is refused for DEEP_ARCHIVE.", nOf(waiting[deep], "file is", "files are"),
			expectedRestore(deep, aws.TierStandard).text, expectedRestore(deep, aws.TierBulk).text))
	}
	if st.readable > 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("%s not archived and linked without a restore.", nOf(st.readable, "file is", "files are")))
	}
	if st.restoring+st.restored > 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("%s already restored or being restored and not requested again.", nOf(st.restoring+st.restored, "file is", "files are")))
	}
	p.Notes = append(p.Notes, fmt.Sprintf("Cost: S3 bills restores per request and per GB retrieved, by tier: Bulk is cheapest and slowest, "+
		"Expedited (GLACIER only) fastest and dearest. Restored copies are kept %d days and billed as S3 Standard storage meanwhile.", restoreDays))
	return p, nil
}

func (k archiveKind) execute(ctx context.Context, x *Exec) (string, error) {
	cu := x.Customer
	a, err := k.args(x.Params, cu, x.svc.Now())
	if err != nil {
		return "", err
	}
	var acct restoreAccount
	acct, err = x.svc.account(cu)
	if err != nil {
		return "", err
	}
	objs, err := k.list(ctx, acct, a)
	if err != nil {
		return "", x.svc.awsFailed(fmt.Sprintf("Listing %s's %s archives", cu.Name, k.noun), err)
	}
	var archived []aws.Object
	for _, o := range objs {
		if o.Archived() {
			archived = append(archived, o)
		}
	}

	// Step 1 is checkpointed once every request is decided, so a resumed
	// job does not request anything again; if the process dies inside it,
	// the rerun lists again and S3's own restore status (ongoing, done)
	// keeps what was already requested from being requested twice. Each
	// step hands on which files will not be restored and why: a resumed
	// job gets that from the checkpoint.
	r := &restoreAttempt{k: k, x: x, acct: acct, a: a, archived: archived,
		failed: map[string]string{}, states: map[string]aws.RestoreStatus{}}
	justRequested := false // by this attempt: nothing is ready yet
	requested, err := jobs.StepOf(ctx, x.Attempt, "request restores", func(ctx context.Context) (map[string]string, string, error) {
		summary, issued, err := r.request(ctx)
		justRequested = issued > 0
		return r.failed, summary, err
	})
	if err != nil {
		return "", err
	}
	maps.Copy(r.failed, requested)

	notRestored, err := jobs.StepOf(ctx, x.Attempt, "wait for restores", func(ctx context.Context) (map[string]string, string, error) {
		summary, err := r.wait(ctx, justRequested)
		return r.notRestored(), summary, err
	})
	if err != nil {
		return "", err
	}

	var files []fileLink
	restored, ready := 0, 0
	for _, o := range objs {
		l := fileLink{Key: o.Key, Size: o.Size, Class: o.StorageClass}
		if o.Archived() {
			why, bad := notRestored[o.Key]
			switch {
			case !bad:
				restored++
			case why != "":
				l.Problem = "not restored: " + why
			default:
				l.Problem = "not restored: no restore is in progress (its request failed earlier, or the restored copy expired)"
			}
		}
		if l.Problem == "" {
			ready++
		}
		files = append(files, l)
	}
	what := fmt.Sprintf("%s of %s's %s archives of %s", nOf(ready, "file", "files"), cu.Name, k.noun, a.monthText())
	if bad := len(files) - ready; bad > 0 {
		x.Say(ctx, problemReport(fmt.Sprintf("%s of %s's %s archives of %s could not be restored:", nOf(bad, "file", "files"), cu.Name, k.noun, a.monthText()),
			files, len(files) > maxInlineLinks))
	}
	exp, err := shareLinks(ctx, x, acct, a.bucket, files, manifestBucket(cu, a.bucket), restoreManifest(cu, k, a, x.Job.ID), what)
	if err != nil {
		return "", err
	}
	summary := fmt.Sprintf("%s's %s archives of %s (%s): %s of %s downloadable (%s restored, %s readable already)",
		cu.Name, k.noun, a.monthText(), a.where(), thousands(ready), nOf(len(files), "file", "files"), thousands(restored), thousands(ready-restored))
	if bad := len(files) - ready; bad > 0 {
		summary += fmt.Sprintf("; %s could not be restored (listed in the thread)", nOf(bad, "file", "files"))
	}
	if !exp.IsZero() {
		summary += "; links posted above, valid until " + mcloud.FormatTime(exp)
	}
	return summary, nil
}

// restoreAttempt is one attempt at a restore job's archived files: what this
// attempt's restore requests failed with, and which files have settled
// (restored, or not restored for good). Its methods are the job's steps.
type restoreAttempt struct {
	k        archiveKind
	x        *Exec
	acct     restoreAccount
	a        restoreArgs
	archived []aws.Object
	failed   map[string]string            // key -> why its restore request failed
	states   map[string]aws.RestoreStatus // settled files only
	prefixes []string                     // the month's prefix under each source, once listed
}

// request asks S3 to restore every archived file that has no restore
// yet, with bounded concurrency, and reports each failure by file.
func (r *restoreAttempt) request(ctx context.Context) (string, int, error) {
	x, a, archived := r.x, r.a, r.archived
	if len(archived) == 0 {
		return "nothing to request: no file of the month is archived", 0, nil
	}
	results := r.acct.RestoreMany(ctx, a.bucket, archived, aws.RestoreManyOptions{Days: restoreDays, Tier: a.tier})
	if err := ctx.Err(); err != nil {
		return "", 0, err
	}
	n := map[aws.RestoreOutcome]int{}
	var problems []fileLink
	for _, res := range results {
		n[res.Outcome]++
		if res.Outcome == aws.RestoreFailed {
			r.failed[res.Key] = res.Reason
			problems = append(problems, fileLink{Key: res.Key, Problem: res.Reason})
			x.svc.Log.Warn("restore request failed", "job", x.Job.ID, "bucket", a.bucket, "key", res.Key, "err", res.Err)
		}
	}
	if len(problems) == len(archived) {
		return "", 0, mcloud.Errorf(mcloud.ECONFLICT, "All %s restore requests failed, so nothing will be restored: %s",
			thousands(len(archived)), strings.TrimSuffix(problems[0].Problem, "."))
	}
	if len(problems) > 0 {
		x.Say(ctx, problemReport(fmt.Sprintf("%s failed; the other files are being restored:", nOf(len(problems), "restore request", "restore requests")),
			problems, len(archived) > maxInlineLinks))
	}
	s := fmt.Sprintf("requested %s (%s tier, copies kept %d days)", nOf(n[aws.RestoreIssued], "restore", "restores"), a.tier, restoreDays)
	if m := n[aws.RestoreInProgress]; m > 0 {
		s += fmt.Sprintf("; %s already in progress", thousands(m))
	}
	if m := n[aws.RestoreAlreadyRestored]; m > 0 {
		s += fmt.Sprintf("; %s already restored", thousands(m))
	}
	if m := len(problems); m > 0 {
		s += fmt.Sprintf("; %s failed (listed in the thread)", thousands(m))
	}
	return s, n[aws.RestoreIssued], nil
}

// wait polls the archived files' restore status with backoff until none
// is still restoring. It says once when the restores run past AWS's
// expected time, and gives up (failing the job, with what was still
// pending) at giveUpAfter times it.
func (r *restoreAttempt) wait(ctx context.Context, justRequested bool) (string, error) {
	x, a, archived := r.x, r.a, r.archived
	if len(archived) == 0 {
		return "nothing to wait for", nil
	}
	p := newAWSPoller(x.svc.Deps.AWS.Waits())
	if justRequested {
		// Nothing requested a moment ago is ready yet.
		if err := p.sleep(ctx); err != nil {
			return "", err
		}
	}
	warned, failedRounds := false, 0
	for {
		if x.Cancelled(ctx) {
			return "", jobs.ErrCancelled
		}
		pending, err := r.poll(ctx)
		switch {
		case ctx.Err() != nil:
			return "", ctx.Err()
		case err != nil:
			// Hours of waiting should not end on a passing outage or
			// an expiring session: only a failure that lasts does.
			if failedRounds++; failedRounds >= maxFailedPolls {
				return "", err
			}
		default:
			failedRounds = 0
		}
		if len(pending) == 0 {
			break
		}
		slowest := restoreTime{}
		for _, o := range pending {
			if t := expectedRestore(o.StorageClass, a.tier); t.max > slowest.max {
				slowest = t
			}
		}
		classes := map[string]int{}
		for _, o := range pending {
			classes[o.StorageClass]++
		}
		elapsed := x.svc.Now().Sub(x.Job.StartedAt)
		if elapsed > giveUpAfter*slowest.max {
			return "", mcloud.Errorf(mcloud.ECONFLICT, "%s still restoring after %s, %d times what AWS expects (%s), so mcloud stopped waiting; ask again later with the same command: nothing already requested is requested twice.",
				nOf(len(pending), "file was", "files were"), humanDuration(elapsed), giveUpAfter, expectation(classes, a.tier))
		}
		if !warned && elapsed > slowest.max {
			warned = true
			x.Say(ctx, fmt.Sprintf("Job #%d: %s still restoring after %s, longer than AWS expects (%s, %s tier). mcloud keeps checking, and gives up after %s.",
				x.Job.ID, nOf(len(pending), "file is", "files are"), humanDuration(elapsed), expectation(classes, a.tier), a.tier, humanDuration(giveUpAfter*slowest.max)))
		}
		if err := p.sleep(ctx); err != nil {
			return "", err
		}
	}
	done, none := 0, 0
	for _, st := range r.states {
		if st == aws.RestoreCompleted {
			done++
		} else {
			none++
		}
	}
	s := fmt.Sprintf("%s ready", nOf(done, "restored copy", "restored copies"))
	if elapsed := x.svc.Now().Sub(x.Job.StartedAt); elapsed > time.Minute {
		s += " after " + humanDuration(elapsed)
	}
	if none > 0 {
		s += fmt.Sprintf("; %s not restored", nOf(none, "file", "files"))
	}
	return s, nil
}

// notRestored is, once the wait is over, each archived file that was not
// restored and why ("" when S3 only says no restore is in progress).
func (r *restoreAttempt) notRestored() map[string]string {
	out := map[string]string{}
	for key, st := range r.states {
		if st != aws.RestoreCompleted {
			out[key] = r.failed[key]
		}
	}
	return out
}

// maxFailedPolls is how many polls in a row may fail entirely before the
// wait gives up.
const maxFailedPolls = 5

// poll reads where the archived files whose state is not settled yet
// stand, records the settled ones in states and returns those still
// restoring. One round lists the month (ListObjectsV2 with RestoreStatus:
// a request per 1,000 files) and heads only the files the listing shows
// with no restore, which it cannot tell apart from a listing that left
// the status out. Files the first listing already showed restored, and
// this attempt's failed requests, are settled without a request; a file
// gone from the listing was deleted meanwhile and is settled as not
// restored. When the round fails it returns the pending files and the
// error.
func (r *restoreAttempt) poll(ctx context.Context) ([]aws.Object, error) {
	x, failed, states := r.x, r.failed, r.states
	todo := map[string]aws.Object{}
	for _, o := range r.archived {
		if _, settled := states[o.Key]; settled {
			continue
		}
		switch {
		case failed[o.Key] != "":
			states[o.Key] = aws.RestoreNone
		case o.Restore.Status == aws.RestoreCompleted:
			states[o.Key] = aws.RestoreCompleted
		default:
			todo[o.Key] = o
		}
	}
	if len(todo) == 0 {
		return nil, nil
	}
	listed, err := r.listing(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		x.svc.Log.Warn("listing restores failed; retrying at the next poll", "job", x.Job.ID, "err", err)
		return r.unsettled(todo), x.svc.awsFailed("Checking the restores", err)
	}
	var unsure []string
	for key := range todo {
		o, ok := listed[key]
		switch {
		case !ok:
			failed[key] = "the file was deleted while it was being restored"
			states[key] = aws.RestoreNone
		case o.Restore.Status == aws.RestoreCompleted:
			states[key] = aws.RestoreCompleted
		case o.Restore.Status == aws.RestoreNone:
			unsure = append(unsure, key)
		}
	}
	if len(unsure) > 0 {
		if err := r.head(ctx, unsure); err != nil {
			return r.unsettled(todo), err
		}
	}
	return r.unsettled(todo), nil
}

// listing lists the month under each source, keyed by file. The sources
// are read once per attempt: a handful of requests.
func (r *restoreAttempt) listing(ctx context.Context) (map[string]aws.Object, error) {
	if r.prefixes == nil {
		sources, err := r.k.sources(ctx, r.acct, r.a)
		if err != nil {
			return nil, err
		}
		r.prefixes = make([]string, 0, len(sources))
		for _, src := range sources {
			r.prefixes = append(r.prefixes, src+r.a.month.Format("2006/01/"))
		}
	}
	out := map[string]aws.Object{}
	for _, p := range r.prefixes {
		if err := r.acct.WalkObjects(ctx, r.a.bucket, p, func(o aws.Object) error {
			out[o.Key] = o
			return nil
		}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// head settles keys by HeadObject. A file whose check fails stays
// pending; the round fails only when every check does.
func (r *restoreAttempt) head(ctx context.Context, keys []string) error {
	x, failed, states := r.x, r.failed, r.states
	heads, errs := r.acct.HeadMany(ctx, r.a.bucket, keys, 0)
	if err := ctx.Err(); err != nil {
		return err
	}
	var lastErr error
	nerr := 0
	for i, key := range keys {
		switch {
		case aws.IsCode(errs[i], "NotFound", "NoSuchKey"):
			failed[key] = "the file was deleted while it was being restored"
			states[key] = aws.RestoreNone
		case errs[i] != nil:
			nerr++
			lastErr = errs[i]
		case heads[i].Restore.Status == aws.RestoreCompleted:
			states[key] = aws.RestoreCompleted
		case heads[i].Restore.Status == aws.RestoreNone:
			states[key] = aws.RestoreNone
		}
	}
	if nerr > 0 {
		x.svc.Log.Warn("some restore checks failed; retrying them at the next poll", "job", x.Job.ID, "failed", nerr, "err", lastErr)
		if nerr == len(keys) {
			return x.svc.awsFailed("Checking the restores", lastErr)
		}
	}
	return nil
}

// unsettled returns, in listing order, the files of todo not settled yet.
func (r *restoreAttempt) unsettled(todo map[string]aws.Object) []aws.Object {
	var pending []aws.Object
	for _, o := range r.archived {
		if _, ok := todo[o.Key]; !ok {
			continue
		}
		if _, settled := r.states[o.Key]; !settled {
			pending = append(pending, o)
		}
	}
	return pending
}

// problemReport lists files that have a problem, grouped by problem, for
// the thread. Past a few dozen files the rest are counted, and, when a
// manifest is written, found there.
func problemReport(title string, files []fileLink, manifest bool) string {
	const maxListed = 50
	var order []string
	byProblem := map[string][]string{}
	for _, f := range files {
		if f.Problem == "" {
			continue
		}
		if byProblem[f.Problem] == nil {
			order = append(order, f.Problem)
		}
		byProblem[f.Problem] = append(byProblem[f.Problem], f.Key)
	}
	var b strings.Builder
	b.WriteString(title)
	listed, total := 0, 0
	for _, problem := range order {
		keys := byProblem[problem]
		total += len(keys)
		fmt.Fprintf(&b, "\n  %s (%s):", strings.TrimSuffix(problem, "."), nOf(len(keys), "file", "files"))
		for _, key := range keys {
			if listed == maxListed {
				break
			}
			fmt.Fprintf(&b, "\n    %s", key)
			listed++
		}
	}
	if rest := total - listed; rest > 0 {
		fmt.Fprintf(&b, "\n  ... and %s more", thousands(rest))
		if manifest {
			b.WriteString(", every one listed in the manifest")
		}
	}
	return b.String()
}
