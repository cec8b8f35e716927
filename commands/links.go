package commands

import (
	"context"
	"fmt"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/aws"
)

// links re-issues the download links of a finished restore or export. A
// presigned link cannot outlive the session that signed it (about an
// hour), while a restore waits hours and its restored copies last days:
// whoever may see the request gets fresh links, without another approval,
// for as long as the files themselves are there. Nothing is restored or
// exported again; the links only read what the job already made readable.
func linksVerb() *Verb {
	return &Verb{
		Name: "links",
		Summary: "fresh download links for a finished restore-logs, restore-artifacts or db-export, " +
			"without a new approval, while the restored copies or exported files exist",
		Help: "The links are shown to you alone. Restored copies are readable for the days the restore asked for " +
			fmt.Sprintf("(%d); the answer says until when, and after that only a new restore brings them back. ", restoreDays) +
			"Exported database files stay until someone deletes them from the exports bucket.",
		Examples: []string{"/mcloud links 12"},
		Spec:     Spec{Args: []Arg{{Name: "job", Kind: KindID, About: "the job's number, from the plan or /mcloud jobs"}}},
		Access:   mcloud.AccessCustomer,
		Do:       doLinks,
	}
}

// linkable says whether verb's jobs hand out download links.
func linkable(verb string) bool {
	switch verb {
	case logArchives.verb, artifactArchives.verb, "db-export":
		return true
	}
	return false
}

func doLinks(ctx context.Context, c *Call) (Reply, error) {
	r, j, err := c.visibleWork(ctx, "job")
	if err != nil {
		return Reply{}, err
	}
	now := c.svc.Now()
	switch {
	case j == nil:
		return Reply{}, mcloud.Errorf(mcloud.ECONFLICT, "%s", notRunning(*r, now))
	case !linkable(j.Verb):
		return Reply{}, mcloud.Errorf(mcloud.ECONFLICT, "#%d is %s; only restore-logs, restore-artifacts and db-export hand out download links.", j.ID, workOf(j.Verb, j.Customer, j.Env))
	case !j.Status.Done():
		return Reply{}, mcloud.Errorf(mcloud.ECONFLICT, "#%d (%s) is still %s; its links are posted in its thread when it is done.", j.ID, workOf(j.Verb, j.Customer, j.Env), j.Status)
	case j.Status != mcloud.JobSucceeded:
		return Reply{}, mcloud.Errorf(mcloud.ECONFLICT, "#%d (%s) %s, so it has no links; ask again with the same command.", j.ID, workOf(j.Verb, j.Customer, j.Env), j.Status)
	}
	cu := c.svc.cfg.Customer(j.Customer)
	if cu == nil {
		return Reply{}, mcloud.Errorf(mcloud.ENOTFOUND, "Customer %s is no longer in mcloud's configuration.", j.Customer)
	}
	var acct linksAccount
	acct, err = c.svc.account(cu)
	if err != nil {
		return Reply{}, err
	}
	var out Reply
	switch j.Verb {
	case "db-export":
		out, err = exportLinks(ctx, c, acct, cu, j)
	default:
		k := logArchives
		if j.Verb == artifactArchives.verb {
			k = artifactArchives
		}
		out, err = restoreLinks(ctx, c, acct, cu, j, k)
	}
	if err != nil {
		return Reply{}, err
	}
	// Links are bearer secrets: only the one who asked sees them, and the
	// audit log says who was given them.
	out.Private = true
	if aerr := c.svc.store.Audit(ctx, mcloud.AuditEntry{Customer: cu.Name, UserID: c.Caller.UserID, UserName: c.Caller.Name,
		ChannelID: c.Caller.ChannelID, RequestID: j.RequestID, JobID: j.ID, Event: mcloud.AuditLinks,
		Detail: fmt.Sprintf("fresh download links for #%d (%s)", j.ID, j.Verb)}); aerr != nil {
		return Reply{}, aerr
	}
	return out, nil
}

// linksAccount is what links calls: it lists a finished job's files again
// (archives it restored, exports it wrote), checks which are readable, and
// signs links to them.
type linksAccount interface {
	archiveLister
	HeadMany(ctx context.Context, bucket string, keys []string, concurrency int) ([]aws.Object, []error)
	ListObjects(ctx context.Context, bucket, prefix string) ([]aws.Object, error)
	linkSigner
}

// restoreLinks lists the restore's month again and links each file that is
// readable now: not archived, or archived with a restored copy. Copies
// expire on their own; files past it are named, with how to restore them
// again.
func restoreLinks(ctx context.Context, c *Call, acct linksAccount, cu *config.Customer, j *mcloud.Job, k archiveKind) (Reply, error) {
	a, err := k.args(j.Params, cu, c.svc.Now())
	if err != nil {
		return Reply{}, err
	}
	objs, err := k.list(ctx, acct, a)
	if err != nil {
		return Reply{}, c.svc.awsFailed(fmt.Sprintf("Listing %s's %s archives", cu.Name, k.noun), err)
	}
	var unknown []string
	for _, o := range objs {
		if o.Archived() && !o.RestoreKnown {
			unknown = append(unknown, o.Key)
		}
	}
	heads := map[string]aws.Object{}
	if len(unknown) > 0 {
		hs, errs := acct.HeadMany(ctx, a.bucket, unknown, 0)
		for i, h := range hs {
			if errs[i] == nil {
				heads[unknown[i]] = h
			}
		}
	}
	again := fmt.Sprintf("/mcloud %s %s %s", k.verb, cu.Name, a.monthText())
	if a.env != "" {
		again += " --env " + a.env
	}
	var files []fileLink
	var earliest time.Time
	expired := 0
	for _, o := range objs {
		l := fileLink{Key: o.Key, Size: o.Size, Class: o.StorageClass}
		if o.Archived() {
			st := o.Restore
			if h, ok := heads[o.Key]; ok {
				st = h.Restore
			}
			if st.Status == aws.RestoreCompleted {
				if !st.Expiry.IsZero() && (earliest.IsZero() || st.Expiry.Before(earliest)) {
					earliest = st.Expiry
				}
			} else {
				l.Problem = "no restored copy (it expired, or the file was archived after the restore); restore it again with " + again
				expired++
			}
		}
		files = append(files, l)
	}
	if len(files) == 0 || expired == len(files) {
		return Reply{}, mcloud.Errorf(mcloud.ECONFLICT, "The restored copies of #%d (%s's %s archives of %s) are gone: S3 keeps a restored copy %d days. Restore them again: %s",
			j.ID, cu.Name, k.noun, a.monthText(), restoreDays, again)
	}
	what := fmt.Sprintf("%s of %s's %s archives of %s (#%d)", nOf(len(files)-expired, "file", "files"), cu.Name, k.noun, a.monthText(), j.ID)
	text, exp, err := c.svc.makeLinks(ctx, acct, a.bucket, files, manifestBucket(cu, a.bucket), restoreManifest(cu, k, a, j.ID), what)
	if err != nil {
		return Reply{}, err
	}
	out := Reply{Title: fmt.Sprintf("Fresh links for #%d, %s:", j.ID, workOf(j.Verb, j.Customer, j.Env)), Lines: []string{text}}
	out.Lines = append(out.Lines, copiesLine(earliest, exp, again))
	if expired > 0 {
		out.Lines = append(out.Lines, problemReport(fmt.Sprintf("%s no longer readable:", nOf(expired, "file is", "files are")), files, len(files) > maxInlineLinks))
	}
	return out, nil
}

// copiesLine says how long the files behind the links last, which is
// what matters once a link expires: until then, links can be had again.
func copiesLine(copies, links time.Time, again string) string {
	if copies.IsZero() {
		return fmt.Sprintf("These files are not archived and stay readable; ask for fresh links again after %s.", links.UTC().Format("2006-01-02 15:04 UTC"))
	}
	return fmt.Sprintf("The restored copies themselves expire %s (S3 keeps them %d days after the restore); until then /mcloud links gives fresh links, after it only a new restore does: %s",
		copies.UTC().Format("2006-01-02 15:04 UTC"), restoreDays, again)
}

// exportLinks lists the job's export files again; they stay in the exports
// bucket until someone deletes them.
func exportLinks(ctx context.Context, c *Call, acct linksAccount, cu *config.Customer, j *mcloud.Job) (Reply, error) {
	if err := needExport(cu); err != nil {
		return Reply{}, err
	}
	// Each export task is named after the job and its database
	// (exportTaskID: "mcloud-job12-<db>"), so the job's files are those
	// under that prefix.
	prefix := fmt.Sprintf("%s/mcloud-job%d-", exportPrefix(j.Env), j.ID)
	objs, err := acct.ListObjects(ctx, cu.Buckets.Exports, prefix)
	if err != nil {
		return Reply{}, c.svc.awsFailed("Listing the exported files", err)
	}
	var files []fileLink
	for _, o := range objs {
		files = append(files, fileLink{Key: o.Key, Size: o.Size, Class: o.StorageClass})
	}
	if len(files) == 0 {
		return Reply{}, mcloud.Errorf(mcloud.ECONFLICT, "The files of #%d are gone from s3://%s/%s/ (someone deleted them); export again: /mcloud db-export %s %s",
			j.ID, cu.Buckets.Exports, exportPrefix(j.Env), cu.Name, j.Env)
	}
	what := fmt.Sprintf("%s the %s/%s database export (#%d)", nOf(len(files), "file of", "files of"), cu.Name, j.Env, j.ID)
	text, _, err := c.svc.makeLinks(ctx, acct, cu.Buckets.Exports, files, cu.Buckets.Exports, exportManifest(cu, j.Env, j.ID), what)
	if err != nil {
		return Reply{}, err
	}
	return Reply{Title: fmt.Sprintf("Fresh links for #%d, %s:", j.ID, workOf(j.Verb, j.Customer, j.Env)),
		Lines: []string{text, fmt.Sprintf("The exported files stay in s3://%s/%s/ until someone deletes them; /mcloud links %d gives fresh links meanwhile.",
			cu.Buckets.Exports, exportPrefix(j.Env), j.ID)}}, nil
}

// manifestBucket is where a restore's manifest of links goes: the exports
// bucket when the customer has one, else the archive's own.
func manifestBucket(cu *config.Customer, bucket string) string {
	if cu.Buckets.Exports != "" {
		return cu.Buckets.Exports
	}
	return bucket
}

func restoreManifest(cu *config.Customer, k archiveKind, a restoreArgs, job int64) string {
	return fmt.Sprintf("mcloud/restores/%s/%s%s-job%d.csv", cu.Name, k.root, a.monthText(), job)
}

func exportManifest(cu *config.Customer, env string, job int64) string {
	return fmt.Sprintf("mcloud/exports/%s/%s-job%d.csv", cu.Name, env, job)
}
