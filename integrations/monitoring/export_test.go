package monitoring

import "net/http"

// UseClient makes s reach "SNS" with client (one that dials a local test
// server whatever the host): the test hook, which exists only in the
// package's test build, so production code cannot reach it. The host
// checks stay the production ones.
func UseClient(s *SNS, client *http.Client) { s.client = client }
