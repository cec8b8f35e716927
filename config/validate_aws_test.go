package config_test

import (
	"testing"
	"time"

	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/config/configtest"
)

// The AWS verbs' keys are refused with the exact key and why.
func TestAWSOpsKeysNameTheKey(t *testing.T) {
	expectInvalid(t, []edit{
		{"export role in another account", set("customers[0].aws.export_role_arn", "arn:aws:iam::999999999999:role/x"),
			"customers[0].aws.export_role_arn: is in account 999999999999 but account_id is 111111111111"},
		{"export role not an ARN", set("customers[0].aws.export_role_arn", "mcloud-rds-export"), `customers[0].aws.export_role_arn: "mcloud-rds-export" is not an IAM role ARN`},
		{"export role without key", del("customers[0].aws.export_kms_key_id"), "customers[0].aws.export_kms_key_id: missing; RDS encrypts every snapshot export with a KMS key"},
		{"key without role", del("customers[0].aws.export_role_arn"), "customers[0].aws.export_role_arn: missing; export_kms_key_id is set"},
		{"bad key", set("customers[0].aws.export_kms_key_id", "my-key"), `customers[0].aws.export_kms_key_id: "my-key" is not a KMS key ARN, key id or alias`},
		{"export without bucket", del("customers[0].buckets.exports"), "customers[0].buckets.exports: missing; db-export writes to this bucket"},
		{"backup policy too short", set("customers[0].backup_max_age", "10m"), "customers[0].backup_max_age: must be between 1h and 744h (31 days), not 10m0s"},
		{"backup policy not a duration", set("customers[0].backup_max_age", "daily"), "customers[0].backup_max_age: not a duration"},
		{"rds instance name", set("customers[0].environments[1].rds_instances", []string{"x_stg_db"}),
			`customers[0].environments[1].rds_instances[0]: "x_stg_db" is not an RDS instance identifier`},
		{"rds instance twice", set("customers[0].environments[1].rds_instances", []string{"x-db", "x-db"}),
			`customers[0].environments[1].rds_instances[1]: "x-db" is already listed at customers[0].environments[1].rds_instances[0]`},
	})
}

func TestAWSOpsKeysAccepted(t *testing.T) {
	for _, key := range []string{
		"arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		"1234abcd-12ab-34cd-56ef-1234567890ab",
		"arn:aws:kms:eu-west-1:111111111111:alias/exports",
		"mrk-1234abcd12ab34cd56ef1234567890ab",
	} {
		c, err := configtest.Example(t).
			Set("customers[0].aws.export_kms_key_id", key).
			Set("customers[0].environments[1].rds_instances", []string{"x-stg-db", "x-stg-db-replica"}).
			Parse()
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
