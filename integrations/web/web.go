// Package web checks that the product URLs mcloud hands to customers
// answer, from where the bot runs.
package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Checker asks each URL with HEAD, and with GET when the server does not
// take HEAD.
type Checker struct {
	// Client defaults to one with a 10-second timeout.
	Client *http.Client
}

// CheckURL reports whether u answers. Any answer below 500 except 404
// and 410 counts: a login page that says 401 is up. The error is one
// short reason, for the message that flags the URL.
func (c Checker) CheckURL(ctx context.Context, u string) error {
	client := c.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	status, err := ask(ctx, client, http.MethodHead, u)
	if err == nil && (status == http.StatusMethodNotAllowed || status == http.StatusNotImplemented) {
		status, err = ask(ctx, client, http.MethodGet, u)
	}
	if err != nil {
		return err
	}
	if status >= 500 || status == http.StatusNotFound || status == http.StatusGone {
		return fmt.Errorf("answered HTTP %d", status)
	}
	return nil
}

func ask(ctx context.Context, client *http.Client, method, u string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return 0, fmt.Errorf("not a URL: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, errors.New(reason(err))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// reason says in a few words why a URL could not be reached.
func reason(err error) string {
	var dns *net.DNSError
	var op *net.OpError
	switch {
	case errors.As(err, &dns):
		return "its host name does not resolve"
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return "it did not answer in time"
	case errors.As(err, &op) && op.Op == "dial":
		return "nothing answers at its address"
	}
	return "it could not be reached (" + err.Error() + ")"
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
