package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/config"
	"github.com/mcloud/mcloud/integrations/aws"
	"github.com/mcloud/mcloud/provision"
)

// driftVerb runs CloudFormation drift detection on a customer's provisioned
// environments and reports each drifted property in one line.
func driftVerb() *Verb {
	return &Verb{
		Name:     "drift",
		Summary:  "what was changed outside mcloud in the provisioned environments (CloudFormation drift detection)",
		Help:     "Runs CloudFormation drift detection on the stack of each provisioned environment (or the one named) and lists every property that differs from what mcloud built, one line each.",
		Examples: []string{"/mcloud drift customer-x", "/mcloud drift customer-x staging"},
		Spec: Spec{Args: []Arg{
			{Name: "customer", Kind: KindCustomer, About: "whose environments"},
			{Name: "env", Kind: KindEnv, Optional: true, About: "one environment (default: every provisioned one)"},
		}},
		Access: mcloud.AccessDevOps,
		Do:     doDrift,
	}
}

func doDrift(ctx context.Context, c *Call) (Reply, error) {
	cu := c.Customer
	var envs []*config.Environment
	if c.Env != nil {
		if c.Env.Provision == nil {
			return Reply{}, mcloud.Errorf(mcloud.ECONFLICT, "%s/%s is not provisioned by mcloud (no provision block in mcloud.yaml), so it has no stack to check.", cu.Name, c.Env.Name)
		}
		envs = append(envs, c.Env)
	} else {
		for i := range cu.Environments {
			if cu.Environments[i].Provision != nil {
				envs = append(envs, &cu.Environments[i])
			}
		}
		if len(envs) == 0 {
			return Reply{}, mcloud.Errorf(mcloud.ECONFLICT, "No environment of %s is provisioned by mcloud (none has a provision block).", cu.Name)
		}
	}
	acct, err := c.svc.cfnAccount(cu)
	if err != nil {
		return Reply{}, err
	}
	r := Reply{}
	total := 0
	for _, env := range envs {
		stack := provision.StackName(cu.Name, env.Name)
		if _, err := acct.Stack(ctx, stack); errors.Is(err, aws.ErrNoStack) {
			r.Lines = append(r.Lines, fmt.Sprintf("%s: not built yet (no stack %s)", env.Name, stack))
			continue
		} else if err != nil {
			return Reply{}, c.svc.awsFailed("Reading stack "+stack, err)
		}
		drifts, err := acct.DetectDrift(ctx, stack)
		if err != nil {
			return Reply{}, c.svc.awsFailed("Detecting drift of "+stack, err)
		}
		lines := driftLines(drifts, hostIDs(env))
		total += len(lines)
		if len(lines) == 0 {
			r.Lines = append(r.Lines, fmt.Sprintf("%s: in sync with mcloud.yaml", env.Name))
		}
		for _, l := range lines {
			r.Lines = append(r.Lines, env.Name+": "+l)
		}
	}
	r.Title = fmt.Sprintf("Drift of %s: %s", cu.Name, nOf(total, "property changed outside mcloud", "properties changed outside mcloud"))
	return r, nil
}

// driftLines words drifted properties, one line each; pure.
// "security group customer-x-staging-hosts: inbound 0.0.0.0/0:22 added outside mcloud".
func driftLines(drifts []aws.ResourceDrift, hosts map[string]string) []string {
	var out []string
	for _, d := range drifts {
		noun := provision.Noun(d.LogicalID, d.Type, hosts)
		if d.Type == "AWS::EC2::SecurityGroup" {
			noun = "security group " + d.LogicalID + " (" + d.PhysicalID + ")"
		}
		if d.Status == "DELETED" {
			out = append(out, noun+": deleted outside mcloud")
			continue
		}
		for _, p := range d.Properties {
			what := strings.TrimPrefix(p.Path, "/")
			switch {
			case strings.HasPrefix(p.Path, "/SecurityGroupIngress/"):
				rule := ingressWords(p.Actual)
				if p.Kind == "REMOVE" {
					rule = ingressWords(p.Expected)
				}
				what = "inbound " + rule
			}
			switch p.Kind {
			case "ADD":
				out = append(out, fmt.Sprintf("%s: %s added outside mcloud", noun, what))
			case "REMOVE":
				out = append(out, fmt.Sprintf("%s: %s removed outside mcloud", noun, what))
			default:
				out = append(out, fmt.Sprintf("%s: %s is %s, mcloud set %s", noun, what, p.Actual, p.Expected))
			}
		}
	}
	return out
}

// ingressWords turns a rule's JSON into "0.0.0.0/0:22".
func ingressWords(js string) string {
	var r struct {
		CidrIP   string `json:"CidrIp"`
		SG       string `json:"SourceSecurityGroupId"`
		FromPort any    `json:"FromPort"`
		ToPort   any    `json:"ToPort"`
	}
	if err := jsonUnmarshal(js, &r); err != nil {
		return js
	}
	src := r.CidrIP
	if src == "" {
		src = r.SG
	}
	port := fmt.Sprint(r.FromPort)
	if fmt.Sprint(r.ToPort) != port {
		port += "-" + fmt.Sprint(r.ToPort)
	}
	return src + ":" + port
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
