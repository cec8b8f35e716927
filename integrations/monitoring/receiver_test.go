package monitoring_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/integrations/monitoring"
	"github.com/mcloud/mcloud/integrations/monitoring/snstest"
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

const topic = "arn:aws:sns:eu-west-1:000000000100:alarms"

const alarm = `{"AlarmName":"db-cpu-high","AWSAccountId":"000000000100","NewStateValue":"ALARM","NewStateReason":"CPU above 90%","Region":"EU (Ireland)","AlarmArn":"arn:aws:cloudwatch:eu-west-1:000000000100:alarm:db-cpu-high","Trigger":{"Dimensions":[{"name":"DBInstanceIdentifier","value":"acme-prod"}]}}`

func notification(cert string) map[string]string {
	return map[string]string{"Type": "Notification", "MessageId": "m-1", "TopicArn": topic, "Subject": "ALARM: db-cpu-high",
		"Message": alarm, "Timestamp": "2026-12-02T05:00:00.000Z", "SigningCertURL": cert}
}

// snsHeaders are the headers SNS sends with a message of type typ.
func snsHeaders(typ string) map[string]string {
	return map[string]string{"x-amz-sns-message-type": typ, "x-amz-sns-topic-arn": topic}
}

// readMark is a body that tells whether anyone read it.
type readMark struct {
	io.Reader
	read bool
}

func (m *readMark) Read(p []byte) (int, error) { m.read = true; return m.Reader.Read(p) }

// TestSNSHeadersCheckedFirst: a request whose headers show it is not an
// SNS message, or not from an allow-listed topic, is refused without its
// body being read (so without a certificate fetched for it either).
func TestSNSHeadersCheckedFirst(t *testing.T) {
	w := snstest.Start(t)
	var s sink
	h := monitoring.NewSNS([]string{topic}, monitoring.Options{Client: w.Client}, s.record)
	body := w.Sign(t, notification("https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem"), "2")
	for _, tc := range []struct {
		name, typ, topic string
		want             int
	}{
		{"topic not allow-listed", "Notification", "arn:aws:sns:eu-west-1:000000000999:other", 403},
		{"no topic", "Notification", "", 403},
		{"no message type", "", topic, 400},
		{"unknown message type", "Bogus", topic, 400},
	} {
		b := &readMark{Reader: strings.NewReader(body)}
		r := httptest.NewRequest(http.MethodPost, "/alerts/sns", b)
		if tc.typ != "" {
			r.Header.Set("x-amz-sns-message-type", tc.typ)
		}
		if tc.topic != "" {
			r.Header.Set("x-amz-sns-topic-arn", tc.topic)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != tc.want || b.read {
			t.Errorf("%s: HTTP %d, body read %v; want %d without reading it", tc.name, rec.Code, b.read, tc.want)
		}
	}
	if s.n() != 0 || w.CertGets.Load() != 0 {
		t.Errorf("refused requests stored %d alerts and fetched %d certificates", s.n(), w.CertGets.Load())
	}
	if got := post(t, h, body, snsHeaders("Notification")); got != 200 || s.n() != 1 {
		t.Errorf("the same message with SNS's headers: HTTP %d, %d alerts stored", got, s.n())
	}
}

func TestSNSReceiver(t *testing.T) {
	w := snstest.Start(t)
	var s sink
	h := monitoring.NewSNS([]string{topic}, monitoring.Options{Client: w.Client}, s.record)
	good := "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem"

	for _, v := range []string{"1", "2"} {
		if got := post(t, h, w.Sign(t, notification(good), v), snsHeaders("Notification")); got != 200 {
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
	if n := w.CertGets.Load(); n != 1 {
		t.Errorf("certificate fetched %d times, want once (cached)", n)
	}

	tampered := w.Sign(t, notification(good), "2")
	tampered = strings.Replace(tampered, "CPU above 90%", "CPU above 10%", 1)
	wrongTopic := notification(good)
	wrongTopic["TopicArn"] = "arn:aws:sns:eu-west-1:000000000999:other"
	for name, body := range map[string]string{
		"tampered message":       tampered,
		"topic not allow-listed": w.Sign(t, wrongTopic, "2"),
		"s3 certificate URL":     w.Sign(t, notification("https://s3.amazonaws.com/bucket/cert.pem"), "2"),
		"look-alike host":        w.Sign(t, notification("https://sns.eu-west-1.amazonaws.com.evil.example/cert.pem"), "2"),
		"http certificate URL":   w.Sign(t, notification("http://sns.eu-west-1.amazonaws.com/cert.pem"), "2"),
		"not a .pem":             w.Sign(t, notification("https://sns.eu-west-1.amazonaws.com/cert.txt"), "2"),
		"SignatureVersion 3":     w.Sign(t, notification(good), "3"),
		"malformed JSON":         `{"Type":`,
	} {
		if got := post(t, h, body, snsHeaders("Notification")); got < 400 || got >= 500 {
			t.Errorf("%s: HTTP %d, want 4xx", name, got)
		}
	}
	if s.n() != 2 {
		t.Errorf("refused messages stored alerts: %d, want 2", s.n())
	}
}

func TestSNSSubscriptionConfirmation(t *testing.T) {
	w := snstest.Start(t)
	var s sink
	h := monitoring.NewSNS([]string{topic}, monitoring.Options{Client: w.Client}, s.record)
	good := "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem"
	conf := func(subscribe string) map[string]string {
		return map[string]string{"Type": "SubscriptionConfirmation", "MessageId": "c-1", "Token": "tok", "TopicArn": topic,
			"Message": "You have chosen to subscribe", "SubscribeURL": subscribe, "Timestamp": "2026-12-02T05:00:00.000Z", "SigningCertURL": good}
	}
	if got := post(t, h, w.Sign(t, conf("https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&Token=tok"), "1"), snsHeaders("SubscriptionConfirmation")); got != 200 {
		t.Fatalf("confirmation: HTTP %d", got)
	}
	if w.Confirmed.Load() != 1 {
		t.Fatal("SubscribeURL was not fetched")
	}
	for _, u := range []string{"https://evil.example/?Action=ConfirmSubscription", "http://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription",
		"https://sns.eu-west-1.amazonaws.com.evil.example/?Action=ConfirmSubscription"} {
		if got := post(t, h, w.Sign(t, conf(u), "2"), snsHeaders("SubscriptionConfirmation")); got != 403 {
			t.Errorf("SubscribeURL %s: HTTP %d, want 403", u, got)
		}
	}
	if w.Confirmed.Load() != 1 || s.n() != 0 {
		t.Errorf("confirmations fetched %d, alerts %d; want 1, 0", w.Confirmed.Load(), s.n())
	}
	_ = bytes.MinRead
}
