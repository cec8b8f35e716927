package monitoring

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Icinga2API acknowledges problems through Icinga2's REST API.
type Icinga2API struct {
	URL      string // https://icinga.example:5665
	User     string
	Password string
	Client   *http.Client
}

// NewIcinga2API trusts caPEM (Icinga2's own CA) when given, else the
// system roots.
func NewIcinga2API(url, user, password string, caPEM []byte) *Icinga2API {
	tr := &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}
	if len(caPEM) > 0 {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(caPEM)
		tr.TLSClientConfig.RootCAs = pool
	}
	return &Icinga2API{URL: strings.TrimRight(url, "/"), User: user, Password: password, Client: &http.Client{Timeout: 15 * time.Second, Transport: tr}}
}

// Acknowledge acknowledges the problem key ("host" or "host!service", as
// the receiver decoded it) as author, until expiry (zero: until it
// recovers).
func (c *Icinga2API) Acknowledge(ctx context.Context, key, author, comment string, expiry time.Time) error {
	host, service, isService := strings.Cut(key, "!")
	req := map[string]any{"author": author, "comment": comment, "notify": true, "sticky": false}
	if isService {
		req["type"] = "Service"
		req["filter"] = "host.name==h && service.name==s"
		req["filter_vars"] = map[string]string{"h": host, "s": service}
	} else {
		req["type"] = "Host"
		req["filter"] = "host.name==h"
		req["filter_vars"] = map[string]string{"h": host}
	}
	if !expiry.IsZero() {
		req["expiry"] = expiry.Unix()
	}
	if comment == "" {
		req["comment"] = "acknowledged in Slack"
	}
	var out struct {
		Results []struct {
			Code   float64 `json:"code"`
			Status string  `json:"status"`
		} `json:"results"`
	}
	if err := c.post(ctx, "/v1/actions/acknowledge-problem", req, &out); err != nil {
		return fmt.Errorf("acknowledge %s in Icinga2: %w", key, err)
	}
	if len(out.Results) == 0 {
		return fmt.Errorf("acknowledge %s in Icinga2: no such host or service, or it has no problem", key)
	}
	if r := out.Results[0]; r.Code != 200 {
		return fmt.Errorf("acknowledge %s in Icinga2: %s", key, r.Status)
	}
	return nil
}

func (c *Icinga2API) post(ctx context.Context, path string, body, out any) error {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.SetBasicAuth(c.User, c.Password)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	return do(c.Client, req, out)
}

// do sends req and decodes a 2xx JSON answer into out; anything else is
// an error with a snippet of the body (never the request's credentials).
func do(client *http.Client, req *http.Request, out any) error {
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		snippet := string(body)
		if len(snippet) > 200 {
			snippet = snippet[:200]
		}
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(snippet))
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(body, out)
}

// AlertmanagerAPI creates silences through Alertmanager's API v2.
type AlertmanagerAPI struct {
	URL    string // http://alertmanager.example:9093
	Client *http.Client
}

// NewAlertmanagerAPI is the client for the Alertmanager at url.
func NewAlertmanagerAPI(url string) *AlertmanagerAPI {
	return &AlertmanagerAPI{URL: strings.TrimRight(url, "/"), Client: &http.Client{Timeout: 15 * time.Second}}
}

// AlertLabels are the labels of the alert Alertmanager holds with
// fingerprint (named alertname), as its webhook sent them; nil when
// Alertmanager no longer holds it.
func (c *AlertmanagerAPI) AlertLabels(ctx context.Context, fingerprint, alertname string) (map[string]string, error) {
	var out []struct {
		Fingerprint string            `json:"fingerprint"`
		Labels      map[string]string `json:"labels"`
	}
	q := url.Values{"filter": {fmt.Sprintf("alertname=%q", alertname)}}
	if err := c.send(ctx, http.MethodGet, "/api/v2/alerts?"+q.Encode(), nil, &out); err != nil {
		return nil, fmt.Errorf("read alert %s from Alertmanager: %w", fingerprint, err)
	}
	for _, a := range out {
		if a.Fingerprint == fingerprint {
			return a.Labels, nil
		}
	}
	return nil, nil
}

// AckMatchers are the matchers of the silence that acknowledges the
// alert with labels: every label equal, which is that alert and no other
// (Alertmanager's fingerprint is its label set). ok is false when the
// alert has no label but its alertname: the silence would quiet that
// alert for every host and customer.
func AckMatchers(labels map[string]string) (ms []Matcher, ok bool) {
	for k, v := range labels {
		if v != "" {
			ms = append(ms, Matcher{Name: k, Value: v, IsEqual: true})
		}
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Name < ms[j].Name })
	if labels["alertname"] == "" || len(ms) < 2 {
		return nil, false
	}
	return ms, true
}

// Silence silences the alerts whose labels equal matchers from now until
// ends, and returns the silence's id.
func (c *AlertmanagerAPI) Silence(ctx context.Context, matchers map[string]string, ends time.Time, by, comment string) (string, error) {
	var ms []Matcher
	for k, v := range matchers {
		ms = append(ms, Matcher{Name: k, Value: v, IsEqual: true})
	}
	if comment == "" {
		comment = "acknowledged in Slack"
	}
	return c.SilenceMatching(ctx, ms, ends, by, comment)
}

// send makes one API v2 call with body (nil: none) as JSON.
func (c *AlertmanagerAPI) send(ctx context.Context, method, path string, body, out any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.URL+path, r)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return do(c.Client, req, out)
}
