package commands

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/aws"
)

// backupVerb takes EBS and RDS snapshots of an environment now and copies
// them to the DR region. Everything it creates carries the job's id as a
// tag, so a resumed job finds what it already made instead of making it
// again.
func backupVerb() *Verb {
	return &Verb{
		Name:    "backup",
		Summary: "take EBS and RDS snapshots now and copy them to the DR region",
		Help: "Snapshots every EBS volume and RDS database of the environment (all environments when none is named), " +
			"waits for them, copies them to the customer's DR region and waits for the copies. Volumes and databases are " +
			"found by their tags mcloud:customer and mcloud:env (or the environment's rds_instances); snapshots and copies are " +
			"tagged mcloud:customer, mcloud:env and mcloud:job.",
		Examples: []string{"/mcloud backup customer-x prod now", "/mcloud backup customer-x now", "/mcloud backup customer-x prod now --dry-run"},
		Spec: Spec{Args: []Arg{
			{Name: "customer", Kind: KindCustomer, About: "whose environment to back up"},
			{Name: "env", Kind: KindEnv, Optional: true},
			{Name: "now", Kind: KindLiteral, Values: []string{"now"}, About: `the word "now", to say it runs at once`},
		}},
		Access:            mcloud.AccessDevOps,
		DevOpsApprovals:   1,
		CustomerApprovals: 1,
		DryRun:            true,
		Resumable:         true,
		Plan:              planBackup,
		Execute:           runBackup,
	}
}

// backupTarget is what one environment's backup covers.
type backupTarget struct {
	env     string
	volumes []aws.Volume
	dbs     []aws.DBInstance
}

// envsOf is the named environment, or all of the customer's.
func envsOf(cu *config.Customer, env *config.Environment) []config.Environment {
	if env != nil {
		return []config.Environment{*env}
	}
	return cu.Environments
}

func envTags(customer, env string) map[string]string {
	return map[string]string{TagCustomer: customer, TagEnv: env}
}

// dbFinder finds an environment's databases (backup, db-export, dr).
type dbFinder interface {
	Region() string
	FindDBInstances(ctx context.Context, region string, q aws.DBInstanceQuery) ([]aws.DBInstance, error)
}

// snapshotAccount is the EBS side of backup and backups.
type snapshotAccount interface {
	Region() string
	FindVolumes(ctx context.Context, region string, tags map[string]string) ([]aws.Volume, error)
	FindSnapshots(ctx context.Context, region string, tags map[string]string) ([]aws.Snapshot, error)
	EnsureSnapshot(ctx context.Context, region, volumeID, description string, tags map[string]string) (aws.Snapshot, bool, error)
	WaitSnapshotsCompleted(ctx context.Context, region string, ids []string, maxWait time.Duration) error
	EnsureSnapshotCopy(ctx context.Context, in aws.SnapshotCopy) (aws.Snapshot, bool, error)
}

// dbAccount is the RDS side of backup and backups.
type dbAccount interface {
	dbFinder
	FindDBSnapshots(ctx context.Context, region string, q aws.DBSnapshotQuery) ([]aws.DBSnapshot, error)
	NewestDBSnapshots(ctx context.Context, region string, q aws.DBSnapshotQuery) (map[string]aws.DBSnapshot, error)
	EnsureDBSnapshot(ctx context.Context, region, instanceID, snapshotID string, tags map[string]string) (aws.DBSnapshot, bool, error)
	WaitDBSnapshotsAvailable(ctx context.Context, region string, ids []string, maxWait time.Duration) error
	EnsureDBSnapshotCopy(ctx context.Context, in aws.DBSnapshotCopy) (aws.DBSnapshot, bool, error)
}

// backupAccount is what backup and backups call: snapshots, databases, and
// (for the report) the newest log and artifact archives.
type backupAccount interface {
	snapshotAccount
	dbAccount
	archiveLister
}

// findDatabases returns the environment's RDS instances: those named in
// rds_instances (each must exist), or else those tagged for it.
func findDatabases(ctx context.Context, acct dbFinder, cu *config.Customer, env config.Environment) ([]aws.DBInstance, error) {
	region := acct.Region()
	if len(env.RDSInstances) == 0 {
		return acct.FindDBInstances(ctx, region, aws.DBInstanceQuery{Tags: envTags(cu.Name, env.Name)})
	}
	var out []aws.DBInstance
	for _, id := range env.RDSInstances {
		found, err := acct.FindDBInstances(ctx, region, aws.DBInstanceQuery{Identifier: id})
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, mcloud.Errorf(mcloud.ENOTFOUND, "RDS database %s, listed in %s/%s's rds_instances, does not exist in %s.", id, cu.Name, env.Name, region)
		}
		out = append(out, found...)
	}
	return out, nil
}

func backupTargets(ctx context.Context, s *Service, acct backupAccount, cu *config.Customer, env *config.Environment) ([]backupTarget, error) {
	var out []backupTarget
	for _, e := range envsOf(cu, env) {
		vols, err := acct.FindVolumes(ctx, acct.Region(), envTags(cu.Name, e.Name))
		if err != nil {
			return nil, s.awsFailed(fmt.Sprintf("Finding %s/%s's EBS volumes", cu.Name, e.Name), err)
		}
		dbs, err := findDatabases(ctx, acct, cu, e)
		if err != nil {
			return nil, s.awsFailed(fmt.Sprintf("Finding %s/%s's RDS databases", cu.Name, e.Name), err)
		}
		if len(vols)+len(dbs) > 0 {
			out = append(out, backupTarget{env: e.Name, volumes: vols, dbs: dbs})
		}
	}
	if len(out) == 0 {
		where := "any environment"
		if env != nil {
			where = env.Name
		}
		return nil, mcloud.Errorf(mcloud.ENOTFOUND, "Found no EBS volume or RDS database of %s (%s) in %s tagged %s=%s and %s=<env>; nothing to back up.",
			cu.Name, where, acct.Region(), TagCustomer, cu.Name, TagEnv)
	}
	return out, nil
}

func needDR(cu *config.Customer) error {
	if cu.AWS.DRRegion == "" {
		return mcloud.Errorf(mcloud.ECONFLICT, "%s has no DR region in mcloud's configuration (aws.dr_region), so backups cannot be copied there.", cu.Name)
	}
	return nil
}

func planBackup(ctx context.Context, c *Call) (mcloud.Plan, error) {
	cu := c.Customer
	if err := needDR(cu); err != nil {
		return mcloud.Plan{}, err
	}
	acct, err := c.svc.account(cu)
	if err != nil {
		return mcloud.Plan{}, err
	}
	targets, err := backupTargets(ctx, c.svc, acct, cu, c.Env)
	if err != nil {
		return mcloud.Plan{}, err
	}
	var nvol, ndb int
	var gib, dbGiB int64
	var envs []string
	for _, t := range targets {
		envs = append(envs, t.env)
		nvol += len(t.volumes)
		ndb += len(t.dbs)
		for _, v := range t.volumes {
			gib += int64(v.SizeGiB)
		}
		for _, d := range t.dbs {
			dbGiB += int64(d.StorageGiB)
		}
	}
	p := mcloud.Plan{Summary: fmt.Sprintf("Back up %s (%s) now: %s (%d GiB) and %s (%d GiB) in %s, copied to %s",
		cu.Name, strings.Join(envs, ", "), nOf(nvol, "EBS volume", "EBS volumes"), gib, nOf(ndb, "RDS database", "RDS databases"), dbGiB, cu.AWS.Region, cu.AWS.DRRegion)}
	for _, t := range targets {
		var parts []string
		for _, v := range t.volumes {
			parts = append(parts, fmt.Sprintf("%s (%s, %d GiB)", v.ID, orNone(v.Tags["Name"]), v.SizeGiB))
		}
		for _, d := range t.dbs {
			parts = append(parts, fmt.Sprintf("RDS %s (%s, %d GiB)", d.Identifier, d.Engine, d.StorageGiB))
		}
		p.Steps = append(p.Steps, fmt.Sprintf("snapshot %s: %s", t.env, strings.Join(parts, ", ")))
	}
	p.Steps = append(p.Steps,
		"wait until every snapshot is completed",
		fmt.Sprintf("copy each snapshot to %s (DR)", cu.AWS.DRRegion),
		"wait until every copy is completed")
	p.Notes = append(p.Notes,
		fmt.Sprintf("Snapshots are tagged %s, %s and %s=<job>; a resumed job reuses them instead of taking new ones.", TagCustomer, TagEnv, TagJob),
		fmt.Sprintf("Cost: EBS snapshots are incremental and billed per GB stored; RDS manual snapshots are kept until deleted; the copies add cross-region transfer and storage in %s. Encrypted RDS copies use %s's aws/rds key.", cu.AWS.DRRegion, cu.AWS.DRRegion))
	return p, nil
}

// dbSnapshotID names the job's snapshot of a database. RDS identifiers
// are letters, digits and single hyphens, starting with a letter.
func dbSnapshotID(jobID int64, instance string) string {
	id := fmt.Sprintf("mcloud-job%d-%s", jobID, instance)
	id = strings.Trim(doubleHyphen.ReplaceAllString(id, "-"), "-")
	if len(id) > 255 {
		id = strings.TrimRight(id[:255], "-")
	}
	return id
}

var doubleHyphen = regexp.MustCompile(`-{2,}`)

func runBackup(ctx context.Context, x *Exec) (string, error) {
	cu := x.Customer
	if err := needDR(cu); err != nil {
		return "", err
	}
	var acct backupAccount
	acct, err := x.svc.account(cu)
	if err != nil {
		return "", err
	}
	primary, dr := acct.Region(), cu.AWS.DRRegion
	jobTags := map[string]string{TagCustomer: cu.Name, TagJob: strconv.FormatInt(x.Job.ID, 10)}
	withEnv := func(env string) map[string]string {
		t := envTags(cu.Name, env)
		t[TagJob] = jobTags[TagJob]
		return t
	}

	// Every step finds what the earlier ones made by the job tag, so any
	// step may run again after a crash without creating duplicates.
	if _, err := x.Step(ctx, "take snapshots", func(ctx context.Context) (string, error) {
		targets, err := backupTargets(ctx, x.svc, acct, cu, x.Env)
		if err != nil {
			return "", err
		}
		var ebs, rds []string
		for _, t := range targets {
			for _, v := range t.volumes {
				desc := fmt.Sprintf("mcloud job %d: %s/%s %s", x.Job.ID, cu.Name, t.env, orNone(v.Tags["Name"]))
				tags := withEnv(t.env)
				if name := v.Tags["Name"]; name != "" {
					tags["Name"] = name
				}
				s, _, err := acct.EnsureSnapshot(ctx, primary, v.ID, desc, tags)
				if err != nil {
					return "", x.svc.awsFailed("Snapshotting EBS volume "+v.ID, err)
				}
				ebs = append(ebs, s.ID)
			}
			for _, d := range t.dbs {
				s, _, err := acct.EnsureDBSnapshot(ctx, primary, d.Identifier, dbSnapshotID(x.Job.ID, d.Identifier), withEnv(t.env))
				if err != nil {
					return "", x.svc.awsFailed("Snapshotting RDS database "+d.Identifier, err)
				}
				rds = append(rds, s.Identifier)
			}
		}
		return fmt.Sprintf("started %s%s and %s%s in %s", nOf(len(ebs), "EBS snapshot", "EBS snapshots"), idList(ebs),
			nOf(len(rds), "RDS snapshot", "RDS snapshots"), idList(rds), primary), nil
	}); err != nil {
		return "", err
	}

	waitAll := func(ctx context.Context, region, what string) (int, int, error) {
		ebs, err := acct.FindSnapshots(ctx, region, jobTags)
		if err != nil {
			return 0, 0, x.svc.awsFailed("Finding the job's EBS snapshots in "+region, err)
		}
		rds, err := acct.FindDBSnapshots(ctx, region, aws.DBSnapshotQuery{Tags: jobTags})
		if err != nil {
			return 0, 0, x.svc.awsFailed("Finding the job's RDS snapshots in "+region, err)
		}
		maxWait := x.svc.Deps.AWS.Waits().SnapshotMaxWait
		if err := acct.WaitSnapshotsCompleted(ctx, region, snapshotIDs(ebs), maxWait); err != nil {
			return 0, 0, x.svc.awsFailed("Waiting for the EBS "+what+" in "+region, err)
		}
		if err := acct.WaitDBSnapshotsAvailable(ctx, region, dbSnapshotIDs(rds), maxWait); err != nil {
			return 0, 0, x.svc.awsFailed("Waiting for the RDS "+what+" in "+region, err)
		}
		return len(ebs), len(rds), nil
	}
	if _, err := x.Step(ctx, "wait for snapshots", func(ctx context.Context) (string, error) {
		ne, nr, err := waitAll(ctx, primary, "snapshots")
		return fmt.Sprintf("%s and %s completed in %s", nOf(ne, "EBS snapshot", "EBS snapshots"), nOf(nr, "RDS snapshot", "RDS snapshots"), primary), err
	}); err != nil {
		return "", err
	}

	if _, err := x.Step(ctx, "copy to DR region", func(ctx context.Context) (string, error) {
		ebs, err := acct.FindSnapshots(ctx, primary, jobTags)
		if err != nil {
			return "", x.svc.awsFailed("Finding the job's EBS snapshots", err)
		}
		var copies []string
		for _, s := range ebs {
			c, _, err := acct.EnsureSnapshotCopy(ctx, aws.SnapshotCopy{SourceRegion: primary, SourceSnapshotID: s.ID, DestinationRegion: dr,
				Description: s.Description + " (DR copy)", Tags: withEnv(s.Tags[TagEnv])})
			if err != nil {
				return "", x.svc.awsFailed("Copying EBS snapshot "+s.ID+" to "+dr, err)
			}
			copies = append(copies, c.ID)
		}
		rds, err := acct.FindDBSnapshots(ctx, primary, aws.DBSnapshotQuery{Tags: jobTags})
		if err != nil {
			return "", x.svc.awsFailed("Finding the job's RDS snapshots", err)
		}
		var dbCopies []string
		for _, s := range rds {
			in := aws.DBSnapshotCopy{SourceSnapshotARN: s.ARN, DestinationRegion: dr, TargetIdentifier: s.Identifier, Tags: withEnv(s.Tags[TagEnv])}
			if s.Encrypted {
				// KMS keys are regional; RDS's own key exists in every region.
				in.KMSKeyID = "alias/aws/rds"
			}
			c, _, err := acct.EnsureDBSnapshotCopy(ctx, in)
			if err != nil {
				return "", x.svc.awsFailed("Copying RDS snapshot "+s.Identifier+" to "+dr, err)
			}
			dbCopies = append(dbCopies, c.Identifier)
		}
		return fmt.Sprintf("started %s%s and %s to %s", nOf(len(copies), "EBS copy", "EBS copies"), idList(copies),
			nOf(len(dbCopies), "RDS copy", "RDS copies"), dr), nil
	}); err != nil {
		return "", err
	}

	var ne, nr int
	if _, err := x.Step(ctx, "wait for DR copies", func(ctx context.Context) (string, error) {
		var err error
		ne, nr, err = waitAll(ctx, dr, "copies")
		return fmt.Sprintf("%s and %s completed in %s", nOf(ne, "EBS copy", "EBS copies"), nOf(nr, "RDS copy", "RDS copies"), dr), err
	}); err != nil {
		return "", err
	}
	where := "all environments"
	if x.Env != nil {
		where = x.Env.Name
	}
	return fmt.Sprintf("%s (%s) backed up: EBS and RDS snapshots in %s, copies in %s (DR), tagged %s=%d", cu.Name, where, primary, dr, TagJob, x.Job.ID), nil
}

func snapshotIDs(s []aws.Snapshot) []string {
	out := make([]string, len(s))
	for i := range s {
		out[i] = s[i].ID
	}
	return out
}

func dbSnapshotIDs(s []aws.DBSnapshot) []string {
	out := make([]string, len(s))
	for i := range s {
		out[i] = s[i].Identifier
	}
	return out
}

// idList is " (a, b, c)", or "" for none; long lists are cut.
func idList(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	if len(ids) > 6 {
		return fmt.Sprintf(" (%s, ... %d more)", strings.Join(ids[:5], ", "), len(ids)-5)
	}
	return " (" + strings.Join(ids, ", ") + ")"
}

// backupsVerb is the backup report: for each environment the newest EBS
// and RDS snapshots in the primary and DR regions, then the newest log and
// artifact archives, each with its age (the current RPO), flagged when
// older than the customer's policy or missing.
func backupsVerb() *Verb {
	return &Verb{
		Name:    "backups",
		Summary: "the backup report: newest snapshots and archives, their age (RPO), what is too old or missing",
		Help: "For each environment: the newest EBS snapshot of every volume and the newest RDS snapshot of every database, " +
			"in the primary region and in the DR region; then the newest log and artifact archive. Anything older than the " +
			"customer's backup_max_age (default 26h) or missing is flagged.",
		Examples: []string{"/mcloud backups customer-x"},
		Spec:     Spec{Args: []Arg{{Name: "customer", Kind: KindCustomer, About: "whose backups to report"}}},
		Access:   mcloud.AccessCustomer,
		Do:       reportBackups,
	}
}

// backupFact is one line of the report before judging: what, where, and
// when its newest copy was taken (zero when there is none).
type backupFact struct {
	What   string // "prod EBS vol-1 (x-prod-apim-1)"
	Region string
	DR     bool
	Newest time.Time
	Detail string // the snapshot or object behind Newest
}

// backupVerdict is a judged fact.
type backupVerdict struct {
	backupFact
	Age     time.Duration
	Problem string // "" when within policy
}

// judgeBackups decides, for each fact, whether it is within policy at
// now. It is pure so the rules are table-tested.
func judgeBackups(facts []backupFact, now time.Time, policy time.Duration) []backupVerdict {
	out := make([]backupVerdict, len(facts))
	for i, f := range facts {
		v := backupVerdict{backupFact: f}
		switch {
		case f.Newest.IsZero() && f.DR:
			v.Problem = "missing in the DR region"
		case f.Newest.IsZero():
			v.Problem = "missing"
		default:
			v.Age = max(now.Sub(f.Newest), 0)
			if v.Age > policy {
				v.Problem = fmt.Sprintf("older than the %s policy", humanDuration(policy))
			}
		}
		out[i] = v
	}
	return out
}

func reportBackups(ctx context.Context, c *Call) (Reply, error) {
	r, _, err := c.svc.backupReport(ctx, c.Customer)
	return r, err
}

// backupHealth is a report's gist, for the team digest.
type backupHealth struct {
	// Worst is the age of the oldest of the newest backups (the RPO).
	Worst    time.Duration
	Problems []string
}

// backupReport is the backups report of cu, as the verb, the morning
// report and the digest show it.
func (s *Service) backupReport(ctx context.Context, cu *config.Customer) (Reply, backupHealth, error) {
	var acct backupAccount
	acct, err := s.account(cu)
	if err != nil {
		return Reply{}, backupHealth{}, err
	}
	facts, err := gatherBackups(ctx, s, acct, cu)
	if err != nil {
		return Reply{}, backupHealth{}, err
	}
	now := s.Now()
	policy := cu.BackupPolicy()
	verdicts := judgeBackups(facts, now, policy)
	r := Reply{Title: fmt.Sprintf("Backups of %s at %s (policy: newest backup at most %s old, copied to %s)",
		cu.Name, mcloud.FormatTime(now), humanDuration(policy), orNone(cu.AWS.DRRegion))}
	var problems []string
	worst := time.Duration(0)
	whereOf := func(v backupVerdict) string {
		if v.DR {
			return v.Region + " (DR)"
		}
		return v.Region
	}
	wWhat, wWhere := 0, 0
	for _, v := range verdicts {
		wWhat, wWhere = max(wWhat, len(v.What)), max(wWhere, len(whereOf(v)))
	}
	for _, v := range verdicts {
		where := whereOf(v)
		line := fmt.Sprintf("%-*s  %-*s  ", wWhat, v.What, wWhere, where)
		if v.Newest.IsZero() {
			line += "none"
		} else {
			line += fmt.Sprintf("%s ago (%s, %s)", humanDuration(v.Age), mcloud.FormatTime(v.Newest), v.Detail)
			worst = max(worst, v.Age)
		}
		if v.Problem != "" {
			line += "  FLAGGED: " + v.Problem
			problems = append(problems, fmt.Sprintf("%s in %s: %s", v.What, where, v.Problem))
		} else {
			line += "  ok"
		}
		r.Lines = append(r.Lines, line)
	}
	if len(problems) == 0 {
		r.Lines = append(r.Lines, fmt.Sprintf("All %s are within policy; the current RPO (the age of the oldest of these newest backups) is %s.", nOf(len(verdicts), "backup", "backups"), humanDuration(worst)))
	} else {
		r.Lines = append(r.Lines, fmt.Sprintf("%s flagged:", nOf(len(problems), "backup", "backups")))
		for _, p := range problems {
			r.Lines = append(r.Lines, "  - "+p)
		}
	}
	return r, backupHealth{Worst: worst, Problems: problems}, nil
}

// gatherBackups reads, per environment, every volume's and database's
// newest snapshot in the primary and DR regions, and the newest archives.
func gatherBackups(ctx context.Context, s *Service, acct backupAccount, cu *config.Customer) ([]backupFact, error) {
	primary, dr := acct.Region(), cu.AWS.DRRegion
	var facts []backupFact
	for _, e := range cu.Environments {
		tags := envTags(cu.Name, e.Name)
		vols, err := acct.FindVolumes(ctx, primary, tags)
		if err != nil {
			return nil, s.awsFailed(fmt.Sprintf("Finding %s/%s's EBS volumes", cu.Name, e.Name), err)
		}
		snaps, err := acct.FindSnapshots(ctx, primary, tags)
		if err != nil {
			return nil, s.awsFailed("Listing EBS snapshots in "+primary, err)
		}
		var copies []aws.Snapshot
		if dr != "" {
			if copies, err = acct.FindSnapshots(ctx, dr, tags); err != nil {
				return nil, s.awsFailed("Listing EBS snapshots in "+dr, err)
			}
		}
		inDR := copiedSources(copies)
		for _, v := range vols {
			what := fmt.Sprintf("%s EBS %s", e.Name, v.ID)
			if name := v.Tags["Name"]; name != "" {
				what += " (" + name + ")"
			}
			// Snapshots are oldest first: the last completed one of the
			// volume is its newest backup, and the last of those with a
			// copy in DR is the newest the DR region can restore.
			var newest, newestDR *aws.Snapshot
			var drCopy string
			for i := range snaps {
				sn := &snaps[i]
				if sn.VolumeID != v.ID || sn.State != "completed" {
					continue
				}
				newest = sn
				if c, ok := inDR[sn.ID]; ok {
					newestDR, drCopy = sn, c
				}
			}
			facts = append(facts, snapshotFact(what, primary, false, newest))
			if dr != "" {
				// The DR row's age is its source's (the data is as old as
				// that), but its id is the copy's: the one a DR rebuild uses.
				f := snapshotFact(what, dr, true, newestDR)
				if newestDR != nil {
					f.Detail = drCopy
				}
				facts = append(facts, f)
			}
		}
		dbs, err := findDatabases(ctx, acct, cu, e)
		if err != nil {
			return nil, s.awsFailed(fmt.Sprintf("Finding %s/%s's RDS databases", cu.Name, e.Name), err)
		}
		for _, d := range dbs {
			what := fmt.Sprintf("%s RDS %s", e.Name, d.Identifier)
			regions := []string{primary}
			if dr != "" {
				regions = append(regions, dr)
			}
			for _, region := range regions {
				newest, err := acct.NewestDBSnapshots(ctx, region, aws.DBSnapshotQuery{InstanceIdentifier: d.Identifier})
				if err != nil {
					return nil, s.awsFailed("Listing RDS snapshots in "+region, err)
				}
				f := backupFact{What: what, Region: region, DR: region != primary}
				if sn, ok := newest[d.Identifier]; ok {
					f.Newest, f.Detail = dbSnapTime(sn), sn.Identifier
				}
				facts = append(facts, f)
			}
		}
	}
	for _, k := range []archiveKind{logArchives, artifactArchives} {
		bucket := k.bucket(cu)
		if bucket == "" {
			continue
		}
		f := backupFact{What: fmt.Sprintf("%s archives (s3://%s)", k.noun, bucket), Region: primary}
		newest, err := newestArchive(ctx, acct, k, bucket, s.Now())
		if err != nil {
			return nil, s.awsFailed(fmt.Sprintf("Listing %s's %s archives", cu.Name, k.noun), err)
		}
		if newest.Key != "" {
			f.Newest, f.Detail = newest.LastModified, newest.Key
		}
		facts = append(facts, f)
	}
	return facts, nil
}

func snapshotFact(what, region string, dr bool, s *aws.Snapshot) backupFact {
	f := backupFact{What: what, Region: region, DR: dr}
	if s != nil {
		f.Newest, f.Detail = s.StartTime, s.ID
	}
	return f
}

func dbSnapTime(s aws.DBSnapshot) time.Time {
	if !s.OriginalCreated.IsZero() {
		return s.OriginalCreated
	}
	return s.Created
}

// copiedFrom matches EC2's default description of a copy,
// "[Copied snap-0123 from eu-west-1]", for copies mcloud did not tag.
var copiedFrom = regexp.MustCompile(`\[Copied (snap-[0-9a-f]+) from [a-z0-9-]+\]`)

// copiedSources maps each source snapshot id that has a completed copy
// among copies to that copy's id (the last listed, when there are
// several): by mcloud's source tag, or by EC2's description.
func copiedSources(copies []aws.Snapshot) map[string]string {
	out := map[string]string{}
	for _, c := range copies {
		if c.State != "completed" {
			continue
		}
		if src := c.Tags[aws.TagSourceSnapshot]; src != "" {
			out[src] = c.ID
		} else if m := copiedFrom.FindStringSubmatch(c.Description); m != nil {
			out[m[1]] = c.ID
		}
	}
	return out
}

// newestArchive is the most recently written archive of this month, or of
// last month when this one has none yet.
func newestArchive(ctx context.Context, acct archiveLister, k archiveKind, bucket string, now time.Time) (aws.Object, error) {
	this, _ := parseMonth("this-month", now)
	var newest aws.Object
	for _, month := range []time.Time{this, this.AddDate(0, -1, 0)} {
		objs, err := k.list(ctx, acct, restoreArgs{month: month, bucket: bucket})
		if err != nil {
			return aws.Object{}, err
		}
		for _, o := range objs {
			if o.LastModified.After(newest.LastModified) {
				newest = o
			}
		}
		if newest.Key != "" {
			break
		}
	}
	return newest, nil
}
