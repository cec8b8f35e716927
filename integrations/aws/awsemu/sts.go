package awsemu

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// Account is a customer account the bot may assume a role in.
type Account struct {
	ID         string // 12 digits
	RoleARN    string // arn:aws:iam::<ID>:role/<name>
	ExternalID string // AssumeRole must present exactly this (empty: none required)
}

type accountState struct {
	Account
}

type session struct {
	id      identity
	token   string
	expires time.Time
}

var accountIDRe = regexp.MustCompile(`^\d{12}$`)

// AddAccount seeds a customer account whose role can be assumed.
func (e *Emulator) AddAccount(a Account) error {
	if !accountIDRe.MatchString(a.ID) {
		return fmt.Errorf("seed account %q: account id must be 12 digits", a.ID)
	}
	if !strings.HasPrefix(a.RoleARN, "arn:aws:iam::"+a.ID+":role/") {
		return fmt.Errorf("seed account %s: role ARN must be arn:aws:iam::%s:role/<name>", a.ID, a.ID)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.accounts[a.RoleARN] = &accountState{Account: a}
	return nil
}

func (e *Emulator) sts(q *queryRequest) (any, *apiError) {
	switch q.action {
	case "AssumeRole":
		return e.assumeRole(q)
	case "GetCallerIdentity":
		return struct {
			XMLName xml.Name `xml:"GetCallerIdentityResponse"`
			NS      string   `xml:"xmlns,attr"`
			Result  struct {
				Arn     string `xml:"Arn"`
				UserID  string `xml:"UserId"`
				Account string `xml:"Account"`
			} `xml:"GetCallerIdentityResult"`
			RequestID string `xml:"ResponseMetadata>RequestId"`
		}{NS: stsNS, Result: struct {
			Arn     string `xml:"Arn"`
			UserID  string `xml:"UserId"`
			Account string `xml:"Account"`
		}{q.id.arn, q.id.userID, q.id.account}, RequestID: q.reqID}, nil
	default:
		return nil, unknownAction(q)
	}
}

func (e *Emulator) assumeRole(q *queryRequest) (any, *apiError) {
	if err := required(q.form, "RoleArn", "RoleSessionName"); err != nil {
		return nil, err
	}
	roleARN := q.form.Get("RoleArn")
	sessionName := q.form.Get("RoleSessionName")
	dur := 3600
	if q.form.Get("DurationSeconds") != "" {
		n, err := intParam(q.form, "DurationSeconds")
		if err != nil {
			return nil, err
		}
		if n < 900 || n > 43200 {
			return nil, badRequestf("ValidationError", "1 validation error detected: Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200", n)
		}
		dur = n
	}
	e.mu.Lock()
	acct := e.accounts[roleARN]
	e.mu.Unlock()
	// AWS answers a missing role and a failed trust condition alike, so the
	// caller cannot probe which roles exist; the emulator does the same.
	denied := errf(http.StatusForbidden, "AccessDenied", "User: %s is not authorized to perform: sts:AssumeRole on resource: %s", q.id.arn, roleARN)
	if acct == nil || acct.ExternalID != q.form.Get("ExternalId") {
		return nil, denied
	}

	roleName := roleARN[strings.LastIndex(roleARN, "/")+1:]
	sess := &session{
		id: identity{
			account: acct.ID,
			arn:     fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", acct.ID, roleName, sessionName),
			userID:  "AROA" + strings.ToUpper(randomID(17)) + ":" + sessionName,
		},
		token:   randomToken(),
		expires: e.clock.Now().Add(time.Duration(dur) * time.Second),
	}
	akid := "ASIA" + strings.ToUpper(randomID(16))
	e.mu.Lock()
	e.sessions[akid] = sess
	e.mu.Unlock()

	type creds struct {
		AccessKeyID     string `xml:"AccessKeyId"`
		SecretAccessKey string `xml:"SecretAccessKey"`
		SessionToken    string `xml:"SessionToken"`
		Expiration      string `xml:"Expiration"`
	}
	type result struct {
		Credentials     creds `xml:"Credentials"`
		AssumedRoleUser struct {
			Arn           string `xml:"Arn"`
			AssumedRoleID string `xml:"AssumedRoleId"`
		} `xml:"AssumedRoleUser"`
	}
	out := struct {
		XMLName   xml.Name `xml:"AssumeRoleResponse"`
		NS        string   `xml:"xmlns,attr"`
		Result    result   `xml:"AssumeRoleResult"`
		RequestID string   `xml:"ResponseMetadata>RequestId"`
	}{NS: stsNS, RequestID: q.reqID}
	out.Result.Credentials = creds{
		AccessKeyID:     akid,
		SecretAccessKey: randomToken()[:40],
		SessionToken:    sess.token,
		Expiration:      isoTime(sess.expires),
	}
	out.Result.AssumedRoleUser.Arn = sess.id.arn
	out.Result.AssumedRoleUser.AssumedRoleID = sess.id.userID
	return out, nil
}

func randomToken() string {
	b := make([]byte, 48)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("awsemu: reading random bytes: %v", err))
	}
	return base64.StdEncoding.EncodeToString(b)
}
