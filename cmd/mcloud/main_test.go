package main

import (
	"os"
	"testing"

	"github.com/mcloud/mcloud/internal/pgtest"
)

// TestMain keeps every test on loopback: the AWS SDK never asks the EC2
// instance metadata service (169.254.169.254) for a role unless a test
// turns it back on against its own loopback stand-in. It then stops the
// throwaway PostgreSQL cluster that tests start on demand.
func TestMain(m *testing.M) {
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	pgtest.Main(m)
}
