package main

import (
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
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcloud/mcloud/bot/slackfake"
)

// TestSNSThroughServe: `mcloud serve` (in-process, so the test can point
// its SNS receiver at a local stand-in for SNS's endpoints, with the URL
// checks unchanged) confirms a subscription by fetching its SubscribeURL,
// takes a signed CloudWatch alarm notification on /alerts/sns, and posts
// it in the channel of the customer whose AWS account raised it, and in
// no other customer's.
func TestSNSThroughServe(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sns.amazonaws.com"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	var confirmed, certGets atomic.Int32
	sns := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Host == "sns.eu-west-1.amazonaws.com" && strings.HasSuffix(r.URL.Path, ".pem"):
			certGets.Add(1)
			w.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
		case r.Host == "sns.eu-west-1.amazonaws.com" && r.URL.Query().Get("Action") == "ConfirmSubscription" && r.URL.Query().Get("Token") == "sub-token":
			confirmed.Add(1)
			w.Write([]byte("<ConfirmSubscriptionResponse/>"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer sns.Close()
	snsClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, sns.Listener.Addr().String())
		},
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // the stand-in's certificate names 127.0.0.1
	}}
	defer func() { snsClient = nil }()

	const topic = "arn:aws:sns:eu-west-1:111111111111:mcloud-alarms"
	sign := func(m map[string]string, version string) string {
		m["SignatureVersion"] = version
		m["SigningCertURL"] = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-test.pem"
		keys := []string{"Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"}
		if m["Type"] != "Notification" {
			keys = []string{"Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"}
		}
		var b strings.Builder
		for _, k := range keys {
			if v, ok := m[k]; ok {
				b.WriteString(k + "\n" + v + "\n")
			}
		}
		var sig []byte
		if version == "1" {
			d := sha1.Sum([]byte(b.String()))
			sig, err = rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA1, d[:])
		} else {
			d := sha256.Sum256([]byte(b.String()))
			sig, err = rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, d[:])
		}
		if err != nil {
			t.Fatal(err)
		}
		m["Signature"] = base64.StdEncoding.EncodeToString(sig)
		out, _ := json.Marshal(m)
		return string(out)
	}

	ws := slackfake.New(t)
	cfg := alertsConfig(t, ws, "  sns:\n    topics: ["+topic+"]\n")
	t.Setenv("MCLOUD_AM_TOKEN", alertsToken)
	for k, v := range map[string]string{"SLACK_BOT_TOKEN": slackfake.BotToken, "SLACK_SIGNING_SECRET": serveSecret,
		"CUSTOMER_X_EXTERNAL_ID": "x-ext", "CUSTOMER_Y_EXTERNAL_ID": "y-ext", "SLACK_APP_TOKEN": "", "AWS_EC2_METADATA_DISABLED": "true"} {
		t.Setenv(k, v)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"serve", "-c", cfg, "--database-url", filepath.Join(t.TempDir(), "mcloud.db"), "--listen", "127.0.0.1:0"}, nil, &out, &errb)
	}()
	var addr string
	waitDB(t, time.Minute, "serve to listen", func() bool {
		select {
		case code := <-done:
			t.Fatalf("serve exited %d:\n%s", code, errb.String())
		default:
		}
		if m := listenRE.FindStringSubmatch(errb.String()); m != nil {
			addr = m[1]
		}
		return addr != ""
	})
	post := func(body string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", "http://"+addr+"/alerts/sns", strings.NewReader(body))
		req.Header.Set("Content-Type", "text/plain; charset=UTF-8")
		req.Header.Set("x-amz-sns-message-type", "Notification")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	sub := sign(map[string]string{"Type": "SubscriptionConfirmation", "MessageId": "c-1", "Token": "sub-token", "TopicArn": topic,
		"Message": "You have chosen to subscribe to the topic " + topic, "Timestamp": time.Now().UTC().Format(time.RFC3339),
		"SubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=" + topic + "&Token=sub-token"}, "1")
	if code := post(sub); code != http.StatusOK || confirmed.Load() != 1 {
		t.Fatalf("subscription confirmation: HTTP %d, SubscribeURL fetched %d times\n%s", code, confirmed.Load(), errb.String())
	}
	alarm := `{"AlarmName":"x-prod-db-cpu-high","AWSAccountId":"111111111111","NewStateValue":"ALARM","NewStateReason":"Threshold Crossed: CPU above 90%",` +
		`"Region":"EU (Ireland)","AlarmArn":"arn:aws:cloudwatch:eu-west-1:111111111111:alarm:x-prod-db-cpu-high",` +
		`"Trigger":{"Dimensions":[{"name":"DBInstanceIdentifier","value":"x-prod-db"}]}}`
	note := sign(map[string]string{"Type": "Notification", "MessageId": "n-1", "TopicArn": topic, "Subject": "ALARM: \"x-prod-db-cpu-high\" in EU (Ireland)",
		"Message": alarm, "Timestamp": time.Now().UTC().Format(time.RFC3339)}, "2")
	if code := post(note); code != http.StatusOK {
		t.Fatalf("signed alarm notification: HTTP %d\n%s", code, errb.String())
	}
	ws.WaitFor(t, 2*time.Minute, "the alarm in customer-x's channel", func() bool { return topMessage(ws, "C0CUSTX", "x-prod-db-cpu-high") != nil })
	m := topMessage(ws, "C0CUSTX", "x-prod-db-cpu-high")
	if !strings.Contains(m.Text, "[CRITICAL]") || !strings.Contains(m.Text, "CPU above 90%") {
		t.Errorf("alarm message: %q", m.Text)
	}
	for _, x := range ws.Messages() {
		if x.Channel == "C0CUSTY" {
			t.Errorf("customer-y's channel got %q", x.Text)
		}
	}
	if certGets.Load() != 1 {
		t.Errorf("signing certificate fetched %d times, want once (cached)", certGets.Load())
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("serve exited %d:\n%s", code, errb.String())
	}
}
