package awsemu

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"
)

// Secrets Manager speaks the JSON 1.1 protocol: POST / with
// X-Amz-Target: secretsmanager.<Operation> and a JSON body; errors are
// {"__type": code, "message": ...}. Secrets live in one account and
// region, so a request signed with the wrong role's credentials finds
// nothing, as in AWS.

// Secret seeds a secret.
type Secret struct {
	AccountID, Region, Name string
	// Value is the SecretString: JSON {"username","password"} or plain.
	Value string
	// Rotation: a rotation function is configured, so RotateSecret works;
	// it replaces the "password" of a JSON value (or the whole plain
	// value) with a new random one.
	Rotation bool
}

type secretState struct {
	Secret
	arn         string
	versionID   string
	created     time.Time
	changed     time.Time
	lastRotated time.Time
}

// AddSecret seeds a secret and returns its ARN.
func (e *Emulator) AddSecret(s Secret) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.secrets == nil {
		e.secrets = map[string]*secretState{}
	}
	now := e.clock.Now()
	st := &secretState{Secret: s, versionID: newRequestID(), created: now, changed: now,
		arn: "arn:aws:secretsmanager:" + s.Region + ":" + s.AccountID + ":secret:" + s.Name + "-" + randomID(6)}
	e.secrets[s.AccountID+"|"+s.Region+"|"+s.Name] = st
	return st.arn
}

// SecretValue is a seeded secret's current value, for tests that look
// for it where it must not be.
func (e *Emulator) SecretValue(accountID, region, name string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if st := e.secrets[accountID+"|"+region+"|"+name]; st != nil {
		return st.Value
	}
	return ""
}

// findSecret looks a secret up by name or ARN in the caller's account and
// region; e.mu is held.
func (e *Emulator) findSecret(account, region, id string) *secretState {
	if st := e.secrets[account+"|"+region+"|"+id]; st != nil {
		return st
	}
	for _, st := range e.secrets {
		if st.arn == id && st.AccountID == account && st.Region == region {
			return st
		}
	}
	return nil
}

func (e *Emulator) serveSecrets(w http.ResponseWriter, r *http.Request, sc credScope) {
	action := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "secretsmanager.")
	op := "secretsmanager:" + action
	e.count(op)
	status := http.StatusOK
	var account string
	defer func() {
		e.logf("secretsmanager %s region=%s account=%s status=%d", action, sc.region, account, status)
	}()
	fail := func(err *apiError) {
		status = err.status
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(err.status)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": err.code, "message": err.message})
	}
	id, aerr := e.resolve(sc)
	if aerr != nil {
		fail(aerr)
		return
	}
	account = id.account
	if f := e.takeFault(op); f != nil {
		fail(f)
		return
	}
	var in struct {
		SecretID string `json:"SecretId"`
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err := json.Unmarshal(body, &in); err != nil || in.SecretID == "" {
		fail(errf(http.StatusBadRequest, "InvalidParameterException", "SecretId is required"))
		return
	}
	e.mu.Lock()
	st := e.findSecret(account, sc.region, in.SecretID)
	var out any
	var err *apiError
	switch {
	case action != "GetSecretValue" && action != "DescribeSecret" && action != "RotateSecret":
		err = errf(http.StatusBadRequest, "UnknownOperationException", "secretsmanager.%s is not emulated", action)
	case st == nil:
		err = errf(http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
	case action == "GetSecretValue":
		out = map[string]any{"ARN": st.arn, "Name": st.Name, "SecretString": st.Value, "VersionId": st.versionID,
			"VersionStages": []string{"AWSCURRENT"}, "CreatedDate": epoch(st.changed)}
	case action == "DescribeSecret":
		d := map[string]any{"ARN": st.arn, "Name": st.Name, "RotationEnabled": st.Rotation, "CreatedDate": epoch(st.created),
			"LastChangedDate": epoch(st.changed)}
		if !st.lastRotated.IsZero() {
			d["LastRotatedDate"] = epoch(st.lastRotated)
		}
		out = d
	case !st.Rotation:
		err = errf(http.StatusBadRequest, "InvalidRequestException", "No Lambda rotation function ARN is associated with this secret.")
	default:
		st.Value = rotated(st.Value)
		st.versionID = newRequestID()
		st.changed, st.lastRotated = e.clock.Now(), e.clock.Now()
		out = map[string]any{"ARN": st.arn, "Name": st.Name, "VersionId": st.versionID}
	}
	e.mu.Unlock()
	if err != nil {
		fail(err)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(out)
}

// rotated is value with a new password, as a rotation function leaves it.
func rotated(value string) string {
	var m map[string]any
	if json.Unmarshal([]byte(value), &m) == nil && m != nil {
		m["password"] = "rotated-" + randomID(20)
		b, _ := json.Marshal(m)
		return string(b)
	}
	return "rotated-" + randomID(20)
}

// epoch is a timestamp as the JSON protocols write it: seconds since
// 1970 with a fraction.
func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }
