package aws_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	mcaws "github.com/mcloud/mcloud/integrations/aws"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
)

// Secrets are read with the customer's role, through the real SDK, and
// never printed by accident.
func TestSecretsManager(t *testing.T) {
	e := newEnv(t, awsemu.Options{})
	ctx := ctxT(t)
	const value = `{"username":"admin","password":"s3cr3t-Pa55"}`
	arn := e.emu.AddSecret(awsemu.Secret{AccountID: testAccountID, Region: primaryRegion, Name: "x/prod/apim-admin", Value: value, Rotation: true})
	e.emu.AddSecret(awsemu.Secret{AccountID: testAccountID, Region: primaryRegion, Name: "x/prod/plain", Value: "just-a-password"})

	info, err := e.acct.DescribeSecret(ctx, "x/prod/apim-admin")
	if err != nil {
		t.Fatal(err)
	}
	if info.ARN != arn || !info.RotationEnabled || !info.LastRotated.IsZero() {
		t.Errorf("DescribeSecret = %+v", info)
	}
	for _, id := range []string{"x/prod/apim-admin", arn} {
		v, err := e.acct.GetSecretValue(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if v.Reveal() != value {
			t.Errorf("GetSecretValue(%s) = %q", id, v.Reveal())
		}
		var buf strings.Builder
		slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})).Debug("read", "secret", v)
		js, _ := json.Marshal(map[string]any{"v": v})
		if printed := fmt.Sprintf("%v %+v %#v %s", v, v, v, v) + buf.String() + string(js); strings.Contains(printed, "Pa55") {
			t.Errorf("the value leaks when printed: %s", printed)
		}
	}

	version, err := e.acct.RotateSecret(ctx, "x/prod/apim-admin")
	if err != nil || version == "" {
		t.Fatalf("RotateSecret = %q, %v", version, err)
	}
	if v, _ := e.acct.GetSecretValue(ctx, "x/prod/apim-admin"); v.Reveal() == value || !strings.Contains(v.Reveal(), `"username":"admin"`) {
		t.Errorf("after rotation the value is %q, want a new password for admin", v.Reveal())
	}
	if _, err := e.acct.RotateSecret(ctx, "x/prod/plain"); mcaws.Code(err) != "InvalidRequestException" {
		t.Errorf("rotating a secret without rotation = %v, want InvalidRequestException", err)
	}
	if _, err := e.acct.GetSecretValue(ctx, "x/prod/missing"); mcaws.Code(err) != "ResourceNotFoundException" {
		t.Errorf("a missing secret = %v, want ResourceNotFoundException", err)
	}
	// Another account's role cannot see it.
	if err := e.emu.AddAccount(awsemu.Account{ID: "999988887777", RoleARN: "arn:aws:iam::999988887777:role/mcloud-ops"}); err != nil {
		t.Fatal(err)
	}
	other, err := e.client.Account(mcaws.CustomerAccount{AccountID: "999988887777", RoleARN: "arn:aws:iam::999988887777:role/mcloud-ops", Region: primaryRegion})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.GetSecretValue(ctx, "x/prod/apim-admin"); mcaws.Code(err) != "ResourceNotFoundException" {
		t.Errorf("another account read the secret: %v", err)
	}
	if n := e.emu.Calls("secretsmanager:GetSecretValue"); n != 5 {
		t.Errorf("emulator counted %d GetSecretValue calls, want 5", n)
	}
}
