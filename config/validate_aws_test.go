package config_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mcloud/mcloud/config"
)

// The AWS verbs' keys are refused with the exact key and why.
func TestAWSOpsKeysNameTheKey(t *testing.T) {
	const roleX = "export_role_arn: arn:aws:iam::111111111111:role/mcloud-rds-export"
	const kmsX = "export_kms_key_id: alias/mcloud-exports"
	expectInvalid(t, []edit{
		{"export role in another account", roleX, "export_role_arn: arn:aws:iam::999999999999:role/x",
			"customers[0].aws.export_role_arn: is in account 999999999999 but account_id is 111111111111"},
		{"export role not an ARN", roleX, "export_role_arn: mcloud-rds-export", `customers[0].aws.export_role_arn: "mcloud-rds-export" is not an IAM role ARN`},
		{"export role without key", kmsX + "\n", "\n", "customers[0].aws.export_kms_key_id: missing; RDS encrypts every snapshot export with a KMS key"},
		{"key without role", roleX + "\n", "\n", "customers[0].aws.export_role_arn: missing; export_kms_key_id is set"},
		{"bad key", kmsX, "export_kms_key_id: my-key", `customers[0].aws.export_kms_key_id: "my-key" is not a KMS key ARN, key id or alias`},
		{"export without bucket", "exports: customer-x-exports", "", "customers[0].buckets.exports: missing; db-export writes to this bucket"},
		{"backup policy too short", "backup_max_age: 26h", "backup_max_age: 10m", "customers[0].backup_max_age: must be between 1h and 744h (31 days), not 10m0s"},
		{"backup policy not a duration", "backup_max_age: 26h", "backup_max_age: daily", "customers[0].backup_max_age: not a duration"},
		{"rds instance name", "      - name: staging\n", "      - name: staging\n        rds_instances: [x_stg_db]\n",
			`customers[0].environments[1].rds_instances[0]: "x_stg_db" is not an RDS instance identifier`},
		{"rds instance twice", "      - name: staging\n", "      - name: staging\n        rds_instances: [x-db, x-db]\n",
			`customers[0].environments[1].rds_instances[1]: "x-db" is already listed at customers[0].environments[1].rds_instances[0]`},
	})
}

func TestAWSOpsKeysAccepted(t *testing.T) {
	base, err := os.ReadFile("../examples/mcloud.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{
		"arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		"1234abcd-12ab-34cd-56ef-1234567890ab",
		"arn:aws:kms:eu-west-1:111111111111:alias/exports",
		"mrk-1234abcd12ab34cd56ef1234567890ab",
	} {
		text := strings.Replace(string(base), "export_kms_key_id: alias/mcloud-exports", "export_kms_key_id: "+key, 1)
		text = strings.Replace(text, "      - name: staging\n", "      - name: staging\n        rds_instances: [x-stg-db, x-stg-db-replica]\n", 1)
		c, err := config.Parse([]byte(text))
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if got := c.Customer("customer-x").Env("staging").RDSInstances; len(got) != 2 {
			t.Fatalf("rds_instances = %v", got)
		}
	}
	c := mustLoadExample(t)
	if got := c.Customer("customer-x").BackupPolicy(); got != 26*time.Hour {
		t.Errorf("customer-x policy = %s", got)
	}
	if got := c.Customer("customer-y").BackupPolicy(); got != config.DefaultBackupMaxAge {
		t.Errorf("customer-y (no backup_max_age) policy = %s, want the default", got)
	}
}
