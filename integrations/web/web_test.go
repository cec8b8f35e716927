package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mcloud/mcloud/integrations/web"
)

// What counts as a product that answers: a page, a login page, a site
// that takes GET only; not a 404, a 5xx, a closed port or an untrusted
// certificate.
func TestCheckURL(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusUnauthorized) })
	mux.HandleFunc("/get-only", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	})
	mux.HandleFunc("/broken", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()
	closed := httptest.NewServer(mux)
	closed.Close()
	c := web.Checker{Client: srv.Client()}
	for _, tt := range []struct{ url, want string }{
		{srv.URL + "/ok", ""},
		{srv.URL + "/login", ""},
		{srv.URL + "/get-only", ""},
		{srv.URL + "/missing", "answered HTTP 404"},
		{srv.URL + "/broken", "answered HTTP 502"},
		{closed.URL + "/ok", "nothing answers at its address"},
	} {
		err := c.CheckURL(context.Background(), tt.url)
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("CheckURL(%s) = %v, want %q", tt.url, err, tt.want)
		}
	}
	// The default client does not trust the test server's certificate.
	if err := (web.Checker{}).CheckURL(context.Background(), srv.URL+"/ok"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("an untrusted certificate = %v, want refused", err)
	}
}
