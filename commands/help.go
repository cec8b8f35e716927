package commands

import (
	"context"
	"fmt"
	"strings"

	"github.com/mcloud/mcloud"
)

func helpVerb() *Verb {
	return &Verb{
		Name:     "help",
		Summary:  "list the commands you can run here, or explain one",
		Examples: []string{"/mcloud help", "/mcloud help restore-logs"},
		Spec:     Spec{Args: []Arg{{Name: "command", Optional: true}, {Name: "sub-command", Optional: true}}},
		Access:   mcloud.AccessAnyone,
		Do: func(ctx context.Context, c *Call) (Reply, error) {
			if name := c.Params["command"]; name != "" {
				words := []string{name}
				if sub := c.Params["sub-command"]; sub != "" {
					words = append(words, sub)
				}
				v, _, err := c.svc.lookup(words, "There is no command %s")
				if err != nil {
					return Reply{}, err
				}
				if v == nil {
					return c.svc.subVerbMissing(words), nil
				}
				return c.svc.verbHelp(v, c.Caller), nil
			}
			r := Reply{Title: "mcloud commands you can run here:", Private: true}
			for _, v := range c.svc.Verbs() {
				if v.Hidden || mcloud.Authorize(c.Caller, v.Name, v.Access, "") != nil {
					continue
				}
				line := fmt.Sprintf("%s — %s", v.usageFor(c.Caller), v.Summary)
				if a := aliasesOf(v.Name); len(a) > 0 {
					line += " (also: " + strings.Join(a, ", ") + ")"
				}
				r.Lines = append(r.Lines, line)
			}
			switch c.Caller.Role {
			case mcloud.RoleCustomer:
				r.Lines = append(r.Lines, "", fmt.Sprintf("You are a %s user here: every change you ask for waits for DevOps approval.", c.Caller.Customer))
			case mcloud.RoleNone:
				// The same sentence as every refusal, saying why.
				if err := mcloud.Authorize(c.Caller, "status", mcloud.AccessCustomer, ""); err != nil {
					r.Lines = append(r.Lines, "", err.Message)
				}
			}
			if cu := c.Caller.ChannelCustomer; cu != "" && c.Caller.Role != mcloud.RoleNone {
				r.Lines = append(r.Lines, "", fmt.Sprintf("In this channel <customer> may be left out: /mcloud status means /mcloud status %s.", cu))
			}
			r.Lines = append(r.Lines, "", "Type /mcloud help <command> for details and examples.")
			return r, nil
		},
	}
}

// verbHelp explains one verb: usage, what it does, examples, and whether
// and by whom it must be approved when this caller asks.
func (s *Service) verbHelp(v *Verb, caller mcloud.Caller) Reply {
	r := Reply{Title: v.usageFor(caller), Private: true, Lines: []string{v.Summary}}
	if a := aliasesOf(v.Name); len(a) > 0 {
		r.Lines = append(r.Lines, "Also: /mcloud "+strings.Join(a, ", /mcloud ")+".")
	}
	if v.Help != "" {
		r.Lines = append(r.Lines, "", v.Help)
	}
	if len(v.Examples) > 0 {
		r.Lines = append(r.Lines, "", "Examples:")
		for _, e := range v.Examples {
			r.Lines = append(r.Lines, "  "+e)
		}
	}
	if v.Execute != nil {
		role := caller.Role
		if role == mcloud.RoleNone {
			role = mcloud.RoleDevOps
		}
		switch n := s.cfg.Approvers(v.Name, role, v.DevOpsApprovals, v.CustomerApprovals); n {
		case 0:
			r.Lines = append(r.Lines, "", "When you ask: the plan is shown and the job starts; no approval is needed.")
		default:
			r.Lines = append(r.Lines, "", fmt.Sprintf("When you ask: the plan is shown and the job waits for %s other than you.", nOf(n, "approver", "approvers")))
		}
	}
	if err := mcloud.Authorize(caller, v.Name, v.Access, ""); err != nil {
		r.Lines = append(r.Lines, "", "You cannot run it here: "+err.Message)
	}
	if subs := s.subVerbs(v.Name); len(subs) > 0 {
		r.Lines = append(r.Lines, "", "Also:")
		for _, sv := range subs {
			r.Lines = append(r.Lines, fmt.Sprintf("  %s — %s", sv.Usage(), sv.Summary))
		}
	}
	return r
}
