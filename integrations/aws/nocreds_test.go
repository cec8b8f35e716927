package aws_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"

	mcaws "github.com/mcloud/mcloud/integrations/aws"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
)

// TestNoBaseCredentialsIsOneSentence: when mcloud's own credentials cannot
// be had, the error says so for the customer, whatever the SDK's chain
// failed on last, and AWS is never called.
func TestNoBaseCredentialsIsOneSentence(t *testing.T) {
	emu, err := awsemu.Start("", awsemu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Close() })
	cfg, err := mcaws.LoadConfig(context.Background(), mcaws.Options{Region: primaryRegion, Endpoint: emu.URL()})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Credentials = awssdk.CredentialsProviderFunc(func(context.Context) (awssdk.Credentials, error) {
		return awssdk.Credentials{}, errors.New("no EC2 IMDS role found, dial tcp 169.254.169.254:80: connect: network is unreachable")
	})
	spec := customer()
	spec.Name = "customer-x"
	acct, err := mcaws.NewFromConfig(cfg, mcaws.Options{Retryer: fastRetryer(1)}).Account(spec)
	if err != nil {
		t.Fatal(err)
	}
	_, err = acct.Verify(ctxT(t))
	if !errors.Is(err, mcaws.ErrNoCredentials) {
		t.Fatalf("err = %v; want ErrNoCredentials", err)
	}
	c := mcaws.Classify(err)
	if !strings.HasPrefix(c.Message, "No AWS credentials for customer-x: ") || c.Retryable || strings.Contains(c.Message, "169.254") {
		t.Fatalf("classified as %+v", c)
	}
}
