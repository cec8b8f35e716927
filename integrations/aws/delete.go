package aws

import (
	"context"
	"fmt"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/rds"
)

// DeleteSnapshot deletes an EBS snapshot in region. One already gone is
// not an error: a resumed retention run deletes what it deleted before.
func (a *Account) DeleteSnapshot(ctx context.Context, region, id string) error {
	region = a.region(region)
	_, err := a.ec2Client(region).DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: awssdk.String(id)})
	if err != nil && !IsCode(err, "InvalidSnapshot.NotFound") {
		return fmt.Errorf("delete EBS snapshot %s in %s: %w", id, region, err)
	}
	return nil
}

// DeleteDBSnapshot deletes a manual RDS snapshot in region; one already
// gone is not an error.
func (a *Account) DeleteDBSnapshot(ctx context.Context, region, id string) error {
	region = a.region(region)
	_, err := a.rdsClient(region).DeleteDBSnapshot(ctx, &rds.DeleteDBSnapshotInput{DBSnapshotIdentifier: awssdk.String(id)})
	if err != nil && !IsCode(err, "DBSnapshotNotFound") {
		return fmt.Errorf("delete RDS snapshot %s in %s: %w", id, region, err)
	}
	return nil
}
