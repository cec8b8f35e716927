package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/aws"
	mssh "github.com/mcloud/mcloud/integrations/ssh"
	"github.com/mcloud/mcloud/integrations/store"
	"github.com/mcloud/mcloud/jobs"
	"github.com/mcloud/mcloud/provision"
)

// Disaster recovery: `dr drill` rebuilds an environment in the customer's
// DR region from the newest DR copies of its snapshots, measures how old
// that data was (RPO) and how long the rebuild took (RTO), and tears it
// all down again; `dr failover` rebuilds the same way and keeps it.
// Everything a drill makes is named and tagged from its job id, so a
// resumed job finds what it made instead of making it again, and the
// teardown finds by tag whatever is left.

func drDrillVerb() *Verb {
	return &Verb{
		Name:    "dr drill",
		Summary: "rebuild an environment in the DR region from its DR copies, measure RPO and RTO, then tear it down",
		Help: "Chooses the newest DR copy of every EBS and RDS snapshot of the environment, builds its network and hosts from the " +
			"environment's CloudFormation template as a separate stack in the DR region (data volumes from the snapshots), restores " +
			"the databases with RestoreDBInstanceFromDBSnapshot, checks each host's health_url and each database's endpoint through the " +
			"rebuild's bastion, then deletes everything it " +
			"made and verifies by tag that nothing is left. The report gives the RPO and RTO against dr.rpo_target and " +
			"dr.rto_target. A drill never touches the primary region or any DNS record. See docs/dr.md.",
		Examples: []string{"/mcloud dr drill customer-x prod --dry-run", "/mcloud dr drill customer-x prod"},
		Spec: Spec{Args: []Arg{
			{Name: "customer", Kind: KindCustomer, About: "whose environment"},
			{Name: "env", Kind: KindEnv, Optional: true, About: "which environment (default: the only one, or prod)"},
		}},
		Access:            mcloud.AccessCustomer,
		DevOpsApprovals:   1,
		CustomerApprovals: 1,
		DryRun:            true,
		Resumable:         true,
		Plan:              func(ctx context.Context, c *Call) (mcloud.Plan, error) { return planDR(ctx, c, false) },
		Execute:           func(ctx context.Context, x *Exec) (string, error) { return runDR(ctx, x, false) },
	}
}

func drHistoryVerb() *Verb {
	return &Verb{
		Name:     "dr history",
		Summary:  "past drills and failovers with their RPO and RTO, and the trend",
		Examples: []string{"/mcloud dr history customer-x"},
		Spec:     Spec{Args: []Arg{{Name: "customer", Kind: KindCustomer, About: "whose drills"}}},
		Access:   mcloud.AccessCustomer,
		Do:       drHistory,
	}
}

// drAccount is what a rebuild needs of the customer's account: the DR
// copies and the newest archives to rebuild from, the DR region's side of
// the account, and the DNS records to switch.
type drAccount interface {
	dbFinder
	archiveLister
	route53Account
	FindVolumes(ctx context.Context, region string, tags map[string]string) ([]aws.Volume, error)
	FindSnapshots(ctx context.Context, region string, tags map[string]string) ([]aws.Snapshot, error)
	NewestDBSnapshots(ctx context.Context, region string, q aws.DBSnapshotQuery) (map[string]aws.DBSnapshot, error)
	InRegion(region string) *aws.Account
	EnsureDBRestore(ctx context.Context, in aws.DBRestore) (aws.DBInstance, bool, error)
	DeleteDBInstance(ctx context.Context, region, id string) error
	EnsureVolumeFromSnapshot(ctx context.Context, region, snapshotID, az string, tags map[string]string) (aws.Volume, bool, error)
	DeleteVolume(ctx context.Context, region, id string) error
}

// drStore keeps drills and the live region.
type drStore interface {
	SaveDRRun(ctx context.Context, r store.DRRun) error
	DRRuns(ctx context.Context, customer string) ([]store.DRRun, error)
	SetLiveRegion(ctx context.Context, customer string, l store.LiveRegion) error
	LiveRegions(ctx context.Context, customer string) ([]store.LiveRegion, error)
	ClaimFailover(ctx context.Context, customer, env string, jobID int64) (int64, error)
	ReleaseFailover(ctx context.Context, customer, env string, jobID int64) error
}

func (s *Service) drAccount(cu *config.Customer) (drAccount, error) {
	if cu.AWS.DRRegion == "" {
		return nil, mcloud.Errorf(mcloud.ECONFLICT, "%s has no DR region in mcloud's configuration (aws.dr_region); there is nowhere to rebuild.", cu.Name)
	}
	acct, err := s.account(cu)
	if err != nil {
		return nil, err
	}
	return acct, nil
}

func (s *Service) drStore() (drStore, error) {
	d, ok := s.store.(drStore)
	if !ok {
		return nil, errors.New("the store cannot record drills")
	}
	return d, nil
}

// defaultEnv is the environment a dr verb means when none is named.
func defaultEnv(cu *config.Customer, env *config.Environment) (*config.Environment, error) {
	if env != nil {
		return env, nil
	}
	if len(cu.Environments) == 1 {
		return &cu.Environments[0], nil
	}
	if e := cu.Env("prod"); e != nil {
		return e, nil
	}
	var names []string
	for _, e := range cu.Environments {
		names = append(names, e.Name)
	}
	return nil, mcloud.Errorf(mcloud.EINVALID, "Name the environment to rebuild: %s.", strings.Join(names, ", "))
}

// drPick is the DR copy chosen for one volume or database.
type drPick struct {
	Kind     string    `json:"kind"`   // "EBS" or "RDS"
	Source   string    `json:"source"` // the volume's Name tag or the database's identifier
	Host     string    `json:"host,omitempty"`
	Snapshot string    `json:"snapshot"`
	Taken    time.Time `json:"taken"`
	SizeGiB  int32     `json:"size_gib"`
	Engine   string    `json:"engine,omitempty"`
}

// chooseDRCopies picks, per source, the newest usable copy; pure. EBS
// copies are grouped by their Name tag (the volume they came from), and a
// volume named "<host>-data" (or "<host>") is that host's data disk. A
// copy's data is as old as the snapshot it was copied from: taken holds
// the primary snapshots' start times by id, for the copies that name
// their source.
func chooseDRCopies(ebs []aws.Snapshot, rds map[string]aws.DBSnapshot, hosts []config.Host, taken map[string]time.Time) []drPick {
	newest := map[string]aws.Snapshot{}
	for _, s := range ebs {
		if s.State != "completed" {
			continue
		}
		key := s.Tags["Name"]
		if key == "" {
			key = s.VolumeID
		}
		if cur, ok := newest[key]; !ok || s.StartTime.After(cur.StartTime) {
			newest[key] = s
		}
	}
	known := map[string]bool{}
	for _, h := range hosts {
		known[h.Name] = true
	}
	var out []drPick
	for key, s := range newest {
		p := drPick{Kind: "EBS", Source: key, Snapshot: s.ID, Taken: s.StartTime, SizeGiB: s.SizeGiB}
		if t, ok := taken[s.Tags[aws.TagSourceSnapshot]]; ok && t.Before(p.Taken) {
			p.Taken = t
		}
		if h := strings.TrimSuffix(key, "-data"); known[h] {
			p.Host = h
		}
		out = append(out, p)
	}
	for inst, s := range rds {
		taken := s.OriginalCreated
		if taken.IsZero() {
			taken = s.Created
		}
		out = append(out, drPick{Kind: "RDS", Source: inst, Snapshot: s.Identifier, Taken: taken, Engine: s.Engine})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Source < out[j].Source
	})
	return out
}

func findDRCopies(ctx context.Context, s *Service, acct drAccount, cu *config.Customer, env *config.Environment) ([]drPick, error) {
	dr := cu.AWS.DRRegion
	ebs, err := acct.FindSnapshots(ctx, dr, envTags(cu.Name, env.Name))
	if err != nil {
		return nil, s.awsFailed("Finding the DR copies of "+cu.Name+"/"+env.Name+"'s EBS snapshots", err)
	}
	rds, err := acct.NewestDBSnapshots(ctx, dr, aws.DBSnapshotQuery{Tags: envTags(cu.Name, env.Name)})
	if err != nil {
		return nil, s.awsFailed("Finding the DR copies of "+cu.Name+"/"+env.Name+"'s RDS snapshots", err)
	}
	// Copies backup did not tag (AWS Backup's, a nightly job's) are found
	// by the database they are of; reading the primary changes nothing.
	dbs, err := findDatabases(ctx, acct, cu, *env)
	if err != nil {
		return nil, s.awsFailed("Finding "+cu.Name+"/"+env.Name+"'s RDS databases", err)
	}
	for _, d := range dbs {
		if _, ok := rds[d.Identifier]; ok {
			continue
		}
		more, err := acct.NewestDBSnapshots(ctx, dr, aws.DBSnapshotQuery{InstanceIdentifier: d.Identifier})
		if err != nil {
			return nil, s.awsFailed("Finding the DR copies of RDS "+d.Identifier, err)
		}
		if m, ok := more[d.Identifier]; ok {
			rds[d.Identifier] = m
		}
	}
	sources, err := acct.FindSnapshots(ctx, acct.Region(), envTags(cu.Name, env.Name))
	if err != nil {
		return nil, s.awsFailed("Finding "+cu.Name+"/"+env.Name+"'s EBS snapshots", err)
	}
	taken := map[string]time.Time{}
	for _, src := range sources {
		taken[src.ID] = src.StartTime
	}
	picks := chooseDRCopies(ebs, rds, env.Hosts, taken)
	// The newest log and artifact archives count towards the RPO too: the
	// rebuild's data is no newer than them. They are not restored.
	for _, k := range []archiveKind{logArchives, artifactArchives} {
		bucket := k.bucket(cu)
		if bucket == "" {
			continue
		}
		newest, err := newestArchive(ctx, acct, k, bucket, s.Now())
		if err != nil {
			// The archives inform the RPO; they are not needed to rebuild.
			s.Log.Warn("dr: cannot list archives", "customer", cu.Name, "bucket", bucket, "err", err)
			continue
		}
		if newest.Key != "" {
			picks = append(picks, drPick{Kind: "S3", Source: k.noun + " archives", Snapshot: "s3://" + bucket + "/" + newest.Key, Taken: newest.LastModified})
		}
	}
	if len(picks) == 0 {
		return nil, mcloud.Errorf(mcloud.ENOTFOUND, "There is no DR copy of any snapshot of %s/%s in %s; run /mcloud backup %s %s now first.",
			cu.Name, env.Name, dr, cu.Name, env.Name)
	}
	return picks, nil
}

// drProvision is the environment as rebuilt in the DR region: its
// provision block (or the defaults, for an environment mcloud did not
// build), in the DR region's zones, with no hosted zone and no SES
// identity, since a rebuild must not take over the customer's names.
func drProvision(cu *config.Customer, env *config.Environment) config.Environment {
	out := *env
	var p config.Provision
	if env.Provision != nil {
		p = *env.Provision
	}
	if p.VPCCIDR == "" {
		p.VPCCIDR = config.DefaultVPCCIDR
	}
	dr := cu.AWS.DRRegion
	p.AZs = []string{dr + "a", dr + "b"}
	p.DNSZone, p.ExternalDNS, p.SESDomain = "", true, ""
	fill := func(m *config.Machine, typ string, gib int) {
		if m.InstanceType == "" {
			m.InstanceType = typ
		}
		if m.VolumeGiB == 0 {
			m.VolumeGiB = gib
		}
		if m.AMI == "" {
			m.AMI = config.DefaultAMI
		}
	}
	fill(&p.Bastion, config.DefaultBastionType, config.DefaultBastionGiB)
	fill(&p.Hosts, config.DefaultInstanceType, config.DefaultVolumeGiB)
	out.Hosts = append([]config.Host(nil), env.Hosts...)
	for i := range out.Hosts {
		h := &out.Hosts[i]
		m := h.Machine()
		fill(&m, p.Hosts.InstanceType, p.Hosts.VolumeGiB)
		h.AMI, h.InstanceType, h.VolumeGiB = m.AMI, m.InstanceType, m.VolumeGiB
	}
	out.Provision = &p
	// The rebuild's databases are restored from their DR snapshots
	// (RestoreDBInstanceFromDBSnapshot), never created empty from the
	// template.
	out.Database = nil
	return out
}

// drTemplate renders the environment's template for the DR region: each
// host's data volume made from its chosen snapshot, and every tagged
// resource tagged with the job too, so the teardown finds it.
func drTemplate(cfg *config.Config, cu *config.Customer, env *config.Environment, picks []drPick, jobID int64) (string, error) {
	e := drProvision(cu, env)
	if env.Provision != nil && env.Provision.Template != "" {
		return "", mcloud.Errorf(mcloud.ECONFLICT, "%s/%s brings its own CloudFormation template; a drill rebuilds only environments whose template mcloud renders.", cu.Name, env.Name)
	}
	b, err := provision.Render(cfg, cu, &e)
	if err != nil {
		return "", fmt.Errorf("render the DR template of %s/%s: %w", cu.Name, env.Name, err)
	}
	var t map[string]any
	if err := json.Unmarshal(b, &t); err != nil {
		return "", fmt.Errorf("read the rendered template: %w", err)
	}
	res, _ := t["Resources"].(map[string]any)
	job := strconv.FormatInt(jobID, 10)
	for _, r := range res {
		props, _ := r.(map[string]any)["Properties"].(map[string]any)
		if tags, ok := props["Tags"].([]any); ok {
			props["Tags"] = append(tags, map[string]any{"Key": TagJob, "Value": job})
		}
	}
	for _, p := range picks {
		if p.Kind != "EBS" || p.Host == "" {
			continue
		}
		if r, ok := res[provision.LogicalID(p.Host)+"Data"].(map[string]any); ok {
			props := r["Properties"].(map[string]any)
			props["SnapshotId"] = p.Snapshot
			// A volume from a snapshot is at least the snapshot's size.
			if n, ok := props["Size"].(float64); ok && int32(n) < p.SizeGiB {
				props["Size"] = p.SizeGiB
			}
		}
	}
	out, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode the DR template: %w", err)
	}
	return string(out), nil
}

// drStackName is the rebuild's stack: a drill's carries its job, so two
// drills never share one; a failover's is the environment's DR stack.
func drStackName(customer, env string, jobID int64, failover bool) string {
	if failover {
		return "mcloud-dr-" + customer + "-" + env
	}
	return fmt.Sprintf("mcloud-drill-%s-%s-%d", customer, env, jobID)
}

// drDBID names a database restored by the job.
func drDBID(jobID int64, instance string, failover bool) string {
	kind := "drill"
	if failover {
		kind = "dr"
	}
	id := fmt.Sprintf("mcloud-%s%d-%s", kind, jobID, instance)
	id = strings.Trim(doubleHyphen.ReplaceAllString(id, "-"), "-")
	if len(id) > 63 {
		id = strings.TrimRight(id[:63], "-")
	}
	return id
}

func planDR(ctx context.Context, c *Call, failover bool) (mcloud.Plan, error) {
	cu := c.Customer
	env, err := defaultEnv(cu, c.Env)
	if err != nil {
		return mcloud.Plan{}, err
	}
	c.Env = env
	acct, err := c.svc.drAccount(cu)
	if err != nil {
		return mcloud.Plan{}, err
	}
	if _, err := drTemplate(c.svc.cfg, cu, env, nil, 0); err != nil {
		return mcloud.Plan{}, err
	}
	// The health checks reach the rebuild over SSH.
	if err := needSSH(c); err != nil {
		return mcloud.Plan{}, err
	}
	picks, err := findDRCopies(ctx, c.svc, acct, cu, env)
	if err != nil {
		return mcloud.Plan{}, err
	}
	now := c.svc.Now()
	rpoTarget, rtoTarget := cu.Targets()
	dr := cu.AWS.DRRegion
	what := "Drill"
	if failover {
		what = "Fail over"
	}
	p := mcloud.Plan{Summary: fmt.Sprintf("%s %s/%s in %s from the newest DR copies (data up to %s old; RPO target %s, RTO target %s)",
		what, cu.Name, env.Name, dr, humanDuration(now.Sub(oldestTaken(picks))), humanDuration(rpoTarget), humanDuration(rtoTarget))}
	e := drProvision(cu, env)
	var gib int64
	for _, h := range e.Hosts {
		gib += int64(h.VolumeGiB)
	}
	for _, pk := range picks {
		line := fmt.Sprintf("use %s %s of %s, taken %s (%s old)", pk.Kind, pk.Snapshot, pk.Source, mcloud.FormatTime(pk.Taken), humanDuration(now.Sub(pk.Taken)))
		if pk.Kind == "EBS" && pk.SizeGiB > 0 {
			line += fmt.Sprintf(", %d GiB", pk.SizeGiB)
		}
		if now.Sub(pk.Taken) > rpoTarget {
			line += " — older than the RPO target"
		}
		p.Steps = append(p.Steps, line)
	}
	stack := drStackName(cu.Name, env.Name, 0, failover)
	if !failover {
		stack = drStackName(cu.Name, env.Name, 0, false)
		stack = strings.TrimSuffix(stack, "-0") + "-<job>"
	}
	var ndb int
	var dbs []string
	for _, pk := range picks {
		if pk.Kind == "RDS" {
			ndb++
			dbs = append(dbs, pk.Source)
		}
	}
	p.Steps = append(p.Steps,
		fmt.Sprintf("create stack %s in %s: VPC, subnets, security groups, bastion, %s (%s), %d GiB of data volumes (from the snapshots where there is one)",
			stack, dr, nOf(len(e.Hosts), "host", "hosts"), e.Provision.Hosts.InstanceType, gib),
		fmt.Sprintf("restore %s%s from the snapshots (RestoreDBInstanceFromDBSnapshot), waiting until available", nOf(ndb, "RDS database", "RDS databases"), idList(dbs)),
		"health-check through the rebuild's bastion: each host's health_url over SSH (host keys from the console output), each database's endpoint; "+
			"retry until all answer or the RTO target has passed; measure RTO and each step's time")
	if failover {
		p.Steps = append(p.Steps, "keep the rebuild; mark the DR region live for "+env.Name)
	} else {
		p.Steps = append(p.Steps, "tear down: delete the stack, the restored databases and volumes; verify by the "+TagJob+" tag that nothing is left",
			"post the report (per resource: snapshot, age, restore time, health; RPO and RTO against the targets) and keep it for /mcloud dr history")
		p.Notes = append(p.Notes, "A drill never touches the primary region's resources or any DNS record.")
	}
	p.Notes = append(p.Notes, fmt.Sprintf("Cost: the hosts, volumes and databases run in %s for the duration of the rebuild (RDS restores take tens of minutes); volumes restored from snapshots load lazily.", dr))
	return p, nil
}

func oldestTaken(picks []drPick) time.Time {
	var t time.Time
	for _, p := range picks {
		if t.IsZero() || p.Taken.Before(t) {
			t = p.Taken
		}
	}
	return t
}

// drSpan is when a step started and ended.
type drSpan struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

func (s drSpan) took() time.Duration { return s.End.Sub(s.Start) }

type drChoice struct {
	Start time.Time `json:"start"`
	Picks []drPick  `json:"picks"`
	drSpan
}

type drBuilt struct {
	Stack   string            `json:"stack"`
	Outputs map[string]string `json:"outputs"`
	drSpan
}

type drRestore struct {
	Source, ID, Snapshot string
	Start                time.Time
	Ready                time.Time
}

type drRestores struct {
	DBs []drRestore `json:"dbs"`
	drSpan
}

type drHealth struct {
	Lines   map[string]string `json:"lines"` // by host or database: what its last check saw
	Healthy bool              `json:"healthy"`
	Bad     []string          `json:"bad,omitempty"` // what never passed
	drSpan
}

func runDR(ctx context.Context, x *Exec, failover bool) (string, error) {
	cu := x.Customer
	env, err := defaultEnv(cu, x.Env)
	if err != nil {
		return "", err
	}
	acct, err := x.svc.drAccount(cu)
	if err != nil {
		return "", err
	}
	dr := cu.AWS.DRRegion
	job := strconv.FormatInt(x.Job.ID, 10)
	r := &drRebuild{x: x, cu: cu, env: env, acct: acct, drAcct: acct.InRegion(dr), dr: dr, job: job, failover: failover, now: x.svc.Now,
		stack: drStackName(cu.Name, env.Name, x.Job.ID, failover),
		tags:  map[string]string{TagCustomer: cu.Name, TagEnv: env.Name, TagJob: job}}
	if failover {
		if err := r.claim(ctx); err != nil {
			return "", err
		}
	}

	choice, err := jobs.StepOf(ctx, x.Attempt, "choose DR copies", r.chooseCopies)
	if err != nil {
		return "", err
	}
	// Declared before anything is made: whatever exists of the rebuild
	// when a drill ends, however it ends, is deleted. A failover keeps
	// its rebuild once its DNS switch began (the customer may be on it),
	// and deletes it when it failed or was cancelled before.
	x.Cleanup("tear down", r.tearDown)
	built, err := jobs.StepOf(ctx, x.Attempt, "build the DR stack", func(ctx context.Context) (drBuilt, string, error) { return r.build(ctx, choice) })
	if err != nil {
		return "", err
	}
	restores, err := jobs.StepOf(ctx, x.Attempt, "restore databases", func(ctx context.Context) (drRestores, string, error) { return r.restoreDBs(ctx, choice) })
	if err != nil {
		return "", err
	}
	restores, err = jobs.StepOf(ctx, x.Attempt, "wait for databases", func(ctx context.Context) (drRestores, string, error) { return r.waitDBs(ctx, restores) })
	if err != nil {
		return "", err
	}
	rpoTarget, rtoTarget := cu.Targets()
	health, err := jobs.StepOf(ctx, x.Attempt, "health check", func(ctx context.Context) (drHealth, string, error) {
		return r.checkHealth(ctx, choice.Start.Add(rtoTarget), built, restores)
	})
	if err != nil {
		return "", err
	}

	rep := drReport(drFacts{Customer: cu.Name, Env: env.Name, Region: dr, Failover: failover, Start: choice.Start, Healthy: health.drSpan.End,
		Picks: choice.Picks, DBs: restores.DBs, Hosts: hostNames(env.Hosts), Health: health.Lines, AllHealthy: health.Healthy, Unhealthy: health.Bad, Steps: []drStepTime{
			{"choose DR copies", choice.took()}, {"build the DR stack", built.took()},
			{"restore and wait for databases", health.Start.Sub(built.End)}, {"health check", health.took()}}})
	rep.judge(rpoTarget, rtoTarget)
	if ds, err := x.svc.drStore(); err == nil {
		kind := "drill"
		if failover {
			kind = "failover"
		}
		if err := ds.SaveDRRun(ctx, store.DRRun{JobID: x.Job.ID, Customer: cu.Name, Env: env.Name, Kind: kind, Region: dr, Started: choice.Start,
			Finished: health.End, RPO: rep.RPO, RTO: rep.RTO, Outcome: rep.Outcome, Report: rep.Text}); err != nil {
			return "", err
		}
	}
	x.Say(ctx, rep.Text)
	if !health.Healthy {
		return "", mcloud.Errorf(mcloud.ECONFLICT, "The rebuild of %s/%s in %s is not healthy: see the report.", cu.Name, env.Name, dr)
	}
	if failover {
		if _, err := x.Step(ctx, "commit to the switch", func(ctx context.Context) (string, error) {
			return "the rebuild is healthy; the DNS switch begins, and from here the rebuild is kept", nil
		}); err != nil {
			return "", err
		}
		r.committed = true
		return runFailoverSwitch(ctx, x, env, built)
	}
	return fmt.Sprintf("drill of %s/%s in %s: RPO %s, RTO %s (%s); tearing down", cu.Name, env.Name, dr, humanDuration(rep.RPO), humanDuration(rep.RTO), rep.Outcome), nil
}

// drRebuild is one drill's or failover's rebuild in the DR region: each
// method is one checkpointed step of runDR, and what a step needs of the
// ones before it is passed in as their saved result, so a resumed job
// gets it back.
type drRebuild struct {
	x         *Exec
	cu        *config.Customer
	env       *config.Environment
	acct      drAccount
	drAcct    *aws.Account
	dr, job   string
	stack     string
	tags      map[string]string // customer, environment and job: what the rebuild makes
	failover  bool
	now       func() time.Time
	committed bool // a failover passed the point where its DNS switch may have begun
}

func (r *drRebuild) chooseCopies(ctx context.Context) (drChoice, string, error) {
	now := r.now
	start := now()
	picks, err := findDRCopies(ctx, r.x.svc, r.acct, r.cu, r.env)
	if err != nil {
		return drChoice{}, "", err
	}
	var parts []string
	for _, p := range picks {
		parts = append(parts, fmt.Sprintf("%s %s (%s old)", p.Kind, p.Snapshot, humanDuration(start.Sub(p.Taken))))
	}
	return drChoice{Start: start, Picks: picks, drSpan: drSpan{start, now()}}, "chose " + strings.Join(parts, ", "), nil
}

// claim makes this job the environment's one failover before anything is
// built: two approved failovers planned before either ran would otherwise
// both rebuild and both switch DNS. Another failover may also have
// finished since this one was planned. The claim is released, after the
// teardown, when the failover ends before its DNS switch.
func (r *drRebuild) claim(ctx context.Context) error {
	x := r.x
	ds, err := x.svc.drStore()
	if err != nil {
		return err
	}
	live, err := ds.LiveRegions(ctx, r.cu.Name)
	if err != nil {
		return err
	}
	if err := alreadyFailedOver(r.cu, r.env, live, x.Job.ID); err != nil {
		return err
	}
	holder, err := ds.ClaimFailover(ctx, r.cu.Name, r.env.Name, x.Job.ID)
	if err != nil {
		return err
	}
	if holder != x.Job.ID {
		// The holder may have switched since the read above.
		if live, err = ds.LiveRegions(ctx, r.cu.Name); err != nil {
			return err
		}
		if err := alreadyFailedOver(r.cu, r.env, live, x.Job.ID); err != nil {
			return err
		}
		return mcloud.Errorf(mcloud.ECONFLICT, "%s/%s is already being failed over by job #%d, so this failover stopped before making anything; "+
			"follow that job's thread, and ask again only if it fails or is cancelled before its DNS switch.", r.cu.Name, r.env.Name, holder)
	}
	// Declared first, so it runs after the teardown (cleanups run newest
	// first): the next failover then builds a stack of the same name.
	x.Cleanup("release the failover", func(ctx context.Context, end *jobs.Ending) (string, error) {
		if r.committed || end.Status == mcloud.JobSucceeded {
			return "", nil
		}
		if err := ds.ReleaseFailover(context.WithoutCancel(ctx), r.cu.Name, r.env.Name, x.Job.ID); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s/%s may be failed over again", r.cu.Name, r.env.Name), nil
	})
	return nil
}

// tearDown is the rebuild's cleanup step.
func (r *drRebuild) tearDown(ctx context.Context, end *jobs.Ending) (string, error) {
	x := r.x
	if r.failover && (r.committed || end.Status == mcloud.JobSucceeded) {
		return "", nil
	}
	ctx = context.WithoutCancel(ctx)
	text, left := drTeardown(ctx, x, r.acct, r.drAcct, r.stack, map[string]string{TagJob: r.job})
	if len(left) > 0 {
		msg := "could not remove " + strings.Join(left, ", ") + " in " + r.dr + "; delete them by hand (tag " + TagJob + "=" + r.job + ")"
		x.svc.Log.Error("dr teardown left resources", "job", x.Job.ID, "left", left)
		x.drLeftovers(ctx, msg)
		return "", mcloud.Errorf(mcloud.ECONFLICT, "%s", msg)
	}
	return text, nil
}

// build makes the rebuild's stack from the environment's template, with
// each host's data volume from its chosen snapshot.
func (r *drRebuild) build(ctx context.Context, choice drChoice) (drBuilt, string, error) {
	x, cu, env, acct, drAcct, dr, now := r.x, r.cu, r.env, r.acct, r.drAcct, r.dr, r.now
	start := now()
	body, err := drTemplate(x.svc.cfg, cu, env, choice.Picks, x.Job.ID)
	if err != nil {
		return drBuilt{}, "", err
	}
	if err := drExecute(ctx, x, drAcct, r.stack, "mcloud-"+r.job, body, r.tags); err != nil {
		return drBuilt{}, "", err
	}
	st, err := waitStack(ctx, x, drAcct, r.stack, hostIDs(env))
	if err != nil {
		return drBuilt{}, "", err
	}
	if st.Status != "CREATE_COMPLETE" && st.Status != "UPDATE_COMPLETE" {
		return drBuilt{}, "", stackFailed(ctx, x, drAcct, r.stack, st, hostIDs(env))
	}
	// Volumes that are no host's data disk are made beside the stack.
	az := dr + "a"
	var vols []string
	for _, p := range choice.Picks {
		if p.Kind != "EBS" || p.Host != "" {
			continue
		}
		vt := map[string]string{TagCustomer: cu.Name, TagEnv: env.Name, TagJob: r.job, "Name": p.Source, "mcloud:snapshot": p.Snapshot}
		v, _, err := acct.EnsureVolumeFromSnapshot(ctx, dr, p.Snapshot, az, vt)
		if err != nil {
			return drBuilt{}, "", x.svc.awsFailed("Creating a volume from "+p.Snapshot, err)
		}
		vols = append(vols, v.ID)
	}
	text := fmt.Sprintf("stack %s is %s in %s", r.stack, st.Status, dr)
	if len(vols) > 0 {
		text += "; volumes " + strings.Join(vols, ", ")
	}
	return drBuilt{Stack: r.stack, Outputs: st.Outputs, drSpan: drSpan{start, now()}}, text, nil
}

// restoreDBs starts restoring each chosen RDS copy.
func (r *drRebuild) restoreDBs(ctx context.Context, choice drChoice) (drRestores, string, error) {
	x, acct, dr, now := r.x, r.acct, r.dr, r.now
	start := now()
	var out drRestores
	for _, p := range choice.Picks {
		if p.Kind != "RDS" {
			continue
		}
		id := drDBID(x.Job.ID, p.Source, r.failover)
		_, _, err := acct.EnsureDBRestore(ctx, aws.DBRestore{Region: dr, SnapshotID: p.Snapshot, Identifier: id, Tags: r.tags})
		if err != nil {
			return drRestores{}, "", x.svc.awsFailed("Restoring RDS "+p.Source+" from "+p.Snapshot, err)
		}
		out.DBs = append(out.DBs, drRestore{Source: p.Source, ID: id, Snapshot: p.Snapshot, Start: now()})
	}
	out.drSpan = drSpan{start, now()}
	var ids []string
	for _, d := range out.DBs {
		ids = append(ids, d.ID)
	}
	return out, fmt.Sprintf("restoring %s%s in %s", nOf(len(ids), "database", "databases"), idList(ids), dr), nil
}

// waitDBs waits durably until every restored database is available.
func (r *drRebuild) waitDBs(ctx context.Context, restores drRestores) (drRestores, string, error) {
	x, acct, dr, now := r.x, r.acct, r.dr, r.now
	start := now()
	out := restores
	poll := newAWSPoller(x.svc.Deps.AWS.Waits())
	deadline := start.Add(x.svc.Deps.AWS.Waits().SnapshotMaxWait)
	for {
		pending := 0
		for i := range out.DBs {
			d := &out.DBs[i]
			if !d.Ready.IsZero() {
				continue
			}
			found, err := acct.FindDBInstances(ctx, dr, aws.DBInstanceQuery{Identifier: d.ID})
			if err != nil {
				return drRestores{}, "", x.svc.awsFailed("Reading RDS "+d.ID, err)
			}
			if len(found) == 1 && found[0].Status == "available" {
				d.Ready = now()
			} else {
				pending++
			}
		}
		if pending == 0 {
			break
		}
		if x.Cancelled(ctx) {
			return drRestores{}, "", jobs.ErrCancelled
		}
		if now().After(deadline) {
			return drRestores{}, "", mcloud.Errorf(mcloud.ECONFLICT, "%s still not available after %s.", nOf(pending, "restored database is", "restored databases are"), humanDuration(now().Sub(start)))
		}
		if err := poll.sleep(ctx); err != nil {
			return drRestores{}, "", err
		}
	}
	out.drSpan = drSpan{start, now()}
	return out, fmt.Sprintf("%s available", nOf(len(out.DBs), "database", "databases")), nil
}

// checkHealth checks every host and database through the DR bastion
// until all answer or deadline (the RTO target after the job started)
// has passed, one round at least.
func (r *drRebuild) checkHealth(ctx context.Context, deadline time.Time, built drBuilt, restores drRestores) (drHealth, string, error) {
	x, env, acct, drAcct, now := r.x, r.env, r.acct, r.drAcct, r.now
	start := now()
	// Past the RTO target the rebuild missed it anyway, and the report
	// shows what answered by then.
	h := drHealth{Lines: map[string]string{}}
	ok := map[string]bool{}
	poll := newAWSPoller(x.svc.Deps.AWS.Waits())
	for {
		again := drCheckRound(ctx, x, env, acct, drAcct, built, restores.DBs, h.Lines, ok)
		if len(ok) == len(env.Hosts)+len(restores.DBs) {
			h.Healthy = true
			break
		}
		if !again {
			break
		}
		if x.Cancelled(ctx) {
			return drHealth{}, "", jobs.ErrCancelled
		}
		if now().After(deadline) {
			break
		}
		if err := poll.sleep(ctx); err != nil {
			return drHealth{}, "", err
		}
	}
	h.drSpan = drSpan{start, now()}
	var bad []string
	for _, name := range append(hostNames(env.Hosts), drSources(restores.DBs)...) {
		if !ok[name] {
			h.Bad = append(h.Bad, name)
			bad = append(bad, name+" "+h.Lines[name])
		}
	}
	if len(bad) > 0 {
		return h, fmt.Sprintf("NOT all healthy by the RTO target: %s", strings.Join(bad, "; ")), nil
	}
	return h, "all healthy", nil
}

// drExecute creates the rebuild's stack through a change set and executes
// it, once: a resumed attempt finds the change set (or the stack it made).
func drExecute(ctx context.Context, x *Exec, acct *aws.Account, stack, name, body string, tags map[string]string) error {
	st, err := acct.Stack(ctx, stack)
	switch {
	case err == nil && st.Status != "REVIEW_IN_PROGRESS":
		return nil // executed by an earlier attempt
	case err != nil && !errors.Is(err, aws.ErrNoStack):
		return x.svc.awsFailed("Reading stack "+stack, err)
	}
	cs, err := acct.ChangeSet(ctx, stack, name)
	if err != nil {
		if !aws.IsCode(err, "ChangeSetNotFound") && !errors.Is(err, aws.ErrNoStack) && !aws.IsCode(err, "ValidationError") {
			return x.svc.awsFailed("Reading change set "+name, err)
		}
		if _, err := acct.CreateChangeSet(ctx, aws.ChangeSetRequest{Stack: stack, Name: name, Template: body, Create: true,
			Description: fmt.Sprintf("mcloud job %d: rebuild %s/%s in %s", x.Job.ID, x.Customer.Name, tags[TagEnv], acct.Region()), Tags: tags}); err != nil {
			return x.svc.awsFailed("Creating the change set of "+stack, err)
		}
	}
	if cs, err = acct.WaitChangeSet(ctx, stack, name); err != nil {
		return x.svc.awsFailed("Waiting for change set "+name, err)
	}
	if cs.Status == "FAILED" {
		return mcloud.Errorf(mcloud.ECONFLICT, "CloudFormation could not plan stack %s: %s", stack, cs.Reason)
	}
	if cs.ExecutionStatus != "AVAILABLE" {
		return nil
	}
	if err := acct.ExecuteChangeSet(ctx, stack, name); err != nil {
		return x.svc.awsFailed("Executing change set "+name, err)
	}
	return nil
}

// drTeardown deletes the rebuild and says what, then looks by tag for
// anything left; pure of judgement, it returns the leftovers.
func drTeardown(ctx context.Context, x *Exec, acct drAccount, drAcct *aws.Account, stack string, jobTag map[string]string) (string, []string) {
	dr := drAcct.Region()
	var done, left []string
	if err := drAcct.DeleteStack(ctx, stack); err != nil {
		left = append(left, "stack "+stack+" ("+aws.Classify(err).Message+")")
	} else {
		poll := newAWSPoller(x.svc.Deps.AWS.Waits())
		deadline := time.Now().Add(x.svc.Deps.AWS.Waits().SnapshotMaxWait)
		for {
			st, err := drAcct.Stack(ctx, stack)
			if errors.Is(err, aws.ErrNoStack) || err == nil && st.Status == "DELETE_COMPLETE" {
				done = append(done, "stack "+stack)
				break
			}
			if time.Now().After(deadline) || err == nil && st.Status == "DELETE_FAILED" {
				left = append(left, "stack "+stack+" ("+st.Status+")")
				break
			}
			if err := poll.sleep(ctx); err != nil {
				left = append(left, "stack "+stack)
				break
			}
		}
	}
	dbs, err := acct.FindDBInstances(ctx, dr, aws.DBInstanceQuery{Tags: jobTag})
	if err != nil {
		left = append(left, "restored databases (cannot list them: "+aws.Classify(err).Message+")")
	}
	for _, d := range dbs {
		if err := acct.DeleteDBInstance(ctx, dr, d.Identifier); err != nil {
			left = append(left, "RDS "+d.Identifier)
			continue
		}
		done = append(done, "RDS "+d.Identifier)
	}
	vols, err := acct.FindVolumes(ctx, dr, jobTag)
	if err != nil {
		left = append(left, "volumes (cannot list them: "+aws.Classify(err).Message+")")
	}
	for _, v := range vols {
		if err := acct.DeleteVolume(ctx, dr, v.ID); err != nil {
			left = append(left, "volume "+v.ID)
			continue
		}
		done = append(done, "volume "+v.ID)
	}
	// Verify: nothing tagged with the job may remain.
	if dbs, err := acct.FindDBInstances(ctx, dr, aws.DBInstanceQuery{Tags: jobTag}); err == nil {
		for _, d := range dbs {
			if d.Status != "deleting" {
				left = appendNew(left, "RDS "+d.Identifier)
			}
		}
	}
	if vols, err := acct.FindVolumes(ctx, dr, jobTag); err == nil {
		for _, v := range vols {
			left = appendNew(left, "volume "+v.ID)
		}
	}
	if len(done) == 0 {
		return "nothing of the rebuild existed; nothing is left (checked by tag " + TagJob + ")", left
	}
	return "deleted " + strings.Join(done, ", ") + " in " + dr + "; nothing tagged " + TagJob + "=" + jobTag[TagJob] + " is left", left
}

func appendNew(list []string, s string) []string {
	for _, v := range list {
		if v == s {
			return list
		}
	}
	return append(list, s)
}

// drLeftovers adds what the teardown could not remove to the stored drill.
func (x *Exec) drLeftovers(ctx context.Context, msg string) {
	ds, err := x.svc.drStore()
	if err != nil {
		return
	}
	runs, err := ds.DRRuns(ctx, x.Customer.Name)
	if err != nil {
		return
	}
	for _, r := range runs {
		if r.JobID == x.Job.ID {
			r.Outcome += "; teardown incomplete"
			r.Report += "\nTeardown: " + msg
			if err := ds.SaveDRRun(ctx, r); err != nil {
				x.svc.Log.Error("record dr leftovers", "job", x.Job.ID, "err", err)
			}
		}
	}
}

// drFacts are what a rebuild measured; drReport words and judges them.
type drFacts struct {
	Customer, Env, Region string
	Failover              bool
	Start, Healthy        time.Time
	Picks                 []drPick
	DBs                   []drRestore
	Hosts                 []string
	Health                map[string]string
	AllHealthy            bool
	// Unhealthy names the hosts and databases that never passed.
	Unhealthy []string
	Steps     []drStepTime
}

type drStepTime struct {
	Name string
	Took time.Duration
}

type drResult struct {
	drFacts
	RPO, RTO time.Duration
	// Stale names the copies older than the RPO target.
	Stale   []string
	Outcome string
	Text    string
}

func drReport(f drFacts) *drResult { return &drResult{drFacts: f} }

func (r *drResult) hasPick(host string) bool {
	for _, p := range r.Picks {
		if p.Host == host {
			return true
		}
	}
	return false
}

// judge computes RPO (start minus the oldest chosen copy: the rebuild is
// only as fresh as its stalest part) and RTO (start to all healthy), sets
// the outcome and writes the report; pure.
func (r *drResult) judge(rpoTarget, rtoTarget time.Duration) {
	r.RTO = r.Healthy.Sub(r.Start)
	for _, p := range r.Picks {
		age := r.Start.Sub(p.Taken)
		r.RPO = max(r.RPO, age)
		if age > rpoTarget {
			r.Stale = append(r.Stale, fmt.Sprintf("%s %s (%s, %s old)", p.Kind, p.Source, p.Snapshot, humanDuration(age)))
		}
	}
	var missed []string
	if r.RPO > rpoTarget {
		missed = append(missed, "RPO")
	}
	if r.RTO > rtoTarget {
		missed = append(missed, "RTO")
	}
	switch {
	case !r.AllHealthy:
		r.Outcome = "unhealthy"
	case len(missed) > 0:
		r.Outcome = "missed the " + strings.Join(missed, " and ") + " target"
	default:
		r.Outcome = "within targets"
	}
	what := "Drill"
	if r.Failover {
		what = "Failover"
	}
	// What went wrong comes first, where nobody can miss it.
	var warn []string
	if len(r.Unhealthy) > 0 {
		var bad []string
		for _, name := range r.Unhealthy {
			bad = append(bad, fmt.Sprintf("%s (%s)", name, orNone(r.Health[name])))
		}
		warn = append(warn, "not healthy: "+strings.Join(bad, ", "))
	}
	if len(r.Stale) > 0 {
		warn = append(warn, fmt.Sprintf("the newest DR copy is older than the RPO target of %s: %s", humanDuration(rpoTarget), strings.Join(r.Stale, "; ")))
	}
	var b strings.Builder
	if len(warn) > 0 {
		fmt.Fprintf(&b, "WARNING: %s.\n", strings.Join(warn, "; "))
	}
	rto := fmt.Sprintf("RTO %s (target %s)", exactDuration(r.RTO), humanDuration(rtoTarget))
	if !r.AllHealthy {
		rto = fmt.Sprintf("RTO not reached: not all healthy after %s (target %s)", exactDuration(r.RTO), humanDuration(rtoTarget))
	}
	fmt.Fprintf(&b, "%s of %s/%s in %s: RPO %s (target %s), %s: %s.\n", what, r.Customer, r.Env, r.Region,
		exactDuration(r.RPO), humanDuration(rpoTarget), rto, r.Outcome)
	restoreTime := map[string]time.Duration{}
	for _, d := range r.DBs {
		restoreTime[d.Source] = d.Ready.Sub(d.Start)
	}
	b.WriteString("resource | snapshot | age | restore | health\n")
	for _, p := range r.Picks {
		name, restore := p.Source, "with the stack"
		health := r.Health[p.Host]
		if p.Kind == "S3" {
			restore, health = "not restored", "-"
		} else if p.Kind == "RDS" {
			restore, health = exactDuration(restoreTime[p.Source]), r.Health[p.Source]
		} else if p.Host == "" {
			restore, health = "volume", "created"
		}
		if p.Host != "" {
			name = p.Host + " data"
		}
		fmt.Fprintf(&b, "%s %s | %s | %s | %s | %s\n", p.Kind, name, p.Snapshot, exactDuration(r.Start.Sub(p.Taken)), restore, orNone(health))
	}
	for _, h := range r.Hosts {
		if !r.hasPick(h) {
			fmt.Fprintf(&b, "host %s | - | - | new empty data volume | %s\n", h, orNone(r.Health[h]))
		}
	}
	var steps []string
	for _, s := range r.Steps {
		steps = append(steps, fmt.Sprintf("%s %s", s.Name, exactDuration(s.Took)))
	}
	b.WriteString("Steps: " + strings.Join(steps, "; ") + ".\n")
	b.WriteString("Health: each host's health_url fetched over SSH through the DR bastion (host keys as the console output printed them); " +
		"each database available and its endpoint accepting a connection from the bastion.")
	r.Text = b.String()
}

// exactDuration is a duration to the second, for figures people compare.
func exactDuration(d time.Duration) string {
	d = d.Round(time.Second)
	if d < time.Minute {
		return d.String()
	}
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h == 0 {
		return fmt.Sprintf("%dm%02ds", m, s)
	}
	return fmt.Sprintf("%dh%02dm%02ds", h, m, s)
}

func drHistory(ctx context.Context, c *Call) (Reply, error) {
	ds, err := c.svc.drStore()
	if err != nil {
		return Reply{}, err
	}
	runs, err := ds.DRRuns(ctx, c.Customer.Name)
	if err != nil {
		return Reply{}, err
	}
	rpoT, rtoT := c.Customer.Targets()
	r := Reply{Title: fmt.Sprintf("DR drills and failovers of %s (targets: RPO %s, RTO %s)", c.Customer.Name, humanDuration(rpoT), humanDuration(rtoT))}
	if len(runs) == 0 {
		r.Lines = []string{"No drill yet: /mcloud dr drill " + c.Customer.Name + " <env> measures the real RPO and RTO."}
		return r, nil
	}
	for _, run := range runs {
		r.Lines = append(r.Lines, fmt.Sprintf("%s  %s %s in %s (job #%d): RPO %s, RTO %s, %s", mcloud.FormatTime(run.Started), run.Kind, run.Env, run.Region,
			run.JobID, exactDuration(run.RPO), exactDuration(run.RTO), run.Outcome))
	}
	r.Lines = append(r.Lines, drTrend(runs))
	return r, nil
}

// drTrend compares the last run with the one before it; pure.
func drTrend(runs []store.DRRun) string {
	if len(runs) < 2 {
		return "Trend: one run so far."
	}
	a, b := runs[len(runs)-2], runs[len(runs)-1]
	word := func(from, to time.Duration) string {
		switch {
		case to < from:
			return fmt.Sprintf("down %s", exactDuration(from-to))
		case to > from:
			return fmt.Sprintf("up %s", exactDuration(to-from))
		}
		return "unchanged"
	}
	return fmt.Sprintf("Trend (last two): RTO %s, RPO %s.", word(a.RTO, b.RTO), word(a.RPO, b.RPO))
}

func drFailoverVerb() *Verb {
	return &Verb{
		Name:    "dr failover",
		Summary: "rebuild an environment in the DR region and switch its DNS records there",
		Help: "The same rebuild as dr drill, kept: then the environment's Route 53 records (dr.records) are pointed at the DR " +
			"addresses, the customer's schedules are paused with the reason, and dr status says the DR region is live. Needs two " +
			"approvers other than the requester. Cancelled before the DNS switch, the rebuild is deleted and the primary is untouched. " +
			"See docs/dr.md.",
		Examples: []string{"/mcloud dr failover customer-x prod --dry-run", "/mcloud dr failover customer-x prod"},
		Spec: Spec{Args: []Arg{
			{Name: "customer", Kind: KindCustomer, About: "whose environment"},
			{Name: "env", Kind: KindEnv, About: "which environment to fail over"},
		}},
		Access:            mcloud.AccessDevOps,
		DevOpsApprovals:   2,
		CustomerApprovals: 2,
		DryRun:            true,
		Resumable:         true,
		Plan:              planFailover,
		Execute:           func(ctx context.Context, x *Exec) (string, error) { return runDR(ctx, x, true) },
	}
}

func drStatusVerb() *Verb {
	return &Verb{
		Name:     "dr status",
		Summary:  "which region each environment of a customer runs in, and the last drill",
		Examples: []string{"/mcloud dr status customer-x"},
		Spec:     Spec{Args: []Arg{{Name: "customer", Kind: KindCustomer, About: "whose environments"}}},
		Access:   mcloud.AccessCustomer,
		Do:       drStatus,
	}
}

// drRecords are the customer's records for env.
func drRecords(cu *config.Customer, env string) []config.DRRecord {
	var out []config.DRRecord
	for _, r := range cu.DR.Records {
		if r.Env == env {
			out = append(out, r)
		}
	}
	return out
}

func planFailover(ctx context.Context, c *Call) (mcloud.Plan, error) {
	cu, env := c.Customer, c.Env
	ds, err := c.svc.drStore()
	if err != nil {
		return mcloud.Plan{}, err
	}
	live, err := ds.LiveRegions(ctx, cu.Name)
	if err != nil {
		return mcloud.Plan{}, err
	}
	if err := alreadyFailedOver(cu, env, live, 0); err != nil {
		return mcloud.Plan{}, err
	}
	recs := drRecords(cu, env.Name)
	if len(recs) == 0 {
		return mcloud.Plan{}, mcloud.Errorf(mcloud.ECONFLICT, "%s has no DNS records for %s in dr.records, so a failover could not switch anything; add them to mcloud.yaml (docs/dr.md).", cu.Name, env.Name)
	}
	for _, r := range recs {
		if r.Host != "bastion" && !slices.Contains(hostNames(env.Hosts), r.Host) {
			return mcloud.Plan{}, mcloud.Errorf(mcloud.ECONFLICT, "dr.records of %s points %s at %s, which is not a host of %s (nor \"bastion\"); fix mcloud.yaml.", cu.Name, r.Name, r.Host, env.Name)
		}
	}
	p, err := planDR(ctx, c, true)
	if err != nil {
		return mcloud.Plan{}, err
	}
	acct, err := c.svc.drAccount(cu)
	if err != nil {
		return mcloud.Plan{}, err
	}
	var r53 route53Account = acct
	for _, r := range recs {
		old, err := currentRecord(ctx, r53, r)
		if err != nil {
			return mcloud.Plan{}, c.svc.awsFailed("Reading "+r.Name+" in hosted zone "+r.ZoneID, err)
		}
		p.Steps = append(p.Steps, fmt.Sprintf("switch DNS %s (zone %s): %s → the DR address of %s", r.Name, r.ZoneID, orNone(strings.Join(old.Values, ", ")), r.Host))
	}
	var scheds []string
	for _, k := range drSchedules(c.svc.cfg, cu) {
		scheds = append(scheds, k)
	}
	if len(scheds) > 0 {
		p.Steps = append(p.Steps, "pause the schedules "+strings.Join(scheds, ", ")+" (they act on the primary region)")
	}
	p.Notes = append(p.Notes, "Cancelled before the DNS switch, the rebuild is deleted and the primary is untouched; after it, the DR region serves the customer.")
	return p, nil
}

// alreadyFailedOver refuses a failover of an environment that already
// runs in the DR region (except to the job that put it there, resuming).
// A second failover has nowhere to go: the DR region is the only other
// one, and going back is a failback, which needs copies of the DR
// region's data in the primary that nothing makes; pure.
func alreadyFailedOver(cu *config.Customer, env *config.Environment, live []store.LiveRegion, jobID int64) error {
	for _, l := range live {
		if l.Env == env.Name && l.Region == cu.AWS.DRRegion && l.JobID != jobID {
			return mcloud.Errorf(mcloud.ECONFLICT, "%s/%s already runs in its DR region %s since failover job #%d, so there is nothing to fail over to; "+
				"moving it back to %s is a failback, which mcloud does not do: follow \"Failing back\" in docs/dr.md.",
				cu.Name, env.Name, l.Region, l.JobID, cu.AWS.Region)
		}
	}
	return nil
}

// route53Account is what the DNS switch needs.
type route53Account interface {
	Records(ctx context.Context, zoneID string) ([]aws.Record, error)
	UpsertRecords(ctx context.Context, zoneID, comment string, recs []aws.Record, maxWait time.Duration) error
}

func currentRecord(ctx context.Context, acct route53Account, r config.DRRecord) (aws.Record, error) {
	all, err := acct.Records(ctx, r.ZoneID)
	if err != nil {
		return aws.Record{}, err
	}
	want := strings.TrimSuffix(strings.ToLower(r.Name), ".") + "."
	for _, rec := range all {
		if strings.ToLower(rec.Name) == want && (rec.Type == "A" || rec.Type == "CNAME") {
			return rec, nil
		}
	}
	return aws.Record{Name: want, Type: "A", TTL: 60}, nil
}

// drSchedules are the keys of every schedule the customer has (backups,
// per environment too, reports, retention): all of them act on the
// primary region, so a failover pauses them all.
func drSchedules(cfg *config.Config, cu *config.Customer) []string {
	var out []string
	for _, w := range cfg.ScheduledWork() {
		if w.Customer == cu.Name {
			out = append(out, w.Key)
		}
	}
	return out
}

type drSwitch struct {
	Lines []string `json:"lines"`
}

// runFailoverSwitch points the records at the rebuild, pauses the
// schedules and marks the DR region live.
func runFailoverSwitch(ctx context.Context, x *Exec, env *config.Environment, built drBuilt) (string, error) {
	cu := x.Customer
	acct, err := x.svc.drAccount(cu)
	if err != nil {
		return "", err
	}
	var r53 route53Account = acct
	sw, err := jobs.StepOf(ctx, x.Attempt, "switch DNS", func(ctx context.Context) (drSwitch, string, error) {
		byZone := map[string][]aws.Record{}
		var zones, lines []string
		for _, r := range drRecords(cu, env.Name) {
			addr := built.Outputs[provision.LogicalID(r.Host)+"PrivateIp"]
			if r.Host == "bastion" {
				addr = built.Outputs["BastionPublicIp"]
			}
			if addr == "" {
				return drSwitch{}, "", mcloud.Errorf(mcloud.ECONFLICT, "dr.records names %s for %s, which the rebuild has no address for; nothing was switched.", r.Host, r.Name)
			}
			old, err := currentRecord(ctx, r53, r)
			if err != nil {
				return drSwitch{}, "", x.svc.awsFailed("Reading "+r.Name, err)
			}
			if _, ok := byZone[r.ZoneID]; !ok {
				zones = append(zones, r.ZoneID)
			}
			byZone[r.ZoneID] = append(byZone[r.ZoneID], aws.Record{Name: old.Name, Type: "A", TTL: 60, Values: []string{addr}})
			lines = append(lines, fmt.Sprintf("%s: %s → %s", old.Name, orNone(strings.Join(old.Values, ", ")), addr))
		}
		for _, z := range zones {
			if err := r53.UpsertRecords(ctx, z, fmt.Sprintf("mcloud dr failover job %d", x.Job.ID), byZone[z], x.svc.Deps.AWS.Waits().SnapshotMaxWait); err != nil {
				return drSwitch{}, "", x.svc.awsFailed("Switching the records of hosted zone "+z, err)
			}
		}
		return drSwitch{Lines: lines}, "switched " + strings.Join(lines, "; "), nil
	})
	if err != nil {
		return "", err
	}
	if _, err := x.Step(ctx, "pause schedules and mark the DR region live", func(ctx context.Context) (string, error) {
		ds, err := x.svc.drStore()
		if err != nil {
			return "", err
		}
		var paused []string
		who := mcloud.Caller{Name: fmt.Sprintf("dr failover job #%d", x.Job.ID)}
		for _, k := range drSchedules(x.svc.cfg, cu) {
			if err := x.svc.store.PauseSchedule(ctx, cu.Name, k, fmt.Sprintf("%s failed over to %s (job #%d): the schedule acts on the primary region", env.Name, cu.AWS.DRRegion, x.Job.ID), who); err != nil {
				return "", err
			}
			paused = append(paused, k)
		}
		if err := ds.SetLiveRegion(ctx, cu.Name, store.LiveRegion{Env: env.Name, Region: cu.AWS.DRRegion, JobID: x.Job.ID}); err != nil {
			return "", err
		}
		return fmt.Sprintf("paused %s; %s/%s is live in %s", orNone(strings.Join(paused, ", ")), cu.Name, env.Name, cu.AWS.DRRegion), nil
	}); err != nil {
		return "", err
	}
	x.Say(ctx, fmt.Sprintf("%s/%s now runs in %s (stack %s). Next: check from outside that the product URLs answer; tell the customer; "+
		"leave the primary's resources as they are until the cause is understood; resume the paused schedules once they should act on %s.", cu.Name, env.Name, cu.AWS.DRRegion, built.Stack, cu.AWS.DRRegion))
	return fmt.Sprintf("%s/%s failed over to %s: %s", cu.Name, env.Name, cu.AWS.DRRegion, strings.Join(sw.Lines, "; ")), nil
}

func drStatus(ctx context.Context, c *Call) (Reply, error) {
	cu := c.Customer
	ds, err := c.svc.drStore()
	if err != nil {
		return Reply{}, err
	}
	live, err := ds.LiveRegions(ctx, cu.Name)
	if err != nil {
		return Reply{}, err
	}
	runs, err := ds.DRRuns(ctx, cu.Name)
	if err != nil {
		return Reply{}, err
	}
	at := map[string]store.LiveRegion{}
	for _, l := range live {
		at[l.Env] = l
	}
	r := Reply{Title: fmt.Sprintf("DR status of %s (primary %s, DR %s)", cu.Name, cu.AWS.Region, orNone(cu.AWS.DRRegion))}
	for _, e := range cu.Environments {
		line := fmt.Sprintf("%s: live in %s (primary)", e.Name, cu.AWS.Region)
		if l, ok := at[e.Name]; ok {
			line = fmt.Sprintf("%s: live in %s (DR) since %s, failover job #%d", e.Name, l.Region, mcloud.FormatTime(l.At), l.JobID)
		}
		var last *store.DRRun
		for i := range runs {
			if runs[i].Env == e.Name && runs[i].Kind == "drill" {
				last = &runs[i]
			}
		}
		if last != nil {
			line += fmt.Sprintf("; last drill %s: RPO %s, RTO %s, %s", mcloud.FormatTime(last.Started), exactDuration(last.RPO), exactDuration(last.RTO), last.Outcome)
		} else {
			line += "; never drilled"
		}
		r.Lines = append(r.Lines, line)
	}
	return r, nil
}

// Health checks of a rebuild go through its own bastion (the customer's,
// when that one is external: the rebuild's security groups let it in),
// as patch and run reach hosts. Each host's health_url is fetched through
// the SSH connection to the host, so http://127.0.0.1:9443/... is the
// host's own loopback, as patch checks it, and the host needs no curl. A
// host without a health_url runs the environment's health command. Host
// keys are the ones the instances' console output printed, as provision
// pins them: a rebuilt machine has new keys, and nothing is trusted on
// first use. A database counts once RDS says it is available and its
// endpoint accepts a TCP connection from the bastion.

// drSources are the databases' source names.
func drSources(dbs []drRestore) []string {
	out := make([]string, len(dbs))
	for i, d := range dbs {
		out[i] = d.Source
	}
	return out
}

// drAddress is where a rebuilt host's sshd answers: its private IP, on the
// port of the configured address (the rebuild runs the same image).
func drAddress(configured, ip string) string {
	if _, port, err := net.SplitHostPort(configured); err == nil && port != "22" {
		return net.JoinHostPort(ip, port)
	}
	return ip
}

// drConsoleKey reads an instance's host key from its console output, or
// says why there is none yet.
func drConsoleKey(ctx context.Context, acct *aws.Account, instanceID string) (string, string) {
	if instanceID == "" {
		return "", "missing from the stack"
	}
	out, err := acct.ConsoleOutput(ctx, instanceID)
	if err != nil {
		return "", "no console output (" + aws.Classify(err).Message + ")"
	}
	key, err := HostKeyFromConsole(out)
	if err != nil {
		return "", "not booted (no host key in its console output yet)"
	}
	return key, ""
}

// drCheckRound checks, once, every host and database not yet healthy,
// writing what it saw into seen and the healthy ones into ok. It returns
// false when another round could not see anything else (the bot's SSH is
// missing or misconfigured).
func drCheckRound(ctx context.Context, x *Exec, env *config.Environment, acct drAccount, drAcct *aws.Account, built drBuilt, dbs []drRestore,
	seen map[string]string, ok map[string]bool) bool {
	cu := x.Customer
	pending := func(why string) {
		for _, name := range append(hostNames(env.Hosts), drSources(dbs)...) {
			if !ok[name] {
				seen[name] = why
			}
		}
	}
	if x.svc.Deps.SSH == nil {
		pending("not checked: SSH is not set up in this bot")
		return false
	}
	bastion := cu.Bastion
	if ip := built.Outputs["BastionPublicIp"]; ip != "" {
		key, why := drConsoleKey(ctx, drAcct, built.Outputs["BastionInstanceId"])
		if why != "" {
			pending("not checked: the DR bastion is " + why)
			return true
		}
		bastion.Host, bastion.HostKey = ip, key
	}
	drEnv := *env
	drEnv.Hosts = nil
	for _, h := range env.Hosts {
		if ok[h.Name] {
			continue
		}
		id := provision.LogicalID(h.Name)
		ip := built.Outputs[id+"PrivateIp"]
		if ip == "" {
			seen[h.Name] = "missing from the stack"
			continue
		}
		key, why := drConsoleKey(ctx, drAcct, built.Outputs[id+"InstanceId"])
		if why != "" {
			seen[h.Name] = why
			continue
		}
		h.Address, h.HostKey = drAddress(h.Address, ip), key
		drEnv.Hosts = append(drEnv.Hosts, h)
	}
	dcu := *cu
	dcu.Bastion, dcu.Environments = bastion, []config.Environment{drEnv}
	sess, err := x.svc.Deps.SSH.Connect(ctx, &dcu)
	if err != nil {
		x.svc.Log.Error("set up SSH to the DR rebuild", "job", x.Job.ID, "customer", cu.Name, "err", err)
		pending("not checked: the bot could not set up SSH (see its log)")
		return false
	}
	defer sess.Close()
	var wg sync.WaitGroup
	var mu sync.Mutex
	targets := sshTargets(&dcu, drEnv.Hosts)
	for i, h := range drEnv.Hosts {
		t := targets[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			word, good := drProbeHost(ctx, sess, env.Patch, h, t)
			mu.Lock()
			defer mu.Unlock()
			seen[h.Name] = word
			if good {
				ok[h.Name] = true
			}
		}()
	}
	wg.Wait()
	d, canDial := sess.(interface {
		DialViaBastion(ctx context.Context, network, addr string) (net.Conn, error)
	})
	for _, db := range dbs {
		if ok[db.Source] {
			continue
		}
		found, err := acct.FindDBInstances(ctx, drAcct.Region(), aws.DBInstanceQuery{Identifier: db.ID})
		switch {
		case err != nil:
			seen[db.Source] = "not checked: " + aws.Classify(err).Message
			continue
		case len(found) != 1:
			seen[db.Source] = "missing"
			continue
		case found[0].Status != "available":
			seen[db.Source] = found[0].Status
			continue
		case found[0].Endpoint == "":
			seen[db.Source] = "available, no endpoint yet"
			continue
		case !canDial:
			seen[db.Source] = "available; endpoint not checked (the bot's SSH cannot dial through the bastion)"
			continue
		}
		actx, cancel := context.WithTimeout(ctx, healthAttemptLimit)
		t0 := time.Now()
		nc, err := d.DialViaBastion(actx, "tcp", found[0].Endpoint)
		took := time.Since(t0)
		cancel()
		if err != nil {
			seen[db.Source] = "available; endpoint " + drFailure(err)
			continue
		}
		nc.Close()
		_, port, _ := net.SplitHostPort(found[0].Endpoint)
		seen[db.Source], ok[db.Source] = fmt.Sprintf("available, port %s answers in %s", port, drTook(took)), true
	}
	return true
}

// drProbeHost is one health check of a rebuilt host: what was seen, and
// whether it counts as healthy.
func drProbeHost(ctx context.Context, sess SSHSession, p config.Patch, h config.Host, t mssh.Target) (string, bool) {
	ctx, cancel := context.WithTimeout(ctx, healthAttemptLimit)
	defer cancel()
	t0 := time.Now()
	if h.HealthURL == "" {
		cmd, _ := p.HealthProbe(h)
		res, err := sess.Run(ctx, t, cmd)
		if why := commandProblem(cmd, res, err); why != "" {
			if err != nil {
				return drFailure(err), false
			}
			return why, false
		}
		return fmt.Sprintf("`%s` ok in %s", cmd, drTook(time.Since(t0))), true
	}
	resp, err := sess.HTTPGet(ctx, t, h.HealthURL)
	if err != nil {
		return drFailure(err), false
	}
	word := fmt.Sprintf("%d in %s", resp.StatusCode, drTook(time.Since(t0)))
	return word, resp.StatusCode >= 200 && resp.StatusCode <= 299
}

// drFailure is what a failed check saw, in a word or three.
func drFailure(err error) string {
	ssh := ""
	if mssh.Unreached(err) {
		ssh = "SSH "
	}
	switch mssh.KindOf(err) {
	case mssh.KindConnRefused:
		return ssh + "refused"
	case mssh.KindTimeout:
		return ssh + "timeout"
	case mssh.KindBastionUnreachable:
		return "DR bastion unreachable"
	case mssh.KindHostKeyMismatch, mssh.KindHostKeyUnknown, mssh.KindHostKeyRevoked:
		return "host key is not the one its console output printed"
	case mssh.KindAuthFailed:
		return "SSH login refused"
	case mssh.KindConnLost:
		return "connection lost"
	}
	// DialViaBastion words the bastion's refusal as a local dial would.
	switch msg := strings.ToLower(err.Error()); {
	case strings.Contains(msg, "refused"):
		return ssh + "refused"
	case strings.Contains(msg, "timed out"):
		return ssh + "timeout"
	}
	return "failed: " + asClause(sshFailure(err))
}

// drTook is a check's duration as people read it: 12ms, 1.2s.
func drTook(d time.Duration) string {
	if d < time.Millisecond {
		return "under 1ms"
	}
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}
