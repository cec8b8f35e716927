package commands

import (
	"strings"
	"testing"

	"github.com/mcloud/mcloud"
	"github.com/mcloud/mcloud/config"
)

// Who may receive a customer's credentials: the requester, or a user of
// that customer or of the DevOps team; nobody else, however named.
func TestHandoverRecipient(t *testing.T) {
	cfg, err := config.Load("../examples/mcloud.yaml")
	if err != nil {
		t.Fatal(err)
	}
	x := cfg.Customer("customer-x")
	carol := mcloud.Caller{UserID: "U0CAROL", Name: "carol", Role: mcloud.RoleCustomer, Customer: "customer-x"}
	alice := mcloud.Caller{UserID: "U0ALICE", Name: "alice", Role: mcloud.RoleDevOps}
	// A customer user vouched for by customer-x's workspace but not listed.
	frank := mcloud.Caller{UserID: "U0FRANK", Name: "frank", Role: mcloud.RoleCustomer, Customer: "customer-x"}
	for _, tt := range []struct {
		name   string
		caller mcloud.Caller
		to     string
		want   string // user id, or "" for refused
		reason string
	}{
		{"requester", carol, "", "U0CAROL", ""},
		{"devops requester", alice, "", "U0ALICE", ""},
		{"unlisted customer requester", frank, "", "U0FRANK", ""},
		{"customer user by @name", alice, "@carol", "U0CAROL", ""},
		{"customer user by mention", alice, "<@U0CAROL|carol>", "U0CAROL", ""},
		{"customer user by bare mention", alice, "<@U0CAROL>", "U0CAROL", ""},
		{"customer user by id", alice, "U0CAROL", "U0CAROL", ""},
		{"devops member", carol, "@bob", "U0BOB", ""},
		{"themselves by name", frank, "@frank", "U0FRANK", ""},
		{"another customer's user", alice, "@dave", "", "dave is a user of customer-y, not of customer-x"},
		{"another customer's user by mention", carol, "<@U0DAVE|dave>", "", "dave is a user of customer-y"},
		{"nobody known", carol, "@mallory", "", "@mallory is neither a user of customer-x nor on the DevOps team"},
		{"another customer's user naming themselves", mcloud.Caller{UserID: "U0DAVE", Name: "dave", Role: mcloud.RoleCustomer, Customer: "customer-y"}, "@dave", "", "dave is a user of customer-y"},
	} {
		got, err := handoverRecipient(cfg, x, tt.caller, tt.to)
		switch {
		case tt.want != "" && (err != nil || got.UserID != tt.want):
			t.Errorf("%s: recipient %+v, %v; want %s", tt.name, got, err, tt.want)
		case tt.want == "" && (err == nil || mcloud.ErrorCode(err) != mcloud.EUNAUTHORIZED || !strings.Contains(err.Error(), tt.reason)):
			t.Errorf("%s: recipient %+v, %v; want refused: %s", tt.name, got, err, tt.reason)
		}
	}
}

// The direct message reads JSON credentials and plain ones, and always
// reminds to change the password.
func TestCredentialMessage(t *testing.T) {
	p := config.Product{Name: "API Publisher", URL: "https://apim.example.net/publisher"}
	for _, tt := range []struct{ value, want string }{
		{`{"username":"admin","password":"pw1"}`, "username: admin\npassword: pw1\n"},
		{`{"password":"pw2"}`, "password: pw2\n"},
		{`plain-pw3`, "password: plain-pw3\n"},
		{`{"user":"x"}`, `password: {"user":"x"}` + "\n"},
	} {
		got := credentialMessage("customer-x", "prod", p, tt.value)
		if !strings.Contains(got, tt.want) || !strings.Contains(got, "change this password after your first login") ||
			!strings.HasPrefix(got, "Admin credential of API Publisher for customer-x/prod (https://apim.example.net/publisher):") {
			t.Errorf("credentialMessage(%s) = %q", tt.value, got)
		}
	}
}

// A product's url wins over its url_output; an output the stack lacks,
// or a stack that could not be read, leaves the URL empty with the reason.
func TestWithStackURLs(t *testing.T) {
	ps := []config.Product{
		{Name: "a", URL: "https://a.example.net", URLOutput: "AUrl"},
		{Name: "b", URLOutput: "BUrl"},
		{Name: "c", URLOutput: "CUrl"},
		{Name: "d", URL: "https://d.example.net"},
	}
	outputs := map[string]string{"AUrl": "https://other.example.net", "BUrl": "https://b.example.net"}
	got, missing := withStackURLs(ps, outputs, "mcloud-x-prod", "")
	for i, want := range []string{"https://a.example.net", "https://b.example.net", "", "https://d.example.net"} {
		if got[i].URL != want {
			t.Errorf("%s: url %q, want %q", got[i].Name, got[i].URL, want)
		}
	}
	if len(missing) != 1 || missing["c"] != "stack mcloud-x-prod has no output CUrl" {
		t.Errorf("missing = %v", missing)
	}
	if ps[1].URL != "" {
		t.Error("the configuration's products were changed")
	}
	_, missing = withStackURLs(ps, nil, "mcloud-x-prod", "stack gone")
	if len(missing) != 2 || missing["b"] != "stack gone" || missing["c"] != "stack gone" {
		t.Errorf("without outputs, missing = %v", missing)
	}
}
