// Package config loads and validates mcloud.yaml. Every error names the exact
// key that is wrong and why, so `mcloud serve --check-config` can point an
// operator at the line to fix.
package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole mcloud.yaml.
type Config struct {
	Slack     Slack      `yaml:"slack"`
	Team      Team       `yaml:"team"`
	AWS       AWS        `yaml:"aws"`
	Approvals Approvals  `yaml:"approvals"`
	Jobs      Jobs       `yaml:"jobs"`
	SSH       SSH        `yaml:"ssh"`
	Metrics   Metrics    `yaml:"metrics"`
	Outbox    Outbox     `yaml:"outbox"`
	Scheduler Scheduler  `yaml:"scheduler"`
	Alerts    Alerts     `yaml:"alerts"`
	Defaults  Defaults   `yaml:"defaults"`
	Customers []Customer `yaml:"customers"`

	// Where each key is in the file, and which could not be read: for
	// problems' line numbers, and so that defaults fill only what the file
	// leaves out.
	positions map[string]position
	broken    map[string]bool
	// origin maps a key filled from a default (customers[0].environments[1].patch.apply)
	// to the key the value was written at (defaults.patch.apply), so that a
	// problem with the value is reported there, once.
	origin map[string]string
}

// Defaults are written once for every customer (see defaults.go): the
// rest of the program sees them only as the values they resolved to.
type Defaults struct {
	// Patch is every environment's patch settings; a customer's patch
	// overrides it key by key, and an environment's patch its customer's.
	Patch Patch `yaml:"patch"`
	// Products holds, by a host's product (wso2am), the service and
	// health_url of every host running it that does not set its own.
	Products map[string]HostDefaults `yaml:"products"`
}

// HostDefaults are what a host running a product has unless it says
// otherwise (health_url: "" for none).
type HostDefaults struct {
	Service   string `yaml:"service"`
	HealthURL string `yaml:"health_url"`
}

// Metrics is where `mcloud serve` answers GET /metrics. The Slack listener
// faces the internet and the series name customers, so /metrics is served
// there only with a Token; Listen moves it to an address of its own (a
// private interface, or loopback for a local agent) instead.
type Metrics struct {
	// Token is the bearer token a scraper must send, wherever /metrics is.
	Token Secret `yaml:"token"`
	// Listen, when set, serves /metrics on this host:port and not on the
	// Slack listener.
	Listen string `yaml:"listen"`
}

// Outbox is how long the bot keeps what it said. A delivered message can
// carry a bearer secret for its lifetime (a presigned download link), so
// its text is erased Retention after delivery; the audit log keeps who
// did what and when.
type Outbox struct {
	Retention Duration `yaml:"retention"`
}

// Alerts are the monitoring receivers on serve's listener and where their
// alerts go. A source without credentials is not served at all.
type Alerts struct {
	Alertmanager AlertSource `yaml:"alertmanager"`
	Icinga2      AlertSource `yaml:"icinga2"`
	SNS          SNSSource   `yaml:"sns"`
	// Customer and Team are the severities posted in the customer's channel
	// and in the team channel (default: critical and warning to both).
	// An alert that matches no customer goes to the team channel whatever
	// its severity.
	Customer []string `yaml:"customer"`
	Team     []string `yaml:"team"`
	// Budget is how many new problem messages one channel gets per
	// Interval; more new problems are folded into one summary message per
	// channel and interval (default 10 per 1m).
	Budget   int      `yaml:"budget"`
	Interval Duration `yaml:"interval"`
	// Email is the fallback for critical alerts while Slack is unreachable.
	Email AlertEmail `yaml:"email"`
}

// AlertEmail sends critical alerts by mail (SMTP with STARTTLS and AUTH)
// to the customer's contacts, and the team's alerts to Team, once Slack
// has been unreachable for After. The Slack messages are still delivered
// when Slack is back. Without a Server there is no fallback.
type AlertEmail struct {
	// After is how long Slack must have been unreachable (default 5m).
	After  Duration `yaml:"after"`
	Server string   `yaml:"server"`
	// Port is the submission port (default 587); the connection is
	// upgraded with STARTTLS before AUTH, or nothing is sent.
	Port     int    `yaml:"port"`
	From     string `yaml:"from"`
	Username Secret `yaml:"username"`
	Password Secret `yaml:"password"`
	// CA is a PEM file to trust for the server's certificate (a private
	// relay's own CA); the system roots otherwise.
	CA string `yaml:"ca"`
	// Team is where alerts for the team channel (and unmatched ones) go.
	Team []string `yaml:"team"`
}

// Configured reports whether mail is on.
func (e AlertEmail) Configured() bool { return e.Server != "" }

// DefaultEmailAfter is how long Slack must be unreachable before mail.
const DefaultEmailAfter = 5 * time.Minute

// Wait is After, or its default.
func (e AlertEmail) Wait() time.Duration {
	if e.After <= 0 {
		return DefaultEmailAfter
	}
	return time.Duration(e.After)
}

// Addr is the server's host:port.
func (e AlertEmail) Addr() string {
	port := e.Port
	if port == 0 {
		port = 587
	}
	return net.JoinHostPort(e.Server, strconv.Itoa(port))
}

// AlertSource is how a monitoring system authenticates to its receiver
// (a bearer Token, or basic auth with User and Password) and, for
// acknowledgements, where its API is.
type AlertSource struct {
	Token    Secret `yaml:"token"`
	User     string `yaml:"user"`
	Password Secret `yaml:"password"`
	// API is the system's API base URL (Alertmanager: http://host:9093,
	// Icinga2: https://host:5665) with APIUser/APIPassword for Icinga2.
	API         string `yaml:"api"`
	APIUser     string `yaml:"api_user"`
	APIPassword Secret `yaml:"api_password"`
	// APICA is a PEM file to trust for API's TLS (Icinga2's own CA).
	APICA string `yaml:"api_ca"`
}

// Configured reports whether the source can authenticate anyone.
func (s AlertSource) Configured() bool { return s.Token.Set() || (s.User != "" && s.Password.Set()) }

// SNSSource is the SNS subscription: messages are authenticated by their
// signature, and accepted only from these topics.
type SNSSource struct {
	Topics []string `yaml:"topics"`
}

// SSH is how the bot logs in to bastions and hosts.
type SSH struct {
	// KeyFile is the private key's path; without it, ssh-agent is used.
	KeyFile          string   `yaml:"key_file"`
	Passphrase       Secret   `yaml:"passphrase"`
	Agent            bool     `yaml:"agent"`
	HandshakeTimeout Duration `yaml:"handshake_timeout"`
	CommandTimeout   Duration `yaml:"command_timeout"`
	Parallelism      int      `yaml:"parallelism"`
}

// Slack holds the app's credentials. The team's own workspace is TeamID:
// a user of any other workspace is, at most, a customer user.
type Slack struct {
	TeamID string `yaml:"team_id"`
	// EnterpriseID is the team's Enterprise Grid organisation, when it has
	// one: a user of any of its workspaces is vouched for as the team's.
	EnterpriseID  string `yaml:"enterprise_id"`
	BotToken      Secret `yaml:"bot_token"`
	AppToken      Secret `yaml:"app_token"`
	SigningSecret Secret `yaml:"signing_secret"`
	APIURL        string `yaml:"api_url"`
	// Mode is how Slack reaches the bot: "socket" (Socket Mode, the default
	// when AppToken is set) or "http" (signed requests to /slack/...).
	Mode string `yaml:"mode"`
}

// Team is the DevOps team: its channels and its members.
type Team struct {
	Channels []Channel `yaml:"channels"`
	Users    []User    `yaml:"users"`
	// CIDRs are the team's networks: the only sources a provisioned
	// bastion takes SSH from.
	CIDRs []string `yaml:"cidrs"`
}

// Channel is a Slack channel, referenced by id; the name is for people.
type Channel struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
}

// User is a Slack user, referenced by id; the name is for people and for
// `mcloud shell`'s :user command.
type User struct {
	ID       string `yaml:"id"`
	Name     string `yaml:"name"`
	Approver bool   `yaml:"approver"`
}

// AWS holds settings shared by every customer.
type AWS struct {
	// Endpoint overrides every AWS endpoint (LocalStack-style emulators).
	Endpoint string `yaml:"endpoint"`
}

// Approvals are the approval rules.
type Approvals struct {
	Expiry Duration `yaml:"expiry"`
	// Rules override the verbs' defaults: how many distinct approvers a
	// request needs, by who asked.
	Rules map[string]Rule `yaml:"rules"`
}

// Rule is how many approvers a verb needs when DevOps or a customer asks.
type Rule struct {
	DevOps   *int `yaml:"devops"`
	Customer *int `yaml:"customer"`
}

// Jobs tunes the durable job runner.
type Jobs struct {
	// RescueAfter is how long a job may look running before another
	// process takes it as abandoned (its process died) and resumes it.
	RescueAfter Duration `yaml:"rescue_after"`
	Workers     int      `yaml:"workers"`
}

// Customer is one customer and everything the bot runs for them.
type Customer struct {
	Name    string  `yaml:"name"`
	Channel Channel `yaml:"channel"`
	// TeamID is the customer's own Slack workspace (required): only its
	// users, or those listed in Users, are the customer's.
	TeamID string `yaml:"team_id"`
	// EnterpriseID is the customer's Enterprise Grid organisation, if any.
	EnterpriseID    string      `yaml:"enterprise_id"`
	Users           []User      `yaml:"users"`
	AWS             CustomerAWS `yaml:"aws"`
	Buckets         Buckets     `yaml:"buckets"`
	RetentionMonths int         `yaml:"retention_months"`
	Bastion         Bastion     `yaml:"bastion"`
	// Patch overrides defaults.patch, key by key, for the customer's
	// environments; each environment's patch overrides it in turn.
	Patch        Patch         `yaml:"patch"`
	Environments []Environment `yaml:"environments"`
	Schedules    Schedules     `yaml:"schedules"`
	// Retention is the snapshot retention policy its retention schedule
	// and verb apply.
	Retention Retention `yaml:"retention"`
	// BackupMaxAge is the backup policy: a newest backup older than this
	// is flagged (default 26h).
	BackupMaxAge Duration `yaml:"backup_max_age"`
	// DR holds the RPO and RTO targets a drill is measured against.
	DR DR `yaml:"dr"`
	// Contacts are the customer's email addresses for critical alerts
	// while Slack is unreachable (alerts.email).
	Contacts []string `yaml:"contacts"`
}

// CustomerAWS is how the bot reaches the customer's account.
type CustomerAWS struct {
	AccountID  string `yaml:"account_id"`
	RoleARN    string `yaml:"role_arn"`
	ExternalID Secret `yaml:"external_id"`
	Region     string `yaml:"region"`
	DRRegion   string `yaml:"dr_region"`
	// ExportRoleARN and ExportKMSKeyID are what RDS snapshot exports to S3 use.
	ExportRoleARN  string `yaml:"export_role_arn"`
	ExportKMSKeyID string `yaml:"export_kms_key_id"`
}

// Buckets are the customer's S3 buckets.
type Buckets struct {
	Logs      string `yaml:"logs"`
	Artifacts string `yaml:"artifacts"`
	Exports   string `yaml:"exports"`
}

// Bastion is the customer's SSH jump host.
type Bastion struct {
	Host    string `yaml:"host"`
	Port    int    `yaml:"port"`
	User    string `yaml:"user"`
	HostKey string `yaml:"host_key"`
	// External: the bastion is the customer's own (in their data centre);
	// provision builds none and lets Host (an IP address) reach the hosts.
	External bool `yaml:"external"`
}

// Environment is one of dev, test, staging, prod (or another name).
type Environment struct {
	Name  string `yaml:"name"`
	Hosts []Host `yaml:"hosts"`
	// RDSInstances names the environment's databases; empty means those
	// tagged mcloud:customer and mcloud:env.
	RDSInstances []string `yaml:"rds_instances"`
	Patch        Patch    `yaml:"patch"`
	// Products are what handover gives the customer: each product's URL,
	// and the Secrets Manager secret holding its admin credential.
	Products []Product `yaml:"products"`
	// Provision, when set, lets `provision` build the environment through
	// CloudFormation (see provision.go and docs/provision.md).
	Provision *Provision `yaml:"provision"`
	// Database, when set, is an RDS instance in the environment's
	// rendered template (needs a provision block without a template).
	Database *Database `yaml:"database"`
}

// Product is one product deployed in an environment, as the customer
// reaches it.
type Product struct {
	Name string `yaml:"name"`
	URL  string `yaml:"url"`
	// URLOutput names an output of the environment's provisioning stack
	// (mcloud-<customer>-<env>) that holds the URL, for an environment
	// whose addresses `provision` made; url, when set, wins.
	URLOutput string `yaml:"url_output"`
	// Check is where handover checks the URL from: "bot" (default) or
	// "bastion", through the customer's bastion (for a URL only the
	// customer's network reaches).
	Check string `yaml:"check"`
	// Secret is the name or ARN of the product's admin credential in the
	// customer's AWS Secrets Manager: JSON with username and password, or
	// a plain string. Empty: the product has no credential to hand over.
	Secret string `yaml:"secret"`
}

// Patch is how a patch is rolled out on the environment's hosts. Commands
// may use {patch}, {service}, {host} and {file}.
type Patch struct {
	PreCheck       string   `yaml:"pre_check"`
	Stop           string   `yaml:"stop"`
	Apply          string   `yaml:"apply"`
	Start          string   `yaml:"start"`
	HealthCheck    string   `yaml:"health_check"`
	Rollback       string   `yaml:"rollback"`
	Source         string   `yaml:"source"`
	HealthRetries  int      `yaml:"health_retries"`
	HealthInterval Duration `yaml:"health_interval"`
}

// Host is one machine in an environment.
type Host struct {
	Name      string `yaml:"name"`
	Address   string `yaml:"address"`
	Product   string `yaml:"product"`
	Service   string `yaml:"service"`
	HealthURL string `yaml:"health_url"`
	HostKey   string `yaml:"host_key"`
	// User logs in to the host; default the bastion's user.
	User string `yaml:"user"`
	// AMI, InstanceType and VolumeGiB are what `provision` builds the
	// host with (default provision.hosts). Address may then be left out:
	// the provisioned instance's address is used.
	AMI          string `yaml:"ami"`
	InstanceType string `yaml:"instance_type"`
	VolumeGiB    int    `yaml:"volume_gib"`
}

// Schedules are a customer's standing work (see config/schedules.go).
type Schedules struct {
	// Backup, Report and Retention are specs: 5 cron fields or a
	// descriptor (@daily, @every 10s), optionally "CRON_TZ=Zone ..." first.
	Backup    string `yaml:"backup"`
	Report    string `yaml:"report"`
	Retention string `yaml:"retention"`
	// Timezone is the zone specs are read in (default UTC).
	Timezone string `yaml:"timezone"`
	// BackupEnvs limits the nightly backup to these environments
	// (default all).
	BackupEnvs []string `yaml:"backup_envs"`
	// ReportsChannel is where the morning report goes (default the
	// customer's channel): a channel id.
	ReportsChannel string `yaml:"reports_channel"`
}

// Duration is a time.Duration written as "24h", "90m".
type Duration time.Duration

// UnmarshalYAML reads a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || v < 0 {
		return fmt.Errorf("not a duration like \"24h\" or \"90m\": %q", n.Value)
	}
	*d = Duration(v)
	return nil
}

// Secret is a reference to an environment variable, written "${NAME}".
// Secrets are never written inline in the file, and never printed.
type Secret struct{ Ref string }

var secretRef = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`)

// UnmarshalYAML accepts only "${NAME}".
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	m := secretRef.FindStringSubmatch(n.Value)
	if m == nil {
		return errors.New("must be an environment reference like ${NAME}, never the secret itself")
	}
	s.Ref = m[1]
	return nil
}

// Set reports whether the reference is configured at all.
func (s Secret) Set() bool { return s.Ref != "" }

// Value reads the secret from the environment.
func (s Secret) Value() (string, bool) {
	if s.Ref == "" {
		return "", false
	}
	v, ok := os.LookupEnv(s.Ref)
	return v, ok && v != ""
}

// String never shows the value.
func (s Secret) String() string {
	if s.Ref == "" {
		return ""
	}
	return "${" + s.Ref + "}"
}

// Defaults applied when a key is absent.
const (
	DefaultExpiry          = 24 * time.Hour
	DefaultRescueAfter     = time.Hour
	DefaultOutboxRetention = 7 * 24 * time.Hour
	DefaultWorkers         = 10
	DefaultRetentionMonths = 3
	DefaultBastionPort     = 22
	DefaultSlackAPIURL     = "https://slack.com/api/"
)

// Load reads, decodes and validates the file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(data)
}

// Parse decodes and validates a configuration. The error is *Invalid,
// listing every problem in file order, one per line, each with its line
// number and key path.
func Parse(data []byte) (*Config, error) {
	c, problems, err := Check(data)
	if err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		return nil, &Invalid{Problems: problemStrings(problems)}
	}
	return c, nil
}

// Check decodes and validates a configuration and returns every problem,
// in file order, with the configuration as far as it could be read (for
// more checks, through Problems). The error is for a file that is not
// YAML at all.
func Check(data []byte) (*Config, []Problem, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, nil, fmt.Errorf("config is not valid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(root.Content) == 0 {
		return nil, nil, errors.New("config is empty")
	}
	var c Config
	d := newDecoder()
	d.walk(root.Content[0], reflect.ValueOf(&c).Elem(), "")
	c.positions, c.broken = d.positions, d.broken
	c.applyDefaults()
	return &c, c.Problems(d.problems, c.validate()...), nil
}

// Invalid lists what is wrong with a configuration.
type Invalid struct{ Problems []string }

func (e *Invalid) Error() string { return strings.Join(e.Problems, "\n") }

func (c *Config) applyDefaults() {
	if !c.has("approvals.expiry") {
		c.Approvals.Expiry = Duration(DefaultExpiry)
	}
	if !c.has("jobs.rescue_after") {
		c.Jobs.RescueAfter = Duration(DefaultRescueAfter)
	}
	if !c.has("outbox.retention") {
		c.Outbox.Retention = Duration(DefaultOutboxRetention)
	}
	if !c.has("jobs.workers") {
		c.Jobs.Workers = DefaultWorkers
	}
	if !c.has("slack.api_url") {
		c.Slack.APIURL = DefaultSlackAPIURL
	}
	for i := range c.Customers {
		cu := &c.Customers[i]
		path := fmt.Sprintf("customers[%d]", i)
		if !c.has(path + ".retention_months") {
			cu.RetentionMonths = DefaultRetentionMonths
		}
		if !c.has(path + ".bastion.port") {
			cu.Bastion.Port = DefaultBastionPort
		}
	}
	c.resolveDefaults()
	c.provisionDefaults()
}
