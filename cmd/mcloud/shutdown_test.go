package main

import (
	"testing"
	"time"

	"github.com/mcloud/mcloud/config"
)

// The shutdown grace outlasts one SSH command at its limit: a patch
// finishing its host at SIGTERM is not cut by the process exiting while a
// command the configuration allows is still running.
func TestShutdownGraceFollowsCommandTimeout(t *testing.T) {
	for _, tc := range []struct {
		timeout time.Duration
		want    time.Duration
	}{
		{0, 11 * time.Minute}, // the default ssh.command_timeout, 10 minutes
		{30 * time.Second, 90 * time.Second},
		{time.Hour, time.Hour + time.Minute},
	} {
		ssh := config.SSH{CommandTimeout: config.Duration(tc.timeout)}
		if got := shutdownGrace(ssh); got != tc.want {
			t.Errorf("ssh.command_timeout %s: grace %s, want %s", tc.timeout, got, tc.want)
		}
		if got := shutdownGrace(ssh); got <= ssh.CommandLimit() {
			t.Errorf("ssh.command_timeout %s: grace %s does not outlast one command", tc.timeout, got)
		}
	}
}
