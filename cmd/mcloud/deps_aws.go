package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/mcloud/mcloud/commands"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/aws"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
)

// awsDeps builds the AWS integration for the commands: the real AWS (or
// aws.endpoint / MCLOUD_AWS_ENDPOINT) normally, a seeded local emulator
// with sandbox. The returned func releases what it started.
//
// Real AWS: base credentials come from the SDK's default chain (AWS_*
// environment variables, shared config, instance or task role); each
// customer's role is assumed with its external id. MCLOUD_AWS_POLL_INTERVAL
// (a Go duration) shortens the first poll of long waits, for emulators and
// tests; the default is a minute, backing off to fifteen.
func awsDeps(ctx context.Context, cfg *config.Config, sandbox bool, log *slog.Logger, observe aws.ObserveFunc, machines *sandboxMachines) (commands.AWSAccounts, func(), error) {
	if sandbox {
		return sandboxAWS(ctx, cfg, log, observe, machines)
	}
	region := ""
	for _, cu := range cfg.Customers {
		if cu.AWS.RoleARN != "" && region == "" {
			region = cu.AWS.Region
		}
	}
	if region == "" {
		return nil, func() {}, nil // no customer has an AWS account: the AWS verbs say so
	}
	if os.Getenv("AWS_REGION") != "" || os.Getenv("AWS_DEFAULT_REGION") != "" {
		region = "" // the SDK's own setting wins for the base identity
	}
	endpoint := cfg.AWS.Endpoint
	if v := os.Getenv("MCLOUD_AWS_ENDPOINT"); v != "" {
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, nil, fmt.Errorf("MCLOUD_AWS_ENDPOINT: %q is not an http(s) URL", v)
		}
		endpoint = v
	}
	waits := commands.DefaultAWSWaits()
	opts := aws.Options{Region: region, Endpoint: endpoint, Observe: observe}
	if v := os.Getenv("MCLOUD_AWS_POLL_INTERVAL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, nil, fmt.Errorf("MCLOUD_AWS_POLL_INTERVAL: %q is not a positive duration like 30s", v)
		}
		waits.PollFirst, waits.PollMax = d, 15*d
		opts.WaitMinDelay, opts.WaitMaxDelay = d, 15*d
	}
	client, err := aws.New(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	if endpoint != "" {
		log.Info("AWS endpoint overridden", "endpoint", endpoint)
	}
	return &commands.AWS{Client: client, Wait: waits}, func() {}, nil
}

// Sandbox settings: AWS's hours become a quarter of a second, so restores
// keep S3's proportions (GLACIER Expedited 21 ms, Standard 1.25 s, Bulk
// 3 s; DEEP_ARCHIVE Standard 3 s, Bulk 12 s).
const (
	sandboxAccessKey = "AKIAMCLOUDSANDBOX001"
	sandboxAWSHour   = 250 * time.Millisecond
	// sandboxHistoryMonths is how far back archives go: two years before
	// this month, and back to sandboxOldestMonth if that is older.
	sandboxHistoryMonths = 24
)

// sandboxOldestMonth is the month of the README's example
// (restore-logs customer-x 2024-03), kept in the sandbox whatever today is.
var sandboxOldestMonth = time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)

// sandboxArchiveStart is the first day with archives: the first of the
// month sandboxHistoryMonths before now's, or of sandboxOldestMonth when
// that is older.
func sandboxArchiveStart(now time.Time) time.Time {
	now = now.UTC()
	start := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -sandboxHistoryMonths, 0)
	if sandboxOldestMonth.Before(start) {
		start = sandboxOldestMonth
	}
	return start
}

// sandboxAWS starts the emulator on 127.0.0.1 and seeds it with every
// configured customer: the account and role (with the external id from
// the environment, or a stand-in when it is unset), the buckets, daily
// log and artifact archives from sandboxArchiveStart to yesterday aging
// from STANDARD to GLACIER to DEEP_ARCHIVE, tagged EBS volumes and RDS databases per environment and
// their nightly snapshots, copied to the DR region for prod only (so the
// backup report has something to flag).
func sandboxAWS(ctx context.Context, cfg *config.Config, log *slog.Logger, observe aws.ObserveFunc, machines *sandboxMachines) (commands.AWSAccounts, func(), error) {
	emu, err := awsemu.Start("127.0.0.1:0", awsemu.Options{
		RestoreDelayFor: awsemu.ScaledRestoreTimes(sandboxAWSHour),
		SnapshotDelay:   time.Second,
		DBSnapshotDelay: 1500 * time.Millisecond,
		ExportDelay:     3 * time.Second,
		// A DR drill's database restore: tens of minutes in AWS.
		DBRestoreDelay: 2 * time.Second,
		// A stack of ~30 resources builds in a few seconds: long enough to
		// see progress in the thread.
		StackStepDelay: 100 * time.Millisecond,
	})
	if err != nil {
		return nil, nil, err
	}
	emu.SetMachines(machines.launch)
	externalID := func(cu *config.Customer) (string, bool) {
		if v, ok := cu.AWS.ExternalID.Value(); ok {
			return v, true
		}
		return "sandbox-" + cu.Name, true
	}
	now := time.Now().UTC()
	region := ""
	for i := range cfg.Customers {
		cu := &cfg.Customers[i]
		if cu.AWS.AccountID == "" || cu.AWS.RoleARN == "" {
			continue
		}
		if region == "" {
			region = cu.AWS.Region
		}
		ext, _ := externalID(cu)
		if err := seedCustomer(emu, cu, ext, now); err != nil {
			emu.Close()
			return nil, nil, fmt.Errorf("seed the AWS sandbox for %s: %w", cu.Name, err)
		}
		seedSecrets(emu, cu)
		seedRecords(emu, cu)
	}
	if region == "" {
		region = "us-east-1"
	}
	client, err := aws.New(ctx, aws.Options{
		Region:       region,
		Endpoint:     emu.URL(),
		Credentials:  &aws.StaticCredentials{AccessKeyID: sandboxAccessKey, SecretAccessKey: "sandbox"},
		WaitMinDelay: 100 * time.Millisecond,
		WaitMaxDelay: 500 * time.Millisecond,
		Observe:      observe,
	})
	if err != nil {
		emu.Close()
		return nil, nil, err
	}
	log.Info("AWS sandbox serving", "endpoint", emu.URL())
	waits := commands.AWSWaits{PollFirst: 200 * time.Millisecond, PollMax: time.Second, SnapshotMaxWait: 2 * time.Minute, LinkLifetime: time.Hour}
	return &commands.AWS{Client: client, Wait: waits, ExternalID: externalID}, func() { emu.Close() }, nil
}

// seedSecrets gives each product with a credential (handover) a secret in
// the customer's Secrets Manager: an admin user with a random password,
// rotation configured.
func seedSecrets(emu *awsemu.Server, cu *config.Customer) {
	for _, env := range cu.Environments {
		for _, p := range env.Products {
			name := p.Secret
			if _, after, ok := strings.Cut(name, ":secret:"); ok {
				name = after // an ARN: the emulator makes its own
			}
			if name == "" {
				continue
			}
			pw := make([]byte, 12)
			rand.Read(pw)
			emu.AddSecret(awsemu.Secret{AccountID: cu.AWS.AccountID, Region: cu.AWS.Region, Name: name, Rotation: true,
				Value: `{"username":"admin","password":"sandbox-` + hex.EncodeToString(pw) + `"}`})
		}
	}
}

// sandboxClass ages an archive like a lifecycle rule would: STANDARD for
// 30 days, GLACIER until 90, DEEP_ARCHIVE after.
func sandboxClass(age time.Duration) string {
	switch days := age.Hours() / 24; {
	case days < 30:
		return "STANDARD"
	case days < 90:
		return "GLACIER"
	}
	return "DEEP_ARCHIVE"
}

// sizeOf gives each seeded file a stable, plausible size.
func sizeOf(key string, lo, hi int64) int64 {
	h := fnv.New64a()
	h.Write([]byte(key))
	return lo + int64(h.Sum64()%uint64(hi-lo))
}

func seedCustomer(emu *awsemu.Server, cu *config.Customer, externalID string, now time.Time) error {
	acct, primary, dr := cu.AWS.AccountID, cu.AWS.Region, cu.AWS.DRRegion
	if err := emu.AddAccount(awsemu.Account{ID: acct, RoleARN: cu.AWS.RoleARN, ExternalID: externalID}); err != nil {
		return err
	}
	for _, b := range []string{cu.Buckets.Logs, cu.Buckets.Artifacts, cu.Buckets.Exports} {
		if b == "" {
			continue
		}
		if err := emu.CreateBucket(awsemu.Bucket{Name: b, Region: primary, AccountID: acct}); err != nil {
			return err
		}
	}

	// Archives: one file per host (logs) or product (artifacts) per day,
	// written just before midnight, under <root><env>/<source>/YYYY/MM/DD/.
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	for _, env := range cu.Environments {
		var logs, artifacts []awsemu.Object
		products := map[string]bool{}
		for _, h := range env.Hosts {
			if h.Product != "" {
				products[h.Product] = true
			}
		}
		productNames := make([]string, 0, len(products))
		for p := range products {
			productNames = append(productNames, p)
		}
		sort.Strings(productNames)
		for day := sandboxArchiveStart(now); day.Before(today); day = day.AddDate(0, 0, 1) {
			written := day.Add(23*time.Hour + 55*time.Minute)
			date := written.Format("2006/01/02")
			class := sandboxClass(now.Sub(written))
			for _, h := range env.Hosts {
				key := fmt.Sprintf("logs/%s/%s/%s/%s-%s.log.gz", env.Name, h.Name, date, h.Name, written.Format("2006-01-02"))
				logs = append(logs, awsemu.Object{Key: key, StorageClass: class, Size: sizeOf(key, 20<<20, 90<<20), LastModified: written})
			}
			for _, p := range productNames {
				key := fmt.Sprintf("artifacts/%s/%s/%s/%s-artifacts-%s.tar.gz", env.Name, p, date, p, written.Format("2006-01-02"))
				artifacts = append(artifacts, awsemu.Object{Key: key, StorageClass: class, Size: sizeOf(key, 150<<20, 400<<20), LastModified: written})
			}
		}
		if cu.Buckets.Logs != "" {
			if err := emu.PutObjects(cu.Buckets.Logs, logs...); err != nil {
				return err
			}
		}
		if cu.Buckets.Artifacts != "" {
			if err := emu.PutObjects(cu.Buckets.Artifacts, artifacts...); err != nil {
				return err
			}
		}

		// Volumes and databases, with last night's and the night before's
		// snapshots; DR copies of both for prod, only of the older one
		// elsewhere.
		tags := map[string]string{commands.TagCustomer: cu.Name, commands.TagEnv: env.Name}
		nights := []time.Time{now.Add(-44 * time.Hour), now.Add(-20 * time.Hour)}
		copied := func(night int) bool { return dr != "" && (env.Name == "prod" || night == 0) }
		for _, h := range env.Hosts {
			vt := withTag(tags, "Name", h.Name)
			vol := emu.AddVolume(awsemu.Volume{AccountID: acct, Region: primary, SizeGiB: 50, Tags: vt})
			for n, at := range nights {
				desc := fmt.Sprintf("nightly backup of %s", h.Name)
				snap := emu.AddSnapshot(awsemu.Snapshot{AccountID: acct, Region: primary, VolumeID: vol, Description: desc, SizeGiB: 50, StartTime: at, Tags: vt})
				if copied(n) {
					emu.AddSnapshot(awsemu.Snapshot{AccountID: acct, Region: dr, VolumeID: "vol-ffffffff", Description: desc + " (DR copy)", SizeGiB: 50,
						StartTime: at.Add(30 * time.Minute), Tags: withTag(vt, aws.TagSourceSnapshot, snap)})
				}
			}
		}
		dbs := env.RDSInstances
		if len(dbs) == 0 {
			dbs = []string{strings.Trim(cu.Name+"-"+env.Name+"-db", "-")}
		}
		for _, id := range dbs {
			if _, err := emu.AddDBInstance(awsemu.DBInstance{AccountID: acct, Region: primary, Identifier: id, Engine: "postgres", StorageGiB: 100, Tags: tags}); err != nil {
				return err
			}
			for n, at := range nights {
				name := fmt.Sprintf("rds:%s-%s", id, at.Format("2006-01-02-15-04"))
				if _, err := emu.AddDBSnapshot(awsemu.DBSnapshot{AccountID: acct, Region: primary, Identifier: name, InstanceIdentifier: id, Type: "automated", Created: at}); err != nil {
					return err
				}
				if copied(n) {
					drName := fmt.Sprintf("%s-dr-%s", id, at.Format("2006-01-02-15-04"))
					if _, err := emu.AddDBSnapshot(awsemu.DBSnapshot{AccountID: acct, Region: dr, Identifier: drName, InstanceIdentifier: id, Created: at}); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// seedRecords gives each record dr failover switches its primary value:
// the host's configured address (a documentation address for "bastion").
func seedRecords(emu *awsemu.Server, cu *config.Customer) {
	for _, r := range cu.DR.Records {
		addr := "203.0.113.22"
		if env := cu.Env(r.Env); env != nil {
			for _, h := range env.Hosts {
				if h.Name == r.Host {
					addr = h.Address
				}
			}
		}
		emu.AddRecord(awsemu.Record{AccountID: cu.AWS.AccountID, ZoneID: r.ZoneID, Name: r.Name, Values: []string{addr}})
	}
}

func withTag(tags map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(tags)+1)
	for tk, tv := range tags {
		out[tk] = tv
	}
	out[k] = v
	return out
}
