package main

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/bot/slackfake"
	"github.com/mcloud/mcloud/config/configtest"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
	"github.com/mcloud/mcloud/integrations/store"
	"github.com/mcloud/mcloud/internal/pgtest"
)

// The acceptance test of issue 11 with `mcloud serve` itself: three serve
// processes on one PostgreSQL, Slack (the fake workspace) and AWS (the
// emulator) shared, customer-x's report every 2 s for over a minute, one
// process killed with SIGKILL halfway. Every fire time in the window gave
// one job, and Slack received its report exactly once.
func TestThreeServeReplicasPostEachReportOnce(t *testing.T) {
	bin := mcloudBinary(t)
	dbURL := pgtest.URL(t)
	ws := slackfake.New(t)
	emu, err := awsemu.Start("", awsemu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	const ext = "ext-x-replicas"
	if err := emu.AddAccount(awsemu.Account{ID: "111111111111", RoleARN: "arn:aws:iam::111111111111:role/mcloud-operator", ExternalID: ext}); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"customer-x-logs", "customer-x-artifacts", "customer-x-exports"} {
		if err := emu.CreateBucket(awsemu.Bucket{Name: b, Region: "eu-west-1", AccountID: "111111111111"}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := configtest.Example(t).
		Delete("slack.app_token").
		Set("slack.api_url", ws.APIURL()).
		Set("jobs.rescue_after", "2s").
		Set("customers[customer-x].schedules", map[string]string{"report": "@every 2s"}).
		Set("customers[customer-y].schedules", map[string]string{}).
		Write()
	env := []string{"MCLOUD_AWS_ENDPOINT=" + emu.URL(), "AWS_ACCESS_KEY_ID=AKIAMCLOUDREPLICAS01", "AWS_SECRET_ACCESS_KEY=replicas-secret",
		"AWS_REGION=eu-west-1", "AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null"}
	var servers []*server
	for range 3 {
		s := startServeEnv(t, bin, cfg, dbURL, append(env, "CUSTOMER_X_EXTERNAL_ID="+ext))
		servers = append(servers, s)
	}
	for _, s := range servers {
		select {
		case <-s.addr:
		case <-time.After(time.Minute):
			t.Fatalf("serve did not start:\n%s", s.output())
		}
	}
	time.Sleep(3 * time.Second)
	from := time.Now()
	time.Sleep(30 * time.Second)
	if err := servers[0].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed serve pid %d with SIGKILL", servers[0].cmd.Process.Pid)
	time.Sleep(31 * time.Second)
	to := time.Now()
	db, err := store.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Stop the reports, so the backlog can drain.
	if err := db.PauseSchedule(context.Background(), "customer-x", "customer-x/report", "the test window is over", mcloud.Caller{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	c := countFires(t, dbURL, from, to)
	// The outbox drains at Slack's pace (one channel, three messages a
	// report): wait until nothing is left to send, then count in Slack.
	waitDB(t, 5*time.Minute, "the outbox to drain", func() bool {
		var n int
		err := db.SQL().QueryRowContext(context.Background(), `SELECT COUNT(*) FROM outbox WHERE sent_at = 0`).Scan(&n)
		return err == nil && n == 0
	})
	perJob := map[string]int{}
	for _, m := range ws.Messages() {
		if m.Channel == "C0CUSTX" && strings.Contains(m.Text, "Backups of customer-x") {
			if f := jobRE.FindStringSubmatch(m.Text); f != nil {
				perJob[f[1]]++
			}
		}
	}
	fires, err := db.Fires(context.Background(), "customer-x/report", from)
	if err != nil {
		t.Fatal(err)
	}
	inSlack, dupInSlack := 0, 0
	for _, f := range fires {
		if f.At.After(to) {
			continue
		}
		n := perJob[strconv.FormatInt(f.RequestID, 10)]
		if n > 0 {
			inSlack++
		}
		if n > 1 {
			dupInSlack += n - 1
		}
	}
	t.Logf("window %s: fire times expected %d, claimed %d, jobs %d, report messages %d (in Slack %d), duplicates %d (in Slack %d), missed %d",
		to.Sub(from).Round(time.Second), c.expected, c.claimed, c.jobs, c.messages, inSlack, c.duplicates, dupInSlack, c.missed)
	if c.expected < 30 || c.claimed != c.expected || c.jobs != c.expected || c.messages != c.expected || c.duplicates != 0 || c.missed != 0 {
		t.Fatalf("not exactly once: %+v", c)
	}
	if inSlack != c.expected || dupInSlack != 0 {
		t.Errorf("Slack received %d reports (%d duplicates) for %d fire times", inSlack, dupInSlack, c.expected)
	}
}

var jobRE = regexp.MustCompile(`Job #(\d+) succeeded:`)
