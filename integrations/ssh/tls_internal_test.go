package ssh

import "testing"

// Only a target's own loopback is exempt from certificate verification.
func TestTunnelTLSConfigVerifiesAllButLoopback(t *testing.T) {
	for host, skip := range map[string]bool{
		"127.0.0.1": true, "127.1.2.3": true, "::1": true, "[::1]": true, "localhost": true, "LOCALHOST": true,
		"10.10.1.11": false, "apim.internal": false, "localhost.example.com": false, "": false, "0.0.0.0": false,
	} {
		if got := tunnelTLSConfig(host).InsecureSkipVerify; got != skip {
			t.Errorf("%q: skip verification = %v, want %v", host, got, skip)
		}
	}
}
