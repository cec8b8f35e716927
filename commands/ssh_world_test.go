package commands_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	xssh "golang.org/x/crypto/ssh"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/commands"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/config/configtest"
	"github.com/mcloud/mcloud/integrations/ssh/sshtest"
	"github.com/mcloud/mcloud/integrations/store"
	"github.com/mcloud/mcloud/internal/storetest"
	"github.com/mcloud/mcloud/jobs"
)

// sshWorld is the whole bot (commands, store, running job queue) with
// customer-x's prod environment made of real sshd hosts behind a real sshd
// bastion. Each host runs a fake service: systemctl and the site's
// mcloud-patch tool are scripts keeping their state in the host's
// directory, and its health endpoint, on the hosts' own loopback, answers
// 503 while the service is stopped or the host is marked unhealthy.
type sshWorld struct {
	t   testing.TB
	env *sshtest.Env
	cfg *config.Config
	svc *commands.Service
	db  *store.DB
	// patchDir holds the patch files patch.source points at.
	patchDir string
	// sequence is one file all hosts append to: the global order of what
	// ran where.
	sequence string
	prod     map[string]any // customer-x's prod environment, as configured
	// stop shuts the job queue down as the bot does on SIGTERM.
	stop func()
}

const sshLoopback = sshtest.NetworkLoopback

// fingerprint is the SHA256 fingerprint of a known_hosts line's key.
func fingerprint(t testing.TB, knownHostsLine string) string {
	t.Helper()
	_, _, key, _, _, err := xssh.ParseKnownHosts([]byte(knownHostsLine))
	if err != nil {
		t.Fatal(err)
	}
	return xssh.FingerprintSHA256(key)
}

type worldOptions struct {
	hosts       int
	parallelism int
	network     sshtest.Network
	// noPatch leaves prod without patch settings.
	noPatch bool
}

func startSSHWorld(t testing.TB, opts worldOptions) *sshWorld {
	t.Helper()
	if opts.hosts == 0 {
		opts.hosts = 3
	}
	env := sshtest.Start(t, sshtest.Options{Hosts: opts.hosts, Network: opts.network})
	w := &sshWorld{t: t, env: env, patchDir: t.TempDir(), sequence: filepath.Join(env.Dir, "sequence")}
	var hosts []map[string]any
	for _, h := range env.Hosts {
		w.scriptHost(h)
		hosts = append(hosts, map[string]any{
			"name": h.Name, "address": h.Addr(), "product": "wso2am", "service": "wso2am",
			"health_url": "http://" + w.serveHealth(h) + "/health",
			"host_key":   keyOf(t, h.KnownHostsLine),
		})
	}
	w.prod = map[string]any{"name": "prod", "hosts": hosts}
	if !opts.noPatch {
		w.prod["patch"] = map[string]any{
			"pre_check":       "systemctl is-active {service}",
			"apply":           "mcloud-patch apply {service} {patch} {file}",
			"rollback":        "systemctl stop {service}; mcloud-patch revert {service} {patch} && systemctl start {service}",
			"source":          filepath.Join(w.patchDir, "{patch}.zip"),
			"health_retries":  2,
			"health_interval": "100ms",
		}
	}
	w.open(opts.parallelism)
	return w
}

// withParallelism is another bot, with its own store and ssh.parallelism,
// on the same hosts.
func (w *sshWorld) withParallelism(n int) *sshWorld {
	w2 := *w
	w2.open(n)
	return &w2
}

// open starts the bot: configuration, store, commands, and a running job
// queue, all cleaned up with the test.
func (w *sshWorld) open(parallelism int) {
	t, env := w.t, w.env
	w.cfg = w.config(map[string]any{
		"host": env.Bastion.Host, "port": env.Bastion.Port, "user": env.User, "host_key": keyOf(t, env.Bastion.KnownHostsLine),
	}, w.prod, parallelism)

	ctx := context.Background()
	db := storetest.Open(t, "")
	svc, err := commands.New(w.cfg, db)
	if err != nil {
		t.Fatal(err)
	}
	svc.Deps.SSH = commands.NewSSHConnector(w.cfg, nil)
	q, err := jobs.New(db, svc, jobs.Options{PollInterval: 50 * time.Millisecond, RescueAfter: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	svc.SetQueue(q.Enqueue)
	qctx, cancel := context.WithCancel(ctx)
	if err := q.Start(qctx); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	w.stop = func() {
		once.Do(func() {
			cancel()
			sctx, c := context.WithTimeout(context.Background(), time.Minute)
			defer c()
			q.Stop(sctx)
		})
	}
	t.Cleanup(w.stop)
	w.svc, w.db = svc, db
}

// config is the example configuration with customer-x's bastion and prod
// environment replaced by the test's, and the bot's key set, so everything
// else (users, channels, approvals) is what the other tests know. Without
// patch settings of its own, prod has none at all: not even the example's
// defaults.patch.
func (w *sshWorld) config(bastion, prod map[string]any, parallelism int) *config.Config {
	w.t.Helper()
	ssh := map[string]any{"key_file": w.env.KeyPath, "handshake_timeout": "10s", "command_timeout": "2m"}
	if parallelism > 0 {
		ssh["parallelism"] = parallelism
	}
	b := configtest.Example(w.t).
		Set("customers[customer-x].bastion", bastion).
		Set("customers[customer-x].environments[prod]", prod).
		Set("ssh", ssh)
	if prod["patch"] == nil {
		// The environments that only change a key of defaults.patch would
		// be incomplete without it.
		b.Delete("defaults.patch").
			Delete("customers[customer-x].environments[staging].patch").
			Delete("customers[customer-y].environments[dev].patch")
	}
	return b.Config()
}

// keyOf is the "<type> <base64>" of a known_hosts line, as host_key takes it.
func keyOf(t testing.TB, knownHostsLine string) string {
	t.Helper()
	f := strings.Fields(knownHostsLine)
	if len(f) < 3 {
		t.Fatalf("known_hosts line %q", knownHostsLine)
	}
	return f[1] + " " + f[2]
}

// scriptHost installs the host's fake systemctl and mcloud-patch. Marker
// files in the host's directory script trouble: "breaks" makes an applied
// patch leave the service unhealthy (until reverted), "block-apply" makes
// apply wait for a "release" file.
func (w *sshWorld) scriptHost(h *sshtest.Server) {
	w.t.Helper()
	record := fmt.Sprintf(`d="$MCLOUD_HOST_DIR"; echo "$MCLOUD_HOST $(basename "$0") $*" >> %q; echo "$(basename "$0") $*" >> "$d/log"; echo "$SSH_CLIENT" > "$d/ssh_client"`, w.sequence)
	systemctl := record + `
case "$1" in
stop) echo inactive > "$d/$2.state" ;;
start) echo active > "$d/$2.state" ;;
is-active) s=$(cat "$d/$2.state" 2>/dev/null || echo active); echo "$s"; [ "$s" = active ] ;;
*) echo "systemctl: $1 is not scripted here" >&2; exit 2 ;;
esac
`
	patch := record + `
case "$1" in
apply)
	[ "$(cat "$d/$2.state" 2>/dev/null)" = inactive ] || { echo "mcloud-patch: $2 is running; stop it first" >&2; exit 1; }
	if [ -f "$d/block-apply" ]; then
		touch "$d/apply-started"
		n=0; while [ ! -f "$d/release" ] && [ $n -lt 1200 ]; do sleep 0.05; n=$((n+1)); done
	fi
	cp "$4" "$d/installed-$3" || exit 1
	[ -f "$d/breaks" ] && touch "$d/unhealthy"
	echo "installed $3" ;;
revert)
	rm -f "$d/installed-$3" "$d/unhealthy"
	echo "reverted $3" ;;
*) echo "usage: mcloud-patch apply|revert SERVICE PATCH [FILE]" >&2; exit 2 ;;
esac
`
	for name, body := range map[string]string{"systemctl": systemctl, "mcloud-patch": patch} {
		if err := h.WriteScript(name, body); err != nil {
			w.t.Fatal(err)
		}
	}
}

// serveHealth starts the host's health endpoint where only the host can
// reach it (the hosts' own loopback) and returns its address.
func (w *sshWorld) serveHealth(h *sshtest.Server) string {
	w.t.Helper()
	ln, err := w.env.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		w.t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		state, _ := os.ReadFile(filepath.Join(h.Dir, "wso2am.state"))
		if _, err := os.Stat(filepath.Join(h.Dir, "unhealthy")); err == nil || strings.TrimSpace(string(state)) == "inactive" {
			http.Error(rw, "unhealthy", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(rw, "ok\n")
	})}
	go srv.Serve(ln)
	w.t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// writePatch puts the file for patch id where patch.source expects it.
func (w *sshWorld) writePatch(id, content string) {
	w.t.Helper()
	if err := os.WriteFile(filepath.Join(w.patchDir, id+".zip"), []byte(content), 0o644); err != nil {
		w.t.Fatal(err)
	}
}

// mark puts a marker file in a host's directory (see scriptHost).
func (w *sshWorld) mark(host int, name string) {
	w.t.Helper()
	if err := os.WriteFile(filepath.Join(w.env.Hosts[host].Dir, name), nil, 0o644); err != nil {
		w.t.Fatal(err)
	}
}

func (w *sshWorld) exists(host int, name string) bool {
	_, err := os.Stat(filepath.Join(w.env.Hosts[host].Dir, name))
	return err == nil
}

// hostLog is what the scripts recorded on one host, one command per line.
func (w *sshWorld) hostLog(host int) []string {
	b, _ := os.ReadFile(filepath.Join(w.env.Hosts[host].Dir, "log"))
	return lines(string(b))
}

// ranSequence is every scripted command on every host, in the order run.
func (w *sshWorld) ranSequence() []string {
	b, _ := os.ReadFile(w.sequence)
	return lines(string(b))
}

func lines(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func (w *sshWorld) do(user, channel, line string) commands.Reply {
	w.t.Helper()
	return w.svc.Handle(context.Background(), caller(w.t, w.cfg, user, channel), line)
}

// request makes a request as user and has bob approve it; it returns the
// job it became.
func (w *sshWorld) request(user, channel, line string) (commands.Reply, int64) {
	w.t.Helper()
	r := w.do(user, channel, line)
	if r.Error != "" || r.Request == nil || r.Request.ID == 0 {
		w.t.Fatalf("%s: %+v", line, r)
	}
	a := w.do("bob", "devops", fmt.Sprintf("/mcloud approve %d", r.Request.ID))
	if a.Error != "" || a.Job == nil {
		w.t.Fatalf("approve request #%d: %+v", r.Request.ID, a)
	}
	return r, a.Job.ID
}

// waitJob waits for a job to finish and returns it. The runner records the
// outcome and queues its announcement in one transaction, so a finished
// job that has not said so in its thread is a failure, not a reason to wait.
func (w *sshWorld) waitJob(id int64) *mcloud.Job {
	w.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		j, err := w.db.Job(context.Background(), id)
		if err == nil && j.Status.Done() {
			if !w.announced(j) {
				w.t.Fatalf("job #%d is %s but its outcome was not queued with it", id, j.Status)
			}
			return j
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("job #%d did not finish: %+v %v", id, j, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (w *sshWorld) announced(j *mcloud.Job) bool {
	posts, _ := w.db.PendingPosts(context.Background(), 1000)
	for _, p := range posts {
		for _, end := range []string{"succeeded:", "failed:", "was cancelled:"} {
			if p.JobID == j.ID && strings.HasPrefix(p.Text, fmt.Sprintf("Job #%d %s", j.ID, end)) {
				return true
			}
		}
	}
	return false
}

// waitFor waits until cond holds, for what a script on a host does.
func (w *sshWorld) waitFor(what string, cond func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			w.t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// thread is every message posted in the thread of a request, in order.
func (w *sshWorld) thread(requestID int64) []string {
	w.t.Helper()
	posts, err := w.db.PendingPosts(context.Background(), 1000)
	if err != nil {
		w.t.Fatal(err)
	}
	var out []string
	for _, p := range posts {
		if p.RequestID == requestID {
			out = append(out, p.Text)
		}
	}
	return out
}

// auditDetails is the job's audit trail, "event: detail" per entry.
func (w *sshWorld) auditDetails(jobID int64) []string {
	w.t.Helper()
	log, err := w.db.AuditLog(context.Background(), "customer-x", time.Time{}, 1000)
	if err != nil {
		w.t.Fatal(err)
	}
	var out []string
	for _, e := range log {
		if e.JobID == jobID {
			out = append(out, e.Event+": "+e.Detail)
		}
	}
	return out
}

// containsInOrder reports whether all wants occur in got, in that order
// (several may be in one element).
func containsInOrder(got []string, wants ...string) bool {
	text := strings.Join(got, "\n")
	for _, w := range wants {
		i := strings.Index(text, w)
		if i < 0 {
			return false
		}
		text = text[i+len(w):]
	}
	return true
}
