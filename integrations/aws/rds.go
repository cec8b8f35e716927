package aws

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
)

// DBInstance is an RDS DB instance.
type DBInstance struct {
	Identifier       string
	ARN              string
	Engine           string
	EngineVersion    string
	Class            string
	Status           string
	ResourceID       string
	AvailabilityZone string
	StorageGiB       int32
	Encrypted        bool
	KMSKeyID         string
	Tags             map[string]string
	// Endpoint is host:port where the database answers; empty until RDS
	// gave it one (while it is being created).
	Endpoint string
}

// DBSnapshot is an RDS DB snapshot.
type DBSnapshot struct {
	Identifier         string
	ARN                string
	Region             string
	InstanceIdentifier string
	Status             string // creating, available, …
	Type               string // manual, automated, …
	Engine             string
	Created            time.Time
	// OriginalCreated is when the data was captured; for a copy it is the
	// source's time, which is what "newest backup" questions are about.
	OriginalCreated   time.Time
	PercentProgress   int32
	Encrypted         bool
	KMSKeyID          string
	SourceRegion      string
	SourceSnapshotARN string
	Tags              map[string]string
}

// DBInstanceQuery selects DB instances. RDS cannot filter instances by tag
// server-side, so Tags is applied to the returned TagList.
type DBInstanceQuery struct {
	Identifier string
	Tags       map[string]string
}

// DBSnapshotQuery selects DB snapshots; Tags is applied client-side, as
// for instances.
type DBSnapshotQuery struct {
	InstanceIdentifier string
	SnapshotIdentifier string // identifier or ARN
	Type               string // manual, automated, … (empty: all)
	Tags               map[string]string
}

func fromRDSTags(tags []rdstypes.Tag) map[string]string {
	out := make(map[string]string, len(tags))
	for _, t := range tags {
		out[awssdk.ToString(t.Key)] = awssdk.ToString(t.Value)
	}
	return out
}

func rdsTags(tags map[string]string) []rdstypes.Tag {
	var out []rdstypes.Tag
	for _, k := range sortedKeys(tags) {
		out = append(out, rdstypes.Tag{Key: awssdk.String(k), Value: awssdk.String(tags[k])})
	}
	return out
}

func hasTags(have, want map[string]string) bool {
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			return false
		}
	}
	return true
}

func fromRDSSnapshot(region string, s rdstypes.DBSnapshot) DBSnapshot {
	return DBSnapshot{
		Identifier: awssdk.ToString(s.DBSnapshotIdentifier), ARN: awssdk.ToString(s.DBSnapshotArn), Region: region,
		InstanceIdentifier: awssdk.ToString(s.DBInstanceIdentifier), Status: awssdk.ToString(s.Status),
		Type: awssdk.ToString(s.SnapshotType), Engine: awssdk.ToString(s.Engine),
		Created: awssdk.ToTime(s.SnapshotCreateTime), OriginalCreated: awssdk.ToTime(s.OriginalSnapshotCreateTime),
		PercentProgress: awssdk.ToInt32(s.PercentProgress), Encrypted: awssdk.ToBool(s.Encrypted),
		KMSKeyID: awssdk.ToString(s.KmsKeyId), SourceRegion: awssdk.ToString(s.SourceRegion),
		SourceSnapshotARN: awssdk.ToString(s.SourceDBSnapshotIdentifier), Tags: fromRDSTags(s.TagList),
	}
}

// FindDBInstances returns the DB instances in region matching q. An
// Identifier that does not exist yields no instances, not an error.
func (a *Account) FindDBInstances(ctx context.Context, region string, q DBInstanceQuery) ([]DBInstance, error) {
	region = a.region(region)
	in := &rds.DescribeDBInstancesInput{MaxRecords: awssdk.Int32(100)}
	if q.Identifier != "" {
		in.DBInstanceIdentifier = awssdk.String(q.Identifier)
	}
	p := rds.NewDescribeDBInstancesPaginator(a.rdsClient(region), in)
	var out []DBInstance
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if IsCode(err, "DBInstanceNotFound") {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("find RDS instances in %s: %w", region, err)
		}
		for _, d := range page.DBInstances {
			tags := fromRDSTags(d.TagList)
			if !hasTags(tags, q.Tags) {
				continue
			}
			inst := DBInstance{
				Identifier: awssdk.ToString(d.DBInstanceIdentifier), ARN: awssdk.ToString(d.DBInstanceArn),
				Engine: awssdk.ToString(d.Engine), EngineVersion: awssdk.ToString(d.EngineVersion),
				Class: awssdk.ToString(d.DBInstanceClass), Status: awssdk.ToString(d.DBInstanceStatus),
				ResourceID: awssdk.ToString(d.DbiResourceId), AvailabilityZone: awssdk.ToString(d.AvailabilityZone),
				StorageGiB: awssdk.ToInt32(d.AllocatedStorage), Encrypted: awssdk.ToBool(d.StorageEncrypted),
				KMSKeyID: awssdk.ToString(d.KmsKeyId), Tags: tags,
			}
			if e := d.Endpoint; e != nil && awssdk.ToString(e.Address) != "" {
				inst.Endpoint = net.JoinHostPort(awssdk.ToString(e.Address), strconv.Itoa(int(awssdk.ToInt32(e.Port))))
			}
			out = append(out, inst)
		}
	}
	return out, nil
}

// CreateDBSnapshot starts a manual snapshot with the given identifier and
// tags.
func (a *Account) CreateDBSnapshot(ctx context.Context, region, instanceID, snapshotID string, tags map[string]string) (DBSnapshot, error) {
	region = a.region(region)
	out, err := a.rdsClient(region).CreateDBSnapshot(ctx, &rds.CreateDBSnapshotInput{
		DBInstanceIdentifier: awssdk.String(instanceID),
		DBSnapshotIdentifier: awssdk.String(snapshotID),
		Tags:                 rdsTags(tags),
	})
	if err != nil {
		return DBSnapshot{}, fmt.Errorf("snapshot RDS instance %s as %s in %s: %w", instanceID, snapshotID, region, err)
	}
	return fromRDSSnapshot(region, *out.DBSnapshot), nil
}

// FindDBSnapshots returns the snapshots in region matching q, oldest
// first. A SnapshotIdentifier that does not exist yields none, not an
// error, so resumed jobs can probe for what they already created.
func (a *Account) FindDBSnapshots(ctx context.Context, region string, q DBSnapshotQuery) ([]DBSnapshot, error) {
	region = a.region(region)
	in := &rds.DescribeDBSnapshotsInput{MaxRecords: awssdk.Int32(100)}
	if q.InstanceIdentifier != "" {
		in.DBInstanceIdentifier = awssdk.String(q.InstanceIdentifier)
	}
	if q.SnapshotIdentifier != "" {
		in.DBSnapshotIdentifier = awssdk.String(q.SnapshotIdentifier)
	}
	if q.Type != "" {
		in.SnapshotType = awssdk.String(q.Type)
	}
	p := rds.NewDescribeDBSnapshotsPaginator(a.rdsClient(region), in)
	var out []DBSnapshot
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if IsCode(err, "DBSnapshotNotFound") {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("find RDS snapshots in %s: %w", region, err)
		}
		for _, s := range page.DBSnapshots {
			snap := fromRDSSnapshot(region, s)
			if hasTags(snap.Tags, q.Tags) {
				out = append(out, snap)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return snapTime(out[i]).Before(snapTime(out[j])) })
	return out, nil
}

func snapTime(s DBSnapshot) time.Time {
	if !s.OriginalCreated.IsZero() {
		return s.OriginalCreated
	}
	return s.Created
}

// NewestDBSnapshots returns, per DB instance, the newest available
// snapshot matching q (by original creation time, so a fresh copy of an
// old snapshot does not count as new).
func (a *Account) NewestDBSnapshots(ctx context.Context, region string, q DBSnapshotQuery) (map[string]DBSnapshot, error) {
	snaps, err := a.FindDBSnapshots(ctx, region, q)
	if err != nil {
		return nil, err
	}
	out := map[string]DBSnapshot{}
	for _, s := range snaps {
		if s.Status == "available" {
			out[s.InstanceIdentifier] = s // ascending order: later wins
		}
	}
	return out, nil
}

// EnsureDBSnapshot returns the snapshot named snapshotID if it exists (a
// resumed job), or creates it.
func (a *Account) EnsureDBSnapshot(ctx context.Context, region, instanceID, snapshotID string, tags map[string]string) (snap DBSnapshot, created bool, err error) {
	existing, err := a.FindDBSnapshots(ctx, region, DBSnapshotQuery{SnapshotIdentifier: snapshotID})
	if err != nil {
		return DBSnapshot{}, false, err
	}
	if len(existing) > 0 {
		return existing[0], false, nil
	}
	s, err := a.CreateDBSnapshot(ctx, region, instanceID, snapshotID, tags)
	return s, err == nil, err
}

// WaitDBSnapshotsAvailable blocks until every snapshot in ids is
// available, using the SDK waiter; maxWait exceeded returns ErrWaitTimeout.
func (a *Account) WaitDBSnapshotsAvailable(ctx context.Context, region string, ids []string, maxWait time.Duration) error {
	region = a.region(region)
	lo, hi := a.waiterDelays(30*time.Second, 120*time.Second)
	w := rds.NewDBSnapshotAvailableWaiter(a.rdsClient(region), func(o *rds.DBSnapshotAvailableWaiterOptions) {
		o.MinDelay, o.MaxDelay = lo, hi
	})
	err := waitWithin(ctx, maxWait, func(ctx context.Context, limit time.Duration) error {
		// The waiter takes one identifier per call (the API rejects a list).
		for _, id := range ids {
			in := &rds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: awssdk.String(id)}
			if err := w.Wait(ctx, in, limit); err != nil {
				return fmt.Errorf("%s: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("wait for RDS snapshots %v in %s: %w", ids, region, err)
	}
	return nil
}

// DBSnapshotCopy describes an RDS snapshot copy.
type DBSnapshotCopy struct {
	// SourceSnapshotARN names the source; its region is the copy's source
	// region.
	SourceSnapshotARN string
	DestinationRegion string // default: the account's DR region
	TargetIdentifier  string
	// KMSKeyID is a key in the destination region; required when the
	// source is encrypted, since KMS keys are regional.
	KMSKeyID string
	Tags     map[string]string
	CopyTags bool
}

// CopyDBSnapshot copies a snapshot into the destination region. The call
// is made in the destination region with SourceRegion set so the SDK
// generates the presigned URL RDS needs for the source region.
func (a *Account) CopyDBSnapshot(ctx context.Context, in DBSnapshotCopy) (DBSnapshot, error) {
	src, err := arn.Parse(in.SourceSnapshotARN)
	if err != nil {
		return DBSnapshot{}, fmt.Errorf("copy RDS snapshot %q: source must be an ARN: %w", in.SourceSnapshotARN, err)
	}
	dst := in.DestinationRegion
	if dst == "" {
		dst = a.spec.DRRegion
	}
	if dst == "" {
		return DBSnapshot{}, fmt.Errorf("copy RDS snapshot %s: no destination region and %s has no DR region", in.SourceSnapshotARN, a.spec)
	}
	req := &rds.CopyDBSnapshotInput{
		SourceDBSnapshotIdentifier: awssdk.String(in.SourceSnapshotARN),
		TargetDBSnapshotIdentifier: awssdk.String(in.TargetIdentifier),
		Tags:                       rdsTags(in.Tags),
		CopyTags:                   awssdk.Bool(in.CopyTags),
	}
	if src.Region != dst {
		req.SourceRegion = awssdk.String(src.Region)
	}
	if in.KMSKeyID != "" {
		req.KmsKeyId = awssdk.String(in.KMSKeyID)
	}
	out, err := a.rdsClient(dst).CopyDBSnapshot(ctx, req)
	if err != nil {
		return DBSnapshot{}, fmt.Errorf("copy RDS snapshot %s to %s as %s: %w", in.SourceSnapshotARN, dst, in.TargetIdentifier, err)
	}
	return fromRDSSnapshot(dst, *out.DBSnapshot), nil
}

// EnsureDBSnapshotCopy returns the target snapshot if it already exists in
// the destination region, or starts the copy.
func (a *Account) EnsureDBSnapshotCopy(ctx context.Context, in DBSnapshotCopy) (snap DBSnapshot, created bool, err error) {
	dst := in.DestinationRegion
	if dst == "" {
		dst = a.spec.DRRegion
	}
	existing, err := a.FindDBSnapshots(ctx, dst, DBSnapshotQuery{SnapshotIdentifier: in.TargetIdentifier})
	if err != nil {
		return DBSnapshot{}, false, err
	}
	if len(existing) > 0 {
		return existing[0], false, nil
	}
	s, err := a.CopyDBSnapshot(ctx, in)
	return s, err == nil, err
}

// ExportRequest describes an RDS snapshot export to S3 (Parquet).
type ExportRequest struct {
	TaskIdentifier string
	SnapshotARN    string
	Bucket         string
	Prefix         string
	IAMRoleARN     string // role RDS assumes to write to the bucket
	KMSKeyID       string // key RDS encrypts the export with (required by the API)
	ExportOnly     []string
}

// ExportTask is the state of an RDS export task.
type ExportTask struct {
	Identifier      string
	SourceARN       string
	Bucket          string
	Prefix          string
	Status          string // STARTING, IN_PROGRESS, COMPLETE, CANCELING, CANCELED, FAILED
	PercentProgress int32
	Started         time.Time
	Ended           time.Time
	FailureCause    string
}

// Done reports whether the task reached a final state.
func (t ExportTask) Done() bool {
	switch t.Status {
	case "COMPLETE", "CANCELED", "FAILED":
		return true
	}
	return false
}

func fromExportTask(t rdstypes.ExportTask) ExportTask {
	return ExportTask{
		Identifier: awssdk.ToString(t.ExportTaskIdentifier), SourceARN: awssdk.ToString(t.SourceArn),
		Bucket: awssdk.ToString(t.S3Bucket), Prefix: awssdk.ToString(t.S3Prefix), Status: awssdk.ToString(t.Status),
		PercentProgress: awssdk.ToInt32(t.PercentProgress), Started: awssdk.ToTime(t.TaskStartTime),
		Ended: awssdk.ToTime(t.TaskEndTime), FailureCause: awssdk.ToString(t.FailureCause),
	}
}

// StartExportTask exports a snapshot to S3. It runs in the snapshot's
// region; region defaults to the account's primary region.
func (a *Account) StartExportTask(ctx context.Context, region string, in ExportRequest) (ExportTask, error) {
	region = a.region(region)
	req := &rds.StartExportTaskInput{
		ExportTaskIdentifier: awssdk.String(in.TaskIdentifier),
		SourceArn:            awssdk.String(in.SnapshotARN),
		S3BucketName:         awssdk.String(in.Bucket),
		IamRoleArn:           awssdk.String(in.IAMRoleARN),
		KmsKeyId:             awssdk.String(in.KMSKeyID),
		ExportOnly:           in.ExportOnly,
	}
	if in.Prefix != "" {
		req.S3Prefix = awssdk.String(in.Prefix)
	}
	out, err := a.rdsClient(region).StartExportTask(ctx, req)
	if err != nil {
		return ExportTask{}, fmt.Errorf("start RDS export %s of %s to s3://%s/%s: %w", in.TaskIdentifier, in.SnapshotARN, in.Bucket, in.Prefix, err)
	}
	return ExportTask{
		Identifier: awssdk.ToString(out.ExportTaskIdentifier), SourceARN: awssdk.ToString(out.SourceArn),
		Bucket: awssdk.ToString(out.S3Bucket), Prefix: awssdk.ToString(out.S3Prefix), Status: awssdk.ToString(out.Status),
		PercentProgress: awssdk.ToInt32(out.PercentProgress), Started: awssdk.ToTime(out.TaskStartTime),
	}, nil
}

// DescribeExportTask returns the current state of one export task.
func (a *Account) DescribeExportTask(ctx context.Context, region, taskID string) (ExportTask, error) {
	region = a.region(region)
	out, err := a.rdsClient(region).DescribeExportTasks(ctx, &rds.DescribeExportTasksInput{ExportTaskIdentifier: awssdk.String(taskID)})
	if err != nil {
		return ExportTask{}, fmt.Errorf("describe RDS export %s in %s: %w", taskID, region, err)
	}
	if len(out.ExportTasks) == 0 {
		return ExportTask{}, fmt.Errorf("describe RDS export %s in %s: not found", taskID, region)
	}
	return fromExportTask(out.ExportTasks[0]), nil
}
