package aws_test

import (
	"context"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"

	mcaws "github.com/mcloud/mcloud/integrations/aws"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
)

const (
	testAccountID  = "111122223333"
	testRoleARN    = "arn:aws:iam::111122223333:role/mcloud-ops"
	testExternalID = "ext-7f3a9c1e-acme"
	primaryRegion  = "eu-west-1"
	drRegion       = "eu-central-1"
	baseAccessKey  = "AKIAMCLOUDBASE000001"
	baseSecret     = "base-secret-that-must-never-be-logged"
)

// env is one emulator plus a Client pointed at it with the customer
// account seeded, the way the bot's sandbox mode wires them.
type env struct {
	emu    *awsemu.Server
	client *mcaws.Client
	acct   *mcaws.Account
}

func customer() mcaws.CustomerAccount {
	return mcaws.CustomerAccount{
		AccountID: testAccountID, RoleARN: testRoleARN, ExternalID: testExternalID,
		Region: primaryRegion, DRRegion: drRegion,
	}
}

// fastRetryer keeps the standard retry policy but with millisecond backoff
// so tests that provoke retries stay quick.
func fastRetryer(attempts int) func() awssdk.Retryer {
	return func() awssdk.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = attempts
			o.MaxBackoff = 5 * time.Millisecond
		})
	}
}

func newEnv(tb testing.TB, eo awsemu.Options, mutate ...func(*mcaws.Options)) *env {
	tb.Helper()
	emu, err := awsemu.Start("", eo)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = emu.Close() })
	if err := emu.AddAccount(awsemu.Account{ID: testAccountID, RoleARN: testRoleARN, ExternalID: testExternalID}); err != nil {
		tb.Fatal(err)
	}
	opts := mcaws.Options{
		Region:       primaryRegion,
		Endpoint:     emu.URL(),
		Credentials:  &mcaws.StaticCredentials{AccessKeyID: baseAccessKey, SecretAccessKey: baseSecret},
		Retryer:      fastRetryer(3),
		WaitMinDelay: 20 * time.Millisecond,
		WaitMaxDelay: 80 * time.Millisecond,
	}
	for _, m := range mutate {
		m(&opts)
	}
	client, err := mcaws.New(context.Background(), opts)
	if err != nil {
		tb.Fatal(err)
	}
	acct, err := client.Account(customer())
	if err != nil {
		tb.Fatal(err)
	}
	return &env{emu: emu, client: client, acct: acct}
}

func ctxT(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	tb.Cleanup(cancel)
	return ctx
}
