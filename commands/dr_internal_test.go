package commands

import (
	"strings"
	"testing"
	"time"

	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/aws"
	"github.com/mcloud/mcloud/integrations/store"
)

func TestChooseDRCopies(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)
	hosts := []config.Host{{Name: "web-1"}, {Name: "web-2"}}
	snap := func(id, name, state string, at time.Time, src string) aws.Snapshot {
		tags := map[string]string{"Name": name}
		if src != "" {
			tags[aws.TagSourceSnapshot] = src
		}
		return aws.Snapshot{ID: id, State: state, StartTime: at, SizeGiB: 10, Tags: tags}
	}
	for _, tt := range []struct {
		name  string
		ebs   []aws.Snapshot
		rds   map[string]aws.DBSnapshot
		taken map[string]time.Time
		want  []string // kind source snapshot host age at t0+24h
	}{
		{"newest completed per volume wins; pending ignored",
			[]aws.Snapshot{snap("s-old", "web-1-data", "completed", t0, ""), snap("s-new", "web-1-data", "completed", t0.Add(2*time.Hour), ""),
				snap("s-pending", "web-1-data", "pending", t0.Add(3*time.Hour), "")}, nil, nil,
			[]string{"EBS web-1-data s-new web-1 22h"}},
		{"a volume named after the host is its data disk; others belong to none",
			[]aws.Snapshot{snap("s-1", "web-2", "completed", t0, ""), snap("s-2", "shared", "completed", t0, "")}, nil, nil,
			[]string{"EBS shared s-2  24h", "EBS web-2 s-1 web-2 24h"}},
		{"a copy is as old as its source",
			[]aws.Snapshot{snap("s-copy", "web-1", "completed", t0.Add(time.Hour), "s-src")}, nil, map[string]time.Time{"s-src": t0},
			[]string{"EBS web-1 s-copy web-1 24h"}},
		{"an RDS copy is as old as the original",
			nil, map[string]aws.DBSnapshot{"db": {Identifier: "db-copy", Created: t0.Add(time.Hour), OriginalCreated: t0}}, nil,
			[]string{"RDS db db-copy  24h"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, p := range chooseDRCopies(tt.ebs, tt.rds, hosts, tt.taken) {
				got = append(got, strings.Join([]string{p.Kind, p.Source, p.Snapshot, p.Host, humanDuration(t0.Add(24 * time.Hour).Sub(p.Taken))}, " "))
			}
			for i := range got {
				got[i] = strings.Replace(got[i], "h00m", "h", 1)
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestDRJudge(t *testing.T) {
	start := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	picks := []drPick{{Kind: "EBS", Source: "web-1", Host: "web-1", Snapshot: "s-1", Taken: start.Add(-5 * time.Hour)},
		{Kind: "RDS", Source: "db", Snapshot: "d-1", Taken: start.Add(-2 * time.Hour)}}
	for _, tt := range []struct {
		name           string
		rpoT, rtoT     time.Duration
		took           time.Duration
		healthy        bool
		outcome, first string
	}{
		{"within", 6 * time.Hour, time.Hour, 41 * time.Minute, true, "within targets", "Drill of x/prod in dr-1: RPO 5h00m00s (target 6h00m), RTO 41m00s (target 1h00m): within targets."},
		{"stale copy first", 4 * time.Hour, time.Hour, 10 * time.Minute, true, "missed the RPO target", "WARNING: the newest DR copy is older than the RPO target of 4h00m: EBS web-1 (s-1, 5h00m old)."},
		{"slow", 6 * time.Hour, 30 * time.Minute, 41 * time.Minute, true, "missed the RTO target", "Drill of x/prod"},
		{"both", time.Hour, 30 * time.Minute, 41 * time.Minute, true, "missed the RPO and RTO target", "WARNING:"},
		{"unhealthy wins, named first", 6 * time.Hour, time.Hour, time.Minute, false, "unhealthy", "WARNING: not healthy: db (available; endpoint refused).\nDrill of x/prod in dr-1: RPO 5h00m00s (target 6h00m), RTO not reached: not all healthy after 1m00s (target 1h00m): unhealthy."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			health, bad := map[string]string{"web-1": "200 in 12ms", "db": "available, port 5432 answers in 3ms"}, []string(nil)
			if !tt.healthy {
				health["db"], bad = "available; endpoint refused", []string{"db"}
			}
			r := drReport(drFacts{Customer: "x", Env: "prod", Region: "dr-1", Start: start, Healthy: start.Add(tt.took), Picks: picks,
				Hosts: []string{"web-1", "web-2"}, AllHealthy: tt.healthy, Unhealthy: bad, Health: health})
			r.judge(tt.rpoT, tt.rtoT)
			if r.RPO != 5*time.Hour || r.RTO != tt.took || r.Outcome != tt.outcome || !strings.HasPrefix(r.Text, tt.first) {
				t.Errorf("RPO %s RTO %s outcome %q text:\n%s", r.RPO, r.RTO, r.Outcome, r.Text)
			}
			if !strings.Contains(r.Text, "host web-2 | - | - | new empty data volume | -") {
				t.Errorf("a host without a snapshot is not in the table:\n%s", r.Text)
			}
		})
	}
}

func TestDRTrend(t *testing.T) {
	run := func(rpo, rto time.Duration) store.DRRun { return store.DRRun{RPO: rpo, RTO: rto} }
	for _, tt := range []struct {
		runs []store.DRRun
		want string
	}{
		{[]store.DRRun{run(time.Hour, time.Hour)}, "Trend: one run so far."},
		{[]store.DRRun{run(time.Hour, time.Hour), run(2*time.Hour, 30*time.Minute)}, "Trend (last two): RTO down 30m00s, RPO up 1h00m00s."},
		{[]store.DRRun{run(time.Hour, time.Hour), run(time.Hour, time.Hour)}, "Trend (last two): RTO unchanged, RPO unchanged."},
	} {
		if got := drTrend(tt.runs); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

// A DR rebuild restores an environment's databases from their DR copies:
// the template it renders creates none of its own, even for an environment
// whose provision template declares one.
func TestDRTemplateCreatesNoEmptyDatabase(t *testing.T) {
	cfg, err := config.Load("../examples/mcloud.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cu := cfg.Customer("customer-x")
	env := cu.Env("staging")
	if env.Database == nil {
		t.Fatal("customer-x staging declares no database in the example; this test needs one")
	}
	tpl, err := drTemplate(cfg, cu, env, nil, 7)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(tpl, "AWS::RDS::DBInstance") {
		t.Fatalf("the DR template creates a database:\n%s", tpl)
	}
}
