package awsemu

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// CloudFormation: change sets diffed by logical id and properties, executed
// step by step on the emulator's clock (Options.StackStepDelay per
// resource), resources created in the emulator's own state, drift against
// what was changed behind the stack's back, and stack policies.

const cfnNS = "http://cloudformation.amazonaws.com/doc/2010-05-15/"

// cfnType is what the emulator knows of a resource type: the attributes
// Fn::GetAtt may read, the properties whose change replaces the resource,
// and the prefix of its physical id.
type cfnType struct {
	attrs   []string
	replace []string
	prefix  string
}

var cfnTypes = map[string]cfnType{
	"AWS::EC2::VPC":                         {attrs: []string{"CidrBlock", "VpcId", "DefaultSecurityGroup"}, replace: []string{"CidrBlock"}, prefix: "vpc-"},
	"AWS::EC2::Subnet":                      {attrs: []string{"AvailabilityZone", "SubnetId", "VpcId", "CidrBlock"}, replace: []string{"VpcId", "CidrBlock", "AvailabilityZone"}, prefix: "subnet-"},
	"AWS::EC2::InternetGateway":             {attrs: []string{"InternetGatewayId"}, prefix: "igw-"},
	"AWS::EC2::VPCGatewayAttachment":        {replace: []string{"VpcId", "InternetGatewayId"}, prefix: "IGW|"},
	"AWS::EC2::EIP":                         {attrs: []string{"AllocationId", "PublicIp"}, replace: []string{"Domain"}, prefix: "eip-"},
	"AWS::EC2::NatGateway":                  {attrs: []string{"NatGatewayId"}, replace: []string{"SubnetId", "AllocationId"}, prefix: "nat-"},
	"AWS::EC2::RouteTable":                  {attrs: []string{"RouteTableId"}, replace: []string{"VpcId"}, prefix: "rtb-"},
	"AWS::EC2::Route":                       {replace: []string{"RouteTableId", "DestinationCidrBlock"}, prefix: "rtb-route-"},
	"AWS::EC2::SubnetRouteTableAssociation": {attrs: []string{"Id"}, replace: []string{"SubnetId"}, prefix: "rtbassoc-"},
	"AWS::EC2::SecurityGroup":               {attrs: []string{"GroupId", "VpcId"}, replace: []string{"GroupDescription", "GroupName", "VpcId"}, prefix: "sg-"},
	"AWS::EC2::Instance":                    {attrs: []string{"AvailabilityZone", "PrivateIp", "PublicIp", "PrivateDnsName", "InstanceId"}, replace: []string{"ImageId", "SubnetId", "AvailabilityZone", "KeyName", "PrivateIpAddress", "BlockDeviceMappings"}, prefix: "i-"},
	"AWS::EC2::Volume":                      {attrs: []string{"VolumeId"}, replace: []string{"AvailabilityZone", "Encrypted", "SnapshotId", "KmsKeyId"}, prefix: "vol-"},
	"AWS::EC2::VolumeAttachment":            {replace: []string{"InstanceId", "VolumeId", "Device"}, prefix: "attach-"},
	"AWS::Route53::HostedZone":              {attrs: []string{"Id", "NameServers"}, replace: []string{"Name"}, prefix: "Z"},
	"AWS::Route53::RecordSet":               {replace: []string{"Name", "Type", "HostedZoneId", "HostedZoneName"}, prefix: ""},
	"AWS::SES::EmailIdentity":               {attrs: []string{"DkimDNSTokenName1", "DkimDNSTokenName2", "DkimDNSTokenName3", "DkimDNSTokenValue1", "DkimDNSTokenValue2", "DkimDNSTokenValue3"}, replace: []string{"EmailIdentity"}, prefix: ""},
	"AWS::RDS::DBInstance":                  {attrs: []string{"Endpoint.Address", "Endpoint.Port", "DBInstanceArn"}, replace: dbInstanceReplaces, prefix: ""},
	"AWS::RDS::DBSubnetGroup":               {replace: []string{"DBSubnetGroupName"}, prefix: ""},
}

// dbInstanceReplaces are the AWS::RDS::DBInstance properties whose change
// makes CloudFormation build a new instance ("Update requires:
// Replacement" in the AWS::RDS::DBInstance reference); DBInstanceClass,
// AllocatedStorage, EngineVersion, BackupRetentionPeriod and the rest are
// changed in place. AvailabilityZone replaces a single-AZ instance, the
// only kind mcloud renders.
var dbInstanceReplaces = []string{"AvailabilityZone", "CharacterSetName", "DBClusterIdentifier", "DBInstanceIdentifier", "DBName",
	"DBSnapshotIdentifier", "DBSubnetGroupName", "Engine", "KmsKeyId", "MasterUsername", "NcharCharacterSetName",
	"SourceDBInstanceIdentifier", "SourceRegion", "StorageEncrypted", "Timezone"}

// ResourceTypes lists the CloudFormation resource types the emulator can
// create, each with the attributes Fn::GetAtt may read from it.
func ResourceTypes() map[string][]string {
	out := map[string][]string{}
	for t, k := range cfnTypes {
		out[t] = slices.Clone(k.attrs)
	}
	return out
}

type cfnTemplate struct {
	Parameters map[string]struct {
		Default any `yaml:"Default"`
	} `yaml:"Parameters"`
	Resources map[string]*cfnResDef `yaml:"Resources"`
	Outputs   map[string]struct {
		Description string `yaml:"Description"`
		Value       any    `yaml:"Value"`
	} `yaml:"Outputs"`
}

type cfnResDef struct {
	Type       string         `yaml:"Type"`
	Properties map[string]any `yaml:"Properties"`
	DependsOn  any            `yaml:"DependsOn"`
}

// cfnResource is a resource the stack holds: what the template asked for
// (resolved), and what is really there (which drift changes).
type cfnResource struct {
	logical, typ, physical string
	def                    *cfnResDef
	expected, actual       map[string]any
	attrs                  map[string]string
}

type cfnEvent struct {
	id, logical, physical, typ, status, reason string
	at                                         time.Time
}

type cfnChange struct {
	action, logical, physical, typ, replacement string
	props                                       []string
}

type cfnChangeSet struct {
	id, name, stackID, kind, status, exec, reason, desc string
	tpl                                                 *cfnTemplate
	body                                                string
	params                                              map[string]string
	changes                                             []cfnChange
	baseVersion                                         int
	created                                             time.Time
}

type cfnStep struct {
	change cfnChange
	at     time.Time
}

type cfnStack struct {
	id, name, account, region, status, reason string
	tpl                                       *cfnTemplate
	body                                      string
	params                                    map[string]string
	resources                                 map[string]*cfnResource
	events                                    []cfnEvent
	policy                                    string
	created, updated                          time.Time
	version                                   int
	changeSets                                map[string]*cfnChangeSet
	lastChangeSet                             string

	// The operation under way: its steps in order, how many are applied,
	// and what to go back to if one fails.
	running  *cfnChangeSet
	steps    []cfnStep
	applied  int
	undo     map[string]*cfnResource
	undoTpl  *cfnTemplate
	undoBody string

	drift       map[string][]propDiff // by logical id, from the last detection
	driftID     string
	driftStatus string
}

// FailResource makes the next execution that creates or updates the
// resource logicalID of stack fail there with reason, so the stack rolls
// back.
func (e *Emulator) FailResource(stack, logicalID, reason string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cfnFail == nil {
		e.cfnFail = map[string]string{}
	}
	e.cfnFail[stack+"/"+logicalID] = reason
}

// AuthorizeIngressBehindBack adds an inbound rule to the security group with
// the given id, outside CloudFormation, as someone in the console would:
// drift detection then reports it.
func (e *Emulator) AuthorizeIngressBehindBack(groupID string, port int, cidr string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, st := range e.stacks {
		for _, r := range st.resources {
			if r.physical == groupID && r.typ == "AWS::EC2::SecurityGroup" {
				rules, _ := r.actual["SecurityGroupIngress"].([]any)
				r.actual["SecurityGroupIngress"] = append(slices.Clone(rules), map[string]any{"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "CidrIp": cidr})
				return nil
			}
		}
	}
	return fmt.Errorf("no security group %s in any stack", groupID)
}

// StackResource returns the physical id of a stack's resource ("" when
// there is none), for tests.
func (e *Emulator) StackResource(stack, logicalID string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, st := range e.stacks {
		if st.name == stack {
			e.settle(st)
			if r := st.resources[logicalID]; r != nil {
				return r.physical
			}
		}
	}
	return ""
}

// StackResourceCount counts the resources of a type across all stacks,
// for tests proving nothing was created twice.
func (e *Emulator) StackResourceCount(typ string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, st := range e.stacks {
		e.settle(st)
		for _, r := range st.resources {
			if r.typ == typ {
				n++
			}
		}
	}
	return n
}

func (e *Emulator) cfn(q *queryRequest) (any, *apiError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, st := range e.stacks {
		e.settle(st)
	}
	switch q.action {
	case "CreateChangeSet":
		return e.createChangeSet(q)
	case "DescribeChangeSet":
		return e.describeChangeSet(q)
	case "ExecuteChangeSet":
		return e.executeChangeSet(q)
	case "DeleteChangeSet":
		return e.deleteChangeSet(q)
	case "DescribeStacks":
		return e.describeStacks(q)
	case "DescribeStackEvents":
		return e.describeStackEvents(q)
	case "DetectStackDrift":
		return e.detectStackDrift(q)
	case "DescribeStackDriftDetectionStatus":
		return e.describeDriftStatus(q)
	case "DescribeStackResourceDrifts":
		return e.describeResourceDrifts(q)
	case "SetStackPolicy":
		return e.setStackPolicy(q)
	case "GetStackPolicy":
		return e.getStackPolicy(q)
	case "DeleteStack":
		return e.deleteStack(q)
	default:
		return nil, unknownAction(q)
	}
}

func cfnValidation(format string, args ...any) *apiError {
	return errf(http.StatusBadRequest, "ValidationError", format, args...)
}

// stack finds a stack by name or id in the caller's account and region.
func (e *Emulator) stack(q *queryRequest, nameOrID string) *cfnStack {
	for _, st := range e.stacks {
		if st.account == q.id.account && st.region == q.region && (st.name == nameOrID || st.id == nameOrID) {
			return st
		}
	}
	return nil
}

func (e *Emulator) changeSet(q *queryRequest) (*cfnStack, *cfnChangeSet, *apiError) {
	name := q.form.Get("ChangeSetName")
	stackName := q.form.Get("StackName")
	if name == "" {
		return nil, nil, cfnValidation("ChangeSetName is required")
	}
	for _, st := range e.stacks {
		if st.account != q.id.account || st.region != q.region {
			continue
		}
		if stackName != "" && st.name != stackName && st.id != stackName {
			continue
		}
		for _, cs := range st.changeSets {
			if cs.name == name || cs.id == name {
				return st, cs, nil
			}
		}
	}
	return nil, nil, errf(http.StatusNotFound, "ChangeSetNotFound", "ChangeSet [%s] does not exist", name)
}

func parseTemplate(body string) (*cfnTemplate, *apiError) {
	var t cfnTemplate
	if err := yaml.Unmarshal([]byte(body), &t); err != nil {
		return nil, cfnValidation("Template format error: %v", err)
	}
	if len(t.Resources) == 0 {
		return nil, cfnValidation("Template format error: At least one Resources member must be defined.")
	}
	for id, r := range t.Resources {
		if _, ok := cfnTypes[r.Type]; !ok {
			return nil, cfnValidation("Template format error: Unrecognized resource types: [%s] (resource %s)", r.Type, id)
		}
	}
	return &t, nil
}

func (e *Emulator) createChangeSet(q *queryRequest) (any, *apiError) {
	if err := required(q.form, "StackName", "ChangeSetName"); err != nil {
		return nil, cfnValidation("%s", err.message)
	}
	body := q.form.Get("TemplateBody")
	if body == "" {
		return nil, cfnValidation("TemplateBody is required (TemplateURL is not emulated)")
	}
	tpl, aerr := parseTemplate(body)
	if aerr != nil {
		return nil, aerr
	}
	params := map[string]string{}
	for _, p := range members(q.form, "Parameters.member") {
		params[q.form.Get(p+".ParameterKey")] = q.form.Get(p + ".ParameterValue")
	}
	for k := range params {
		if _, ok := tpl.Parameters[k]; !ok {
			return nil, cfnValidation("Parameters: [%s] do not exist in the template", k)
		}
	}
	for k, p := range tpl.Parameters {
		if _, ok := params[k]; !ok {
			if p.Default == nil {
				return nil, cfnValidation("Parameters: [%s] must have values", k)
			}
			params[k] = fmt.Sprint(p.Default)
		}
	}
	kind := q.form.Get("ChangeSetType")
	if kind == "" {
		kind = "UPDATE"
	}
	name := q.form.Get("StackName")
	st := e.stack(q, name)
	now := e.clock.Now()
	switch {
	case kind == "CREATE" && st != nil && st.status != "REVIEW_IN_PROGRESS":
		return nil, errf(http.StatusBadRequest, "AlreadyExistsException", "Stack [%s] already exists and cannot be created again with the changeSet [%s].", name, q.form.Get("ChangeSetName"))
	case kind == "UPDATE" && st == nil:
		return nil, cfnValidation("Stack [%s] does not exist", name)
	case kind != "CREATE" && kind != "UPDATE":
		return nil, cfnValidation("ChangeSetType %s is not emulated", kind)
	}
	if st == nil {
		st = &cfnStack{id: fmt.Sprintf("arn:aws:cloudformation:%s:%s:stack/%s/%s", q.region, q.id.account, name, randomID(32)),
			name: name, account: q.id.account, region: q.region, status: "REVIEW_IN_PROGRESS", created: now,
			resources: map[string]*cfnResource{}, changeSets: map[string]*cfnChangeSet{}}
		e.stacks = append(e.stacks, st)
		e.event(st, name, st.id, "AWS::CloudFormation::Stack", "REVIEW_IN_PROGRESS", "User Initiated", now)
	}
	if strings.HasSuffix(st.status, "_IN_PROGRESS") && st.status != "REVIEW_IN_PROGRESS" {
		return nil, cfnValidation("Stack:%s is in %s state and can not be updated.", st.id, st.status)
	}
	csName := q.form.Get("ChangeSetName")
	if _, dup := st.changeSets[csName]; dup {
		return nil, errf(http.StatusBadRequest, "AlreadyExistsException", "ChangeSet [%s] already exists", csName)
	}
	cs := &cfnChangeSet{id: fmt.Sprintf("arn:aws:cloudformation:%s:%s:changeSet/%s/%s", q.region, q.id.account, csName, randomID(32)),
		name: csName, stackID: st.id, kind: kind, tpl: tpl, body: body, params: params, baseVersion: st.version, created: now,
		desc: q.form.Get("Description")}
	cs.changes = diffTemplates(st, tpl, params)
	if len(cs.changes) == 0 && kind == "UPDATE" {
		cs.status, cs.exec = "FAILED", "UNAVAILABLE"
		cs.reason = "The submitted information didn't contain changes. Submit different information to create a change set."
	} else {
		cs.status, cs.exec = "CREATE_COMPLETE", "AVAILABLE"
	}
	st.changeSets[csName] = cs
	return cfnResp("CreateChangeSet", q.reqID, struct {
		ID      string `xml:"Id"`
		StackID string `xml:"StackId"`
	}{cs.id, st.id}), nil
}

// cfnResp wraps a result in awsquery's envelope.
func cfnResp(action, reqID string, result any) any {
	return struct {
		XMLName xml.Name
		NS      string `xml:"xmlns,attr"`
		Result  any    `xml:",omitempty"`
		Meta    struct {
			RequestID string `xml:"RequestId"`
		} `xml:"ResponseMetadata"`
	}{XMLName: xml.Name{Local: action + "Response"}, NS: cfnNS, Result: resultElem{action + "Result", result}, Meta: struct {
		RequestID string `xml:"RequestId"`
	}{reqID}}
}

// resultElem names a result element after its action.
type resultElem struct {
	name string
	v    any
}

func (r resultElem) MarshalXML(enc *xml.Encoder, _ xml.StartElement) error {
	if r.v == nil {
		return enc.EncodeElement(struct{}{}, xml.StartElement{Name: xml.Name{Local: r.name}})
	}
	return enc.EncodeElement(r.v, xml.StartElement{Name: xml.Name{Local: r.name}})
}

// diffTemplates compares the stack's resources with a new template by
// logical id and properties. A resource whose referenced resource is
// replaced is modified too (its reference changes), and replaced itself
// when that reference is in a property that forces replacement.
func diffTemplates(st *cfnStack, tpl *cfnTemplate, params map[string]string) []cfnChange {
	var out []cfnChange
	changed := map[string]*cfnChange{}
	for _, id := range sortedKeysOf(tpl.Resources) {
		def := tpl.Resources[id]
		old := st.resources[id]
		switch {
		case old == nil:
			out = append(out, cfnChange{action: "Add", logical: id, typ: def.Type})
		case old.typ != def.Type:
			out = append(out, cfnChange{action: "Modify", logical: id, physical: old.physical, typ: def.Type, replacement: "True", props: []string{"Type"}})
		default:
			var props []string
			for _, k := range unionKeys(old.def.Properties, def.Properties) {
				if !reflect.DeepEqual(old.def.Properties[k], def.Properties[k]) || paramsChanged(def.Properties[k], st.params, params) {
					props = append(props, k)
				}
			}
			if len(props) > 0 {
				out = append(out, cfnChange{action: "Modify", logical: id, physical: old.physical, typ: def.Type, replacement: replacement(def.Type, props), props: props})
			}
		}
	}
	for i := range out {
		changed[out[i].logical] = &out[i]
	}
	// Replacements ripple to what refers to the replaced resource.
	for grew := true; grew; {
		grew = false
		for _, id := range sortedKeysOf(tpl.Resources) {
			def := tpl.Resources[id]
			if st.resources[id] == nil {
				continue
			}
			var props []string
			for _, k := range sortedKeysOf(def.Properties) {
				for _, dep := range refsIn(def.Properties[k]) {
					if c := changed[dep]; c != nil && c.replacement == "True" {
						props = append(props, k)
						break
					}
				}
			}
			if len(props) == 0 {
				continue
			}
			c := changed[id]
			if c == nil {
				out = append(out, cfnChange{action: "Modify", logical: id, physical: st.resources[id].physical, typ: def.Type})
				c = &out[len(out)-1]
				changed = map[string]*cfnChange{}
				for i := range out {
					changed[out[i].logical] = &out[i]
				}
				c = changed[id]
			}
			before := c.replacement
			for _, p := range props {
				if !slices.Contains(c.props, p) {
					c.props = append(c.props, p)
					grew = true
				}
			}
			sort.Strings(c.props)
			c.replacement = replacement(def.Type, c.props)
			if c.replacement != before {
				grew = true
			}
		}
	}
	for _, id := range sortedKeysOf(st.resources) {
		if _, ok := tpl.Resources[id]; !ok {
			r := st.resources[id]
			out = append(out, cfnChange{action: "Remove", logical: id, physical: r.physical, typ: r.typ})
		}
	}
	return out
}

func paramsChanged(v any, old, cur map[string]string) bool {
	for _, r := range refsIn(v) {
		if o, ok := old[r]; ok && o != cur[r] {
			return true
		}
	}
	return false
}

func replacement(typ string, props []string) string {
	for _, p := range props {
		if p == "Type" || slices.Contains(cfnTypes[typ].replace, p) {
			return "True"
		}
	}
	return "False"
}

// refsIn lists the names a value refers to by Ref, Fn::GetAtt or Fn::Sub.
func refsIn(v any) []string {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if r, ok := v["Ref"].(string); ok && len(v) == 1 {
				out = append(out, r)
				return
			}
			if a, ok := v["Fn::GetAtt"]; ok && len(v) == 1 {
				switch a := a.(type) {
				case []any:
					if len(a) > 0 {
						out = append(out, fmt.Sprint(a[0]))
					}
				case string:
					id, _, _ := strings.Cut(a, ".")
					out = append(out, id)
				}
				return
			}
			if s, ok := v["Fn::Sub"]; ok && len(v) == 1 {
				str, _ := s.(string)
				if a, ok := s.([]any); ok && len(a) == 2 {
					str, _ = a[0].(string)
					walk(a[1])
				}
				for _, m := range subRE.FindAllStringSubmatch(str, -1) {
					id, _, _ := strings.Cut(m[1], ".")
					out = append(out, id)
				}
				return
			}
			for _, k := range sortedKeysOf(v) {
				walk(v[k])
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
	return out
}

var subRE = regexp.MustCompile(`\$\{([^}!][^}]*)\}`)

func sortedKeysOf[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func unionKeys(a, b map[string]any) []string {
	seen := map[string]bool{}
	for k := range a {
		seen[k] = true
	}
	for k := range b {
		seen[k] = true
	}
	return sortedKeysOf(seen)
}

type changeXML struct {
	Type           string `xml:"Type"`
	ResourceChange struct {
		Action             string      `xml:"Action"`
		LogicalResourceID  string      `xml:"LogicalResourceId"`
		PhysicalResourceID string      `xml:"PhysicalResourceId,omitempty"`
		ResourceType       string      `xml:"ResourceType"`
		Replacement        string      `xml:"Replacement,omitempty"`
		Scope              []string    `xml:"Scope>member"`
		Details            []detailXML `xml:"Details>member"`
	} `xml:"ResourceChange"`
}

type detailXML struct {
	Target struct {
		Attribute          string `xml:"Attribute"`
		Name               string `xml:"Name"`
		RequiresRecreation string `xml:"RequiresRecreation"`
	} `xml:"Target"`
	Evaluation   string `xml:"Evaluation"`
	ChangeSource string `xml:"ChangeSource"`
}

func (e *Emulator) describeChangeSet(q *queryRequest) (any, *apiError) {
	st, cs, aerr := e.changeSet(q)
	if aerr != nil {
		return nil, aerr
	}
	if cs.exec == "AVAILABLE" && st.version != cs.baseVersion {
		cs.exec = "OBSOLETE"
	}
	var changes []changeXML
	for _, c := range cs.changes {
		var x changeXML
		x.Type = "Resource"
		rc := &x.ResourceChange
		rc.Action, rc.LogicalResourceID, rc.PhysicalResourceID, rc.ResourceType = c.action, c.logical, c.physical, c.typ
		if c.action == "Modify" {
			rc.Replacement = c.replacement
			rc.Scope = []string{"Properties"}
			for _, p := range c.props {
				var d detailXML
				d.Target.Attribute, d.Target.Name = "Properties", p
				d.Target.RequiresRecreation = "Never"
				if replacement(c.typ, []string{p}) == "True" {
					d.Target.RequiresRecreation = "Always"
				}
				d.Evaluation, d.ChangeSource = "Static", "DirectModification"
				rc.Details = append(rc.Details, d)
			}
		}
		changes = append(changes, x)
	}
	return cfnResp("DescribeChangeSet", q.reqID, struct {
		ChangeSetName   string      `xml:"ChangeSetName"`
		ChangeSetID     string      `xml:"ChangeSetId"`
		StackID         string      `xml:"StackId"`
		StackName       string      `xml:"StackName"`
		Description     string      `xml:"Description,omitempty"`
		CreationTime    string      `xml:"CreationTime"`
		Status          string      `xml:"Status"`
		StatusReason    string      `xml:"StatusReason,omitempty"`
		ExecutionStatus string      `xml:"ExecutionStatus"`
		Changes         []changeXML `xml:"Changes>member"`
		Parameters      []paramXML  `xml:"Parameters>member"`
	}{cs.name, cs.id, st.id, st.name, cs.desc, isoTime(cs.created), cs.status, cs.reason, cs.exec, changes, paramsXML(cs.params)}), nil
}

type paramXML struct {
	Key   string `xml:"ParameterKey"`
	Value string `xml:"ParameterValue"`
}

func paramsXML(p map[string]string) []paramXML {
	var out []paramXML
	for _, k := range sortedKeysOf(p) {
		out = append(out, paramXML{k, p[k]})
	}
	return out
}

func (e *Emulator) deleteChangeSet(q *queryRequest) (any, *apiError) {
	st, cs, aerr := e.changeSet(q)
	if aerr != nil {
		return nil, aerr
	}
	if cs.exec == "EXECUTE_IN_PROGRESS" {
		return nil, errf(http.StatusBadRequest, "InvalidChangeSetStatus", "Cannot delete ChangeSet in status %s", cs.exec)
	}
	delete(st.changeSets, cs.name)
	if st.status == "REVIEW_IN_PROGRESS" && len(st.changeSets) == 0 {
		// A stack that only ever had change sets goes with its last one.
		e.stacks = slices.DeleteFunc(e.stacks, func(s *cfnStack) bool { return s == st })
	}
	return cfnResp("DeleteChangeSet", q.reqID, nil), nil
}

func (e *Emulator) executeChangeSet(q *queryRequest) (any, *apiError) {
	st, cs, aerr := e.changeSet(q)
	if aerr != nil {
		return nil, aerr
	}
	if st.version != cs.baseVersion && cs.exec == "AVAILABLE" {
		cs.exec = "OBSOLETE"
	}
	if cs.exec != "AVAILABLE" {
		return nil, errf(http.StatusBadRequest, "InvalidChangeSetStatus", "ChangeSet [%s] cannot be executed in its current execution status of [%s]", cs.id, cs.exec)
	}
	if strings.HasSuffix(st.status, "_IN_PROGRESS") && st.status != "REVIEW_IN_PROGRESS" {
		return nil, cfnValidation("Stack:%s is in %s state and can not be updated.", st.id, st.status)
	}
	now := e.clock.Now()
	// Like CloudFormation, executing one change set deletes the stack's others.
	for name := range st.changeSets {
		if name != cs.name {
			delete(st.changeSets, name)
		}
	}
	cs.exec = "EXECUTE_IN_PROGRESS"
	st.running = cs
	st.undo = map[string]*cfnResource{}
	for id, r := range st.resources {
		cp := *r
		st.undo[id] = &cp
	}
	st.undoTpl, st.undoBody = st.tpl, st.body
	st.applied = 0
	st.steps = nil
	st.status = "UPDATE_IN_PROGRESS"
	if cs.kind == "CREATE" {
		st.status = "CREATE_IN_PROGRESS"
	}
	st.lastChangeSet = cs.id
	e.event(st, st.name, st.id, "AWS::CloudFormation::Stack", st.status, "User Initiated", now)
	at := now
	for _, c := range orderChanges(cs) {
		at = at.Add(e.opts.StackStepDelay)
		st.steps = append(st.steps, cfnStep{change: c, at: at})
	}
	e.settle(st)
	return cfnResp("ExecuteChangeSet", q.reqID, nil), nil
}

// ReplacementReason is the reason CloudFormation gives on the
// UPDATE_IN_PROGRESS event of a resource it replaces.
const ReplacementReason = "Requested update requires the creation of a new physical resource; hence creating one."

// ExecuteChangeSetCalls counts ExecuteChangeSet requests that reached the
// emulator's CloudFormation, refused ones included.
func (e *Emulator) ExecuteChangeSetCalls() int { return e.Calls("cloudformation:ExecuteChangeSet") }

// orderChanges puts adds and modifies in dependency order, then removals in
// reverse dependency order of the old template.
func orderChanges(cs *cfnChangeSet) []cfnChange {
	byID := map[string]cfnChange{}
	var removes []cfnChange
	for _, c := range cs.changes {
		if c.action == "Remove" {
			removes = append(removes, c)
		} else {
			byID[c.logical] = c
		}
	}
	var out []cfnChange
	done := map[string]bool{}
	var visit func(id string)
	visit = func(id string) {
		if done[id] {
			return
		}
		done[id] = true
		def := cs.tpl.Resources[id]
		if def == nil {
			return
		}
		deps := refsIn(def.Properties)
		switch d := def.DependsOn.(type) {
		case string:
			deps = append(deps, d)
		case []any:
			for _, x := range d {
				deps = append(deps, fmt.Sprint(x))
			}
		}
		sort.Strings(deps)
		for _, dep := range deps {
			visit(dep)
		}
		if c, ok := byID[id]; ok {
			out = append(out, c)
		}
	}
	for _, id := range sortedKeysOf(byID) {
		visit(id)
	}
	slices.Reverse(removes)
	return append(out, removes...)
}

func (e *Emulator) event(st *cfnStack, logical, physical, typ, status, reason string, at time.Time) {
	st.events = append(st.events, cfnEvent{id: randomID(8) + "-" + strconv.Itoa(len(st.events)), logical: logical, physical: physical,
		typ: typ, status: status, reason: reason, at: at})
}

// settle applies the steps of a running change set whose time has come;
// the caller holds e.mu.
func (e *Emulator) settle(st *cfnStack) {
	cs := st.running
	if cs == nil {
		return
	}
	now := e.clock.Now()
	verb := "UPDATE"
	if cs.kind == "CREATE" {
		verb = "CREATE"
	}
	for st.applied < len(st.steps) && !st.steps[st.applied].at.After(now) {
		step := st.steps[st.applied]
		if reason := e.applyChange(st, cs, step.change, step.at); reason != "" {
			e.rollback(st, cs, verb, step.at)
			return
		}
		st.applied++
	}
	if st.applied < len(st.steps) {
		return
	}
	end := now
	if len(st.steps) > 0 {
		end = st.steps[len(st.steps)-1].at
	}
	st.tpl, st.body, st.params = cs.tpl, cs.body, cs.params
	st.status = verb + "_COMPLETE"
	st.updated = end
	st.version++
	st.running = nil
	cs.exec = "EXECUTE_COMPLETE"
	e.event(st, st.name, st.id, "AWS::CloudFormation::Stack", st.status, "", end)
}

func (e *Emulator) rollback(st *cfnStack, cs *cfnChangeSet, verb string, at time.Time) {
	if verb == "CREATE" {
		st.status = "ROLLBACK_IN_PROGRESS"
	} else {
		st.status = "UPDATE_ROLLBACK_IN_PROGRESS"
	}
	e.event(st, st.name, st.id, "AWS::CloudFormation::Stack", st.status, "The following resource(s) failed to "+strings.ToLower(verb)+": ["+st.steps[st.applied].change.logical+"]. ", at)
	for i := st.applied - 1; i >= 0; i-- {
		c := st.steps[i].change
		switch c.action {
		case "Add":
			r := st.resources[c.logical]
			e.event(st, c.logical, r.physical, c.typ, "DELETE_COMPLETE", "", at)
			delete(st.resources, c.logical)
		default:
			if old := st.undo[c.logical]; old != nil {
				st.resources[c.logical] = old
				e.event(st, c.logical, old.physical, c.typ, "UPDATE_COMPLETE", "", at)
			}
		}
	}
	st.tpl, st.body = st.undoTpl, st.undoBody
	if verb == "CREATE" {
		st.status = "ROLLBACK_COMPLETE"
	} else {
		st.status = "UPDATE_ROLLBACK_COMPLETE"
		st.version++
	}
	st.updated = at
	st.running = nil
	cs.exec = "EXECUTE_FAILED"
	e.event(st, st.name, st.id, "AWS::CloudFormation::Stack", st.status, "", at)
}

// applyChange carries out one change; it returns the failure's reason, if any.
func (e *Emulator) applyChange(st *cfnStack, cs *cfnChangeSet, c cfnChange, at time.Time) string {
	verb := map[string]string{"Add": "CREATE", "Modify": "UPDATE", "Remove": "DELETE"}[c.action]
	old := st.resources[c.logical]
	phys := ""
	if old != nil {
		phys = old.physical
	}
	startReason := ""
	if old != nil && c.replacement == "True" {
		startReason = ReplacementReason
	}
	e.event(st, c.logical, phys, c.typ, verb+"_IN_PROGRESS", startReason, at)
	fail := func(reason string) string {
		e.event(st, c.logical, phys, c.typ, verb+"_FAILED", reason, at)
		return reason
	}
	if reason := policyDenies(st.policy, c); reason != "" {
		return fail(reason)
	}
	if reason, ok := e.cfnFail[st.name+"/"+c.logical]; ok && c.action != "Remove" {
		delete(e.cfnFail, st.name+"/"+c.logical)
		return fail(reason)
	}
	if c.action == "Remove" {
		delete(st.resources, c.logical)
		e.event(st, c.logical, phys, c.typ, "DELETE_COMPLETE", "", at)
		return ""
	}
	def := cs.tpl.Resources[c.logical]
	props, err := resolve(def.Properties, st, cs.params).(map[string]any)
	if !err {
		props = map[string]any{}
	}
	r := &cfnResource{logical: c.logical, typ: def.Type, def: def, expected: props, actual: deepCopy(props).(map[string]any)}
	if old != nil && c.replacement != "True" {
		r.physical, r.attrs = old.physical, old.attrs
	} else {
		r.physical, r.attrs = e.physicalFor(st, c.logical, def.Type, props)
	}
	st.resources[c.logical] = r
	e.event(st, c.logical, r.physical, c.typ, verb+"_COMPLETE", "", at)
	return ""
}

// physicalFor makes a new physical resource: its id and attributes.
func (e *Emulator) physicalFor(st *cfnStack, logical, typ string, props map[string]any) (string, map[string]string) {
	attrs := map[string]string{}
	e.cfnSeq++
	n := e.cfnSeq
	id := cfnTypes[typ].prefix + randomID(17)
	str := func(k string) string { return fmt.Sprint(props[k]) }
	switch typ {
	case "AWS::EC2::VPC":
		attrs["CidrBlock"], attrs["VpcId"], attrs["DefaultSecurityGroup"] = str("CidrBlock"), id, "sg-"+randomID(17)
	case "AWS::EC2::Subnet":
		attrs["AvailabilityZone"], attrs["SubnetId"], attrs["VpcId"], attrs["CidrBlock"] = str("AvailabilityZone"), id, str("VpcId"), str("CidrBlock")
	case "AWS::EC2::EIP":
		id = fmt.Sprintf("198.51.100.%d", n%250+1)
		m := Machine{Kind: "address", AccountID: st.account, Region: st.region, Stack: st.name, LogicalID: logical, Tags: propTags(props), Address: id}
		e.machine(&m)
		id = m.Address
		attrs["PublicIp"], attrs["AllocationId"] = id, "eipalloc-"+randomID(17)
	case "AWS::EC2::SecurityGroup":
		attrs["GroupId"], attrs["VpcId"] = id, str("VpcId")
	case "AWS::EC2::Instance":
		az, ip := "", fmt.Sprintf("10.0.%d.%d", n/250, n%250+4)
		for _, r := range st.resources {
			if r.typ == "AWS::EC2::Subnet" && r.physical == str("SubnetId") {
				az = r.attrs["AvailabilityZone"]
				ip = subnetAddress(r.attrs["CidrBlock"], n)
			}
		}
		m := Machine{Kind: "instance", AccountID: st.account, Region: st.region, Stack: st.name, LogicalID: logical, Tags: propTags(props), Address: ip}
		e.machine(&m)
		ip = m.Address
		attrs["AvailabilityZone"], attrs["PrivateIp"], attrs["InstanceId"] = az, ip, id
		attrs["PrivateDnsName"] = "ip-" + strings.ReplaceAll(ip, ".", "-") + "." + st.region + ".compute.internal"
		e.addInstance(st, id, ip, az, props, m.HostKey)
	case "AWS::EC2::Volume":
		size, _ := strconv.Atoi(str("Size"))
		tags := map[string]string{}
		if tl, ok := props["Tags"].([]any); ok {
			for _, t := range tl {
				if m, ok := t.(map[string]any); ok {
					tags[fmt.Sprint(m["Key"])] = fmt.Sprint(m["Value"])
				}
			}
		}
		e.volumes[id] = &volume{Volume: Volume{AccountID: st.account, Region: st.region, ID: id, AvailabilityZone: str("AvailabilityZone"),
			Type: "gp3", SizeGiB: int32(size), State: "in-use", Encrypted: props["Encrypted"] == true, Tags: tags}, seq: e.nextSeq(), created: e.clock.Now()}
		attrs["VolumeId"] = id
	case "AWS::Route53::HostedZone":
		id = "Z" + strings.ToUpper(randomID(20))
		attrs["Id"], attrs["NameServers"] = id, "ns-1.awsdns-00.org"
	case "AWS::Route53::RecordSet":
		id = str("Name")
	case "AWS::SES::EmailIdentity":
		id = str("EmailIdentity")
		for i := 1; i <= 3; i++ {
			tok := randomID(32)
			attrs["DkimDNSTokenName"+strconv.Itoa(i)] = tok + "._domainkey." + id
			attrs["DkimDNSTokenValue"+strconv.Itoa(i)] = tok + ".dkim.amazonses.com"
		}
	case "AWS::RDS::DBSubnetGroup":
		id = str("DBSubnetGroupName")
		if id == "<nil>" {
			id = strings.ToLower(st.name + "-" + logical + "-" + randomID(6))
		}
	case "AWS::RDS::DBInstance":
		id = str("DBInstanceIdentifier")
		if id == "<nil>" {
			id = strings.ToLower(st.name + "-" + logical + "-" + randomID(6))
		}
		port := "3306"
		switch {
		case props["Port"] != nil:
			port = str("Port")
		case strings.HasPrefix(str("Engine"), "postgres"):
			port = "5432"
		}
		attrs["Endpoint.Address"], attrs["Endpoint.Port"] = id+"."+st.region+".rds.amazonaws.com", port
		attrs["DBInstanceArn"] = "arn:aws:rds:" + st.region + ":" + st.account + ":db:" + id
	}
	return id, attrs
}

func subnetAddress(cidr string, n int) string {
	parts := strings.Split(strings.TrimSuffix(cidr, "/24"), ".")
	if len(parts) != 4 {
		return fmt.Sprintf("10.0.%d.%d", n/250, n%250+4)
	}
	return fmt.Sprintf("%s.%s.%s.%d", parts[0], parts[1], parts[2], n%250+4)
}

// resolve evaluates Ref, Fn::GetAtt, Fn::Sub and Fn::Base64 against the
// stack's resources as they are now.
func resolve(v any, st *cfnStack, params map[string]string) any {
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 1 {
			for k, a := range v {
				switch k {
				case "Ref":
					return refValue(fmt.Sprint(a), st, params)
				case "Fn::GetAtt":
					var id, attr string
					switch a := a.(type) {
					case []any:
						if len(a) == 2 {
							id, attr = fmt.Sprint(a[0]), fmt.Sprint(a[1])
						}
					case string:
						id, attr, _ = strings.Cut(a, ".")
					}
					if r := st.resources[id]; r != nil {
						return r.attrs[attr]
					}
					return ""
				case "Fn::Base64":
					return resolve(a, st, params)
				case "Fn::Sub":
					s, _ := a.(string)
					vars := map[string]any{}
					if l, ok := a.([]any); ok && len(l) == 2 {
						s, _ = l[0].(string)
						vars, _ = resolve(l[1], st, params).(map[string]any)
					}
					return subRE.ReplaceAllStringFunc(s, func(m string) string {
						name := m[2 : len(m)-1]
						if x, ok := vars[name]; ok {
							return fmt.Sprint(x)
						}
						if id, attr, ok := strings.Cut(name, "."); ok && !strings.HasPrefix(name, "AWS::") {
							if r := st.resources[id]; r != nil {
								return r.attrs[attr]
							}
							return ""
						}
						return fmt.Sprint(refValue(name, st, params))
					})
				}
			}
		}
		out := map[string]any{}
		for k, x := range v {
			out[k] = resolve(x, st, params)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = resolve(x, st, params)
		}
		return out
	}
	return v
}

func refValue(name string, st *cfnStack, params map[string]string) any {
	switch name {
	case "AWS::Region":
		return st.region
	case "AWS::AccountId":
		return st.account
	case "AWS::StackName":
		return st.name
	case "AWS::StackId":
		return st.id
	case "AWS::Partition":
		return "aws"
	case "AWS::URLSuffix":
		return "amazonaws.com"
	}
	if v, ok := params[name]; ok {
		return v
	}
	if r := st.resources[name]; r != nil {
		return r.physical
	}
	return ""
}

func deepCopy(v any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	if out == nil {
		return map[string]any{}
	}
	return out
}

// policyDenies applies a stack policy to one change: Deny statements on
// Update:Replace or Update:Delete matching the resource win over Allow.
func policyDenies(policy string, c cfnChange) string {
	if policy == "" || c.action == "Add" {
		return ""
	}
	action := "Update:Modify"
	switch {
	case c.action == "Remove":
		action = "Update:Delete"
	case c.replacement == "True":
		action = "Update:Replace"
	}
	var p struct {
		Statement []struct {
			Effect      string
			Action      any
			Resource    any
			NotResource any
			Condition   map[string]map[string]any
		}
	}
	if json.Unmarshal([]byte(policy), &p) != nil {
		return ""
	}
	list := func(v any) []string {
		switch v := v.(type) {
		case string:
			return []string{v}
		case []any:
			var out []string
			for _, x := range v {
				out = append(out, fmt.Sprint(x))
			}
			return out
		}
		return nil
	}
	// Policy wildcards match across slashes ("*" matches
	// LogicalResourceId/Data), unlike path.Match.
	match := func(patterns []string, s string) bool {
		for _, p := range patterns {
			re := "^" + strings.ReplaceAll(regexp.QuoteMeta(p), `\*`, ".*") + "$"
			if ok, _ := regexp.MatchString(re, s); ok {
				return true
			}
		}
		return false
	}
	res := "LogicalResourceId/" + c.logical
	for i, s := range p.Statement {
		if s.Effect != "Deny" || !match(list(s.Action), action) {
			continue
		}
		if s.Resource != nil && !match(list(s.Resource), res) {
			continue
		}
		if s.NotResource != nil && match(list(s.NotResource), res) {
			continue
		}
		if types, ok := s.Condition["StringEquals"]["ResourceType"]; ok && !match(list(types), c.typ) {
			continue
		}
		return fmt.Sprintf("Action denied by stack policy: Statement [#%d] has a Deny Effect on %s for %s", i+1, action, res)
	}
	return ""
}

func (e *Emulator) setStackPolicy(q *queryRequest) (any, *apiError) {
	st := e.stack(q, q.form.Get("StackName"))
	if st == nil {
		return nil, cfnValidation("Stack with id %s does not exist", q.form.Get("StackName"))
	}
	body := q.form.Get("StackPolicyBody")
	var p map[string]any
	if json.Unmarshal([]byte(body), &p) != nil {
		return nil, cfnValidation("Error validating stack policy: Invalid stack policy")
	}
	st.policy = body
	return cfnResp("SetStackPolicy", q.reqID, nil), nil
}

func (e *Emulator) getStackPolicy(q *queryRequest) (any, *apiError) {
	st := e.stack(q, q.form.Get("StackName"))
	if st == nil {
		return nil, cfnValidation("Stack with id %s does not exist", q.form.Get("StackName"))
	}
	return cfnResp("GetStackPolicy", q.reqID, struct {
		Body string `xml:"StackPolicyBody,omitempty"`
	}{st.policy}), nil
}

type outputXML struct {
	Key         string `xml:"OutputKey"`
	Value       string `xml:"OutputValue"`
	Description string `xml:"Description,omitempty"`
}

type stackXML struct {
	StackID         string      `xml:"StackId"`
	StackName       string      `xml:"StackName"`
	ChangeSetID     string      `xml:"ChangeSetId,omitempty"`
	CreationTime    string      `xml:"CreationTime"`
	LastUpdatedTime string      `xml:"LastUpdatedTime,omitempty"`
	StackStatus     string      `xml:"StackStatus"`
	Parameters      []paramXML  `xml:"Parameters>member"`
	Outputs         []outputXML `xml:"Outputs>member"`
	Drift           struct {
		Status string `xml:"StackDriftStatus"`
	} `xml:"DriftInformation"`
}

func (e *Emulator) describeStacks(q *queryRequest) (any, *apiError) {
	name := q.form.Get("StackName")
	var out []stackXML
	for _, st := range e.stacks {
		if st.account != q.id.account || st.region != q.region || (name != "" && st.name != name && st.id != name) {
			continue
		}
		x := stackXML{StackID: st.id, StackName: st.name, ChangeSetID: st.lastChangeSet, CreationTime: isoTime(st.created), StackStatus: st.status,
			Parameters: paramsXML(st.params)}
		if !st.updated.IsZero() {
			x.LastUpdatedTime = isoTime(st.updated)
		}
		x.Drift.Status = "NOT_CHECKED"
		if st.driftStatus != "" {
			x.Drift.Status = st.driftStatus
		}
		if st.tpl != nil && strings.HasSuffix(st.status, "_COMPLETE") && !strings.Contains(st.status, "ROLLBACK") || st.status == "UPDATE_ROLLBACK_COMPLETE" {
			if st.tpl != nil {
				for _, k := range sortedKeysOf(st.tpl.Outputs) {
					o := st.tpl.Outputs[k]
					x.Outputs = append(x.Outputs, outputXML{k, fmt.Sprint(resolve(o.Value, st, st.params)), o.Description})
				}
			}
		}
		out = append(out, x)
	}
	if name != "" && len(out) == 0 {
		return nil, cfnValidation("Stack with id %s does not exist", name)
	}
	return cfnResp("DescribeStacks", q.reqID, struct {
		Stacks []stackXML `xml:"Stacks>member"`
	}{out}), nil
}

type eventXML struct {
	StackID            string `xml:"StackId"`
	EventID            string `xml:"EventId"`
	StackName          string `xml:"StackName"`
	LogicalResourceID  string `xml:"LogicalResourceId"`
	PhysicalResourceID string `xml:"PhysicalResourceId,omitempty"`
	ResourceType       string `xml:"ResourceType"`
	Timestamp          string `xml:"Timestamp"`
	ResourceStatus     string `xml:"ResourceStatus"`
	Reason             string `xml:"ResourceStatusReason,omitempty"`
}

func (e *Emulator) describeStackEvents(q *queryRequest) (any, *apiError) {
	st := e.stack(q, q.form.Get("StackName"))
	if st == nil {
		return nil, cfnValidation("Stack [%s] does not exist", q.form.Get("StackName"))
	}
	// Newest first, as CloudFormation lists them.
	evs := slices.Clone(st.events)
	slices.Reverse(evs)
	pageItems, next, aerr := page(evs, q.form.Get("NextToken"), 100, e.opts.PageLimit)
	if aerr != nil {
		return nil, aerr
	}
	var out []eventXML
	for _, ev := range pageItems {
		out = append(out, eventXML{st.id, ev.id, st.name, ev.logical, ev.physical, ev.typ, isoTime(ev.at), ev.status, ev.reason})
	}
	return cfnResp("DescribeStackEvents", q.reqID, struct {
		Events    []eventXML `xml:"StackEvents>member"`
		NextToken string     `xml:"NextToken,omitempty"`
	}{out, next}), nil
}

// propDiff is one property that differs from the template.
type propDiff struct {
	path, expected, actual, kind string
}

func (e *Emulator) detectStackDrift(q *queryRequest) (any, *apiError) {
	st := e.stack(q, q.form.Get("StackName"))
	if st == nil {
		return nil, cfnValidation("Stack with id %s does not exist", q.form.Get("StackName"))
	}
	st.drift = map[string][]propDiff{}
	st.driftStatus = "IN_SYNC"
	for id, r := range st.resources {
		if d := diffProps("", r.expected, r.actual); len(d) > 0 {
			st.drift[id] = d
			st.driftStatus = "DRIFTED"
		}
	}
	st.driftID = randomID(8) + "-" + randomID(4) + "-" + randomID(4) + "-" + randomID(4) + "-" + randomID(12)
	return cfnResp("DetectStackDrift", q.reqID, struct {
		ID string `xml:"StackDriftDetectionId"`
	}{st.driftID}), nil
}

func diffProps(at string, want, got any) []propDiff {
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	switch w := want.(type) {
	case map[string]any:
		g, _ := got.(map[string]any)
		var out []propDiff
		for _, k := range unionKeys(w, g) {
			out = append(out, diffProps(at+"/"+k, w[k], g[k])...)
		}
		return out
	case []any:
		g, _ := got.([]any)
		var out []propDiff
		has := func(list []any, x any) bool {
			return slices.ContainsFunc(list, func(y any) bool { return js(y) == js(x) })
		}
		for i, x := range g {
			if !has(w, x) {
				out = append(out, propDiff{fmt.Sprintf("%s/%d", at, i), "null", js(x), "ADD"})
			}
		}
		for i, x := range w {
			if !has(g, x) {
				out = append(out, propDiff{fmt.Sprintf("%s/%d", at, i), js(x), "null", "REMOVE"})
			}
		}
		return out
	}
	if js(want) != js(got) {
		return []propDiff{{at, js(want), js(got), "NOT_EQUAL"}}
	}
	return nil
}

func (e *Emulator) describeDriftStatus(q *queryRequest) (any, *apiError) {
	id := q.form.Get("StackDriftDetectionId")
	for _, st := range e.stacks {
		if st.driftID == id && st.account == q.id.account {
			return cfnResp("DescribeStackDriftDetectionStatus", q.reqID, struct {
				StackID   string `xml:"StackId"`
				ID        string `xml:"StackDriftDetectionId"`
				Drift     string `xml:"StackDriftStatus"`
				Status    string `xml:"DetectionStatus"`
				Drifted   int    `xml:"DriftedStackResourceCount"`
				Timestamp string `xml:"Timestamp"`
			}{st.id, id, st.driftStatus, "DETECTION_COMPLETE", len(st.drift), isoTime(e.clock.Now())}), nil
		}
	}
	return nil, cfnValidation("Drift detection %s does not exist", id)
}

type resourceDriftXML struct {
	StackID            string `xml:"StackId"`
	LogicalResourceID  string `xml:"LogicalResourceId"`
	PhysicalResourceID string `xml:"PhysicalResourceId"`
	ResourceType       string `xml:"ResourceType"`
	Expected           string `xml:"ExpectedProperties"`
	Actual             string `xml:"ActualProperties"`
	Diffs              []struct {
		Path     string `xml:"PropertyPath"`
		Expected string `xml:"ExpectedValue"`
		Actual   string `xml:"ActualValue"`
		Kind     string `xml:"DifferenceType"`
	} `xml:"PropertyDifferences>member"`
	Status    string `xml:"StackResourceDriftStatus"`
	Timestamp string `xml:"Timestamp"`
}

func (e *Emulator) describeResourceDrifts(q *queryRequest) (any, *apiError) {
	st := e.stack(q, q.form.Get("StackName"))
	if st == nil {
		return nil, cfnValidation("Stack with id %s does not exist", q.form.Get("StackName"))
	}
	filter := stringList(q.form, "StackResourceDriftStatusFilters.member")
	var out []resourceDriftXML
	for _, id := range sortedKeysOf(st.resources) {
		r := st.resources[id]
		status := "IN_SYNC"
		if len(st.drift[id]) > 0 {
			status = "MODIFIED"
		}
		if len(filter) > 0 && !slices.Contains(filter, status) {
			continue
		}
		exp, _ := json.Marshal(r.expected)
		act, _ := json.Marshal(r.actual)
		x := resourceDriftXML{StackID: st.id, LogicalResourceID: id, PhysicalResourceID: r.physical, ResourceType: r.typ,
			Expected: string(exp), Actual: string(act), Status: status, Timestamp: isoTime(e.clock.Now())}
		for _, d := range st.drift[id] {
			x.Diffs = append(x.Diffs, struct {
				Path     string `xml:"PropertyPath"`
				Expected string `xml:"ExpectedValue"`
				Actual   string `xml:"ActualValue"`
				Kind     string `xml:"DifferenceType"`
			}{d.path, d.expected, d.actual, d.kind})
		}
		out = append(out, x)
	}
	pageItems, next, aerr := page(out, q.form.Get("NextToken"), 100, e.opts.PageLimit)
	if aerr != nil {
		return nil, aerr
	}
	return cfnResp("DescribeStackResourceDrifts", q.reqID, struct {
		Drifts    []resourceDriftXML `xml:"StackResourceDrifts>member"`
		NextToken string             `xml:"NextToken,omitempty"`
	}{pageItems, next}), nil
}
