package aws

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// SecretValue is a secret read from Secrets Manager. It prints, logs and
// marshals as "<redacted>", so a stray %v, slog attribute or JSON encoding
// cannot leak it; only Reveal gives the value, at the one place that
// sends it.
type SecretValue struct {
	value     string
	VersionID string
}

// Reveal returns the secret's value.
func (s SecretValue) Reveal() string { return s.value }

func (SecretValue) String() string   { return "<redacted>" }
func (SecretValue) GoString() string { return "<redacted>" }

// LogValue keeps the value out of slog at every level.
func (SecretValue) LogValue() slog.Value { return slog.StringValue("<redacted>") }

// MarshalJSON keeps the value out of anything encoded (job steps, params).
func (SecretValue) MarshalJSON() ([]byte, error) { return json.Marshal("<redacted>") }

// SecretInfo is what DescribeSecret tells about a secret, never its value.
type SecretInfo struct {
	Name, ARN       string
	RotationEnabled bool
	LastRotated     time.Time
	LastChanged     time.Time
}

// secretsClient is the Secrets Manager client of the secret's region: the
// one an ARN names, else the account's.
func (a *Account) secretsClient(secretID string) *secretsmanager.Client {
	region := a.spec.Region
	if parsed, err := arn.Parse(secretID); err == nil && parsed.Region != "" {
		region = parsed.Region
	}
	return a.clients.secrets.get(a.region(region), func(region string) *secretsmanager.Client {
		return secretsmanager.NewFromConfig(a.cfg, func(o *secretsmanager.Options) { o.Region = region })
	})
}

// DescribeSecret tells whether secretID (a name or an ARN) exists and how
// it is rotated, without reading its value.
func (a *Account) DescribeSecret(ctx context.Context, secretID string) (SecretInfo, error) {
	out, err := a.secretsClient(secretID).DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: awssdk.String(secretID)})
	if err != nil {
		return SecretInfo{}, fmt.Errorf("describe secret %s: %w", secretID, err)
	}
	return SecretInfo{Name: awssdk.ToString(out.Name), ARN: awssdk.ToString(out.ARN), RotationEnabled: awssdk.ToBool(out.RotationEnabled),
		LastRotated: awssdk.ToTime(out.LastRotatedDate), LastChanged: awssdk.ToTime(out.LastChangedDate)}, nil
}

// GetSecretValue reads the current version of secretID. A binary secret
// is returned as its bytes. The error never carries the value (AWS's
// errors do not echo it).
func (a *Account) GetSecretValue(ctx context.Context, secretID string) (SecretValue, error) {
	out, err := a.secretsClient(secretID).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: awssdk.String(secretID)})
	if err != nil {
		return SecretValue{}, fmt.Errorf("read secret %s: %w", secretID, err)
	}
	v := SecretValue{value: awssdk.ToString(out.SecretString), VersionID: awssdk.ToString(out.VersionId)}
	if out.SecretString == nil {
		v.value = string(out.SecretBinary)
	}
	return v, nil
}

// RotateSecret starts the secret's configured rotation now and returns
// the id of the version being created.
func (a *Account) RotateSecret(ctx context.Context, secretID string) (string, error) {
	out, err := a.secretsClient(secretID).RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: awssdk.String(secretID)})
	if err != nil {
		return "", fmt.Errorf("rotate secret %s: %w", secretID, err)
	}
	return awssdk.ToString(out.VersionId), nil
}
