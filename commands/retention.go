package commands

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/aws"
)

// retentionVerb deletes EBS and RDS snapshots, primary and DR, older than
// the customer's policy, never the newest N of a volume or database, never
// one without the bot's tags, never one still in use: by one of the
// account's own AMIs (EC2 would refuse it), by a copy, or by its own
// creation. Its selection is
// selectRetention; --dry-run shows it and stops. A schedule runs it alone
// while it deletes no more than its cap; beyond the cap it waits for DevOps.
func retentionVerb() *Verb {
	return &Verb{
		Name:    "retention",
		Summary: "delete snapshots older than the retention policy; --dry-run shows what and why, each kept or deleted",
		Help: "Policy per customer (retention:): primary_days (30), dr_days (90), keep_newest (7 per volume or database), " +
			"cap_percent (20) and cap_count (50): a run that would delete more than the smaller cap deletes nothing and asks for approval.",
		Examples: []string{"/mcloud retention customer-x --dry-run", "/mcloud retention customer-x"},
		Spec:     Spec{Args: []Arg{{Name: "customer", Kind: KindCustomer, About: "whose snapshots"}}},
		Access:   mcloud.AccessDevOps,
		// A person deleting snapshots needs a second pair of eyes.
		DevOpsApprovals: 1, CustomerApprovals: 1,
		DryRun:    true,
		Resumable: true, // deleting a deleted snapshot is skipped
		Plan:      planRetention,
		Execute:   runRetention,
	}
}

// retentionSnap is one snapshot as retention sees it.
type retentionSnap struct {
	ID     string
	RDS    bool
	Source string // the volume or database
	Region string
	DR     bool
	At     time.Time
	// Tagged: it carries the bot's mcloud:customer tag.
	Tagged bool
	// AMI is the id of one of the account's AMIs whose block device
	// mappings reference it ("" when none): EC2 refuses to delete it until
	// the AMI is deregistered, and the AMI could not be launched without it.
	AMI string
	// InUse says what else still uses it ("" when nothing): a copy in
	// progress, or its own creation.
	InUse string
}

// retentionVerdict is a snapshot with the decision and its reason.
type retentionVerdict struct {
	retentionSnap
	Delete bool
	Why    string
}

// selectRetention decides, for each snapshot, whether policy deletes it, and
// the cap: the smaller of CapPercent of all the customer's snapshots and
// CapCount. It is pure, so each rule is table-tested; the order of the
// rules is the order of the reasons a snapshot is kept.
func selectRetention(snaps []retentionSnap, p config.RetentionPolicy, now time.Time) (out []retentionVerdict, deletes, capN int) {
	type group struct{ source, region string }
	newest := map[group][]int{} // indexes of each source's usable snapshots, newest first
	order := make([]int, len(snaps))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return snaps[order[a]].At.After(snaps[order[b]].At) })
	rank := make([]int, len(snaps))
	for _, i := range order {
		s := snaps[i]
		g := group{s.Source, s.Region}
		rank[i] = len(newest[g])
		newest[g] = append(newest[g], i)
	}
	for i, s := range snaps {
		v := retentionVerdict{retentionSnap: s}
		limit, where := p.Primary, "primary"
		if s.DR {
			limit, where = p.DR, "DR"
		}
		age := now.Sub(s.At)
		switch {
		case !s.Tagged:
			v.Why = "kept: not made by mcloud (no mcloud:customer tag)"
		case s.AMI != "":
			v.Why = "kept: used by AMI " + s.AMI
		case s.InUse != "":
			v.Why = "kept: in use by " + s.InUse
		case rank[i] < p.KeepNewest:
			v.Why = fmt.Sprintf("kept: one of the newest %d of %s in %s", p.KeepNewest, s.Source, s.Region)
		case age <= limit:
			v.Why = fmt.Sprintf("kept: %s old, within the %s %s policy", humanDuration(age), where, humanDuration(limit))
		default:
			v.Delete, v.Why = true, fmt.Sprintf("delete: %s old, older than the %s %s policy", humanDuration(age), where, humanDuration(limit))
			deletes++
		}
		out = append(out, v)
	}
	capN = min(p.CapCount, len(snaps)*p.CapPercent/100)
	return out, deletes, capN
}

// retentionAccount is what retention calls: the customer's snapshots in
// both regions, which of them images use, and deleting the expired ones.
type retentionAccount interface {
	Region() string
	FindSnapshots(ctx context.Context, region string, tags map[string]string) ([]aws.Snapshot, error)
	SnapshotsUsedByImages(ctx context.Context, region string) (map[string]string, error)
	FindDBSnapshots(ctx context.Context, region string, q aws.DBSnapshotQuery) ([]aws.DBSnapshot, error)
	DeleteSnapshot(ctx context.Context, region, id string) error
	DeleteDBSnapshot(ctx context.Context, region, id string) error
}

// gatherRetention lists the customer's snapshots in both regions.
func gatherRetention(ctx context.Context, s *Service, acct retentionAccount, cu *config.Customer) ([]retentionSnap, error) {
	regions := []string{acct.Region()}
	if cu.AWS.DRRegion != "" {
		regions = append(regions, cu.AWS.DRRegion)
	}
	tags := map[string]string{TagCustomer: cu.Name}
	var out []retentionSnap
	for _, region := range regions {
		dr := region != acct.Region()
		snaps, err := acct.FindSnapshots(ctx, region, tags)
		if err != nil {
			return nil, s.awsFailed("Listing EBS snapshots in "+region, err)
		}
		amis, err := acct.SnapshotsUsedByImages(ctx, region)
		if err != nil {
			return nil, s.awsFailed("Listing the AMIs in "+region, err)
		}
		copying := map[string]bool{}
		for _, sn := range snaps {
			if src := sn.Tags[aws.TagSourceSnapshot]; src != "" && sn.State != "completed" {
				copying[src] = true
			}
		}
		for _, sn := range snaps {
			r := retentionSnap{ID: sn.ID, Source: sn.VolumeID, Region: region, DR: dr, At: sn.StartTime, Tagged: sn.Tags[TagCustomer] == cu.Name, AMI: amis[sn.ID]}
			if src := sn.Tags[aws.TagSourceSnapshot]; src != "" {
				r.Source = "copies of " + sn.VolumeID
			}
			switch {
			case sn.State != "completed":
				r.InUse = "its own creation (" + sn.State + ")"
			case copying[sn.ID]:
				r.InUse = "a copy to the DR region in progress"
			}
			out = append(out, r)
		}
		dbs, err := acct.FindDBSnapshots(ctx, region, aws.DBSnapshotQuery{Tags: tags, Type: "manual"})
		if err != nil {
			return nil, s.awsFailed("Listing RDS snapshots in "+region, err)
		}
		for _, sn := range dbs {
			r := retentionSnap{ID: sn.Identifier, RDS: true, Source: sn.InstanceIdentifier, Region: region, DR: dr, At: dbSnapTime(sn), Tagged: sn.Tags[TagCustomer] == cu.Name}
			if sn.Status != "available" {
				r.InUse = "its own creation (" + sn.Status + ")"
			}
			out = append(out, r)
		}
	}
	return out, nil
}

func retentionVerdicts(ctx context.Context, s *Service, cu *config.Customer) ([]retentionVerdict, int, int, error) {
	acct, err := s.account(cu)
	if err != nil {
		return nil, 0, 0, err
	}
	snaps, err := gatherRetention(ctx, s, acct, cu)
	if err != nil {
		return nil, 0, 0, err
	}
	v, n, capN := selectRetention(snaps, cu.RetentionPolicy(), s.Now())
	return v, n, capN, nil
}

func planRetention(ctx context.Context, c *Call) (mcloud.Plan, error) {
	cu := c.Customer
	verdicts, n, capN, err := retentionVerdicts(ctx, c.svc, cu)
	if err != nil {
		return mcloud.Plan{}, err
	}
	p := mcloud.Plan{Summary: fmt.Sprintf("Delete %s of %s's %d (cap without approval: %d)", nOf(n, "snapshot", "snapshots"), cu.Name, len(verdicts), capN),
		Deletes: n, DeleteCap: capN}
	for _, v := range verdicts {
		kind := "EBS"
		if v.RDS {
			kind = "RDS"
		}
		p.Steps = append(p.Steps, fmt.Sprintf("%s %s %s (%s, %s): %s", kind, v.ID, v.Region, v.Source, v.At.UTC().Format("2006-01-02"), v.Why))
	}
	pol := cu.RetentionPolicy()
	p.Notes = append(p.Notes, fmt.Sprintf("Policy: primary %s, DR %s, the newest %d of each volume or database always kept.", humanDuration(pol.Primary), humanDuration(pol.DR), pol.KeepNewest))
	if late := c.Params["late"]; late != "" {
		p.Notes = append(p.Notes, "This run is "+late+", because mcloud was down.")
	}
	return p, nil
}

func runRetention(ctx context.Context, x *Exec) (string, error) {
	var del retentionAccount
	del, err := x.svc.account(x.Customer)
	if err != nil {
		return "", err
	}
	// Decided again now: a snapshot the plan listed may have become the
	// newest, or in use, since.
	verdicts, _, _, err := retentionVerdicts(ctx, x.svc, x.Customer)
	if err != nil {
		return "", err
	}
	deleted := 0
	for _, v := range verdicts {
		if !v.Delete {
			continue
		}
		if _, err := x.Step(ctx, "delete "+v.ID, func(ctx context.Context) (string, error) {
			var err error
			if v.RDS {
				err = del.DeleteDBSnapshot(ctx, v.Region, v.ID)
			} else {
				err = del.DeleteSnapshot(ctx, v.Region, v.ID)
			}
			if err != nil {
				return "", x.svc.awsFailed("Deleting snapshot "+v.ID, err)
			}
			return v.Region, nil
		}); err != nil {
			return "", err
		}
		deleted++
	}
	return fmt.Sprintf("deleted %s of %s's %d", nOf(deleted, "snapshot", "snapshots"), x.Customer.Name, len(verdicts)), nil
}
