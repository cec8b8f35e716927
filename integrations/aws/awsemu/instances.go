package awsemu

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"sort"
	"strings"

	"golang.org/x/crypto/ssh"
)

// cfnState is the emulator's CloudFormation and EC2 instance state (kept
// apart from emulator.go, which other work edits).
type cfnState struct {
	stacks    []*cfnStack
	cfnFail   map[string]string // "stack/logical" → reason
	cfnSeq    int
	instances map[string]*instance // by instance id
	machines  func(*Machine)       // see SetMachines
}

// instance is an EC2 instance created by a CloudFormation stack.
type instance struct {
	id, account, region, az, privateIP, typ, ami string
	tags                                         map[string]string
	console                                      string
	seq                                          int
}

// HostKeyConsole is the console output cloud-init prints for a host whose
// SSH host key is key (an authorized_keys line).
func HostKeyConsole(key string) string {
	return "[   12.345678] cloud-init[1042]: Cloud-init v. 24.1 running 'modules:final'\n" +
		"-----BEGIN SSH HOST KEY KEYS-----\n" + strings.TrimSpace(key) + " root@localhost\n-----END SSH HOST KEY KEYS-----\n" +
		"[   13.000001] cloud-init[1042]: Cloud-init v. 24.1 finished\n"
}

// SetConsoleOutput replaces what GetConsoleOutput returns for an instance;
// by default it shows a freshly generated ed25519 host key.
func (e *Emulator) SetConsoleOutput(instanceID, text string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	in := e.instances[instanceID]
	if in == nil {
		return fmt.Errorf("no instance %s", instanceID)
	}
	in.console = text
	return nil
}

// addInstance records an instance a stack created, whose console output
// shows hostKey (a generated one when empty); the caller holds e.mu.
func (e *Emulator) addInstance(st *cfnStack, id, ip, az string, props map[string]any, hostKey string) {
	if e.instances == nil {
		e.instances = map[string]*instance{}
	}
	if hostKey == "" {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			panic(fmt.Sprintf("awsemu: host key: %v", err))
		}
		sp, _ := ssh.NewPublicKey(pub)
		hostKey = sp.Type() + " " + base64.StdEncoding.EncodeToString(sp.Marshal())
	}
	e.instances[id] = &instance{id: id, account: st.account, region: st.region, az: az, privateIP: ip,
		typ: fmt.Sprint(props["InstanceType"]), ami: fmt.Sprint(props["ImageId"]), tags: propTags(props), console: HostKeyConsole(hostKey), seq: e.nextSeq()}
}

func (e *Emulator) ec2Instances(q *queryRequest) (any, *apiError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, st := range e.stacks {
		e.settle(st)
	}
	if q.action == "GetConsoleOutput" {
		id := q.form.Get("InstanceId")
		in := e.instances[id]
		if in == nil || in.account != q.id.account || in.region != q.region {
			return nil, badRequestf("InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", id)
		}
		return struct {
			XMLName    xml.Name `xml:"GetConsoleOutputResponse"`
			NS         string   `xml:"xmlns,attr"`
			RequestID  string   `xml:"requestId"`
			InstanceID string   `xml:"instanceId"`
			Timestamp  string   `xml:"timestamp"`
			Output     string   `xml:"output"`
		}{NS: ec2NS, RequestID: q.reqID, InstanceID: id, Timestamp: isoTime(e.clock.Now()), Output: base64.StdEncoding.EncodeToString([]byte(in.console))}, nil
	}
	ids := stringList(q.form, "InstanceId")
	filters := ec2Filters(q.form)
	var list []*instance
	for _, in := range e.instances {
		if in.account != q.id.account || in.region != q.region || (len(ids) > 0 && !contains(ids, in.id)) {
			continue
		}
		ok, aerr := matchFilters(filters, func(name string) ([]string, bool) {
			if k, found := strings.CutPrefix(name, "tag:"); found {
				v, has := in.tags[k]
				if !has {
					return nil, true
				}
				return []string{v}, true
			}
			switch name {
			case "instance-id":
				return []string{in.id}, true
			case "instance-state-name":
				return []string{"running"}, true
			case "private-ip-address":
				return []string{in.privateIP}, true
			}
			return nil, false
		})
		if aerr != nil {
			return nil, aerr
		}
		if ok {
			list = append(list, in)
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].seq < list[j].seq })
	type instXML struct {
		InstanceID string `xml:"instanceId"`
		ImageID    string `xml:"imageId"`
		State      struct {
			Code int    `xml:"code"`
			Name string `xml:"name"`
		} `xml:"instanceState"`
		PrivateIP    string `xml:"privateIpAddress"`
		InstanceType string `xml:"instanceType"`
		Placement    struct {
			AZ string `xml:"availabilityZone"`
		} `xml:"placement"`
		Tags []ec2Tag `xml:"tagSet>item"`
	}
	var items []instXML
	for _, in := range list {
		x := instXML{InstanceID: in.id, ImageID: in.ami, PrivateIP: in.privateIP, InstanceType: in.typ, Tags: ec2Tags(in.tags)}
		x.State.Code, x.State.Name = 16, "running"
		x.Placement.AZ = in.az
		items = append(items, x)
	}
	type resv struct {
		ReservationID string    `xml:"reservationId"`
		OwnerID       string    `xml:"ownerId"`
		Instances     []instXML `xml:"instancesSet>item"`
	}
	var rs []resv
	if len(items) > 0 {
		rs = []resv{{"r-" + randomID(17), q.id.account, items}}
	}
	return struct {
		XMLName      xml.Name `xml:"DescribeInstancesResponse"`
		NS           string   `xml:"xmlns,attr"`
		RequestID    string   `xml:"requestId"`
		Reservations []resv   `xml:"reservationSet>item"`
	}{NS: ec2NS, RequestID: q.reqID, Reservations: rs}, nil
}
