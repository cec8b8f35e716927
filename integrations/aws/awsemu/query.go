package awsemu

import (
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"net/url"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Namespaces the real services put on their responses; the SDK ignores
// them, but tools that look at raw responses in the sandbox expect them.
const (
	ec2NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
	rdsNS = "http://rds.amazonaws.com/doc/2014-10-31/"
	stsNS = "https://sts.amazonaws.com/doc/2011-06-15/"
)

// queryRequest is one EC2, RDS or STS call.
type queryRequest struct {
	service string
	action  string
	region  string
	form    url.Values
	id      identity
	reqID   string
}

func (e *Emulator) serveQuery(w http.ResponseWriter, r *http.Request, sc credScope) {
	reqID := newRequestID()
	if err := r.ParseForm(); err != nil {
		writeQueryError(w, sc.service, errf(http.StatusBadRequest, "MalformedQueryString", "cannot parse form: %v", err))
		return
	}
	q := &queryRequest{service: sc.service, action: r.Form.Get("Action"), region: sc.region, form: r.Form, reqID: reqID}
	op := q.service + ":" + q.action
	e.count(op)
	status := http.StatusOK
	defer func() {
		e.logf("%s %s region=%s account=%s status=%d", q.service, q.action, q.region, q.id.account, status)
	}()

	fail := func(err *apiError) {
		status = err.status
		writeQueryErrorID(w, q.service, err, reqID)
	}

	id, aerr := e.resolve(sc)
	if aerr != nil {
		fail(aerr)
		return
	}
	q.id = id
	if f := e.takeFault(op); f != nil {
		fail(f)
		return
	}

	var (
		body any
		err  *apiError
	)
	switch q.service {
	case "ec2":
		body, err = e.ec2(q)
	case "rds":
		body, err = e.rds(q)
	case "sts":
		body, err = e.sts(q)
	case "cloudformation":
		body, err = e.cfn(q)
	}
	if err != nil {
		fail(err)
		return
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.Header().Set("x-amzn-RequestId", reqID)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(xml.Header))
	if err := xml.NewEncoder(w).Encode(body); err != nil {
		e.logf("%s %s: encoding response: %v", q.service, q.action, err)
	}
}

func newRequestID() string {
	id := randomID(32)
	return id[:8] + "-" + id[8:12] + "-" + id[12:16] + "-" + id[16:20] + "-" + id[20:32]
}

func writeQueryError(w http.ResponseWriter, service string, err *apiError) {
	writeQueryErrorID(w, service, err, newRequestID())
}

// writeQueryErrorID renders err in the service's error envelope: EC2 has its
// own <Response><Errors>, the awsquery services share <ErrorResponse>.
func writeQueryErrorID(w http.ResponseWriter, service string, err *apiError, reqID string) {
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(err.status)
	_, _ = w.Write([]byte(xml.Header))
	if service == "ec2" {
		type ec2Err struct {
			Code    string `xml:"Code"`
			Message string `xml:"Message"`
		}
		_ = xml.NewEncoder(w).Encode(struct {
			XMLName   xml.Name `xml:"Response"`
			Errors    []ec2Err `xml:"Errors>Error"`
			RequestID string   `xml:"RequestID"`
		}{Errors: []ec2Err{{Code: err.code, Message: err.message}}, RequestID: reqID})
		return
	}
	typ := "Sender"
	if err.status >= 500 {
		typ = "Receiver"
	}
	_ = xml.NewEncoder(w).Encode(struct {
		XMLName xml.Name `xml:"ErrorResponse"`
		Error   struct {
			Type    string `xml:"Type"`
			Code    string `xml:"Code"`
			Message string `xml:"Message"`
		} `xml:"Error"`
		RequestID string `xml:"RequestId"`
	}{
		Error: struct {
			Type    string `xml:"Type"`
			Code    string `xml:"Code"`
			Message string `xml:"Message"`
		}{typ, err.code, err.message},
		RequestID: reqID,
	})
}

// members returns the prefixes "name.1", "name.2", ... that have any key in
// the form. Query lists are 1-based and must be contiguous.
func members(form url.Values, name string) []string {
	var out []string
	for i := 1; ; i++ {
		p := name + "." + strconv.Itoa(i)
		if !hasPrefix(form, p) {
			return out
		}
		out = append(out, p)
	}
}

func hasPrefix(form url.Values, p string) bool {
	if _, ok := form[p]; ok {
		return true
	}
	for k := range form {
		if strings.HasPrefix(k, p+".") {
			return true
		}
	}
	return false
}

// stringList reads a list of scalars at name.N.
func stringList(form url.Values, name string) []string {
	var out []string
	for _, p := range members(form, name) {
		out = append(out, form.Get(p))
	}
	return out
}

// filter is an EC2/RDS Filter (name plus accepted values).
type filter struct {
	name   string
	values []string
}

// ec2Filters reads EC2's flattened Filter.N.Name / Filter.N.Value.M.
func ec2Filters(form url.Values) []filter {
	var out []filter
	for _, p := range members(form, "Filter") {
		out = append(out, filter{name: form.Get(p + ".Name"), values: stringList(form, p+".Value")})
	}
	return out
}

// rdsFilters reads awsquery's Filters.Filter.N.Name / .Values.Value.M.
func rdsFilters(form url.Values) []filter {
	var out []filter
	for _, p := range members(form, "Filters.Filter") {
		out = append(out, filter{name: form.Get(p + ".Name"), values: stringList(form, p+".Values.Value")})
	}
	return out
}

// tagsAt reads Key/Value pairs at prefix.N.
func tagsAt(form url.Values, prefix string) map[string]string {
	tags := map[string]string{}
	for _, p := range members(form, prefix) {
		if k := form.Get(p + ".Key"); k != "" {
			tags[k] = form.Get(p + ".Value")
		}
	}
	return tags
}

// matchValue applies AWS filter wildcards (* and ?) to one value.
// matchFilters reports whether an item passes every Filter.N of a query.
// values gives the item's values for a filter name (any one may match), or
// known=false for a name this call does not support.
func matchFilters(filters []filter, values func(name string) (vals []string, known bool)) (bool, *apiError) {
	for _, f := range filters {
		vals, known := values(f.name)
		if !known {
			return false, badRequestf("InvalidParameterValue", "Unrecognized filter name: %s", f.name)
		}
		if !slices.ContainsFunc(vals, func(v string) bool { return matchValue(f.values, v) }) {
			return false, nil
		}
	}
	return true, nil
}

func matchValue(patterns []string, v string) bool {
	for _, p := range patterns {
		if p == v {
			return true
		}
		if strings.ContainsAny(p, "*?") {
			if ok, _ := path.Match(p, v); ok {
				return true
			}
		}
	}
	return false
}

// matchTagFilter reports whether tags satisfy a "tag:Key" or "tag-key" filter.
func matchTagFilter(f filter, tags map[string]string) (handled, ok bool) {
	if k, found := strings.CutPrefix(f.name, "tag:"); found {
		v, has := tags[k]
		return true, has && matchValue(f.values, v)
	}
	if f.name == "tag-key" {
		for k := range tags {
			if matchValue(f.values, k) {
				return true, true
			}
		}
		return true, false
	}
	return false, false
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// page slices items for MaxResults/NextToken style pagination. The token is
// an opaque offset, which is enough because listings are sorted stably.
func page[T any](items []T, token string, max, limit int) ([]T, string, *apiError) {
	start := 0
	if token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(token)
		n, perr := strconv.Atoi(string(raw))
		if err != nil || perr != nil || n < 0 || n > len(items) {
			return nil, "", errf(http.StatusBadRequest, "InvalidParameterValue", "Invalid pagination token")
		}
		start = n
	}
	size := len(items) - start
	if max > 0 && max < size {
		size = max
	}
	if limit > 0 && limit < size {
		size = limit
	}
	end := start + size
	next := ""
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)))
	}
	return items[start:end], next, nil
}

func intParam(form url.Values, name string) (int, *apiError) {
	v := form.Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, errf(http.StatusBadRequest, "InvalidParameterValue", "Invalid value %q for %s", v, name)
	}
	return n, nil
}

func required(form url.Values, names ...string) *apiError {
	for _, n := range names {
		if form.Get(n) == "" {
			return errf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter %s", n)
		}
	}
	return nil
}

// isoTime is the timestamp format the query protocols use.
func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func progress(start, ready, now time.Time) int {
	if !now.Before(ready) {
		return 100
	}
	total := ready.Sub(start)
	if total <= 0 {
		return 100
	}
	return int(100 * now.Sub(start) / total)
}

func unknownAction(q *queryRequest) *apiError {
	return errf(http.StatusBadRequest, "InvalidAction", "The action %s is not valid for this web service (emulated %s)", q.action, strings.ToUpper(q.service))
}

func notFoundf(code, format string, args ...any) *apiError {
	return errf(http.StatusNotFound, code, format, args...)
}

func badRequestf(code, format string, args ...any) *apiError {
	return errf(http.StatusBadRequest, code, format, args...)
}
