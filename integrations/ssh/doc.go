// Package ssh runs commands on customer hosts that are reachable only
// through the customer's bastion, the way `ssh -J bastion host` does: one
// SSH connection to the bastion per Client, a direct-tcpip channel over it
// per target, and a second, end-to-end SSH handshake with the target itself.
//
// The end-to-end handshake matters: the bastion only ever sees encrypted
// bytes, and each target's own host key is checked against known_hosts, so
// a compromised bastion cannot impersonate the hosts behind it.
//
// A Client is meant to live for one job (for example one patch rollout):
// the bastion connection and the target connections are reused by every
// call of that job and are torn down by Close.
package ssh
