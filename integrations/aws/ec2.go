package aws

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// TagSourceSnapshot is put on every snapshot copy so a resumed job can
// match a copy to its source: AWS does not keep the volume id on copies.
const TagSourceSnapshot = "mcloud:source-snapshot"

// Volume is an EBS volume.
type Volume struct {
	ID               string
	AvailabilityZone string
	State            string
	Type             string
	SizeGiB          int32
	Encrypted        bool
	Tags             map[string]string
}

// Snapshot is an EBS snapshot.
type Snapshot struct {
	ID          string
	Region      string
	VolumeID    string
	State       string // pending, completed, error, …
	Progress    string
	Description string
	OwnerID     string
	SizeGiB     int32
	StartTime   time.Time
	Encrypted   bool
	Tags        map[string]string
}

// tagFilters turns {k: v} into EC2 "tag:k" filters, sorted for stable
// requests.
func tagFilters(tags map[string]string) []ec2types.Filter {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]ec2types.Filter, 0, len(keys))
	for _, k := range keys {
		out = append(out, ec2types.Filter{Name: awssdk.String("tag:" + k), Values: []string{tags[k]}})
	}
	return out
}

func ec2TagSpec(kind ec2types.ResourceType, tags map[string]string) []ec2types.TagSpecification {
	if len(tags) == 0 {
		return nil
	}
	spec := ec2types.TagSpecification{ResourceType: kind}
	for _, k := range sortedKeys(tags) {
		spec.Tags = append(spec.Tags, ec2types.Tag{Key: awssdk.String(k), Value: awssdk.String(tags[k])})
	}
	return []ec2types.TagSpecification{spec}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func fromEC2Tags(tags []ec2types.Tag) map[string]string {
	out := make(map[string]string, len(tags))
	for _, t := range tags {
		out[awssdk.ToString(t.Key)] = awssdk.ToString(t.Value)
	}
	return out
}

func fromEC2Snapshot(region string, s ec2types.Snapshot) Snapshot {
	return Snapshot{
		ID: awssdk.ToString(s.SnapshotId), Region: region, VolumeID: awssdk.ToString(s.VolumeId),
		State: string(s.State), Progress: awssdk.ToString(s.Progress), Description: awssdk.ToString(s.Description),
		OwnerID: awssdk.ToString(s.OwnerId), SizeGiB: awssdk.ToInt32(s.VolumeSize),
		StartTime: awssdk.ToTime(s.StartTime), Encrypted: awssdk.ToBool(s.Encrypted), Tags: fromEC2Tags(s.Tags),
	}
}

// FindVolumes returns the volumes in region carrying all of tags (for
// instance customer and env).
func (a *Account) FindVolumes(ctx context.Context, region string, tags map[string]string) ([]Volume, error) {
	region = a.region(region)
	p := ec2.NewDescribeVolumesPaginator(a.ec2Client(region), &ec2.DescribeVolumesInput{
		Filters:    tagFilters(tags),
		MaxResults: awssdk.Int32(500),
	})
	var out []Volume
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("find EBS volumes in %s tagged %v: %w", region, tags, err)
		}
		for _, v := range page.Volumes {
			out = append(out, Volume{
				ID: awssdk.ToString(v.VolumeId), AvailabilityZone: awssdk.ToString(v.AvailabilityZone),
				State: string(v.State), Type: string(v.VolumeType), SizeGiB: awssdk.ToInt32(v.Size),
				Encrypted: awssdk.ToBool(v.Encrypted), Tags: fromEC2Tags(v.Tags),
			})
		}
	}
	return out, nil
}

// CreateSnapshot starts a snapshot of volumeID, tagged at creation so a
// crash between create and tag cannot leave an untagged (unfindable)
// snapshot behind.
func (a *Account) CreateSnapshot(ctx context.Context, region, volumeID, description string, tags map[string]string) (Snapshot, error) {
	region = a.region(region)
	out, err := a.ec2Client(region).CreateSnapshot(ctx, &ec2.CreateSnapshotInput{
		VolumeId:          awssdk.String(volumeID),
		Description:       awssdk.String(description),
		TagSpecifications: ec2TagSpec(ec2types.ResourceTypeSnapshot, tags),
	})
	if err != nil {
		return Snapshot{}, fmt.Errorf("snapshot EBS volume %s in %s: %w", volumeID, region, err)
	}
	return Snapshot{
		ID: awssdk.ToString(out.SnapshotId), Region: region, VolumeID: awssdk.ToString(out.VolumeId),
		State: string(out.State), Progress: awssdk.ToString(out.Progress), Description: awssdk.ToString(out.Description),
		OwnerID: awssdk.ToString(out.OwnerId), SizeGiB: awssdk.ToInt32(out.VolumeSize),
		StartTime: awssdk.ToTime(out.StartTime), Encrypted: awssdk.ToBool(out.Encrypted), Tags: fromEC2Tags(out.Tags),
	}, nil
}

// FindSnapshots returns this account's snapshots in region carrying all of
// tags, oldest first. Owner "self" matters on real AWS, where an
// unrestricted DescribeSnapshots also lists every public snapshot.
func (a *Account) FindSnapshots(ctx context.Context, region string, tags map[string]string) ([]Snapshot, error) {
	return a.findSnapshots(ctx, region, tagFilters(tags))
}

func (a *Account) findSnapshots(ctx context.Context, region string, filters []ec2types.Filter) ([]Snapshot, error) {
	region = a.region(region)
	p := ec2.NewDescribeSnapshotsPaginator(a.ec2Client(region), &ec2.DescribeSnapshotsInput{
		OwnerIds:   []string{"self"},
		Filters:    filters,
		MaxResults: awssdk.Int32(1000),
	})
	var out []Snapshot
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("find EBS snapshots in %s: %w", region, err)
		}
		for _, s := range page.Snapshots {
			out = append(out, fromEC2Snapshot(region, s))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].StartTime.Before(out[j].StartTime) })
	return out, nil
}

// NewestSnapshot returns the most recently started snapshot in region with
// all of tags; ok is false when there is none.
func (a *Account) NewestSnapshot(ctx context.Context, region string, tags map[string]string) (Snapshot, bool, error) {
	snaps, err := a.FindSnapshots(ctx, region, tags)
	if err != nil || len(snaps) == 0 {
		return Snapshot{}, false, err
	}
	return snaps[len(snaps)-1], true, nil
}

// EnsureSnapshot makes a resumed job idempotent: it returns the snapshot
// of volumeID that already carries tags (which should include the job id),
// or creates one. created reports which happened.
func (a *Account) EnsureSnapshot(ctx context.Context, region, volumeID, description string, tags map[string]string) (snap Snapshot, created bool, err error) {
	if len(tags) == 0 {
		// Without identifying tags any old snapshot of the volume would
		// pass for this job's.
		return Snapshot{}, false, fmt.Errorf("ensure snapshot of %s: tags identifying the job are required", volumeID)
	}
	filters := append(tagFilters(tags), ec2types.Filter{Name: awssdk.String("volume-id"), Values: []string{volumeID}})
	existing, err := a.findSnapshots(ctx, region, filters)
	if err != nil {
		return Snapshot{}, false, err
	}
	if s, ok := usable(existing); ok {
		return s, false, nil
	}
	s, err := a.CreateSnapshot(ctx, region, volumeID, description, tags)
	return s, err == nil, err
}

// usable picks the newest snapshot that has not failed.
func usable(snaps []Snapshot) (Snapshot, bool) {
	for i := len(snaps) - 1; i >= 0; i-- {
		if snaps[i].State != string(ec2types.SnapshotStateError) {
			return snaps[i], true
		}
	}
	return Snapshot{}, false
}

// WaitSnapshotsCompleted blocks until every snapshot in ids is completed,
// using the SDK waiter. A snapshot in error state fails the wait; maxWait
// exceeded returns ErrWaitTimeout.
func (a *Account) WaitSnapshotsCompleted(ctx context.Context, region string, ids []string, maxWait time.Duration) error {
	if len(ids) == 0 {
		return nil
	}
	region = a.region(region)
	lo, hi := a.waiterDelays(15*time.Second, 120*time.Second)
	w := ec2.NewSnapshotCompletedWaiter(a.ec2Client(region), func(o *ec2.SnapshotCompletedWaiterOptions) {
		o.MinDelay, o.MaxDelay = lo, hi
	})
	err := waitWithin(ctx, maxWait, func(ctx context.Context, limit time.Duration) error {
		return w.Wait(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: ids, OwnerIds: []string{"self"}}, limit)
	})
	if err != nil {
		return fmt.Errorf("wait for EBS snapshots %v in %s: %w", ids, region, err)
	}
	return nil
}

// waitWithin runs an SDK waiter under its own deadline so that running
// out of time is told apart from a failure: it becomes ErrWaitTimeout,
// which a job treats as "resume later". The SDK's own limit is set past
// the deadline because its early exit is indistinguishable from other
// errors.
func waitWithin(ctx context.Context, maxWait time.Duration, wait func(context.Context, time.Duration) error) error {
	wctx, cancel := context.WithTimeout(ctx, maxWait)
	defer cancel()
	err := wait(wctx, maxWait+time.Hour)
	if err != nil && ctx.Err() == nil && wctx.Err() != nil {
		return fmt.Errorf("%w after %s", ErrWaitTimeout, maxWait)
	}
	return err
}

// SnapshotCopy describes a cross-region EBS snapshot copy.
type SnapshotCopy struct {
	SourceRegion      string
	SourceSnapshotID  string
	DestinationRegion string // default: the account's DR region
	Description       string
	Tags              map[string]string // TagSourceSnapshot is added
	KMSKeyID          string            // destination-region key for encrypted copies
}

// CopySnapshot copies a completed snapshot into the destination region.
// The call is made in the destination region with SourceRegion set, which
// is how EC2 (and the SDK's presigned-URL customisation) expects it.
func (a *Account) CopySnapshot(ctx context.Context, in SnapshotCopy) (Snapshot, error) {
	src := a.region(in.SourceRegion)
	dst := in.DestinationRegion
	if dst == "" {
		dst = a.spec.DRRegion
	}
	if dst == "" {
		return Snapshot{}, fmt.Errorf("copy EBS snapshot %s: no destination region and %s has no DR region", in.SourceSnapshotID, a.spec)
	}
	tags := copyTagsWith(in.Tags, TagSourceSnapshot, in.SourceSnapshotID)
	req := &ec2.CopySnapshotInput{
		SourceRegion:      awssdk.String(src),
		SourceSnapshotId:  awssdk.String(in.SourceSnapshotID),
		Description:       awssdk.String(in.Description),
		TagSpecifications: ec2TagSpec(ec2types.ResourceTypeSnapshot, tags),
	}
	if in.KMSKeyID != "" {
		req.Encrypted = awssdk.Bool(true)
		req.KmsKeyId = awssdk.String(in.KMSKeyID)
	}
	out, err := a.ec2Client(dst).CopySnapshot(ctx, req)
	if err != nil {
		return Snapshot{}, fmt.Errorf("copy EBS snapshot %s from %s to %s: %w", in.SourceSnapshotID, src, dst, err)
	}
	return Snapshot{ID: awssdk.ToString(out.SnapshotId), Region: dst, State: string(ec2types.SnapshotStatePending), Description: in.Description, Tags: fromEC2Tags(out.Tags)}, nil
}

// EnsureSnapshotCopy returns the copy of the source snapshot already in the
// destination region carrying in.Tags, or starts one.
func (a *Account) EnsureSnapshotCopy(ctx context.Context, in SnapshotCopy) (snap Snapshot, created bool, err error) {
	dst := in.DestinationRegion
	if dst == "" {
		dst = a.spec.DRRegion
	}
	if dst == "" {
		return Snapshot{}, false, errors.New("ensure EBS snapshot copy: no destination region")
	}
	existing, err := a.FindSnapshots(ctx, dst, copyTagsWith(in.Tags, TagSourceSnapshot, in.SourceSnapshotID))
	if err != nil {
		return Snapshot{}, false, err
	}
	if s, ok := usable(existing); ok {
		return s, false, nil
	}
	s, err := a.CopySnapshot(ctx, in)
	return s, err == nil, err
}

func copyTagsWith(tags map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(tags)+1)
	for tk, tv := range tags {
		out[tk] = tv
	}
	out[k] = v
	return out
}

// SnapshotsUsedByImages maps each snapshot that one of this account's own
// AMIs in region references to that AMI's id. EC2 refuses to delete such a
// snapshot (InvalidSnapshot.InUse) until the AMI is deregistered, so
// retention keeps it. Owner "self" keeps out the public AMIs that an
// unrestricted DescribeImages lists by the thousand.
func (a *Account) SnapshotsUsedByImages(ctx context.Context, region string) (map[string]string, error) {
	region = a.region(region)
	p := ec2.NewDescribeImagesPaginator(a.ec2Client(region), &ec2.DescribeImagesInput{
		Owners:     []string{"self"},
		MaxResults: awssdk.Int32(1000),
	})
	out := map[string]string{}
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list own AMIs in %s: %w", region, err)
		}
		for _, im := range page.Images {
			for _, m := range im.BlockDeviceMappings {
				if m.Ebs == nil || awssdk.ToString(m.Ebs.SnapshotId) == "" {
					continue
				}
				// The first AMI seen wins: naming one is enough to say why.
				if _, seen := out[awssdk.ToString(m.Ebs.SnapshotId)]; !seen {
					out[awssdk.ToString(m.Ebs.SnapshotId)] = awssdk.ToString(im.ImageId)
				}
			}
		}
	}
	return out, nil
}
