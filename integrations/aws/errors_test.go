package aws_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	smithy "github.com/aws/smithy-go"

	mcaws "github.com/mcloud/mcloud/integrations/aws"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
)

const assumeRoleSentence = "mcloud could not assume its role in this customer account: check the role's trust policy and the external ID on file."

// secretsIn lists what must never show up in an error, a sentence or a
// formatted account.
func assertNoSecrets(t *testing.T, texts ...string) {
	t.Helper()
	for _, s := range texts {
		for _, secret := range []string{testExternalID, "wrong-external-id", baseSecret} {
			if strings.Contains(s, secret) {
				t.Errorf("secret %q leaked into %q", secret, s)
			}
		}
	}
}

func TestAssumeRoleWithWrongExternalIDFailsClearly(t *testing.T) {
	e := newEnv(t, awsemu.Options{})
	seedBucket(t, e, archiveBucket)
	ctx := ctxT(t)

	id, err := e.acct.Verify(ctx)
	if err != nil || id.AccountID != testAccountID || !strings.Contains(id.ARN, ":assumed-role/mcloud-ops/mcloud-"+testAccountID) {
		t.Fatalf("verify with the right external id: %+v, %v", id, err)
	}

	spec := customer()
	spec.ExternalID = "wrong-external-id"
	bad, err := e.client.Account(spec)
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.Verify(ctx)
	if err == nil {
		t.Fatal("verify with a wrong external id succeeded")
	}
	if got := mcaws.Describe(err); got != assumeRoleSentence {
		t.Errorf("sentence %q, want %q", got, assumeRoleSentence)
	}
	if mcaws.Code(err) != "AccessDenied" {
		t.Errorf("code %q", mcaws.Code(err))
	}
	_, listErr := bad.ListObjects(ctx, archiveBucket, "")
	if mcaws.Describe(listErr) != assumeRoleSentence {
		t.Errorf("list with a wrong external id: %q (%v)", mcaws.Describe(listErr), listErr)
	}
	assertNoSecrets(t, err.Error(), listErr.Error(), mcaws.Describe(err), fmt.Sprint(spec), fmt.Sprintf("%+v %#v", spec, spec),
		fmt.Sprintf("%v %#v", mcaws.StaticCredentials{AccessKeyID: baseAccessKey, SecretAccessKey: baseSecret},
			mcaws.StaticCredentials{SecretAccessKey: baseSecret}))

	// A role that resolves to another account must not be used.
	other := mcaws.CustomerAccount{AccountID: testAccountID, RoleARN: "arn:aws:iam::999988887777:role/mcloud-ops", Region: primaryRegion}
	if err := e.emu.AddAccount(awsemu.Account{ID: "999988887777", RoleARN: other.RoleARN}); err != nil {
		t.Fatal(err)
	}
	wrong, err := e.client.Account(other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wrong.Verify(ctx); !errors.Is(err, mcaws.ErrWrongAccount) {
		t.Errorf("role in another account: %v", err)
	}
}

func TestErrorsAreClassifiedFromTheWire(t *testing.T) {
	clock := awsemu.NewManualClock(time.Now())
	e := newEnv(t, awsemu.Options{Clock: clock}, func(o *mcaws.Options) { o.Retryer = fastRetryer(1) })
	seedBucket(t, e, archiveBucket)
	if err := e.emu.CreateBucket(awsemu.Bucket{Name: "someone-elses", AccountID: "444455556666"}); err != nil {
		t.Fatal(err)
	}
	if err := e.emu.PutObjects(archiveBucket, awsemu.Object{Key: "deep", StorageClass: "DEEP_ARCHIVE", Size: 1}); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	a := e.acct

	cases := []struct {
		name string
		call func() error
		code string
		want string
	}{
		{"missing bucket", func() error { _, err := a.ListObjects(ctx, "no-such-bucket", ""); return err },
			"NoSuchBucket", "That S3 bucket does not exist."},
		{"missing key", func() error { _, err := a.HeadObject(ctx, archiveBucket, "nope"); return err },
			"NotFound", "That S3 object does not exist."},
		{"other account's bucket", func() error { _, err := a.ListObjects(ctx, "someone-elses", ""); return err },
			"AccessDenied", "AWS denied access: the mcloud role in this customer account is not allowed to do this."},
		{"missing EBS snapshot", func() error {
			_, err := a.CopySnapshot(ctx, mcaws.SnapshotCopy{SourceRegion: primaryRegion, SourceSnapshotID: "snap-0123456789abcdef0"})
			return err
		}, "InvalidSnapshot.NotFound", "That EBS snapshot does not exist in this account and region."},
		{"missing RDS snapshot", func() error {
			_, err := a.CopyDBSnapshot(ctx, mcaws.DBSnapshotCopy{SourceSnapshotARN: "arn:aws:rds:eu-west-1:111122223333:snapshot:gone", TargetIdentifier: "x"})
			return err
		}, "DBSnapshotNotFound", "That RDS snapshot does not exist in this account and region."},
		{"throttled", func() error {
			e.emu.InjectError("s3:RestoreObject", http.StatusServiceUnavailable, "SlowDown", 1)
			_, err := a.RestoreObject(ctx, archiveBucket, "deep", 1, mcaws.TierBulk)
			return err
		}, "SlowDown", "AWS is throttling requests right now; mcloud will retry more slowly."},
		{"EC2 throttled", func() error {
			e.emu.InjectError("ec2:DescribeVolumes", http.StatusServiceUnavailable, "RequestLimitExceeded", 1)
			_, err := a.FindVolumes(ctx, "", nil)
			return err
		}, "RequestLimitExceeded", "AWS is throttling requests right now; mcloud will retry more slowly."},
	}
	for _, tc := range cases {
		err := tc.call()
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		if c := mcaws.Classify(err); c.Code != tc.code || c.Message != tc.want || c.Detail == "" {
			t.Errorf("%s: classified %+v\n  want code %q, sentence %q", tc.name, c, tc.code, tc.want)
		}
		assertNoSecrets(t, err.Error())
	}

	// Sessions the emulator issued expire on its clock; the SDK, which
	// still trusts the expiry it was given, learns it from the response.
	clock.Advance(2 * time.Hour)
	_, err := a.FindVolumes(ctx, "", nil)
	if c := mcaws.Classify(err); c.Code != "ExpiredToken" || !c.Retryable {
		t.Errorf("expired session: %+v", c)
	}
	// The rejected credentials were dropped: the next call assumes the role
	// again and succeeds.
	assumed := e.emu.Calls("sts:AssumeRole")
	if _, err := a.FindVolumes(ctx, "", nil); err != nil {
		t.Errorf("call after expiry: %v", err)
	}
	if n := e.emu.Calls("sts:AssumeRole"); n != assumed+1 {
		t.Errorf("AssumeRole called %d times after expiry, want once", n-assumed)
	}
}

func TestRetriesThroughThrottling(t *testing.T) {
	e := newEnv(t, awsemu.Options{RestoreDelay: time.Hour})
	seedBucket(t, e, archiveBucket)
	if err := e.emu.PutObjects(archiveBucket, awsemu.Object{Key: "g", StorageClass: "GLACIER", Size: 1}); err != nil {
		t.Fatal(err)
	}
	e.emu.InjectError("s3:RestoreObject", http.StatusServiceUnavailable, "SlowDown", 2)
	out, err := e.acct.RestoreObject(ctxT(t), archiveBucket, "g", 1, mcaws.TierBulk)
	if err != nil || out != mcaws.RestoreIssued {
		t.Fatalf("restore through two SlowDowns: %v, %v", out, err)
	}
	if n := e.emu.RestoreCalls(archiveBucket, "g"); n != 3 {
		t.Errorf("%d RestoreObject calls, want 3 (two throttled, one accepted)", n)
	}
}

func TestUnreachableEndpoint(t *testing.T) {
	emu, err := awsemu.Start("", awsemu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	url := emu.URL()
	_ = emu.Close()
	client, err := mcaws.New(context.Background(), mcaws.Options{
		Region: primaryRegion, Endpoint: url, Retryer: fastRetryer(2),
		Credentials: &mcaws.StaticCredentials{AccessKeyID: baseAccessKey, SecretAccessKey: baseSecret},
	})
	if err != nil {
		t.Fatal(err)
	}
	a, err := client.Account(customer())
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.ListObjects(ctxT(t), archiveBucket, "")
	c := mcaws.Classify(err)
	if c.Code != mcaws.CodeEndpointUnreachable || c.Message != "mcloud could not reach AWS (network problem or wrong endpoint)." || !c.Retryable {
		t.Errorf("unreachable: %+v", c)
	}
	assertNoSecrets(t, err.Error())
}

func TestSentencesForCodes(t *testing.T) {
	for code, want := range map[string]string{
		"InvalidObjectState":       "That object is in Glacier or Deep Archive; it has to be restored before it can be read.",
		"RestoreAlreadyInProgress": "A restore of that object is already in progress.",
		"Throttling":               "AWS is throttling requests right now; mcloud will retry more slowly.",
		"NoSuchKey":                "That S3 object does not exist.",
		"ExpiredToken":             "The AWS session expired; mcloud will fetch fresh credentials on the next attempt.",
		"DBSnapshotNotFound":       "That RDS snapshot does not exist in this account and region.",
		"SomethingNew":             "AWS returned an error (SomethingNew).",
		"InvalidParameterValue":    "AWS rejected the request as invalid: bad value.",
	} {
		err := fmt.Errorf("do a thing: %w", &smithy.OperationError{ServiceID: "S3", OperationName: "X",
			Err: &smithy.GenericAPIError{Code: code, Message: "bad value"}})
		if got := mcaws.Describe(err); got != want {
			t.Errorf("%s: %q, want %q", code, got, want)
		}
	}
	if got := mcaws.Describe(errors.New("boom")); got != "Something went wrong talking to AWS; the details are in the logs." {
		t.Errorf("plain error: %q", got)
	}
	if got := mcaws.Describe(context.Canceled); got != "The operation was cancelled." {
		t.Errorf("cancelled: %q", got)
	}
}
