package aws_test

import (
	"context"
	"fmt"
	"log"
	"time"

	mcaws "github.com/mcloud/mcloud/integrations/aws"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
)

// Pointing the package at the emulator, as the sandbox mode does: seed a
// customer account, a bucket and objects, then use the package unchanged.
func Example() {
	// Restores take "12 hours" here; a sandbox would pick seconds.
	emu, err := awsemu.Start("127.0.0.1:0", awsemu.Options{RestoreDelay: 12 * time.Hour})
	if err != nil {
		log.Fatal(err)
	}
	defer emu.Close()
	if err := emu.AddAccount(awsemu.Account{ID: "111122223333", RoleARN: "arn:aws:iam::111122223333:role/mcloud", ExternalID: "acme-ext"}); err != nil {
		log.Fatal(err)
	}
	if err := emu.CreateBucket(awsemu.Bucket{Name: "acme-archive", AccountID: "111122223333"}); err != nil {
		log.Fatal(err)
	}
	if err := emu.PutObjects("acme-archive",
		awsemu.Object{Key: "2019/ledger.csv", StorageClass: "DEEP_ARCHIVE", Size: 40 << 30},
		awsemu.Object{Key: "2019/photos.zip", StorageClass: "GLACIER", Size: 3 << 30, Restore: awsemu.RestoreOngoing},
		awsemu.Object{Key: "2019/readme.txt", Body: []byte("see ledger")},
	); err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	client, err := mcaws.New(ctx, mcaws.Options{
		Region:      "eu-west-1",
		Endpoint:    emu.URL(),
		Credentials: &mcaws.StaticCredentials{AccessKeyID: "AKIASANDBOX", SecretAccessKey: "sandbox"},
	})
	if err != nil {
		log.Fatal(err)
	}
	acct, err := client.Account(mcaws.CustomerAccount{
		AccountID: "111122223333", RoleARN: "arn:aws:iam::111122223333:role/mcloud", ExternalID: "acme-ext",
		Region: "eu-west-1", DRRegion: "eu-central-1",
	})
	if err != nil {
		log.Fatal(err)
	}
	objs, err := acct.ListObjects(ctx, "acme-archive", "2019/")
	if err != nil {
		log.Fatal(mcaws.Describe(err))
	}
	for _, r := range acct.RestoreMany(ctx, "acme-archive", objs, mcaws.RestoreManyOptions{Days: 7, Tier: mcaws.TierBulk}) {
		fmt.Println(r.Key, r.Outcome)
	}
	// Output:
	// 2019/ledger.csv issued
	// 2019/photos.zip already in progress
	// 2019/readme.txt skipped (not archived)
}
