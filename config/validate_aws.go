package config

import (
	"fmt"
	"regexp"
	"time"
)

// DefaultBackupMaxAge is the backup policy when backup_max_age is absent:
// nightly backups plus two hours of slack.
const DefaultBackupMaxAge = 26 * time.Hour

// BackupPolicy is how old a customer's newest backup may be before the
// backup report flags it.
func (cu *Customer) BackupPolicy() time.Duration {
	if cu.BackupMaxAge == 0 {
		return DefaultBackupMaxAge
	}
	return cu.BackupMaxAge.Std()
}

var (
	// RDS instance identifiers: a letter, then letters, digits and single
	// hyphens, at most 63, not ending in a hyphen.
	rdsIdentRE = regexp.MustCompile(`^[A-Za-z](?:[A-Za-z0-9]|-[A-Za-z0-9]){0,62}$`)
	// KMS keys as RDS's KmsKeyId takes them: key ARN, alias ARN, key id
	// or alias name.
	kmsKeyRE = regexp.MustCompile(`^(arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key/[0-9a-f-]{36}|key/mrk-[0-9a-f]{32}|alias/[A-Za-z0-9/_-]+)|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}|alias/[A-Za-z0-9/_-]+)$`)
)

// validateAWSOps checks the keys the AWS verbs use (export role, backup
// policy, RDS instances). Each problem starts with its key's path.
func (c *Config) validateAWSOps() []string {
	var p []string
	bad := func(path, format string, args ...any) {
		p = append(p, fmt.Sprintf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	for i, cu := range c.Customers {
		path := fmt.Sprintf("customers[%d]", i)
		a := cu.AWS
		if a.ExportRoleARN != "" {
			checkRoleARN(path+".aws.export_role_arn", a.ExportRoleARN, a.AccountID, "; RDS exports use a role in the customer's own account", bad)
			if a.ExportKMSKeyID == "" {
				bad(path+".aws.export_kms_key_id", "missing; RDS encrypts every snapshot export with a KMS key, so db-export needs one with export_role_arn")
			}
			if cu.Buckets.Exports == "" {
				bad(path+".buckets.exports", "missing; db-export writes to this bucket when export_role_arn is set")
			}
		}
		if a.ExportKMSKeyID != "" {
			if !kmsKeyRE.MatchString(a.ExportKMSKeyID) {
				bad(path+".aws.export_kms_key_id", "%q is not a KMS key ARN, key id or alias (like alias/mcloud-exports)", a.ExportKMSKeyID)
			}
			if a.ExportRoleARN == "" {
				bad(path+".aws.export_role_arn", "missing; export_kms_key_id is set but db-export also needs the role RDS assumes to write the export")
			}
		}
		if d := cu.BackupMaxAge.Std(); cu.BackupMaxAge != 0 && (d < time.Hour || d > 31*24*time.Hour) {
			bad(path+".backup_max_age", "must be between 1h and 744h (31 days), not %s", d)
		}
		seen := map[string]string{}
		for j, env := range cu.Environments {
			for k, id := range env.RDSInstances {
				ip := fmt.Sprintf("%s.environments[%d].rds_instances[%d]", path, j, k)
				switch {
				case !rdsIdentRE.MatchString(id):
					bad(ip, "%q is not an RDS instance identifier (a letter, then letters, digits and single hyphens, at most 63)", id)
				case seen[id] != "":
					bad(ip, "%q is already listed at %s; a database belongs to one environment", id, seen[id])
				default:
					seen[id] = ip
				}
			}
		}
	}
	return p
}
