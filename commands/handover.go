package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/aws"
	mssh "github.com/mcloud/mcloud/integrations/ssh"
	"github.com/mcloud/mcloud/integrations/web"
	"github.com/mcloud/mcloud/provision"
)

// handover gives a customer their environment: the product URLs in the
// channel, and each product's admin credential, read from the customer's
// AWS Secrets Manager, to one person by direct message. The credential is
// read inside the direct message's content function, so it exists only
// while that message is sent: never in a request, a job step, the outbox,
// the audit log, a log line or an error.
func handoverVerb() *Verb {
	return &Verb{
		Name:    "handover",
		Summary: "post an environment's product URLs in the channel and send their admin credentials by direct message",
		Help: "Checks each product URL of the environment (from the configuration's environments[].products, or the provisioning " +
			"stack's output a product's url_output names), from the bot or, with check: bastion, from the customer's bastion, and posts them " +
			"in the customer's channel, flagging any that does not answer. Each product's admin credential is read from the " +
			"customer's AWS Secrets Manager when it is sent, and sent only as a direct message to the requester, or to --to " +
			"(a user of that customer, or of the DevOps team), with a reminder to change the password after the first login; " +
			"it is never stored, logged or posted in a channel. --rotate-after starts the secret's rotation once the message " +
			"is delivered.",
		Examples: []string{"/mcloud handover customer-x prod", "/mcloud handover customer-x prod --to @carol --rotate-after"},
		Spec: Spec{
			Args: []Arg{
				{Name: "customer", Kind: KindCustomer, About: "whose environment to hand over"},
				{Name: "env", Kind: KindEnv, About: "which environment"},
			},
			Flags: []Flag{{Name: "to", Kind: KindWord}, {Name: "rotate-after", Bool: true}},
		},
		Access:            mcloud.AccessCustomer,
		DevOpsApprovals:   1,
		CustomerApprovals: 1,
		DryRun:            true,
		// A direct message cannot be looked up like a channel post, so a
		// resumed job could send a credential twice: an interrupted
		// handover fails visibly and is asked for again.
		Resumable: false,
		Plan:      planHandover,
		Execute:   runHandover,
	}
}

// Secrets is the slice of *aws.Account handover calls.
type Secrets interface {
	DescribeSecret(ctx context.Context, secretID string) (aws.SecretInfo, error)
	GetSecretValue(ctx context.Context, secretID string) (aws.SecretValue, error)
	RotateSecret(ctx context.Context, secretID string) (string, error)
}

// URLChecker tells whether a URL answers; the error is a short reason.
type URLChecker interface {
	CheckURL(ctx context.Context, url string) error
}

// recipient is who receives the credentials.
type recipient struct {
	UserID, Name string
}

// handoverRecipient decides who may receive customer cu's credentials:
// the requester (already authorized for cu), or with to (a mention
// "<@U123|name>", "@name", a name or a user id) a configured user of cu
// or a member of the DevOps team. Anyone else, a user of another customer
// above all, is refused: the credentials are cu's.
func handoverRecipient(cfg *config.Config, cu *config.Customer, caller mcloud.Caller, to string) (recipient, error) {
	if to == "" {
		return recipient{UserID: caller.UserID, Name: caller.Name}, nil
	}
	who := strings.TrimSuffix(strings.TrimPrefix(to, "<@"), ">")
	if id, _, ok := strings.Cut(who, "|"); ok {
		who = id
	}
	who = strings.TrimPrefix(who, "@")
	match := func(u config.User) bool { return u.ID == who || strings.EqualFold(u.Name, who) }
	for _, u := range cu.Users {
		if match(u) {
			return recipient{UserID: u.ID, Name: u.Name}, nil
		}
	}
	for _, u := range cfg.Team.Users {
		if match(u) {
			return recipient{UserID: u.ID, Name: u.Name}, nil
		}
	}
	if match(config.User{ID: caller.UserID, Name: caller.Name}) && caller.Role == mcloud.RoleCustomer && caller.Customer == cu.Name {
		return recipient{UserID: caller.UserID, Name: caller.Name}, nil
	}
	for _, other := range cfg.Customers {
		for _, u := range other.Users {
			if match(u) {
				return recipient{}, mcloud.Errorf(mcloud.EUNAUTHORIZED, "%s is a user of %s, not of %s: %s's credentials go only to %s's users or the DevOps team.",
					u.Name, other.Name, cu.Name, cu.Name, cu.Name)
			}
		}
	}
	return recipient{}, mcloud.Errorf(mcloud.EUNAUTHORIZED, "%s is neither a user of %s nor on the DevOps team in mcloud's configuration; %s's credentials go only to them.",
		to, cu.Name, cu.Name)
}

func planHandover(ctx context.Context, c *Call) (mcloud.Plan, error) {
	cu, env := c.Customer, c.Env
	to, err := handoverRecipient(c.svc.cfg, cu, c.Caller, c.Params["to"])
	if err != nil {
		return mcloud.Plan{}, err
	}
	if len(env.Products) == 0 {
		return mcloud.Plan{}, mcloud.Errorf(mcloud.ECONFLICT, "%s/%s has no products in mcloud's configuration (environments[].products with name, url and secret); there is nothing to hand over.",
			cu.Name, env.Name)
	}
	// The job sends to exactly the person the approver saw in the plan.
	c.Params["to"] = to.UserID
	rotate := c.Params["rotate-after"] == "true"
	p := mcloud.Plan{Summary: fmt.Sprintf("Hand %s/%s over: %s in #%s, %s to %s by direct message", cu.Name, env.Name,
		nOf(len(env.Products), "product URL", "product URLs"), cu.Channel.Name, nOf(len(withSecrets(env.Products)), "credential", "credentials"), to.Name)}
	for _, pr := range env.Products {
		url := pr.URL
		if url == "" {
			url = fmt.Sprintf("the URL in output %s of stack %s", pr.URLOutput, provision.StackName(cu.Name, env.Name))
		}
		p.Steps = append(p.Steps, fmt.Sprintf("check %s from %s and post it in #%s (%s)", url, checkFrom(pr), cu.Channel.Name, pr.Name))
	}
	for _, pr := range withSecrets(env.Products) {
		step := fmt.Sprintf("send the admin credential of %s (secret %s) to %s by direct message only", pr.Name, pr.Secret, to.Name)
		if rotate {
			step += ", then rotate the secret"
		}
		p.Steps = append(p.Steps, step)
	}
	p.Notes = append(p.Notes,
		fmt.Sprintf("Credentials are read from AWS Secrets Manager in %s with role %s at the moment each message is sent; they are never stored, logged or posted in a channel.", cu.AWS.Region, cu.AWS.RoleARN),
		"The message reminds the recipient to change the password after the first login.")
	if rotate {
		p.Notes = append(p.Notes, "--rotate-after: each secret's rotation function runs once its message is delivered, so the value sent stops working when the rotation completes.")
	}
	return p, nil
}

func withSecrets(ps []config.Product) []config.Product {
	var out []config.Product
	for _, p := range ps {
		if p.Secret != "" {
			out = append(out, p)
		}
	}
	return out
}

func runHandover(ctx context.Context, x *Exec) (string, error) {
	cu, env := x.Customer, x.Env
	to := recipient{UserID: x.Params["to"], Name: x.svc.cfg.UserName(x.Params["to"])}
	products, missing := x.stackURLs(ctx)
	if _, err := x.Step(ctx, "post URLs", func(ctx context.Context) (string, error) {
		checkers := map[string]URLChecker{"bot": x.svc.Deps.URLs}
		if via := viaBastion(products); via {
			c, closeIt := x.checkerViaBastion(ctx)
			defer closeIt()
			checkers["bastion"] = c
		}
		text, down := productURLs(ctx, checkers, cu, env.Name, products, missing)
		x.Say(ctx, text)
		if x.Job.ChannelID != cu.Channel.ID {
			x.svc.post(ctx, cu.Channel.ID, 0, x.Job.ID, text)
		}
		if down > 0 {
			return fmt.Sprintf("%d posted in #%s, %d of them not answering", len(env.Products), cu.Channel.Name, down), nil
		}
		return fmt.Sprintf("%d posted in #%s, all answering", len(env.Products), cu.Channel.Name), nil
	}); err != nil {
		return "", err
	}
	products = withSecrets(products)
	if len(products) == 0 {
		return fmt.Sprintf("%s/%s handed over: URLs posted; no product has a credential to send", cu.Name, env.Name), nil
	}
	if x.svc.Deps.DM == nil {
		return "", mcloud.Errorf(mcloud.ECONFLICT, "This mcloud cannot send direct messages, so no credential was sent; ask the DevOps team.")
	}
	var secrets Secrets
	secrets, err := x.svc.account(cu)
	if err != nil {
		return "", err
	}
	rotate := x.Params["rotate-after"] == "true"
	for _, pr := range products {
		if _, err := x.Step(ctx, "send "+pr.Name+" credential", func(ctx context.Context) (string, error) {
			return sendCredential(ctx, x, secrets, pr, to)
		}); err != nil {
			return "", err
		}
		if !rotate {
			continue
		}
		if _, err := x.Step(ctx, "rotate "+pr.Secret, func(ctx context.Context) (string, error) {
			return rotateSecret(ctx, x, secrets, pr)
		}); err != nil {
			return "", err
		}
	}
	summary := fmt.Sprintf("%s/%s handed over: URLs posted in #%s, %s sent to %s by direct message", cu.Name, env.Name, cu.Channel.Name,
		nOf(len(products), "credential", "credentials"), to.Name)
	if rotate {
		summary += "; rotation started"
	}
	return summary, nil
}

// checkFrom is where a product's URL is checked from: "bot" or "bastion".
func checkFrom(p config.Product) string {
	if p.Check == "" {
		return "bot"
	}
	return p.Check
}

func viaBastion(ps []config.Product) bool {
	for _, p := range ps {
		if checkFrom(p) == "bastion" {
			return true
		}
	}
	return false
}

// stackURLs returns the environment's products with the URLs their
// url_output names filled from the provisioning stack's outputs, and why
// each one that could not be filled stays empty (by product name).
func (x *Exec) stackURLs(ctx context.Context) ([]config.Product, map[string]string) {
	cu, env := x.Customer, x.Env
	need := false
	for _, p := range env.Products {
		need = need || (p.URL == "" && p.URLOutput != "")
	}
	if !need {
		return env.Products, nil
	}
	stackName := provision.StackName(cu.Name, env.Name)
	var outputs map[string]string
	why := ""
	acct, err := x.svc.cfnAccount(cu)
	if err == nil {
		var st aws.Stack
		st, err = acct.Stack(ctx, stackName)
		outputs = st.Outputs
	}
	switch {
	case errors.Is(err, aws.ErrNoStack):
		why = "stack " + stackName + " does not exist yet: run /mcloud provision " + cu.Name + " " + env.Name
	case err != nil:
		x.svc.Log.Error("read stack outputs for handover", "job", x.Job.ID, "stack", stackName, "err", err)
		why = "stack " + stackName + " could not be read; the DevOps team has the details in the bot's log"
	}
	return withStackURLs(env.Products, outputs, stackName, why)
}

// withStackURLs fills the URL of each product that has none from the
// stack output its url_output names; a configured url wins. why, when not
// empty, is why the outputs are unknown. Pure.
func withStackURLs(ps []config.Product, outputs map[string]string, stackName, why string) ([]config.Product, map[string]string) {
	out := make([]config.Product, len(ps))
	missing := map[string]string{}
	for i, p := range ps {
		if p.URL == "" && p.URLOutput != "" {
			switch v := outputs[p.URLOutput]; {
			case why != "":
				missing[p.Name] = why
			case v == "":
				missing[p.Name] = "stack " + stackName + " has no output " + p.URLOutput
			default:
				p.URL = v
			}
		}
		out[i] = p
	}
	return out, missing
}

// checkerViaBastion checks URLs from the customer's bastion: the HTTP
// connection is opened by the bastion's sshd, so the answer is the one the
// customer's network gets. Without SSH every such URL is flagged.
func (x *Exec) checkerViaBastion(ctx context.Context) (URLChecker, func()) {
	if x.svc.Deps.SSH == nil {
		return failingChecker{"SSH is not set up in this bot, so the bastion cannot ask"}, func() {}
	}
	sess, err := x.connectSSH(ctx)
	if err != nil {
		return failingChecker{"the bot could not set up SSH to the bastion"}, func() {}
	}
	d, ok := sess.(interface {
		DialViaBastion(ctx context.Context, network, addr string) (net.Conn, error)
	})
	if !ok {
		sess.Close()
		return failingChecker{"the bot's SSH cannot reach through the bastion"}, func() {}
	}
	// No proxy from the bot's environment: the point is to ask from the
	// bastion.
	var down atomic.Bool
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := d.DialViaBastion(ctx, network, addr)
		var bastion *mssh.Error
		if errors.As(err, &bastion) {
			// The bastion's address and the SSH details are for the log,
			// not for the customer's channel.
			x.svc.Log.Error("reach the bastion for handover", "job", x.Job.ID, "customer", x.Customer.Name, "err", err)
			down.Store(true)
		}
		return nc, err
	}
	tr := &http.Transport{DialContext: dial, DisableKeepAlives: true}
	return bastionChecker{web.Checker{Client: &http.Client{Timeout: 10 * time.Second, Transport: tr}}, &down}, func() {
		tr.CloseIdleConnections()
		sess.Close()
	}
}

// bastionChecker says "the bastion could not be reached" rather than
// blaming the URL when it was the bastion that failed.
type bastionChecker struct {
	web  web.Checker
	down *atomic.Bool
}

func (b bastionChecker) CheckURL(ctx context.Context, u string) error {
	b.down.Store(false)
	err := b.web.CheckURL(ctx, u)
	if err != nil && b.down.Load() {
		return errors.New("the bastion could not be reached")
	}
	return err
}

type failingChecker struct{ reason string }

func (f failingChecker) CheckURL(context.Context, string) error { return errors.New(f.reason) }

// productURLs checks each product URL from where its check says and
// writes the message that gives them; an unreachable one, or one whose
// stack output is missing, is flagged, never left out.
func productURLs(ctx context.Context, checkers map[string]URLChecker, cu *config.Customer, env string, products []config.Product, missing map[string]string) (string, int) {
	lines := []string{fmt.Sprintf("%s/%s is ready. Its products:", cu.Name, env)}
	down := 0
	for _, p := range products {
		if why, ok := missing[p.Name]; ok {
			down++
			lines = append(lines, fmt.Sprintf("• %s: no URL yet (%s); the DevOps team will look at it", p.Name, why))
			continue
		}
		line := fmt.Sprintf("• %s: %s", p.Name, p.URL)
		from := checkFrom(p)
		if err := checkURL(ctx, checkers[from], p.URL); err != nil {
			down++
			where := "mcloud"
			if from == "bastion" {
				where = "the bastion"
			}
			line += fmt.Sprintf("  ⚠ not answering from %s (%s); the DevOps team will look at it", where, err)
		}
		lines = append(lines, line)
	}
	if n := len(withSecrets(products)); n > 0 {
		lines = append(lines, "Admin credentials come by direct message only, never in a channel.")
	}
	return strings.Join(lines, "\n"), down
}

func checkURL(ctx context.Context, check URLChecker, u string) error {
	if check == nil {
		return errors.New("mcloud has no way to check URLs here")
	}
	return check.CheckURL(ctx, u)
}

// sendCredential sends one product's credential to the recipient. The
// value is read inside the message's content function and lives only
// there; what is returned (the step's result, in the thread and the
// audit log) names the secret and the recipient only.
func sendCredential(ctx context.Context, x *Exec, secrets Secrets, pr config.Product, to recipient) (string, error) {
	cu, env := x.Customer, x.Env
	err := x.svc.Deps.DM.SendDM(ctx, to.UserID, func(ctx context.Context) (string, error) {
		v, err := secrets.GetSecretValue(ctx, pr.Secret)
		if err != nil {
			return "", x.svc.awsFailed("Reading secret "+pr.Secret, err)
		}
		return credentialMessage(cu.Name, env.Name, pr, v.Reveal()), nil
	})
	var de *DMError
	if errors.As(err, &de) {
		x.Say(ctx, fmt.Sprintf("Could not send the %s credential to %s by direct message (%s). It was not posted anywhere else; %s can allow direct messages from the mcloud app and ask again.",
			pr.Name, to.Name, de.Reason, to.Name))
		return "", mcloud.Errorf(mcloud.ECONFLICT, "The direct message with the %s credential could not be delivered to %s (%s); nothing was posted in a channel.",
			pr.Name, to.Name, de.Reason)
	}
	if err != nil {
		return "", err
	}
	x.auditHandover(ctx, fmt.Sprintf("handed the %s/%s %s credential (secret %s) to %s (%s) by direct message",
		cu.Name, env.Name, pr.Name, pr.Secret, to.Name, to.UserID))
	return fmt.Sprintf("sent to %s by direct message (secret %s)", to.Name, pr.Secret), nil
}

// credentialMessage is the direct message: JSON with username and
// password, or a plain string taken as the password.
func credentialMessage(customer, env string, pr config.Product, value string) string {
	var cred struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	head := fmt.Sprintf("Admin credential of %s for %s/%s", pr.Name, customer, env)
	if pr.URL != "" {
		head += " (" + pr.URL + ")"
	}
	lines := []string{head + ":"}
	if json.Unmarshal([]byte(value), &cred) == nil && cred.Password != "" {
		if cred.Username != "" {
			lines = append(lines, "username: "+cred.Username)
		}
		lines = append(lines, "password: "+cred.Password)
	} else {
		lines = append(lines, "password: "+value)
	}
	lines = append(lines, "Please change this password after your first login. This message is the only copy mcloud sent; it keeps none.")
	return strings.Join(lines, "\n")
}

// rotateSecret starts the rotation of a secret whose message was
// delivered.
func rotateSecret(ctx context.Context, x *Exec, secrets Secrets, pr config.Product) (string, error) {
	info, err := secrets.DescribeSecret(ctx, pr.Secret)
	if err != nil {
		return "", x.svc.awsFailed("Looking up secret "+pr.Secret, err)
	}
	if !info.RotationEnabled {
		x.Say(ctx, fmt.Sprintf("Secret %s has no rotation configured in Secrets Manager; it was not rotated.", pr.Secret))
		return "not rotated: no rotation configured", nil
	}
	version, err := secrets.RotateSecret(ctx, pr.Secret)
	if err != nil {
		return "", x.svc.awsFailed("Rotating secret "+pr.Secret, err)
	}
	x.Say(ctx, fmt.Sprintf("Rotation of secret %s started (new version %s), now that the direct message was delivered.", pr.Secret, version))
	return "rotation started, version " + version, nil
}

// auditHandover records who handed what to whom: the entry's user is the
// requester, its detail the secret's name and the recipient.
func (x *Exec) auditHandover(ctx context.Context, detail string) {
	who := mcloud.Caller{UserID: "mcloud", Name: x.Job.Requester, ChannelID: x.Job.ChannelID}
	if req, err := x.svc.store.Request(ctx, x.Job.RequestID); err == nil {
		who = req.Requester
		var by []string
		for _, a := range req.Approvals {
			by = append(by, a.Name)
		}
		if len(by) > 0 {
			detail += "; approved by " + strings.Join(by, ", ")
		}
	}
	if err := x.svc.store.Audit(ctx, mcloud.AuditEntry{Customer: x.Customer.Name, UserID: who.UserID, UserName: who.Name, ChannelID: who.ChannelID,
		RequestID: x.Job.RequestID, JobID: x.Job.ID, Event: mcloud.AuditHandover, Detail: detail}); err != nil {
		x.svc.Log.Error("audit handover", "job", x.Job.ID, "err", err)
	}
}
