package monitoring_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/integrations/monitoring"
)

type sink struct {
	mu  sync.Mutex
	got []mcloud.Alert
	err error
}

func (s *sink) record(_ context.Context, as []mcloud.Alert) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.got = append(s.got, as...)
	return nil
}

func (s *sink) n() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.got) }

func post(t *testing.T, h http.Handler, body string, hdr map[string]string) int {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/alerts/x", strings.NewReader(body))
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code
}

const amFiring = `{"version":"4","groupKey":"{}:{alertname=\"DiskFull\"}","status":"firing","receiver":"mcloud",
"alerts":[{"status":"firing","labels":{"alertname":"DiskFull","severity":"critical","customer":"acme","instance":"app1:9100"},
"annotations":{"summary":"/var is 97% full"},"startsAt":"2026-12-02T05:00:00Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"abc123"}]}`

func TestAlertmanagerReceiver(t *testing.T) {
	var s sink
	h := monitoring.Alertmanager(monitoring.Auth{Token: "t0k"}, monitoring.Options{}, s.record)
	auth := map[string]string{"Authorization": "Bearer t0k"}
	for _, tc := range []struct {
		name string
		body string
		hdr  map[string]string
		want int
	}{
		{"no token", amFiring, nil, 401},
		{"wrong token", amFiring, map[string]string{"Authorization": "Bearer nope"}, 401},
		{"basic auth when a token is configured", amFiring, map[string]string{"Authorization": "Basic dTpw"}, 401},
		{"malformed JSON", `{"version":"4",`, auth, 400},
		{"other version", strings.Replace(amFiring, `"4"`, `"3"`, 1), auth, 400},
		{"no fingerprint", strings.Replace(amFiring, `"abc123"`, `""`, 1), auth, 400},
		{"over 1 MiB", amFiring[:len(amFiring)-1] + `,"pad":"` + strings.Repeat("x", monitoring.MaxBody) + `"}`, auth, 413},
	} {
		if got := post(t, h, tc.body, tc.hdr); got != tc.want {
			t.Errorf("%s: HTTP %d, want %d", tc.name, got, tc.want)
		}
	}
	if s.n() != 0 {
		t.Fatalf("refused requests stored %d alerts", s.n())
	}
	if got := post(t, h, amFiring, auth); got != 200 {
		t.Fatalf("valid webhook: HTTP %d", got)
	}
	a := s.got[0]
	if a.Source != "alertmanager" || a.Key != "abc123" || a.Status != mcloud.AlertFiring || a.Severity != mcloud.SeverityCritical ||
		a.Name != "DiskFull" || a.Host != "app1:9100" || a.Customer != "acme" || a.Summary != "/var is 97% full" {
		t.Errorf("decoded %+v", a)
	}
	s.err = errors.New("database is down")
	if got := post(t, h, amFiring, auth); got != 503 {
		t.Errorf("store failing: HTTP %d, want 503 so Alertmanager retries", got)
	}
}

func TestReceiverOverloadIs503(t *testing.T) {
	block := make(chan struct{})
	entered := make(chan struct{}, 1)
	h := monitoring.Alertmanager(monitoring.Auth{Token: "t"}, monitoring.Options{Concurrent: 1}, func(context.Context, []mcloud.Alert) error {
		entered <- struct{}{}
		<-block
		return nil
	})
	done := make(chan int)
	go func() { done <- post(t, h, amFiring, map[string]string{"Authorization": "Bearer t"}) }()
	<-entered
	if got := post(t, h, amFiring, map[string]string{"Authorization": "Bearer t"}); got != 503 {
		t.Errorf("second request while the only slot is busy: HTTP %d, want 503", got)
	}
	close(block)
	if got := <-done; got != 200 {
		t.Errorf("first request: HTTP %d", got)
	}
}

func TestIcinga2Receiver(t *testing.T) {
	var s sink
	h := monitoring.Icinga2(monitoring.Auth{User: "icinga", Password: "pw"}, monitoring.Options{}, s.record)
	body := `{"type":"PROBLEM","host":"app1","service":"disk","state":"CRITICAL","output":"DISK CRITICAL - /var 97%","time":1764651600}`
	basic := func(u, p string) map[string]string {
		r, _ := http.NewRequest("POST", "/", nil)
		r.SetBasicAuth(u, p)
		return map[string]string{"Authorization": r.Header.Get("Authorization")}
	}
	if got := post(t, h, body, basic("icinga", "wrong")); got != 401 {
		t.Errorf("wrong password: %d", got)
	}
	if got := post(t, h, `{"type":"PROBLEM"}`, basic("icinga", "pw")); got != 400 {
		t.Errorf("no host: %d", got)
	}
	if got := post(t, h, strings.Replace(body, "PROBLEM", "BOGUS", 1), basic("icinga", "pw")); got != 400 {
		t.Errorf("unknown type: %d", got)
	}
	if s.n() != 0 {
		t.Fatal("refused requests stored alerts")
	}
	for _, typ := range []string{"PROBLEM", "ACKNOWLEDGEMENT", "DOWNTIMESTART", "DOWNTIMEEND", "RECOVERY"} {
		if got := post(t, h, strings.Replace(body, "PROBLEM", typ, 1), basic("icinga", "pw")); got != 200 {
			t.Errorf("%s: HTTP %d", typ, got)
		}
	}
	want := []mcloud.AlertStatus{mcloud.AlertFiring, mcloud.AlertAcknowledged, mcloud.AlertDowntimeStart, mcloud.AlertDowntimeEnd, mcloud.AlertResolved}
	for i, a := range s.got {
		if a.Status != want[i] || a.Key != "app1!disk" || a.Host != "app1" {
			t.Errorf("alert %d: %+v, want status %s", i, a, want[i])
		}
	}
	if s.got[0].Severity != mcloud.SeverityCritical {
		t.Errorf("problem severity %q", s.got[0].Severity)
	}
}

// snsWorld is a local stand-in for SNS's certificate and subscription
// endpoints: a TLS server every host name dials to.
type snsWorld struct {
	key       *rsa.PrivateKey
	srv       *httptest.Server
	client    *http.Client
	confirmed atomic.Int32
	certGets  atomic.Int32
}

func newSNSWorld(t *testing.T) *snsWorld {
	w := &snsWorld{}
	var err error
	if w.key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sns.amazonaws.com"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &w.key.PublicKey, w.key)
	if err != nil {
		t.Fatal(err)
	}
	pemCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	w.srv = httptest.NewTLSServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, ".pem"):
			w.certGets.Add(1)
			rw.Write(pemCert)
		case r.URL.Query().Get("Action") == "ConfirmSubscription":
			w.confirmed.Add(1)
			rw.Write([]byte("<ConfirmSubscriptionResponse/>"))
		default:
			http.NotFound(rw, r)
		}
	}))
	t.Cleanup(w.srv.Close)
	addr := w.srv.Listener.Addr().String()
	w.client = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // the test server's certificate names 127.0.0.1
	}}
	return w
}

const topic = "arn:aws:sns:eu-west-1:000000000100:alarms"

func (w *snsWorld) sign(t *testing.T, m map[string]string, version string) string {
	m["SignatureVersion"] = version
	var b strings.Builder
	keys := []string{"Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"}
	if m["Type"] != "Notification" {
		keys = []string{"Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"}
	}
	for _, k := range keys {
		if v, ok := m[k]; ok {
			b.WriteString(k + "\n" + v + "\n")
		}
	}
	var sig []byte
	var err error
	if version == "1" {
		d := sha1.Sum([]byte(b.String()))
		sig, err = rsa.SignPKCS1v15(rand.Reader, w.key, crypto.SHA1, d[:])
	} else {
		d := sha256.Sum256([]byte(b.String()))
		sig, err = rsa.SignPKCS1v15(rand.Reader, w.key, crypto.SHA256, d[:])
	}
	if err != nil {
		t.Fatal(err)
	}
	m["Signature"] = base64.StdEncoding.EncodeToString(sig)
	out, _ := json.Marshal(m)
	return string(out)
}

const alarm = `{"AlarmName":"db-cpu-high","AWSAccountId":"000000000100","NewStateValue":"ALARM","NewStateReason":"CPU above 90%","Region":"EU (Ireland)","AlarmArn":"arn:aws:cloudwatch:eu-west-1:000000000100:alarm:db-cpu-high","Trigger":{"Dimensions":[{"name":"DBInstanceIdentifier","value":"acme-prod"}]}}`

func notification(cert string) map[string]string {
	return map[string]string{"Type": "Notification", "MessageId": "m-1", "TopicArn": topic, "Subject": "ALARM: db-cpu-high",
		"Message": alarm, "Timestamp": "2026-12-02T05:00:00.000Z", "SigningCertURL": cert}
}

func TestSNSReceiver(t *testing.T) {
	w := newSNSWorld(t)
	var s sink
	h := monitoring.NewSNS([]string{topic}, monitoring.Options{}, s.record)
	monitoring.UseClient(h, w.client)
	good := "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem"

	for _, v := range []string{"1", "2"} {
		if got := post(t, h, w.sign(t, notification(good), v), nil); got != 200 {
			t.Errorf("valid SignatureVersion %s: HTTP %d", v, got)
		}
	}
	if s.n() != 2 {
		t.Fatalf("stored %d alerts, want 2", s.n())
	}
	a := s.got[0]
	if a.Source != "sns" || a.Name != "db-cpu-high" || a.Account != "000000000100" || a.Severity != mcloud.SeverityCritical ||
		!strings.Contains(a.Summary, "CPU above 90%") || !strings.Contains(a.Summary, "DBInstanceIdentifier=acme-prod") {
		t.Errorf("decoded %+v", a)
	}
	if n := w.certGets.Load(); n != 1 {
		t.Errorf("certificate fetched %d times, want once (cached)", n)
	}

	tampered := w.sign(t, notification(good), "2")
	tampered = strings.Replace(tampered, "CPU above 90%", "CPU above 10%", 1)
	wrongTopic := notification(good)
	wrongTopic["TopicArn"] = "arn:aws:sns:eu-west-1:000000000999:other"
	for name, body := range map[string]string{
		"tampered message":       tampered,
		"topic not allow-listed": w.sign(t, wrongTopic, "2"),
		"s3 certificate URL":     w.sign(t, notification("https://s3.amazonaws.com/bucket/cert.pem"), "2"),
		"look-alike host":        w.sign(t, notification("https://sns.eu-west-1.amazonaws.com.evil.example/cert.pem"), "2"),
		"http certificate URL":   w.sign(t, notification("http://sns.eu-west-1.amazonaws.com/cert.pem"), "2"),
		"not a .pem":             w.sign(t, notification("https://sns.eu-west-1.amazonaws.com/cert.txt"), "2"),
		"SignatureVersion 3":     w.sign(t, notification(good), "3"),
		"malformed JSON":         `{"Type":`,
	} {
		if got := post(t, h, body, nil); got < 400 || got >= 500 {
			t.Errorf("%s: HTTP %d, want 4xx", name, got)
		}
	}
	if s.n() != 2 {
		t.Errorf("refused messages stored alerts: %d, want 2", s.n())
	}
}

func TestSNSSubscriptionConfirmation(t *testing.T) {
	w := newSNSWorld(t)
	var s sink
	h := monitoring.NewSNS([]string{topic}, monitoring.Options{}, s.record)
	monitoring.UseClient(h, w.client)
	good := "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem"
	conf := func(subscribe string) map[string]string {
		return map[string]string{"Type": "SubscriptionConfirmation", "MessageId": "c-1", "Token": "tok", "TopicArn": topic,
			"Message": "You have chosen to subscribe", "SubscribeURL": subscribe, "Timestamp": "2026-12-02T05:00:00.000Z", "SigningCertURL": good}
	}
	if got := post(t, h, w.sign(t, conf("https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&Token=tok"), "1"), nil); got != 200 {
		t.Fatalf("confirmation: HTTP %d", got)
	}
	if w.confirmed.Load() != 1 {
		t.Fatal("SubscribeURL was not fetched")
	}
	for _, u := range []string{"https://evil.example/?Action=ConfirmSubscription", "http://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription",
		"https://sns.eu-west-1.amazonaws.com.evil.example/?Action=ConfirmSubscription"} {
		if got := post(t, h, w.sign(t, conf(u), "2"), nil); got != 403 {
			t.Errorf("SubscribeURL %s: HTTP %d, want 403", u, got)
		}
	}
	if w.confirmed.Load() != 1 || s.n() != 0 {
		t.Errorf("confirmations fetched %d, alerts %d; want 1, 0", w.confirmed.Load(), s.n())
	}
	_ = bytes.MinRead
}
