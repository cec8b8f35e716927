package commands

import (
	"context"
	"fmt"

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
				if sub := c.Params["sub-command"]; sub != "" {
					name += " " + sub
				}
				v := c.svc.verbs[name]
				if v == nil && len(c.svc.subVerbs(name)) > 0 {
					return c.svc.subVerbMissing([]string{name}), nil
				}
				if v == nil {
					msg := fmt.Sprintf("There is no command %q.", name)
					if near := c.svc.nearest(name); near != "" {
						msg = fmt.Sprintf("There is no command %q; did you mean %q?", name, near)
					}
					return Reply{}, mcloud.Errorf(mcloud.EINVALID, "%s", msg)
				}
				return c.svc.verbHelp(v, c.Caller), nil
			}
			r := Reply{Title: "mcloud commands you can run here:", Private: true}
			for _, v := range c.svc.Verbs() {
				if v.Hidden || mcloud.Authorize(c.Caller, v.Name, v.Access, "") != nil {
					continue
				}
				r.Lines = append(r.Lines, fmt.Sprintf("%s — %s", v.Usage(), v.Summary))
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
			r.Lines = append(r.Lines, "", "Type /mcloud help <command> for details and examples.")
			return r, nil
		},
	}
}

// verbHelp explains one verb: usage, what it does, examples, and whether
// and by whom it must be approved when this caller asks.
func (s *Service) verbHelp(v *Verb, caller mcloud.Caller) Reply {
	r := Reply{Title: v.Usage(), Private: true, Lines: []string{v.Summary}}
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
			r.Lines = append(r.Lines, "", fmt.Sprintf("When you ask: the plan is shown and the job waits for %d approver(s) other than you.", n))
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
