package monitoring

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// RemoveDowntimesCommented removes every Icinga2 downtime by author whose
// comment starts with prefix, and returns how many went. It finds what a
// job set without the names Icinga2 gave (a process that died between
// scheduling and saving them); none left is no error.
func (c *Icinga2API) RemoveDowntimesCommented(ctx context.Context, author, prefix string) (int, error) {
	// match() takes * and ? as wildcards; a prefix with either could
	// match another job's downtimes, so it is refused.
	if prefix == "" || strings.ContainsAny(prefix, "*?") {
		return 0, fmt.Errorf("remove downtimes from Icinga2: %q is not a usable comment prefix", prefix)
	}
	// Listed, then removed by name: remove-downtime with a filter that
	// matches nothing answers 500, like a real failure.
	body, _ := json.Marshal(map[string]any{"filter": "downtime.author==a && match(p, downtime.comment)",
		"filter_vars": map[string]string{"a": author, "p": prefix + "*"}, "attrs": []string{"name"}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL+"/v1/objects/downtimes", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.SetBasicAuth(c.User, c.Password)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-HTTP-Method-Override", http.MethodGet)
	var out struct {
		Results []struct {
			Name string `json:"name"`
		} `json:"results"`
	}
	if err := do(c.Client, req, &out); err != nil {
		if strings.HasPrefix(err.Error(), "HTTP 404") {
			return 0, nil // no downtime matched
		}
		return 0, fmt.Errorf("list downtimes %q in Icinga2: %w", prefix, err)
	}
	var errs []error
	n := 0
	for _, r := range out.Results {
		// One already gone (a service's went with its host's) is no error.
		if err := c.RemoveDowntime(ctx, r.Name); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// ExpireCommented expires every active or pending Alertmanager silence
// created by by whose comment starts with prefix, and returns how many
// it expired: RemoveDowntimesCommented's counterpart.
func (c *AlertmanagerAPI) ExpireCommented(ctx context.Context, by, prefix string) (int, error) {
	if prefix == "" {
		return 0, fmt.Errorf("expire silences in Alertmanager: an empty comment prefix would match all of them")
	}
	var silences []struct {
		ID        string    `json:"id"`
		CreatedBy string    `json:"createdBy"`
		Comment   string    `json:"comment"`
		EndsAt    time.Time `json:"endsAt"`
		Status    struct {
			State string `json:"state"`
		} `json:"status"`
	}
	if err := c.send(ctx, http.MethodGet, "/api/v2/silences", nil, &silences); err != nil {
		return 0, fmt.Errorf("list silences in Alertmanager: %w", err)
	}
	n := 0
	for _, s := range silences {
		if s.Status.State == "expired" || s.CreatedBy != by || !strings.HasPrefix(s.Comment, prefix) {
			continue
		}
		if err := c.Expire(ctx, s.ID); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
