package aws

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
)

// CloudFormation, for `provision` and `drift`: change sets are the plan,
// stacks are what was built. Every call goes to the account's primary
// region.

// cfnClient is CloudFormation in the account's (or the InRegion view's)
// region: stacks are regional and mcloud's live in one.
func (a *Account) cfnClient() *cloudformation.Client {
	return a.clients.cfn.get(a.spec.Region, func(region string) *cloudformation.Client {
		return cloudformation.NewFromConfig(a.cfg, func(o *cloudformation.Options) { o.Region = region })
	})
}

// Stack is what mcloud reads of a stack.
type Stack struct {
	ID, Name, Status, Reason string
	// ChangeSetID is the change set the stack last executed.
	ChangeSetID string
	Created     time.Time
	LastUpdated time.Time
	Outputs     map[string]string
	// OutputNames are the outputs' descriptions, by key.
	OutputNames map[string]string
	DriftStatus string
}

// ErrNoStack is returned by Stack for a stack that does not exist.
var ErrNoStack = errors.New("stack does not exist")

// Stack describes a stack by name; ErrNoStack when there is none.
func (a *Account) Stack(ctx context.Context, name string) (Stack, error) {
	out, err := a.cfnClient().DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: &name})
	if err != nil {
		if IsCode(err, "ValidationError") {
			return Stack{}, fmt.Errorf("describe stack %s: %w", name, ErrNoStack)
		}
		return Stack{}, fmt.Errorf("describe stack %s: %w", name, err)
	}
	if len(out.Stacks) == 0 {
		return Stack{}, fmt.Errorf("describe stack %s: %w", name, ErrNoStack)
	}
	s := out.Stacks[0]
	st := Stack{ID: awssdk.ToString(s.StackId), Name: awssdk.ToString(s.StackName), Status: string(s.StackStatus),
		Reason: awssdk.ToString(s.StackStatusReason), ChangeSetID: awssdk.ToString(s.ChangeSetId),
		Created: awssdk.ToTime(s.CreationTime), LastUpdated: awssdk.ToTime(s.LastUpdatedTime),
		Outputs: map[string]string{}, OutputNames: map[string]string{}}
	if s.DriftInformation != nil {
		st.DriftStatus = string(s.DriftInformation.StackDriftStatus)
	}
	for _, o := range s.Outputs {
		st.Outputs[awssdk.ToString(o.OutputKey)] = awssdk.ToString(o.OutputValue)
		st.OutputNames[awssdk.ToString(o.OutputKey)] = awssdk.ToString(o.Description)
	}
	return st, nil
}

// ChangeSetRequest is a change set to create.
type ChangeSetRequest struct {
	Stack, Name, Description string
	Template                 string
	Parameters               map[string]string
	// Create: the stack does not exist yet (CREATE change set).
	Create bool
	Tags   map[string]string
}

// ResourceChange is one line of a change set.
type ResourceChange struct {
	Action     string // Add, Modify, Remove
	LogicalID  string
	PhysicalID string
	Type       string
	// Replacement is True, False or Conditional (Modify only).
	Replacement string
	// Properties are the properties that change.
	Properties []string
}

// ChangeSet is a described change set.
type ChangeSet struct {
	ID, Name, StackID               string
	Status, Reason, ExecutionStatus string
	Changes                         []ResourceChange
}

// Empty reports a change set CloudFormation refused because nothing changes.
func (c ChangeSet) Empty() bool {
	return c.Status == "FAILED" && len(c.Changes) == 0
}

// CreateChangeSet creates a change set and returns its id.
func (a *Account) CreateChangeSet(ctx context.Context, in ChangeSetRequest) (string, error) {
	typ := cfntypes.ChangeSetTypeUpdate
	if in.Create {
		typ = cfntypes.ChangeSetTypeCreate
	}
	req := &cloudformation.CreateChangeSetInput{StackName: &in.Stack, ChangeSetName: &in.Name, TemplateBody: &in.Template,
		ChangeSetType: typ, Description: awssdk.String(in.Description)}
	for _, k := range sortedKeys(in.Parameters) {
		req.Parameters = append(req.Parameters, cfntypes.Parameter{ParameterKey: awssdk.String(k), ParameterValue: awssdk.String(in.Parameters[k])})
	}
	for _, k := range sortedKeys(in.Tags) {
		req.Tags = append(req.Tags, cfntypes.Tag{Key: awssdk.String(k), Value: awssdk.String(in.Tags[k])})
	}
	out, err := a.cfnClient().CreateChangeSet(ctx, req)
	if err != nil {
		return "", fmt.Errorf("create change set %s of stack %s: %w", in.Name, in.Stack, err)
	}
	return awssdk.ToString(out.Id), nil
}

// ChangeSet describes a change set (all pages of its changes).
func (a *Account) ChangeSet(ctx context.Context, stack, name string) (ChangeSet, error) {
	var cs ChangeSet
	var token *string
	for {
		out, err := a.cfnClient().DescribeChangeSet(ctx, &cloudformation.DescribeChangeSetInput{StackName: &stack, ChangeSetName: &name, NextToken: token})
		if err != nil {
			return ChangeSet{}, fmt.Errorf("describe change set %s: %w", name, err)
		}
		cs.ID, cs.Name, cs.StackID = awssdk.ToString(out.ChangeSetId), awssdk.ToString(out.ChangeSetName), awssdk.ToString(out.StackId)
		cs.Status, cs.Reason, cs.ExecutionStatus = string(out.Status), awssdk.ToString(out.StatusReason), string(out.ExecutionStatus)
		for _, c := range out.Changes {
			rc := c.ResourceChange
			if rc == nil {
				continue
			}
			ch := ResourceChange{Action: string(rc.Action), LogicalID: awssdk.ToString(rc.LogicalResourceId), PhysicalID: awssdk.ToString(rc.PhysicalResourceId),
				Type: awssdk.ToString(rc.ResourceType), Replacement: string(rc.Replacement)}
			for _, d := range rc.Details {
				if d.Target != nil && d.Target.Name != nil {
					ch.Properties = append(ch.Properties, *d.Target.Name)
				}
			}
			cs.Changes = append(cs.Changes, ch)
		}
		if out.NextToken == nil {
			return cs, nil
		}
		token = out.NextToken
	}
}

// WaitChangeSet waits until CloudFormation has computed a change set
// (CREATE_COMPLETE, or FAILED: see ChangeSet.Empty).
func (a *Account) WaitChangeSet(ctx context.Context, stack, name string) (ChangeSet, error) {
	delay, maxDelay := a.waiterDelays(time.Second, 10*time.Second)
	for {
		cs, err := a.ChangeSet(ctx, stack, name)
		if err != nil {
			return cs, err
		}
		switch cs.Status {
		case "CREATE_COMPLETE", "FAILED", "DELETE_COMPLETE", "DELETE_FAILED":
			return cs, nil
		}
		select {
		case <-ctx.Done():
			return cs, fmt.Errorf("wait for change set %s: %w", name, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, maxDelay)
	}
}

// ExecuteChangeSet starts executing a change set.
func (a *Account) ExecuteChangeSet(ctx context.Context, stack, name string) error {
	if _, err := a.cfnClient().ExecuteChangeSet(ctx, &cloudformation.ExecuteChangeSetInput{StackName: &stack, ChangeSetName: &name}); err != nil {
		return fmt.Errorf("execute change set %s: %w", name, err)
	}
	return nil
}

// DeleteChangeSet deletes a change set that will not be executed.
func (a *Account) DeleteChangeSet(ctx context.Context, stack, name string) error {
	if _, err := a.cfnClient().DeleteChangeSet(ctx, &cloudformation.DeleteChangeSetInput{StackName: &stack, ChangeSetName: &name}); err != nil {
		return fmt.Errorf("delete change set %s: %w", name, err)
	}
	return nil
}

// SetStackPolicy replaces a stack's policy.
func (a *Account) SetStackPolicy(ctx context.Context, stack, policy string) error {
	if _, err := a.cfnClient().SetStackPolicy(ctx, &cloudformation.SetStackPolicyInput{StackName: &stack, StackPolicyBody: &policy}); err != nil {
		return fmt.Errorf("set the stack policy of %s: %w", stack, err)
	}
	return nil
}

// StackEvent is one event of a stack.
type StackEvent struct {
	ID, LogicalID, PhysicalID, Type, Status, Reason string
	At                                              time.Time
}

// StackEvents returns the stack's events after the one with id after
// ("" for all), oldest first.
func (a *Account) StackEvents(ctx context.Context, stack, after string) ([]StackEvent, error) {
	var out []StackEvent
	p := cloudformation.NewDescribeStackEventsPaginator(a.cfnClient(), &cloudformation.DescribeStackEventsInput{StackName: &stack})
	for p.HasMorePages() {
		pg, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list the events of stack %s: %w", stack, err)
		}
		for _, e := range pg.StackEvents {
			id := awssdk.ToString(e.EventId)
			if after != "" && id == after {
				reverse(out)
				return out, nil
			}
			out = append(out, StackEvent{ID: id, LogicalID: awssdk.ToString(e.LogicalResourceId), PhysicalID: awssdk.ToString(e.PhysicalResourceId),
				Type: awssdk.ToString(e.ResourceType), Status: string(e.ResourceStatus), Reason: awssdk.ToString(e.ResourceStatusReason), At: awssdk.ToTime(e.Timestamp)})
		}
	}
	reverse(out)
	return out, nil
}

func reverse[T any](s []T) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}

// PropertyDrift is one property that differs from the template.
type PropertyDrift struct {
	Path, Expected, Actual, Kind string // Kind: ADD, REMOVE, NOT_EQUAL
}

// ResourceDrift is a drifted resource.
type ResourceDrift struct {
	LogicalID, PhysicalID, Type, Status string
	Properties                          []PropertyDrift
}

// DetectDrift runs drift detection on a stack, waits for it, and returns
// the resources that drifted.
func (a *Account) DetectDrift(ctx context.Context, stack string) ([]ResourceDrift, error) {
	c := a.cfnClient()
	det, err := c.DetectStackDrift(ctx, &cloudformation.DetectStackDriftInput{StackName: &stack})
	if err != nil {
		return nil, fmt.Errorf("detect drift of stack %s: %w", stack, err)
	}
	delay, maxDelay := a.waiterDelays(time.Second, 10*time.Second)
	for {
		st, err := c.DescribeStackDriftDetectionStatus(ctx, &cloudformation.DescribeStackDriftDetectionStatusInput{StackDriftDetectionId: det.StackDriftDetectionId})
		if err != nil {
			return nil, fmt.Errorf("wait for drift detection of stack %s: %w", stack, err)
		}
		if st.DetectionStatus == cfntypes.StackDriftDetectionStatusDetectionFailed {
			return nil, fmt.Errorf("drift detection of stack %s failed: %s", stack, awssdk.ToString(st.DetectionStatusReason))
		}
		if st.DetectionStatus != cfntypes.StackDriftDetectionStatusDetectionInProgress {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for drift detection of stack %s: %w", stack, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, maxDelay)
	}
	var out []ResourceDrift
	p := cloudformation.NewDescribeStackResourceDriftsPaginator(c, &cloudformation.DescribeStackResourceDriftsInput{StackName: &stack,
		StackResourceDriftStatusFilters: []cfntypes.StackResourceDriftStatus{cfntypes.StackResourceDriftStatusModified, cfntypes.StackResourceDriftStatusDeleted}})
	for p.HasMorePages() {
		pg, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list drifted resources of stack %s: %w", stack, err)
		}
		for _, d := range pg.StackResourceDrifts {
			rd := ResourceDrift{LogicalID: awssdk.ToString(d.LogicalResourceId), PhysicalID: awssdk.ToString(d.PhysicalResourceId),
				Type: awssdk.ToString(d.ResourceType), Status: string(d.StackResourceDriftStatus)}
			for _, pd := range d.PropertyDifferences {
				rd.Properties = append(rd.Properties, PropertyDrift{Path: awssdk.ToString(pd.PropertyPath), Expected: awssdk.ToString(pd.ExpectedValue),
					Actual: awssdk.ToString(pd.ActualValue), Kind: string(pd.DifferenceType)})
			}
			out = append(out, rd)
		}
	}
	return out, nil
}

// ConsoleOutput returns an instance's console output, decoded.
func (a *Account) ConsoleOutput(ctx context.Context, instanceID string) (string, error) {
	out, err := a.ec2Client("").GetConsoleOutput(ctx, &ec2.GetConsoleOutputInput{InstanceId: &instanceID, Latest: awssdk.Bool(true)})
	if err != nil {
		return "", fmt.Errorf("read the console output of %s: %w", instanceID, err)
	}
	b, err := base64.StdEncoding.DecodeString(awssdk.ToString(out.Output))
	if err != nil {
		return "", fmt.Errorf("decode the console output of %s: %w", instanceID, err)
	}
	return string(b), nil
}
