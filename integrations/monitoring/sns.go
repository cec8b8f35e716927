package monitoring

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mcloud/mcloud"
)

// snsMessage is an SNS HTTP(S) delivery.
type snsMessage struct {
	Type             string `json:"Type"`
	MessageID        string `json:"MessageId"`
	Token            string `json:"Token"`
	TopicArn         string `json:"TopicArn"`
	Subject          string `json:"Subject"`
	Message          string `json:"Message"`
	Timestamp        string `json:"Timestamp"`
	SignatureVersion string `json:"SignatureVersion"`
	Signature        string `json:"Signature"`
	SigningCertURL   string `json:"SigningCertURL"`
	SubscribeURL     string `json:"SubscribeURL"`
}

// snsHost is an SNS endpoint's host: sns.<region>.amazonaws.com (or
// .com.cn), nothing before or after it.
var snsHost = regexp.MustCompile(`^sns\.[a-z]{2}(-[a-z]+)+-[0-9]\.amazonaws\.com(\.cn)?$`)

// SNS receives an SNS subscription's deliveries. Every message is
// authenticated by its signature (SignatureVersion 1: SHA1, 2: SHA256)
// with a certificate fetched only from an SNS endpoint, and accepted only
// from topics (TopicArns). A SubscriptionConfirmation is confirmed by
// fetching its SubscribeURL, again only on an SNS endpoint.
type SNS struct {
	topics []string
	rcv    http.Handler
	hostOK func(host string) bool
	// client reaches the SNS endpoints; only the package's tests replace
	// it (export_test.go), never the host check.
	client *http.Client

	mu    sync.Mutex
	certs map[string]*x509.Certificate
}

// NewSNS builds the SNS receiver.
func NewSNS(topics []string, o Options, sink Sink) *SNS {
	s := &SNS{topics: topics, hostOK: snsHost.MatchString, client: &http.Client{Timeout: 10 * time.Second},
		certs: map[string]*x509.Certificate{}}
	if o.Client != nil {
		s.client = o.Client
	}
	h := newReceiver("sns", o, sink)
	h.decode = s.decode
	h.headers = s.headers
	s.rcv = h.guarded(o)
	return s
}

func (s *SNS) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.rcv.ServeHTTP(w, r) }

// headers refuses, before its body is read, a request that SNS did not
// send (SNS always names the message's type and topic in headers) or
// that comes from a topic not in alerts.sns.topics. The body, which SNS
// signs, is checked again when decoding.
func (s *SNS) headers(h http.Header) error {
	switch t := h.Get("x-amz-sns-message-type"); t {
	case "Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation":
	case "":
		return refuse(http.StatusBadRequest, "not an SNS message: no x-amz-sns-message-type header")
	default:
		return refuse(http.StatusBadRequest, "SNS message type %q is not one mcloud knows", t)
	}
	if topic := h.Get("x-amz-sns-topic-arn"); !slices.Contains(s.topics, topic) {
		return refuse(http.StatusForbidden, "topic %q is not in alerts.sns.topics", topic)
	}
	return nil
}

func (s *SNS) decode(ctx context.Context, body []byte) ([]mcloud.Alert, error) {
	var m snsMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, refuse(http.StatusBadRequest, "not an SNS message: %v", err)
	}
	if !slices.Contains(s.topics, m.TopicArn) {
		return nil, refuse(http.StatusForbidden, "topic %q is not in alerts.sns.topics", m.TopicArn)
	}
	if err := s.verify(ctx, &m); err != nil {
		return nil, err
	}
	switch m.Type {
	case "SubscriptionConfirmation":
		return nil, s.confirm(ctx, m.SubscribeURL)
	case "UnsubscribeConfirmation":
		return nil, nil
	case "Notification":
		return []mcloud.Alert{decodeCloudWatch(m)}, nil
	}
	return nil, refuse(http.StatusBadRequest, "unknown SNS message type %q", m.Type)
}

// endpoint checks that raw is an https URL on an SNS endpoint.
func (s *SNS) endpoint(raw, what string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.User != nil || u.Port() != "" || !s.hostOK(u.Hostname()) {
		return nil, refuse(http.StatusForbidden, "%s %q is not an https URL on sns.<region>.amazonaws.com", what, raw)
	}
	return u, nil
}

// signed is the string SNS signs: the message's fields, by type.
func signed(m *snsMessage) string {
	var b strings.Builder
	add := func(k, v string) { b.WriteString(k + "\n" + v + "\n") }
	add("Message", m.Message)
	add("MessageId", m.MessageID)
	if m.Type == "Notification" {
		if m.Subject != "" {
			add("Subject", m.Subject)
		}
	} else {
		add("SubscribeURL", m.SubscribeURL)
	}
	add("Timestamp", m.Timestamp)
	if m.Type != "Notification" {
		add("Token", m.Token)
	}
	add("TopicArn", m.TopicArn)
	add("Type", m.Type)
	return b.String()
}

func (s *SNS) verify(ctx context.Context, m *snsMessage) error {
	var h crypto.Hash
	switch m.SignatureVersion {
	case "1":
		h = crypto.SHA1
	case "2":
		h = crypto.SHA256
	default:
		return refuse(http.StatusForbidden, "SignatureVersion %q; only 1 and 2 are accepted", m.SignatureVersion)
	}
	u, err := s.endpoint(m.SigningCertURL, "SigningCertURL")
	if err != nil {
		return err
	}
	if !strings.HasSuffix(u.Path, ".pem") {
		return refuse(http.StatusForbidden, "SigningCertURL %q is not a .pem", m.SigningCertURL)
	}
	sig, err := base64.StdEncoding.DecodeString(m.Signature)
	if err != nil {
		return refuse(http.StatusForbidden, "signature is not base64")
	}
	cert, err := s.cert(ctx, u.String())
	if err != nil {
		return err
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return refuse(http.StatusForbidden, "signing certificate has no RSA key")
	}
	var sum []byte
	if h == crypto.SHA1 {
		d := sha1.Sum([]byte(signed(m)))
		sum = d[:]
	} else {
		d := sha256.Sum256([]byte(signed(m)))
		sum = d[:]
	}
	if err := rsa.VerifyPKCS1v15(pub, h, sum, sig); err != nil {
		return refuse(http.StatusForbidden, "bad SNS signature")
	}
	return nil
}

// cert fetches (once) the signing certificate at u, already checked to
// be on an SNS endpoint.
func (s *SNS) cert(ctx context.Context, u string) (*x509.Certificate, error) {
	s.mu.Lock()
	c := s.certs[u]
	s.mu.Unlock()
	if c != nil {
		return c, nil
	}
	body, err := s.get(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("fetch SNS signing certificate: %w", err)
	}
	blk, _ := pem.Decode(body)
	if blk == nil {
		return nil, fmt.Errorf("SNS signing certificate at %s is not PEM", u)
	}
	c, err = x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse SNS signing certificate: %w", err)
	}
	if time.Now().After(c.NotAfter) {
		return nil, refuse(http.StatusForbidden, "SNS signing certificate expired")
	}
	s.mu.Lock()
	s.certs[u] = c
	s.mu.Unlock()
	return c, nil
}

func (s *SNS) get(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return body, nil
}

// confirm subscribes by fetching SubscribeURL, only on an SNS endpoint:
// a signed message could otherwise make us fetch any URL.
func (s *SNS) confirm(ctx context.Context, raw string) error {
	u, err := s.endpoint(raw, "SubscribeURL")
	if err != nil {
		return err
	}
	if _, err := s.get(ctx, u.String()); err != nil {
		return fmt.Errorf("confirm SNS subscription: %w", err)
	}
	return nil
}

// cloudWatchAlarm is the CloudWatch alarm notification in Message.
type cloudWatchAlarm struct {
	AlarmName        string `json:"AlarmName"`
	AlarmDescription string `json:"AlarmDescription"`
	AWSAccountID     string `json:"AWSAccountId"`
	NewStateValue    string `json:"NewStateValue"`
	NewStateReason   string `json:"NewStateReason"`
	StateChangeTime  string `json:"StateChangeTime"`
	Region           string `json:"Region"`
	AlarmArn         string `json:"AlarmArn"`
	Trigger          struct {
		Dimensions []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"Dimensions"`
	} `json:"Trigger"`
}

// decodeCloudWatch reads a CloudWatch alarm from an SNS notification; any
// other message is a warning named by its subject. Dimensions describe,
// they do not route: an instance id is not a configured host name.
func decodeCloudWatch(m snsMessage) mcloud.Alert {
	a := mcloud.Alert{Source: "sns", Key: m.TopicArn + "/" + m.Subject, Status: mcloud.AlertFiring, Severity: mcloud.SeverityWarning,
		Name: m.Subject, Summary: m.Message, At: time.Now().UTC()}
	if t, err := time.Parse(time.RFC3339, m.Timestamp); err == nil {
		a.At = t.UTC()
	}
	var cw cloudWatchAlarm
	if json.Unmarshal([]byte(m.Message), &cw) != nil || cw.AlarmName == "" {
		return a
	}
	a.Key, a.Name, a.Account, a.Summary = cw.AlarmArn, cw.AlarmName, cw.AWSAccountID, cw.NewStateReason
	if a.Key == "" {
		a.Key = cw.AWSAccountID + "/" + cw.AlarmName
	}
	switch cw.NewStateValue {
	case "ALARM":
		a.Severity = mcloud.SeverityCritical
	case "OK":
		a.Status, a.Severity = mcloud.AlertResolved, ""
	}
	var dims []string
	for _, d := range cw.Trigger.Dimensions {
		dims = append(dims, d.Name+"="+d.Value)
	}
	if len(dims) > 0 {
		a.Summary += " (" + strings.Join(dims, ", ") + ")"
	}
	return a
}
