package awsemu

import (
	"fmt"
	"hash/fnv"
)

// Machine is something the emulator starts that answers on a network: an
// EC2 instance a stack launches, an elastic IP it allocates, an RDS
// instance restored from a snapshot. The emulator only pretends to start
// them; an embedder that wants them to answer (the sandbox's SSH hosts, a
// test's sshd) sees each one through SetMachines before it is recorded,
// and may move its address and give it the SSH host key its console
// output shows.
type Machine struct {
	Kind      string // "instance", "address" (an elastic IP) or "db"
	AccountID string
	Region    string
	Stack     string // the stack that made it; "" for a database
	LogicalID string // in that stack; the identifier for a database
	Tags      map[string]string
	// Address is the instance's private IP, the elastic IP, or the
	// database endpoint's host name; Port is the database's port.
	Address string
	Port    int
	// HostKey ("<type> <base64>") is what an instance's console output
	// prints between cloud-init's SSH HOST KEY markers; empty keeps a
	// generated one.
	HostKey string
}

// SetMachines makes fn see every machine as it is made. fn runs with the
// emulator locked: it must not call the emulator.
func (e *Emulator) SetMachines(fn func(m *Machine)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.machines = fn
}

// machine shows m to the embedder, if any; the caller holds e.mu.
func (e *Emulator) machine(m *Machine) {
	if e.machines != nil {
		e.machines(m)
	}
}

// dbEndpoint is where a database answers, as RDS names it:
// <id>.<12 characters of the account>.<region>.rds.amazonaws.com.
func dbEndpoint(account, region, id, engine string) (string, int) {
	h := fnv.New64a()
	h.Write([]byte(account + region))
	port := 5432
	switch engine {
	case "mysql", "mariadb", "aurora-mysql":
		port = 3306
	case "oracle-ee", "oracle-se2":
		port = 1521
	case "sqlserver-ee", "sqlserver-se", "sqlserver-ex", "sqlserver-web":
		port = 1433
	}
	return fmt.Sprintf("%s.c%011x.%s.rds.amazonaws.com", id, h.Sum64()&0xfffffffffff, region), port
}

// propTags reads a resource's Tags property.
func propTags(props map[string]any) map[string]string {
	tags := map[string]string{}
	if tl, ok := props["Tags"].([]any); ok {
		for _, t := range tl {
			if m, ok := t.(map[string]any); ok {
				tags[fmt.Sprint(m["Key"])] = fmt.Sprint(m["Value"])
			}
		}
	}
	return tags
}
