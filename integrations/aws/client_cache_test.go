package aws

import (
	"sync"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
)

// Every service's client is made once per account and region, and shared
// by the account's InRegion views: a client holds a connection pool, and a
// DR rebuild works the same account in two regions.
func TestServiceClientsMadeOncePerRegion(t *testing.T) {
	c := NewFromConfig(awssdk.Config{Region: "us-east-1"}, Options{})
	a, err := c.Account(CustomerAccount{Name: "customer-x", AccountID: "123456789012", RoleARN: "arn:aws:iam::123456789012:role/mcloud",
		Region: "us-east-1", DRRegion: "eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	dr := a.InRegion("eu-west-1")
	const secretARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-admin"
	for _, tc := range []struct {
		what       string
		same       bool
		got, other any
	}{
		{"S3, no region and the primary", true, a.s3Client(""), a.s3Client("us-east-1")},
		{"S3, two regions", false, a.s3Client("us-east-1"), a.s3Client("eu-west-1")},
		{"S3, the account and its DR view", true, a.s3Client("us-east-1"), dr.s3Client("us-east-1")},
		{"EC2, the DR view's default region", true, dr.ec2Client(""), a.ec2Client("eu-west-1")},
		{"RDS, twice", true, a.rdsClient("eu-west-1"), dr.rdsClient("")},
		{"CloudFormation, twice", true, a.cfnClient(), a.cfnClient()},
		{"CloudFormation, the account and its DR view", false, a.cfnClient(), dr.cfnClient()},
		{"Route 53, the account and its DR view", true, a.route53Client(), dr.route53Client()},
		{"Secrets Manager, an ARN's region and the DR view's", true, a.secretsClient(secretARN), dr.secretsClient("db-admin")},
	} {
		if (tc.got == tc.other) != tc.same {
			t.Errorf("%s: same client = %v, want %v", tc.what, tc.got == tc.other, tc.same)
		}
	}

	// Concurrent first uses agree on one client.
	var wg sync.WaitGroup
	got := make([]any, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = a.s3Client("ap-southeast-2")
		}()
	}
	wg.Wait()
	for _, g := range got {
		if g != got[0] {
			t.Fatal("concurrent first uses made two S3 clients for one region")
		}
	}
}
