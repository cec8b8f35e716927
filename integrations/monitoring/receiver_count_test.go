package monitoring_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mcloud/mcloud/integrations/monitoring"
)

// The receiver's answer counts what it took in words a person reads in a
// sender's log: "1 alert", not "1 alert(s)".
func TestReceiverAnswerCountsAlerts(t *testing.T) {
	var s sink
	h := monitoring.Alertmanager(monitoring.Auth{Token: "t0k"}, monitoring.Options{}, s.record)
	two := strings.Replace(amFiring, `"alerts":[{`, `"alerts":[{"status":"firing","labels":{"alertname":"Load"},"fingerprint":"def456"},{`, 1)
	for _, tc := range []struct{ body, want string }{
		{amFiring, "1 alert received\n"},
		{two, "2 alerts received\n"},
	} {
		r := httptest.NewRequest(http.MethodPost, "/alerts/x", strings.NewReader(tc.body))
		r.Header.Set("Authorization", "Bearer t0k")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 || w.Body.String() != tc.want {
			t.Errorf("HTTP %d %q, want 200 %q", w.Code, w.Body.String(), tc.want)
		}
	}
}
