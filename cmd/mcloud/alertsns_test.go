package main

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcloud/mcloud/bot/slackfake"
	"github.com/mcloud/mcloud/integrations/monitoring/snstest"
)

// TestSNSThroughServe: `mcloud serve` (in-process, so the test can point
// its SNS receiver at a local stand-in for SNS's endpoints, with the URL
// checks unchanged) confirms a subscription by fetching its SubscribeURL,
// takes a signed CloudWatch alarm notification on /alerts/sns, and posts
// it in the channel of the customer whose AWS account raised it, and in
// no other customer's.
func TestSNSThroughServe(t *testing.T) {
	w := snstest.Start(t)
	snsClient = w.Client
	defer func() { snsClient = nil }()
	const topic = "arn:aws:sns:eu-west-1:111111111111:mcloud-alarms"
	const cert = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-test.pem"

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
	post := func(typ, body string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", "http://"+addr+"/alerts/sns", strings.NewReader(body))
		req.Header.Set("Content-Type", "text/plain; charset=UTF-8")
		req.Header.Set("x-amz-sns-message-type", typ)
		req.Header.Set("x-amz-sns-topic-arn", topic)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	sub := w.Sign(t, map[string]string{"Type": "SubscriptionConfirmation", "MessageId": "c-1", "Token": "sub-token", "TopicArn": topic, "SigningCertURL": cert,
		"Message": "You have chosen to subscribe to the topic " + topic, "Timestamp": time.Now().UTC().Format(time.RFC3339),
		"SubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=" + topic + "&Token=sub-token"}, "1")
	if code := post("SubscriptionConfirmation", sub); code != http.StatusOK || w.Confirmed.Load() != 1 {
		t.Fatalf("subscription confirmation: HTTP %d, SubscribeURL fetched %d times\n%s", code, w.Confirmed.Load(), errb.String())
	}
	alarm := `{"AlarmName":"x-prod-db-cpu-high","AWSAccountId":"111111111111","NewStateValue":"ALARM","NewStateReason":"Threshold Crossed: CPU above 90%",` +
		`"Region":"EU (Ireland)","AlarmArn":"arn:aws:cloudwatch:eu-west-1:111111111111:alarm:x-prod-db-cpu-high",` +
		`"Trigger":{"Dimensions":[{"name":"DBInstanceIdentifier","value":"x-prod-db"}]}}`
	note := w.Sign(t, map[string]string{"Type": "Notification", "MessageId": "n-1", "TopicArn": topic, "SigningCertURL": cert, "Subject": "ALARM: \"x-prod-db-cpu-high\" in EU (Ireland)",
		"Message": alarm, "Timestamp": time.Now().UTC().Format(time.RFC3339)}, "2")
	if code := post("Notification", note); code != http.StatusOK {
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
	if w.CertGets.Load() != 1 {
		t.Errorf("signing certificate fetched %d times, want once (cached)", w.CertGets.Load())
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("serve exited %d:\n%s", code, errb.String())
	}
}
