package main

import (
	"os"
	"testing"
)

// The sandbox script works on a fresh clone: `mcloud shell --sandbox` runs
// patch and run against in-process bastions and hosts standing in for the
// example customers, through the same client as production.
func TestSandboxSSHScript(t *testing.T) {
	script, err := os.ReadFile("../../examples/sandbox-ssh.mcloud")
	if err != nil {
		t.Fatal(err)
	}
	out := runShellScript(t, string(script), "--sandbox")
	xs := transcript(out)
	if len(xs) != 14 {
		t.Fatalf("got %d commands in the transcript, want 14:\n%s", len(xs), out)
	}
	expect := func(i int, prompt string, wants ...string) {
		t.Helper()
		expectReply(t, xs, i, prompt, wants...)
	}
	const x = "[#customer-x-shared, thread of request #"
	expect(1, "bob@#devops> /mcloud approve 1",
		"Job #1: `systemctl is-active wso2am` on 2 hosts of customer-x/prod: 2 ok\n          ok on x-prod-apim-1, x-prod-apim-2 (2 hosts): exit 0\n              | active",
		"Job #1 succeeded: ran `systemctl is-active wso2am` on 2 hosts of customer-x/prod; every one exited 0")
	expect(2, "carol@#customer-x-shared> /mcloud patch customer-x prod WSO2-2024-0042 --hosts x-prod-apim-9",
		`Error: Unknown host "x-prod-apim-9" in --hosts; customer-x/prod has: x-prod-apim-1, x-prod-apim-2.`,
		"Usage: /mcloud patch [customer] <env> <patch-id> [--hosts HOSTS] [--dry-run]")
	expect(3, "carol@#customer-x-shared> /mcloud patch customer-x prod WSO2-2024-0042",
		"Plan for request #2: patch for customer-x, asked by carol in #customer-x-shared (prod)",
		"1. reach all 2 hosts through the bastion bastion.customer-x.example.net:2222 and verify their pinned host keys; nothing is changed yet",
		"2. x-prod-apim-1 (10.10.1.11): pre-check `systemctl is-active wso2am`, stop `systemctl stop wso2am`, apply `mcloud-patch apply wso2am WSO2-2024-0042`, start `systemctl start wso2am`, health check GET https://127.0.0.1:9443/services/Version (through the tunnel, until 2xx)",
		"3. x-prod-apim-2 (10.10.1.12): ",
		"Waiting for 1 approval from an approver other than carol")
	expect(4, "bob@#customer-x-shared> /mcloud approve 2",
		x+"2] Job #2: reach hosts: all 2 hosts answer through the bastion, host keys verified",
		x+"2] Job #2: patch x-prod-apim-1: pre-check ok, stopped, applied, started, healthy on attempt 1 in ",
		x+"2] Job #2: patch x-prod-apim-2: pre-check ok, stopped, applied, started, healthy on attempt 1 in ",
		x+"2] Job #2 succeeded: WSO2-2024-0042 is on 2 hosts of customer-x/prod: x-prod-apim-1, x-prod-apim-2")
	expect(6, "erin@#customer-x-shared> /mcloud approve 3",
		x+"3] Job #3: patch x-prod-apim-1: pre-check ok",
		x+"3] Job #3: x-prod-apim-2 is not healthy yet (https://127.0.0.1:9443/services/Version answered 503 Service Unavailable: unhealthy)",
		x+"3] Job #3: x-prod-apim-2 failed its health check (3 attempts, the last: https://127.0.0.1:9443/services/Version answered 503 Service Unavailable: unhealthy); rolling back with `systemctl stop wso2am; mcloud-patch revert wso2am WSO2-2024-0043-broken && systemctl start wso2am`.",
		x+"3] Job #3: x-prod-apim-2 rolled back.",
		x+"3] Job #3 failed: Patch WSO2-2024-0043-broken halted at x-prod-apim-2 (2 of 2) because its health check failed")
	expect(7, "carol@#customer-x-shared> /mcloud run customer-x prod -- mcloud-patch list",
		`Error: "run" is for the DevOps team only; ask them in this channel.`)
	// The rollback really reverted x-prod-apim-2; x-prod-apim-1 keeps both.
	expect(9, "bob@#devops> /mcloud approve 4",
		"ok on x-prod-apim-1: exit 0\n              | WSO2-2024-0042\n              | WSO2-2024-0043-broken\n          ok on x-prod-apim-2: exit 0\n              | WSO2-2024-0042\n")
	expect(11, "erin@#devops> /mcloud approve 5",
		"FAILED on y-prod-is-1: exit 4\n              ! Unit nginx.service could not be found.",
		"Job #5 failed: `systemctl status nginx` failed on y-prod-is-1, the only host of customer-y/prod; its output is in the thread of #5.")
	expect(13, "bob@#customer-y-shared> /mcloud approve 6",
		"[#customer-y-shared, thread of request #6] Job #6: reach hosts: the host answers through the bastion, host key verified",
		"Job #6 succeeded: WSO2-2024-0042 is on 1 host of customer-y/dev: y-dev-is-1")
}
