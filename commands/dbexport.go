package commands

import (
	"context"
	"fmt"
	"strings"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/aws"
	"github.com/mcloud/mcloud/jobs"
)

// dbExportVerb exports the newest RDS snapshot of each of an
// environment's databases to S3 (Parquet, RDS's StartExportTask) and
// posts download links when the export is done. A database backup cannot
// be handed over instantly: the export takes minutes to hours.
func dbExportVerb() *Verb {
	return &Verb{
		Name:    "db-export",
		Summary: "export the newest RDS snapshot to S3 and post download links when it is done",
		Help: "For each RDS database of the environment, exports its newest available snapshot to the customer's exports " +
			"bucket (rds-exports/<env>/<task>/, Parquet, encrypted with the configured KMS key), waits for the export " +
			"(minutes to hours; the job survives restarts) and posts download links.",
		Examples: []string{"/mcloud db-export customer-x prod", "/mcloud db-export customer-x prod --dry-run"},
		Spec: Spec{Args: []Arg{
			{Name: "customer", Kind: KindCustomer, About: "whose database to export"},
			{Name: "env", Kind: KindEnv, About: "which environment's database"},
		}},
		Access:            mcloud.AccessCustomer,
		DevOpsApprovals:   1,
		CustomerApprovals: 1,
		DryRun:            true,
		Resumable:         true,
		Plan:              planDBExport,
		Execute:           runDBExport,
	}
}

// needExport checks the settings an export needs.
func needExport(cu *config.Customer) error {
	switch {
	case cu.AWS.ExportRoleARN == "" || cu.AWS.ExportKMSKeyID == "":
		return mcloud.Errorf(mcloud.ECONFLICT, "%s has no RDS export role and KMS key in mcloud's configuration (aws.export_role_arn, aws.export_kms_key_id); ask the DevOps team to add them.", cu.Name)
	case cu.Buckets.Exports == "":
		return mcloud.Errorf(mcloud.ECONFLICT, "%s has no exports bucket in mcloud's configuration (buckets.exports); ask the DevOps team to add it.", cu.Name)
	}
	return nil
}

// exportTaskID names the job's export of a database: RDS allows 1-60
// letters, digits and single hyphens, starting with a letter.
func exportTaskID(jobID int64, instance string) string {
	id := strings.Trim(doubleHyphen.ReplaceAllString(fmt.Sprintf("mcloud-job%d-%s", jobID, instance), "-"), "-")
	if len(id) > 60 {
		id = strings.TrimRight(id[:60], "-")
	}
	return id
}

func exportPrefix(env string) string { return "rds-exports/" + env }

// exportSource is a database and the snapshot to export.
type exportSource struct {
	db   aws.DBInstance
	snap aws.DBSnapshot
}

// exportAccount is what db-export calls: the environment's databases and
// their newest snapshots, RDS export tasks, and the exported files with
// their links.
type exportAccount interface {
	dbFinder
	NewestDBSnapshots(ctx context.Context, region string, q aws.DBSnapshotQuery) (map[string]aws.DBSnapshot, error)
	StartExportTask(ctx context.Context, region string, in aws.ExportRequest) (aws.ExportTask, error)
	DescribeExportTask(ctx context.Context, region, taskID string) (aws.ExportTask, error)
	ListObjects(ctx context.Context, bucket, prefix string) ([]aws.Object, error)
	linkSigner
}

func exportSources(ctx context.Context, s *Service, acct exportAccount, cu *config.Customer, env config.Environment) ([]exportSource, error) {
	dbs, err := findDatabases(ctx, acct, cu, env)
	if err != nil {
		return nil, s.awsFailed(fmt.Sprintf("Finding %s/%s's RDS databases", cu.Name, env.Name), err)
	}
	if len(dbs) == 0 {
		return nil, mcloud.Errorf(mcloud.ENOTFOUND, "Found no RDS database of %s/%s in %s (tagged %s=%s and %s=%s, or listed in rds_instances); nothing to export.",
			cu.Name, env.Name, acct.Region(), TagCustomer, cu.Name, TagEnv, env.Name)
	}
	var out []exportSource
	for _, d := range dbs {
		newest, err := acct.NewestDBSnapshots(ctx, acct.Region(), aws.DBSnapshotQuery{InstanceIdentifier: d.Identifier})
		if err != nil {
			return nil, s.awsFailed("Listing the RDS snapshots of "+d.Identifier, err)
		}
		snap, ok := newest[d.Identifier]
		if !ok {
			return nil, mcloud.Errorf(mcloud.ENOTFOUND, "RDS database %s has no available snapshot in %s to export; take one with /mcloud backup %s %s now.",
				d.Identifier, acct.Region(), cu.Name, env.Name)
		}
		out = append(out, exportSource{db: d, snap: snap})
	}
	return out, nil
}

func planDBExport(ctx context.Context, c *Call) (mcloud.Plan, error) {
	cu := c.Customer
	if err := needExport(cu); err != nil {
		return mcloud.Plan{}, err
	}
	acct, err := c.svc.account(cu)
	if err != nil {
		return mcloud.Plan{}, err
	}
	sources, err := exportSources(ctx, c.svc, acct, cu, *c.Env)
	if err != nil {
		return mcloud.Plan{}, err
	}
	now := c.svc.Now()
	var gib int64
	p := mcloud.Plan{}
	for _, src := range sources {
		gib += int64(src.db.StorageGiB)
		p.Steps = append(p.Steps, fmt.Sprintf("export snapshot %s of %s (taken %s ago, %s, %d GiB) to s3://%s/%s/",
			src.snap.Identifier, src.db.Identifier, humanDuration(now.Sub(dbSnapTime(src.snap))), src.db.Engine, src.db.StorageGiB,
			cu.Buckets.Exports, exportPrefix(c.Env.Name)))
	}
	p.Summary = fmt.Sprintf("Export %s's %s database to S3: %s (%d GiB) from %s", cu.Name, c.Env.Name, nOf(len(sources), "snapshot", "snapshots"), gib, cu.AWS.Region)
	p.Steps = append(p.Steps, "wait for the export to complete (minutes to hours, by size)", "post download links to the exported files")
	p.Notes = append(p.Notes,
		"The newest available snapshot when the job runs is exported; a newer one taken before approval is used instead.",
		fmt.Sprintf("RDS writes Parquet files, encrypted with KMS key %s, assuming role %s.", cu.AWS.ExportKMSKeyID, cu.AWS.ExportRoleARN),
		"Cost: RDS bills snapshot exports per GB of snapshot exported; the files are billed as S3 storage until deleted.")
	return p, nil
}

func runDBExport(ctx context.Context, x *Exec) (string, error) {
	cu := x.Customer
	if err := needExport(cu); err != nil {
		return "", err
	}
	var acct exportAccount
	acct, err := x.svc.account(cu)
	if err != nil {
		return "", err
	}
	region := acct.Region()
	dbs, err := findDatabases(ctx, acct, cu, *x.Env)
	if err != nil {
		return "", x.svc.awsFailed(fmt.Sprintf("Finding %s/%s's RDS databases", cu.Name, x.Env.Name), err)
	}
	// Task ids follow from the job and the database, so a resumed job
	// finds its exports instead of starting them again.
	if _, err := x.Step(ctx, "start export", func(ctx context.Context) (string, error) {
		sources, err := exportSources(ctx, x.svc, acct, cu, *x.Env)
		if err != nil {
			return "", err
		}
		var started []string
		for _, src := range sources {
			id := exportTaskID(x.Job.ID, src.db.Identifier)
			if _, err := acct.DescribeExportTask(ctx, region, id); err == nil {
				started = append(started, fmt.Sprintf("%s (already running)", id))
				continue
			} else if !aws.IsCode(err, "ExportTaskNotFound") {
				return "", x.svc.awsFailed("Looking for export "+id, err)
			}
			_, err := acct.StartExportTask(ctx, region, aws.ExportRequest{TaskIdentifier: id, SnapshotARN: src.snap.ARN,
				Bucket: cu.Buckets.Exports, Prefix: exportPrefix(x.Env.Name), IAMRoleARN: cu.AWS.ExportRoleARN, KMSKeyID: cu.AWS.ExportKMSKeyID})
			if err != nil && !aws.IsCode(err, "ExportTaskAlreadyExists") {
				return "", x.svc.awsFailed("Starting the export of "+src.snap.Identifier, err)
			}
			started = append(started, fmt.Sprintf("%s of snapshot %s", id, src.snap.Identifier))
		}
		return "started " + strings.Join(started, ", "), nil
	}); err != nil {
		return "", err
	}

	// The wait hands on the finished tasks' identifiers; a resumed job
	// gets them from the checkpoint instead of waiting again.
	taskIDs, err := jobs.StepOf(ctx, x.Attempt, "wait for export", func(ctx context.Context) ([]string, string, error) {
		tasks, err := waitExports(ctx, x, acct, region, dbs)
		if err != nil {
			return nil, "", err
		}
		ids := make([]string, len(tasks))
		for i, t := range tasks {
			ids[i] = t.Identifier
		}
		return ids, fmt.Sprintf("%s complete", nOf(len(tasks), "export", "exports")), nil
	})
	if err != nil {
		return "", err
	}

	var files []fileLink
	for _, id := range taskIDs {
		objs, err := acct.ListObjects(ctx, cu.Buckets.Exports, exportPrefix(x.Env.Name)+"/"+id+"/")
		if err != nil {
			return "", x.svc.awsFailed("Listing the exported files", err)
		}
		for _, o := range objs {
			files = append(files, fileLink{Key: o.Key, Size: o.Size, Class: o.StorageClass})
		}
	}
	what := fmt.Sprintf("%s the %s/%s database export (%s)", nOf(len(files), "file of", "files of"), cu.Name, x.Env.Name, strings.Join(taskIDs, ", "))
	exp, err := shareLinks(ctx, x, acct, cu.Buckets.Exports, files, cu.Buckets.Exports, exportManifest(cu, x.Env.Name, x.Job.ID), what)
	if err != nil {
		return "", err
	}
	summary := fmt.Sprintf("%s/%s database exported to s3://%s/%s/ (%s, %s)", cu.Name, x.Env.Name, cu.Buckets.Exports, exportPrefix(x.Env.Name),
		strings.Join(taskIDs, ", "), nOf(len(files), "file", "files"))
	if !exp.IsZero() {
		summary += "; links posted above, valid until " + mcloud.FormatTime(exp)
	}
	return summary, nil
}

// waitExports polls the job's export tasks with backoff until each is
// complete; a failed or cancelled export fails the job with RDS's reason.
func waitExports(ctx context.Context, x *Exec, acct exportAccount, region string, dbs []aws.DBInstance) ([]aws.ExportTask, error) {
	p := newAWSPoller(x.svc.Deps.AWS.Waits())
	for {
		if x.Cancelled(ctx) {
			return nil, jobs.ErrCancelled
		}
		var tasks []aws.ExportTask
		done := true
		for _, d := range dbs {
			id := exportTaskID(x.Job.ID, d.Identifier)
			t, err := acct.DescribeExportTask(ctx, region, id)
			if err != nil {
				return nil, x.svc.awsFailed("Checking export "+id, err)
			}
			switch t.Status {
			case "FAILED", "CANCELED":
				cause := t.FailureCause
				if cause == "" {
					cause = "RDS gave no reason"
				}
				return nil, mcloud.Errorf(mcloud.ECONFLICT, "RDS export %s ended %s: %s.", id, strings.ToLower(t.Status), strings.TrimSuffix(cause, "."))
			case "COMPLETE":
			default:
				done = false
			}
			tasks = append(tasks, t)
		}
		if done {
			return tasks, nil
		}
		if err := p.sleep(ctx); err != nil {
			return nil, err
		}
	}
}
