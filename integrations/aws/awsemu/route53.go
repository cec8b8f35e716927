package awsemu

import (
	"encoding/xml"
	"io"
	"net/http"
	"sort"
	"strings"
)

// Route 53 (REST-XML): ChangeResourceRecordSets, GetChange and
// ListResourceRecordSets on hosted zones seeded with AddRecord. Changes
// are INSYNC at once, as they are a minute later in AWS.

const route53NS = "https://route53.amazonaws.com/doc/2013-04-01/"

// Record seeds one resource record set in a hosted zone.
type Record struct {
	AccountID string
	ZoneID    string
	Name      string // with or without the trailing dot
	Type      string // default: A
	TTL       int64  // default: 300
	Values    []string
}

type r53State struct {
	records map[string]*Record // by account|zone|name|type
	changes int
}

func fqdn(name string) string {
	if strings.HasSuffix(name, ".") {
		return name
	}
	return name + "."
}

func r53Key(account, zone, name, typ string) string {
	return account + "|" + zone + "|" + strings.ToLower(fqdn(name)) + "|" + typ
}

// AddRecord seeds a record.
func (e *Emulator) AddRecord(r Record) {
	if r.AccountID == "" {
		r.AccountID = e.opts.DefaultAccountID
	}
	if r.Type == "" {
		r.Type = "A"
	}
	if r.TTL == 0 {
		r.TTL = 300
	}
	r.Name = fqdn(r.Name)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.r53.records == nil {
		e.r53.records = map[string]*Record{}
	}
	e.r53.records[r53Key(r.AccountID, r.ZoneID, r.Name, r.Type)] = &r
}

// RecordValues is a record's values now (nil when it does not exist).
func (e *Emulator) RecordValues(account, zone, name, typ string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r := e.r53.records[r53Key(account, zone, name, typ)]; r != nil {
		return append([]string(nil), r.Values...)
	}
	return nil
}

type r53RecordXML struct {
	Name            string   `xml:"Name"`
	Type            string   `xml:"Type"`
	TTL             int64    `xml:"TTL"`
	ResourceRecords []string `xml:"ResourceRecords>ResourceRecord>Value"`
}

type r53ChangeInfo struct {
	ID          string `xml:"Id"`
	Status      string `xml:"Status"`
	SubmittedAt string `xml:"SubmittedAt"`
}

func (e *Emulator) serveRoute53(w http.ResponseWriter, r *http.Request, sc credScope) {
	path := strings.TrimPrefix(r.URL.Path, "/2013-04-01/")
	var action string
	switch {
	case strings.HasPrefix(path, "change/"):
		action = "GetChange"
	case strings.HasPrefix(path, "hostedzone/") && strings.HasSuffix(strings.TrimSuffix(path, "/"), "/rrset") && r.Method == http.MethodPost:
		action = "ChangeResourceRecordSets"
	case strings.HasPrefix(path, "hostedzone/") && strings.HasSuffix(strings.TrimSuffix(path, "/"), "/rrset"):
		action = "ListResourceRecordSets"
	}
	e.count("route53:" + action)
	status := http.StatusOK
	defer func() { e.logf("route53 %s status=%d", action, status) }()
	fail := func(err *apiError) {
		status = err.status
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(err.status)
		_ = xml.NewEncoder(w).Encode(struct {
			XMLName xml.Name `xml:"ErrorResponse"`
			NS      string   `xml:"xmlns,attr"`
			Error   struct {
				Type    string `xml:"Type"`
				Code    string `xml:"Code"`
				Message string `xml:"Message"`
			} `xml:"Error"`
			RequestID string `xml:"RequestId"`
		}{NS: route53NS, Error: struct {
			Type    string `xml:"Type"`
			Code    string `xml:"Code"`
			Message string `xml:"Message"`
		}{"Sender", err.code, err.message}, RequestID: newRequestID()})
	}
	id, aerr := e.resolve(sc)
	if aerr != nil {
		fail(aerr)
		return
	}
	if f := e.takeFault("route53:" + action); f != nil {
		fail(f)
		return
	}
	zone := strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(path, "hostedzone/"), "/"), "/rrset")
	var body any
	switch action {
	case "GetChange":
		body = struct {
			XMLName    xml.Name      `xml:"GetChangeResponse"`
			NS         string        `xml:"xmlns,attr"`
			ChangeInfo r53ChangeInfo `xml:"ChangeInfo"`
		}{NS: route53NS, ChangeInfo: r53ChangeInfo{ID: "/change/" + strings.TrimPrefix(path, "change/"), Status: "INSYNC", SubmittedAt: isoTime(e.clock.Now())}}
	case "ListResourceRecordSets":
		e.mu.Lock()
		var out []r53RecordXML
		for _, rec := range e.r53.records {
			if rec.AccountID == id.account && rec.ZoneID == zone {
				out = append(out, r53RecordXML{rec.Name, rec.Type, rec.TTL, rec.Values})
			}
		}
		e.mu.Unlock()
		sort.Slice(out, func(i, j int) bool { return out[i].Name+out[i].Type < out[j].Name+out[j].Type })
		body = struct {
			XMLName            xml.Name       `xml:"ListResourceRecordSetsResponse"`
			NS                 string         `xml:"xmlns,attr"`
			ResourceRecordSets []r53RecordXML `xml:"ResourceRecordSets>ResourceRecordSet"`
			IsTruncated        bool           `xml:"IsTruncated"`
			MaxItems           string         `xml:"MaxItems"`
		}{NS: route53NS, ResourceRecordSets: out, MaxItems: "300"}
	case "ChangeResourceRecordSets":
		raw, err := io.ReadAll(r.Body)
		if err != nil {
			fail(errf(http.StatusBadRequest, "InvalidInput", "cannot read the body: %v", err))
			return
		}
		var req struct {
			Changes []struct {
				Action string       `xml:"Action"`
				Set    r53RecordXML `xml:"ResourceRecordSet"`
			} `xml:"ChangeBatch>Changes>Change"`
		}
		if err := xml.Unmarshal(raw, &req); err != nil {
			fail(errf(http.StatusBadRequest, "InvalidInput", "cannot parse the change batch: %v", err))
			return
		}
		e.mu.Lock()
		if e.r53.records == nil {
			e.r53.records = map[string]*Record{}
		}
		// All or nothing, as in AWS: check every change first.
		for _, c := range req.Changes {
			k := r53Key(id.account, zone, c.Set.Name, c.Set.Type)
			if (c.Action == "DELETE") && e.r53.records[k] == nil || c.Action == "CREATE" && e.r53.records[k] != nil {
				e.mu.Unlock()
				fail(errf(http.StatusBadRequest, "InvalidChangeBatch", "[Tried to %s resource record set [name='%s', type='%s'] but it %s]",
					strings.ToLower(c.Action), fqdn(c.Set.Name), c.Set.Type, map[bool]string{true: "was not found", false: "already exists"}[c.Action == "DELETE"]))
				return
			}
		}
		for _, c := range req.Changes {
			k := r53Key(id.account, zone, c.Set.Name, c.Set.Type)
			if c.Action == "DELETE" {
				delete(e.r53.records, k)
				continue
			}
			e.r53.records[k] = &Record{AccountID: id.account, ZoneID: zone, Name: fqdn(c.Set.Name), Type: c.Set.Type, TTL: c.Set.TTL, Values: c.Set.ResourceRecords}
		}
		e.r53.changes++
		e.mu.Unlock()
		body = struct {
			XMLName    xml.Name      `xml:"ChangeResourceRecordSetsResponse"`
			NS         string        `xml:"xmlns,attr"`
			ChangeInfo r53ChangeInfo `xml:"ChangeInfo"`
		}{NS: route53NS, ChangeInfo: r53ChangeInfo{ID: "/change/C" + strings.ToUpper(randomID(13)), Status: "PENDING", SubmittedAt: isoTime(e.clock.Now())}}
	default:
		fail(errf(http.StatusBadRequest, "InvalidAction", "route53 %s %s is not emulated", r.Method, r.URL.Path))
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	_, _ = w.Write([]byte(xml.Header))
	_ = xml.NewEncoder(w).Encode(body)
}
