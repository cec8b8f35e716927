package bot

// This file renders commands' neutral replies and requests as Slack Block
// Kit messages. Every message carries a plain-text fallback made by Text,
// which is what notifications, screen readers and old clients show.

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/commands"
	"github.com/mcloud/mcloud/config"
)

// Action ids of the buttons; their value is the request's or job's number.
const (
	ActionApprove = "mcloud_approve"
	ActionDeny    = "mcloud_deny"
	ActionCancel  = "mcloud_cancel"
)

// Slack's limits: a section's text, a header's text, the blocks in one
// message, and a sensible size for the fallback text next to blocks.
const (
	maxSectionText = 3000
	maxHeaderText  = 150
	maxBlocks      = 50
	maxFallback    = 3000
	maxText        = 39000
)

// Message is one Slack message: its blocks and its text fallback.
type Message struct {
	Text   string        `json:"text"`
	Blocks []slack.Block `json:"blocks,omitempty"`
}

// BlocksJSON is the blocks as chat.postMessage takes them, "" for none.
func (m Message) BlocksJSON() (string, error) {
	if len(m.Blocks) == 0 {
		return "", nil
	}
	b, err := json.Marshal(m.Blocks)
	if err != nil {
		return "", fmt.Errorf("encode blocks: %w", err)
	}
	return string(b), nil
}

// messageFromJSON rebuilds a message from its stored parts.
func messageFromJSON(text, blocks string) (Message, error) {
	m := Message{Text: text}
	if blocks == "" {
		return m, nil
	}
	var bs slack.Blocks
	if err := json.Unmarshal([]byte(blocks), &bs); err != nil {
		return m, fmt.Errorf("decode stored blocks: %w", err)
	}
	m.Blocks = bs.BlockSet
	return m, nil
}

// ReplyMessage renders a command's reply: an error with its usage, a plan,
// or a title with lines.
func ReplyMessage(r commands.Reply, cfg *config.Config, now time.Time) Message {
	switch {
	case r.Error != "":
		blocks := []slack.Block{section(":warning: " + escape(r.Error))}
		if r.Usage != "" {
			blocks = append(blocks, contextBlock("Usage: `"+escape(r.Usage)+"`"))
		}
		return Message{Text: fallback(Text(r, cfg)), Blocks: blocks}
	case r.Request != nil && r.Title == "":
		return planMessage(r.Request, r.Job, r.DryRun, cfg, now)
	}
	var blocks []slack.Block
	if r.Title != "" {
		blocks = append(blocks, section(escape(r.Title)))
	}
	blocks = append(blocks, preformatted(r.Lines)...)
	if len(blocks) > maxBlocks {
		blocks = append(blocks[:maxBlocks-1], contextBlock(fmt.Sprintf("… %d more; the text version has everything.", len(blocks)-maxBlocks+1)))
	}
	return Message{Text: fallback(Text(r, cfg)), Blocks: blocks}
}

// PlanMessage renders request's plan message as it stands at now: pending
// with Approve and Deny, approved with its job (and Cancel while the job
// can still stop), denied, or expired. job is the request's job, or nil.
func PlanMessage(req *mcloud.Request, job *mcloud.Job, cfg *config.Config, now time.Time) Message {
	return planMessage(req, job, false, cfg, now)
}

func planMessage(req *mcloud.Request, job *mcloud.Job, dry bool, cfg *config.Config, now time.Time) Message {
	title := fmt.Sprintf("Request #%d: %s for %s", req.ID, req.Verb, req.Customer)
	if dry {
		title = fmt.Sprintf("Dry run: %s for %s", req.Verb, req.Customer)
	}
	if req.Env != "" {
		title += " (" + req.Env + ")"
	}
	blocks := []slack.Block{slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, clip(title, maxHeaderText), false, false))}

	for _, w := range req.Plan.Warnings {
		blocks = append(blocks, section(":warning: *Warning:* "+escape(w)))
	}
	var plan strings.Builder
	plan.WriteString(escape(req.Plan.Summary))
	if req.Plan.Command != "" {
		plan.WriteString("\n```" + escape(req.Plan.Command) + "```")
	}
	for i, s := range req.Plan.Steps {
		line := fmt.Sprintf("\n%d. %s", i+1, escape(s))
		if plan.Len()+len(line) > maxSectionText-40 {
			fmt.Fprintf(&plan, "\n… and %s", mcloud.Count(len(req.Plan.Steps)-i, "more step", "more steps"))
			break
		}
		plan.WriteString(line)
	}
	blocks = append(blocks, section(plan.String()))
	if len(req.Plan.Notes) > 0 {
		notes := make([]string, len(req.Plan.Notes))
		for i, n := range req.Plan.Notes {
			notes[i] = "Note: " + escape(n)
		}
		blocks = append(blocks, contextBlock(clip(strings.Join(notes, "\n"), maxSectionText)))
	}

	st := planState(req, job, dry, now)
	fields := []*slack.TextBlockObject{
		mrkdwn(fmt.Sprintf("*Requested by*\n%s in #%s", escape(req.Requester.Name), escape(cfg.ChannelName(req.Requester.ChannelID)))),
	}
	switch {
	case dry:
	case req.Needed == 0:
		fields = append(fields, mrkdwn("*Approvals*\nnone needed"))
	default:
		fields = append(fields, mrkdwn(fmt.Sprintf("*Approvals*\n%d of %d", len(req.Approvals), req.Needed)))
	}
	if st == statePending {
		fields = append(fields, mrkdwn("*Expires*\n"+slackDate(req.ExpiresAt)))
	}
	if req.JobID != 0 {
		fields = append(fields, mrkdwn(fmt.Sprintf("*Job*\n#%d", req.JobID)))
	}
	blocks = append(blocks, slack.NewSectionBlock(nil, fields, nil))

	id := strconv.FormatInt(req.ID, 10)
	switch st {
	case stateDryRun:
		blocks = append(blocks, contextBlock("Dry run: nothing was requested and nothing will run."))
	case statePending:
		line := fmt.Sprintf("Waiting for %s from an approver other than %s.", mcloud.Count(req.Needed-len(req.Approvals), "more approval", "more approvals"), escape(req.Requester.Name))
		if len(req.Approvals) > 0 {
			line = fmt.Sprintf("Approved so far by %s. ", approvers(req)) + line
		}
		blocks = append(blocks, section(line), slack.NewActionBlock("request_"+id,
			slack.NewButtonBlockElement(ActionApprove, id, plain("Approve")).WithStyle(slack.StylePrimary),
			slack.NewButtonBlockElement(ActionDeny, id, plain("Deny")).WithStyle(slack.StyleDanger).WithConfirm(
				slack.NewConfirmationBlockObject(plain("Deny request #"+id+"?"), plain("It will never run."), plain("Deny"), plain("Keep it")).WithStyle(slack.StyleDanger)),
		))
	case stateRunning, stateDone:
		line := fmt.Sprintf(":white_check_mark: Approved by %s; running as job #%d. Progress follows in this thread.", approvers(req), req.JobID)
		if req.Needed == 0 {
			line = fmt.Sprintf(":arrow_forward: No approval needed; running as job #%d. Progress follows in this thread.", req.JobID)
		}
		if st == stateDone {
			line = fmt.Sprintf("Job #%d %s; the thread has the details.", req.JobID, job.Status)
			if req.Needed > 0 {
				line = fmt.Sprintf(":white_check_mark: Approved by %s. ", approvers(req)) + line
			}
		}
		blocks = append(blocks, section(line))
		if st == stateRunning {
			jid := strconv.FormatInt(req.JobID, 10)
			blocks = append(blocks, slack.NewActionBlock("job_"+jid,
				slack.NewButtonBlockElement(ActionCancel, jid, plain("Cancel job")).WithStyle(slack.StyleDanger).WithConfirm(
					slack.NewConfirmationBlockObject(plain("Cancel job #"+jid+"?"), plain("It stops after its current step."), plain("Cancel job"), plain("Let it run")).WithStyle(slack.StyleDanger)),
			))
		}
	case stateDenied:
		line := fmt.Sprintf(":no_entry: Denied by %s; it will not run.", escape(req.DeniedBy))
		if mcloud.Withdrawn(*req) {
			line = fmt.Sprintf(":no_entry: Withdrawn by %s; it will not run.", escape(req.DeniedBy))
		}
		if req.Reason != "" {
			line += " Reason: " + escape(req.Reason)
		}
		blocks = append(blocks, section(line))
	case stateExpired:
		blocks = append(blocks, section(fmt.Sprintf(":hourglass: Expired %s without enough approvals; nothing ran. Ask again if it is still needed.", slackDate(req.ExpiresAt))))
	}
	return Message{Text: fallback(planText(req, job, dry, st, cfg)), Blocks: blocks}
}

type state int

const (
	statePending state = iota
	stateDryRun
	stateRunning
	stateDone
	stateDenied
	stateExpired
)

func planState(req *mcloud.Request, job *mcloud.Job, dry bool, now time.Time) state {
	switch {
	case dry:
		return stateDryRun
	case req.Status == mcloud.RequestDenied:
		return stateDenied
	case req.Status == mcloud.RequestExpired:
		return stateExpired
	case req.JobID != 0 && job != nil && job.Status.Done():
		return stateDone
	case req.JobID != 0:
		return stateRunning
	case !now.Before(req.ExpiresAt):
		return stateExpired
	}
	return statePending
}

// planText is the fallback: the shell's rendering of the plan, with the
// decision added once there is one.
func planText(req *mcloud.Request, job *mcloud.Job, dry bool, st state, cfg *config.Config) string {
	r := commands.Reply{Request: req, DryRun: dry}
	if req.Needed == 0 && st == stateRunning {
		r.Job = job
		if r.Job == nil {
			r.Job = &mcloud.Job{ID: req.JobID}
		}
	}
	if st != statePending && !dry {
		// Text shows the Approve/Deny line only for pending requests; a
		// request past its expiry may not have been swept yet.
		cp := *req
		switch st {
		case stateDenied:
			cp.Status = mcloud.RequestDenied
		case stateExpired:
			cp.Status = mcloud.RequestExpired
		default:
			cp.Status = mcloud.RequestApproved
		}
		r.Request = &cp
	}
	text := Text(r, cfg)
	switch st {
	case stateRunning:
		if req.Needed > 0 {
			text += fmt.Sprintf("\nApproved by %s; running as job #%d.", approverNames(req), req.JobID)
		}
	case stateDone:
		if req.Needed > 0 {
			text += fmt.Sprintf("\nApproved by %s.", approverNames(req))
		}
		text += fmt.Sprintf("\nJob #%d %s.", req.JobID, job.Status)
	case stateDenied:
		text += fmt.Sprintf("\nDenied by %s; it will not run.", req.DeniedBy)
		if req.Reason != "" {
			text += " Reason: " + req.Reason
		}
	case stateExpired:
		text += fmt.Sprintf("\nExpired %s without enough approvals; nothing ran.", mcloud.FormatTime(req.ExpiresAt))
	}
	return text
}

func approverNames(req *mcloud.Request) string {
	names := make([]string, len(req.Approvals))
	for i, a := range req.Approvals {
		names[i] = a.Name
	}
	if len(names) == 0 {
		return "nobody"
	}
	return strings.Join(names, ", ")
}

func approvers(req *mcloud.Request) string { return escape(approverNames(req)) }

// slackDate shows t in each reader's own time zone, with UTC as the
// fallback for clients that cannot.
func slackDate(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), mcloud.FormatTime(t))
}

// preformatted puts lines in code blocks, which keep the columns of
// tables such as the job list and the audit log, split at Slack's limit.
func preformatted(lines []string) []slack.Block {
	var out []slack.Block
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, section("```"+cur.String()+"```"))
			cur.Reset()
		}
	}
	for _, l := range lines {
		l = clip(escape(l), maxSectionText-10)
		if cur.Len()+len(l)+1 > maxSectionText-10 {
			flush()
		}
		if cur.Len() > 0 {
			cur.WriteString("\n")
		}
		cur.WriteString(l)
	}
	flush()
	return out
}

func section(text string) *slack.SectionBlock {
	return slack.NewSectionBlock(mrkdwn(clip(text, maxSectionText)), nil, nil)
}

func contextBlock(text string) *slack.ContextBlock {
	return slack.NewContextBlock("", mrkdwn(text))
}

func mrkdwn(text string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, text, false, false)
}

func plain(text string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, text, false, false)
}

// escape keeps what users typed from becoming Slack markup: no <!channel>
// pings, no disguised links.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// fallback bounds the text sent next to blocks.
func fallback(s string) string { return clip(s, maxFallback) }

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
