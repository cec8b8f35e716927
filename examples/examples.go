// Package examples holds the example configuration, built into the binary
// so that `mcloud shell` (and its sandbox, seeded from it) works from any
// directory, not only from a checkout of the repository.
package examples

import _ "embed"

// Config is examples/mcloud.yaml: two customers, five users.
//
//go:embed mcloud.yaml
var Config []byte

// ConfigName is how messages name the built-in example.
const ConfigName = "examples/mcloud.yaml (built in)"
