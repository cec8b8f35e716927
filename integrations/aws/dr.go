package aws

import (
	"context"
	"fmt"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
)

// InRegion is the same account working in another region (the DR
// region): its CloudFormation calls, and every call given no region, go
// there. It shares the account's credentials.
func (a *Account) InRegion(region string) *Account {
	spec := a.spec
	spec.Region = region
	return &Account{spec: spec, cfg: a.cfg, opts: a.opts, clients: a.clients}
}

// DeleteStack asks CloudFormation to delete a stack; a stack that does not
// exist is already deleted.
func (a *Account) DeleteStack(ctx context.Context, name string) error {
	if _, err := a.cfnClient().DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: awssdk.String(name)}); err != nil {
		return fmt.Errorf("delete stack %s in %s: %w", name, a.spec.Region, err)
	}
	return nil
}

// DBRestore asks for a database restored from a snapshot.
type DBRestore struct {
	Region, SnapshotID, Identifier, Class string
	Tags                                  map[string]string
}

// EnsureDBRestore restores the database unless one with its identifier
// exists already (a resumed job): created says which.
func (a *Account) EnsureDBRestore(ctx context.Context, in DBRestore) (DBInstance, bool, error) {
	have, err := a.FindDBInstances(ctx, in.Region, DBInstanceQuery{Identifier: in.Identifier})
	if err != nil {
		return DBInstance{}, false, err
	}
	if len(have) > 0 {
		return have[0], false, nil
	}
	req := &rds.RestoreDBInstanceFromDBSnapshotInput{DBInstanceIdentifier: awssdk.String(in.Identifier),
		DBSnapshotIdentifier: awssdk.String(in.SnapshotID), Tags: rdsTags(in.Tags)}
	if in.Class != "" {
		req.DBInstanceClass = awssdk.String(in.Class)
	}
	out, err := a.rdsClient(in.Region).RestoreDBInstanceFromDBSnapshot(ctx, req)
	if err != nil {
		return DBInstance{}, false, fmt.Errorf("restore RDS %s from %s in %s: %w", in.Identifier, in.SnapshotID, a.region(in.Region), err)
	}
	return fromRDSInstance(out.DBInstance), true, nil
}

func fromRDSInstance(d *rdstypes.DBInstance) DBInstance {
	if d == nil {
		return DBInstance{}
	}
	return DBInstance{
		Identifier: awssdk.ToString(d.DBInstanceIdentifier), ARN: awssdk.ToString(d.DBInstanceArn),
		Engine: awssdk.ToString(d.Engine), EngineVersion: awssdk.ToString(d.EngineVersion),
		Class: awssdk.ToString(d.DBInstanceClass), Status: awssdk.ToString(d.DBInstanceStatus),
		ResourceID: awssdk.ToString(d.DbiResourceId), AvailabilityZone: awssdk.ToString(d.AvailabilityZone),
		StorageGiB: awssdk.ToInt32(d.AllocatedStorage), Encrypted: awssdk.ToBool(d.StorageEncrypted),
		KMSKeyID: awssdk.ToString(d.KmsKeyId), Tags: fromRDSTags(d.TagList),
	}
}

// DeleteDBInstance deletes a database without a final snapshot (a drill's
// copy, whose data the snapshot it came from still holds); one already
// gone is not an error.
func (a *Account) DeleteDBInstance(ctx context.Context, region, id string) error {
	_, err := a.rdsClient(region).DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: awssdk.String(id),
		SkipFinalSnapshot: awssdk.Bool(true), DeleteAutomatedBackups: awssdk.Bool(true)})
	if err != nil && !IsCode(err, "DBInstanceNotFound") {
		return fmt.Errorf("delete RDS %s in %s: %w", id, a.region(region), err)
	}
	return nil
}

// EnsureVolumeFromSnapshot makes a volume from a snapshot unless a volume
// with the same tags exists (tags carry the job, so a resumed job finds it).
func (a *Account) EnsureVolumeFromSnapshot(ctx context.Context, region, snapshotID, az string, tags map[string]string) (Volume, bool, error) {
	have, err := a.FindVolumes(ctx, region, tags)
	if err != nil {
		return Volume{}, false, err
	}
	if len(have) > 0 {
		return have[0], false, nil
	}
	out, err := a.ec2Client(region).CreateVolume(ctx, &ec2.CreateVolumeInput{SnapshotId: awssdk.String(snapshotID), AvailabilityZone: awssdk.String(az),
		VolumeType: ec2types.VolumeTypeGp3, TagSpecifications: ec2TagSpec(ec2types.ResourceTypeVolume, tags)})
	if err != nil {
		return Volume{}, false, fmt.Errorf("create a volume from %s in %s: %w", snapshotID, a.region(region), err)
	}
	return Volume{ID: awssdk.ToString(out.VolumeId), AvailabilityZone: awssdk.ToString(out.AvailabilityZone), State: string(out.State),
		Type: string(out.VolumeType), SizeGiB: awssdk.ToInt32(out.Size), Encrypted: awssdk.ToBool(out.Encrypted), Tags: fromEC2Tags(out.Tags)}, true, nil
}

// DeleteVolume deletes a volume; one already gone is not an error.
func (a *Account) DeleteVolume(ctx context.Context, region, id string) error {
	_, err := a.ec2Client(region).DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: awssdk.String(id)})
	if err != nil && !IsCode(err, "InvalidVolume.NotFound") {
		return fmt.Errorf("delete volume %s in %s: %w", id, a.region(region), err)
	}
	return nil
}
