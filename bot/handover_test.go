package bot

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/bot/slackfake"
	"github.com/mcloud/mcloud/commands"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/aws"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
	"github.com/mcloud/mcloud/integrations/web"
	"github.com/mcloud/mcloud/internal/pgtest"
)

// syncBuffer is a log both the bot's goroutines and the test use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// handoverWorld is the whole bot against the fake Slack, with the real
// AWS SDK against the emulator holding customer-x's product secret, and
// the product URLs served over HTTPS on loopback (one of them down).
type handoverWorld struct {
	*harness
	emu    *awsemu.Server
	secret string // the password, to look for where it must not be
	log    *syncBuffer
}

func newHandoverWorld(t *testing.T, dsn string) *handoverWorld {
	emu, err := awsemu.Start("", awsemu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	site := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	t.Cleanup(site.Close)
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close() // nothing answers there any more
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	externalIDs := map[string]string{"customer-x": "ext-x-handover", "customer-y": "ext-y-handover"}
	w := &handoverWorld{emu: emu, secret: "Pa55-" + fmt.Sprint(time.Now().UnixNano()), log: &syncBuffer{}}
	setup := func(cfg *config.Config, svc *commands.Service) {
		for _, cu := range cfg.Customers {
			if err := emu.AddAccount(awsemu.Account{ID: cu.AWS.AccountID, RoleARN: cu.AWS.RoleARN, ExternalID: externalIDs[cu.Name]}); err != nil {
				t.Fatal(err)
			}
		}
		cu := cfg.Customer("customer-x")
		prod := cu.Env("prod")
		prod.Products[0].URL = site.URL + "/publisher"
		prod.Products[1].URL = downURL + "/devportal"
		emu.AddSecret(awsemu.Secret{AccountID: cu.AWS.AccountID, Region: cu.AWS.Region, Name: prod.Products[0].Secret,
			Value: `{"username":"admin","password":"` + w.secret + `"}`, Rotation: true})
		client, err := aws.New(context.Background(), aws.Options{Region: "eu-west-1", Endpoint: emu.URL(),
			Credentials: &aws.StaticCredentials{AccessKeyID: "AKIAMCLOUDTEST000001", SecretAccessKey: "test-secret"}})
		if err != nil {
			t.Fatal(err)
		}
		svc.Deps.AWS = &commands.AWS{Client: client, Wait: commands.AWSWaits{PollFirst: 10 * time.Millisecond, PollMax: 50 * time.Millisecond, LinkLifetime: time.Hour},
			ExternalID: func(cu *config.Customer) (string, bool) { id, ok := externalIDs[cu.Name]; return id, ok }}
		svc.Deps.URLs = web.Checker{Client: site.Client()}
	}
	w.harness = newHarness(t, harnessOptions{dsn: dsn, log: w.log, setup: setup})
	return w
}

// handover runs carol's request and bob's approval, and waits for the
// job's last word in the plan's thread.
func (w *handoverWorld) handover(t *testing.T, line, end string) (plan slackfake.Message) {
	t.Helper()
	if status, _ := w.sendSigned("/slack/commands", w.slashBody(carol, customerX, line)); status != http.StatusOK {
		t.Fatalf("slash command answered %d", status)
	}
	w.ws.WaitFor(t, 60*time.Second, "the plan message", func() bool {
		var ok bool
		plan, ok = w.planMessage(customerX, 1)
		return ok
	})
	if n := w.emu.Calls("secretsmanager:GetSecretValue"); n != 0 {
		t.Fatalf("the secret was read %d times before approval", n)
	}
	if !strings.Contains(plan.Text, "Waiting for 1 approval from") {
		t.Errorf("the plan does not wait for DevOps approval: %q", plan.Text)
	}
	if status, _ := w.sendSigned("/slack/interactivity", w.clickBody(bob, customerX, plan.TS, ActionApprove, "1")); status != http.StatusOK {
		t.Fatalf("click answered %d", status)
	}
	w.ws.WaitFor(t, 60*time.Second, "the job's end in the thread", func() bool {
		for _, m := range w.thread(customerX, plan.TS) {
			if strings.Contains(m.Text, end) {
				return true
			}
		}
		return false
	})
	return plan
}

// leaks lists every place outside carol's DM where the secret is.
func (w *handoverWorld) leaks(t *testing.T, dsn string) []string {
	t.Helper()
	var out []string
	for _, m := range w.ws.Messages() {
		if m.Channel != slackfake.DMChannel("U0CAROL") && strings.Contains(m.Text+string(m.Blocks), w.secret) {
			out = append(out, "a message in "+m.Channel)
		}
	}
	for _, e := range w.ws.Ephemerals() {
		if strings.Contains(e.Text+string(e.Blocks), w.secret) {
			out = append(out, "an ephemeral message")
		}
	}
	if strings.Contains(w.log.String(), w.secret) {
		out = append(out, "the log (debug level)")
	}
	if strings.HasPrefix(dsn, "postgres") {
		pgDump := findPGDump(t)
		dump, err := exec.Command(pgDump, "--no-owner", "--dbname", dsn).CombinedOutput()
		if err != nil {
			t.Fatalf("pg_dump: %v\n%s", err, dump)
		}
		if !bytes.Contains(dump, []byte("outbox")) {
			t.Fatalf("the dump has no outbox table:\n%.500s", dump)
		}
		if bytes.Contains(dump, []byte(w.secret)) {
			out = append(out, "the PostgreSQL dump")
		}
	} else {
		files, _ := filepath.Glob(dsn + "*") // the database, its WAL and shared memory
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte(w.secret)) {
				out = append(out, "the SQLite file "+filepath.Base(f))
			}
		}
		if len(files) == 0 {
			t.Fatalf("no SQLite file at %s", dsn)
		}
	}
	return out
}

func findPGDump(t *testing.T) string {
	if p, err := exec.LookPath("pg_dump"); err == nil {
		return p
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_dump")
	if len(found) == 0 {
		t.Fatal("pg_dump is needed for this test (apt-get install postgresql-client)")
	}
	return found[len(found)-1]
}

func dmTexts(ws *slackfake.Workspace, user string) []string {
	var out []string
	for _, m := range ws.Messages() {
		if m.Channel == slackfake.DMChannel(user) {
			out = append(out, m.Text)
		}
	}
	return out
}

// TestHandover is issue 15's acceptance: carol asks, DevOps approves, the
// URLs land in her channel (the one that is down flagged), the credential
// only in her DM; then the secret is nowhere else: not in the database
// (SQLite file, PostgreSQL dump), the debug log, or any channel message.
// With DMs refused, the thread says so without the value.
func TestHandover(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		for _, dmFails := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/dm_fails=%v", db, dmFails), func(t *testing.T) {
				dsn := filepath.Join(t.TempDir(), "mcloud.db")
				if db == "postgres" {
					dsn = pgtest.URL(t)
				}
				w := newHandoverWorld(t, dsn)
				if dmFails {
					w.ws.RefuseDMs("U0CAROL", "messages_tab_disabled")
				}
				end := "Job #1 succeeded"
				if dmFails {
					end = "Job #1 failed"
				}
				plan := w.handover(t, "handover customer-x prod --rotate-after", end)

				var thread []string
				for _, m := range w.thread(customerX, plan.TS) {
					thread = append(thread, m.Text)
				}
				all := strings.Join(thread, "\n")
				for _, want := range []string{"API Publisher: https://127.0.0.1:", "Developer Portal: http://127.0.0.1:", "not answering from mcloud"} {
					if !strings.Contains(all, want) {
						t.Errorf("the thread lacks %q:\n%s", want, all)
					}
				}
				if strings.Contains(strings.SplitN(all, "Developer Portal", 2)[0], "not answering") {
					t.Errorf("the URL that answers is flagged:\n%s", all)
				}
				dms := dmTexts(w.ws, "U0CAROL")
				if dmFails {
					if len(dms) != 0 {
						t.Errorf("carol's DM holds %q though Slack refused it", dms)
					}
					if !strings.Contains(all, "Could not send the API Publisher credential to carol by direct message (Slack answered messages_tab_disabled)") {
						t.Errorf("the thread does not say the DM failed:\n%s", all)
					}
					if n := w.emu.Calls("secretsmanager:RotateSecret"); n != 0 {
						t.Errorf("the secret was rotated %d times after an undelivered DM", n)
					}
				} else {
					if len(dms) != 1 || !strings.Contains(dms[0], "username: admin") || !strings.Contains(dms[0], "password: "+w.secret) ||
						!strings.Contains(dms[0], "change this password after your first login") {
						t.Fatalf("carol's DMs = %q, want the credential with the reminder", dms)
					}
					if !strings.Contains(all, "Rotation of secret customer-x/prod/apim-admin started") || w.emu.Calls("secretsmanager:RotateSecret") != 1 {
						t.Errorf("the secret was not rotated once after the DM:\n%s", all)
					}
					log, err := w.db.AuditLog(context.Background(), "customer-x", time.Time{}, 100)
					if err != nil {
						t.Fatal(err)
					}
					found := false
					for _, e := range log {
						if e.Event == mcloud.AuditHandover && e.UserName == "carol" && strings.Contains(e.Detail, "secret customer-x/prod/apim-admin") &&
							strings.Contains(e.Detail, "to carol (U0CAROL)") && strings.Contains(e.Detail, "approved by bob") {
							found = true
						}
					}
					if !found {
						t.Errorf("no audit entry of the handover in %+v", log)
					}
				}
				if n := w.emu.Calls("secretsmanager:GetSecretValue"); n != 1 {
					t.Errorf("the secret was read %d times, want once, when the DM was sent", n)
				}
				if leaks := w.leaks(t, dsn); len(leaks) > 0 {
					t.Errorf("the secret's value is in %s", strings.Join(leaks, ", "))
				}
			})
		}
	}
}
