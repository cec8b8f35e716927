package main

import (
	"testing"

	"github.com/mcloud/mcloud/internal/pgtest"
)

// TestMain stops the throwaway PostgreSQL cluster that tests start on demand.
func TestMain(m *testing.M) { pgtest.Main(m) }
