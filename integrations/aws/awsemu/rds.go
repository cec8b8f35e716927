package awsemu

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"
)

// DBInstance seeds an RDS DB instance.
type DBInstance struct {
	AccountID     string
	Region        string
	Identifier    string // required
	Engine        string // default: postgres
	EngineVersion string // default: 16.4
	Class         string // default: db.t3.medium
	StorageGiB    int32  // default: 20
	Encrypted     bool
	KMSKeyID      string
	Tags          map[string]string
}

// DBSnapshot seeds an available RDS snapshot (automated or manual), for
// instance the nightly automated backups a "newest snapshot" query looks at.
type DBSnapshot struct {
	AccountID          string
	Region             string
	Identifier         string // required
	InstanceIdentifier string // required; the instance need not exist any more
	Type               string // default: manual
	Created            time.Time
	Encrypted          bool
	KMSKeyID           string
	Tags               map[string]string
}

type dbInstance struct {
	DBInstance
	arn, resourceID string
	created, ready  time.Time
	seq             int
	endpoint        string // host name; "" means dbEndpoint's
	port            int
}

type dbSnapshot struct {
	id, arn, account, region string
	instanceID, resourceID   string
	engine, engineVersion    string
	storage                  int32
	encrypted                bool
	kms                      string
	snapType                 string
	pending                  string // status while not yet available
	created, ready, original time.Time
	sourceRegion, sourceARN  string
	tags                     map[string]string
	seq                      int
}

func (s *dbSnapshot) status(now time.Time) string {
	if now.Before(s.ready) {
		return s.pending
	}
	return "available"
}

type exportTask struct {
	id, account, region        string
	sourceARN, bucket, prefix  string
	role, kms                  string
	exportOnly                 []string
	snapshotTime, start, ready time.Time
	storageGiB                 int32
	materialized               bool
	seq                        int
}

func (t *exportTask) status(delay time.Duration, now time.Time) (string, int) {
	switch {
	case !now.Before(t.ready):
		return "COMPLETE", 100
	case now.Before(t.start.Add(delay / 10)):
		return "STARTING", 0
	default:
		return "IN_PROGRESS", progress(t.start, t.ready, now)
	}
}

func rdsARN(region, account, kind, id string) string {
	return fmt.Sprintf("arn:aws:rds:%s:%s:%s:%s", region, account, kind, id)
}

// AddDBInstance seeds a DB instance and returns its ARN.
func (e *Emulator) AddDBInstance(d DBInstance) (string, error) {
	if d.Identifier == "" {
		return "", fmt.Errorf("seed db instance: identifier is required")
	}
	d.AccountID, d.Region = e.defaults(d.AccountID, d.Region)
	if d.Engine == "" {
		d.Engine = "postgres"
	}
	if d.EngineVersion == "" {
		d.EngineVersion = "16.4"
	}
	if d.Class == "" {
		d.Class = "db.t3.medium"
	}
	if d.StorageGiB == 0 {
		d.StorageGiB = 20
	}
	d.Tags = copyTags(d.Tags)
	arn := rdsARN(d.Region, d.AccountID, "db", d.Identifier)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.dbs[arn] != nil {
		return "", fmt.Errorf("seed db instance %s: already exists", arn)
	}
	e.dbs[arn] = &dbInstance{DBInstance: d, arn: arn, resourceID: "db-" + strings.ToUpper(randomID(26)), created: e.clock.Now(), seq: e.nextSeq()}
	return arn, nil
}

// AddDBSnapshot seeds an available snapshot and returns its ARN.
func (e *Emulator) AddDBSnapshot(s DBSnapshot) (string, error) {
	if s.Identifier == "" || s.InstanceIdentifier == "" {
		return "", fmt.Errorf("seed db snapshot: identifier and instance identifier are required")
	}
	s.AccountID, s.Region = e.defaults(s.AccountID, s.Region)
	if s.Type == "" {
		s.Type = "manual"
	}
	if s.Created.IsZero() {
		s.Created = e.clock.Now()
	}
	arn := rdsARN(s.Region, s.AccountID, "snapshot", s.Identifier)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.dbSnaps[arn] != nil {
		return "", fmt.Errorf("seed db snapshot %s: already exists", arn)
	}
	engine, version, storage := "postgres", "16.4", int32(20)
	if db := e.dbs[rdsARN(s.Region, s.AccountID, "db", s.InstanceIdentifier)]; db != nil {
		engine, version, storage = db.Engine, db.EngineVersion, db.StorageGiB
	}
	e.dbSnaps[arn] = &dbSnapshot{
		id: s.Identifier, arn: arn, account: s.AccountID, region: s.Region, instanceID: s.InstanceIdentifier,
		engine: engine, engineVersion: version, storage: storage, encrypted: s.Encrypted, kms: s.KMSKeyID,
		snapType: s.Type, created: s.Created, ready: s.Created, original: s.Created,
		tags: copyTags(s.Tags), seq: e.nextSeq(),
	}
	return arn, nil
}

type rdsTag struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

func rdsTags(t map[string]string) []rdsTag {
	out := make([]rdsTag, 0, len(t))
	for _, k := range sortedKeys(t) {
		out = append(out, rdsTag{k, t[k]})
	}
	return out
}

type dbInstanceXML struct {
	DBInstanceIdentifier string   `xml:"DBInstanceIdentifier"`
	DBInstanceClass      string   `xml:"DBInstanceClass"`
	Engine               string   `xml:"Engine"`
	EngineVersion        string   `xml:"EngineVersion"`
	DBInstanceStatus     string   `xml:"DBInstanceStatus"`
	AllocatedStorage     int32    `xml:"AllocatedStorage"`
	InstanceCreateTime   string   `xml:"InstanceCreateTime"`
	AvailabilityZone     string   `xml:"AvailabilityZone"`
	MultiAZ              bool     `xml:"MultiAZ"`
	StorageType          string   `xml:"StorageType"`
	StorageEncrypted     bool     `xml:"StorageEncrypted"`
	KmsKeyID             string   `xml:"KmsKeyId,omitempty"`
	DbiResourceID        string   `xml:"DbiResourceId"`
	DBInstanceArn        string   `xml:"DBInstanceArn"`
	TagList              []rdsTag `xml:"TagList>Tag"`
	Endpoint             *struct {
		Address string `xml:"Address"`
		Port    int    `xml:"Port"`
	} `xml:"Endpoint,omitempty"`
}

type dbSnapshotXML struct {
	DBSnapshotIdentifier       string   `xml:"DBSnapshotIdentifier"`
	DBInstanceIdentifier       string   `xml:"DBInstanceIdentifier"`
	SnapshotCreateTime         string   `xml:"SnapshotCreateTime"`
	Engine                     string   `xml:"Engine"`
	EngineVersion              string   `xml:"EngineVersion"`
	AllocatedStorage           int32    `xml:"AllocatedStorage"`
	Status                     string   `xml:"Status"`
	AvailabilityZone           string   `xml:"AvailabilityZone"`
	SnapshotType               string   `xml:"SnapshotType"`
	PercentProgress            int      `xml:"PercentProgress"`
	SourceRegion               string   `xml:"SourceRegion,omitempty"`
	SourceDBSnapshotIdentifier string   `xml:"SourceDBSnapshotIdentifier,omitempty"`
	StorageType                string   `xml:"StorageType"`
	Encrypted                  bool     `xml:"Encrypted"`
	KmsKeyID                   string   `xml:"KmsKeyId,omitempty"`
	DBSnapshotArn              string   `xml:"DBSnapshotArn"`
	DbiResourceID              string   `xml:"DbiResourceId,omitempty"`
	OriginalSnapshotCreateTime string   `xml:"OriginalSnapshotCreateTime"`
	TagList                    []rdsTag `xml:"TagList>Tag"`
}

func (s *dbSnapshot) xml(now time.Time) dbSnapshotXML {
	return dbSnapshotXML{
		DBSnapshotIdentifier: s.id, DBInstanceIdentifier: s.instanceID, SnapshotCreateTime: isoTime(s.created),
		Engine: s.engine, EngineVersion: s.engineVersion, AllocatedStorage: s.storage, Status: s.status(now),
		AvailabilityZone: s.region + "a", SnapshotType: s.snapType, PercentProgress: progress(s.created, s.ready, now),
		SourceRegion: s.sourceRegion, SourceDBSnapshotIdentifier: s.sourceARN, StorageType: "gp3",
		Encrypted: s.encrypted, KmsKeyID: s.kms, DBSnapshotArn: s.arn, DbiResourceID: s.resourceID,
		OriginalSnapshotCreateTime: isoTime(s.original), TagList: rdsTags(s.tags),
	}
}

type exportTaskXML struct {
	ExportTaskIdentifier   string   `xml:"ExportTaskIdentifier"`
	SourceArn              string   `xml:"SourceArn"`
	ExportOnly             []string `xml:"ExportOnly>member,omitempty"`
	SnapshotTime           string   `xml:"SnapshotTime"`
	TaskStartTime          string   `xml:"TaskStartTime"`
	TaskEndTime            string   `xml:"TaskEndTime,omitempty"`
	S3Bucket               string   `xml:"S3Bucket"`
	S3Prefix               string   `xml:"S3Prefix,omitempty"`
	IamRoleArn             string   `xml:"IamRoleArn"`
	KmsKeyID               string   `xml:"KmsKeyId"`
	Status                 string   `xml:"Status"`
	PercentProgress        int      `xml:"PercentProgress"`
	TotalExtractedDataInGB int32    `xml:"TotalExtractedDataInGB"`
	SourceType             string   `xml:"SourceType"`
}

func (t *exportTask) xml(delay time.Duration, now time.Time) exportTaskXML {
	st, pct := t.status(delay, now)
	x := exportTaskXML{
		ExportTaskIdentifier: t.id, SourceArn: t.sourceARN, ExportOnly: t.exportOnly,
		SnapshotTime: isoTime(t.snapshotTime), TaskStartTime: isoTime(t.start), S3Bucket: t.bucket,
		S3Prefix: t.prefix, IamRoleArn: t.role, KmsKeyID: t.kms, Status: st, PercentProgress: pct,
		SourceType: "SNAPSHOT",
	}
	if st == "COMPLETE" {
		x.TaskEndTime = isoTime(t.ready)
		x.TotalExtractedDataInGB = t.storageGiB
	}
	return x
}

// queryResponse renders the awsquery envelope <XResponse><XResult>…
// with a result element named after the action, which a struct tag cannot
// express.
type queryResponse struct {
	action, ns, reqID string
	result            any
}

func (r queryResponse) MarshalXML(enc *xml.Encoder, _ xml.StartElement) error {
	start := xml.StartElement{Name: xml.Name{Local: r.action + "Response"}, Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: r.ns}}}
	if err := enc.EncodeToken(start); err != nil {
		return err
	}
	if r.result != nil {
		if err := enc.EncodeElement(r.result, xml.StartElement{Name: xml.Name{Local: r.action + "Result"}}); err != nil {
			return err
		}
	}
	meta := struct {
		RequestID string `xml:"RequestId"`
	}{r.reqID}
	if err := enc.EncodeElement(meta, xml.StartElement{Name: xml.Name{Local: "ResponseMetadata"}}); err != nil {
		return err
	}
	return enc.EncodeToken(start.End())
}

func (e *Emulator) rds(q *queryRequest) (any, *apiError) {
	var (
		result any
		err    *apiError
	)
	switch q.action {
	case "DescribeDBInstances":
		result, err = e.describeDBInstances(q)
	case "CreateDBSnapshot":
		result, err = e.createDBSnapshot(q)
	case "DescribeDBSnapshots":
		result, err = e.describeDBSnapshots(q)
	case "CopyDBSnapshot":
		result, err = e.copyDBSnapshot(q)
	case "DeleteDBSnapshot":
		result, err = e.deleteDBSnapshot(q)
	case "StartExportTask":
		result, err = e.startExportTask(q)
	case "DescribeExportTasks":
		result, err = e.describeExportTasks(q)
	case "RestoreDBInstanceFromDBSnapshot":
		result, err = e.restoreDBInstance(q)
	case "DeleteDBInstance":
		result, err = e.deleteDBInstance(q)
	default:
		return nil, unknownAction(q)
	}
	if err != nil {
		return nil, err
	}
	return queryResponse{action: q.action, ns: rdsNS, reqID: q.reqID, result: result}, nil
}

func rdsMaxRecords(q *queryRequest) (int, *apiError) {
	n, err := intParam(q.form, "MaxRecords")
	if err != nil {
		return 0, err
	}
	if q.form.Get("MaxRecords") != "" && (n < 20 || n > 100) {
		return 0, badRequestf("InvalidParameterValue", "Invalid value %d for MaxRecords. Must be between 20 and 100", n)
	}
	if n == 0 {
		n = 100
	}
	return n, nil
}

var rdsIdentRe = regexp.MustCompile(`^[A-Za-z](?:[A-Za-z0-9]|-[A-Za-z0-9])*$`)

func validIdentifier(param, id string) *apiError {
	if len(id) > 255 || !rdsIdentRe.MatchString(id) {
		return badRequestf("InvalidParameterValue", "The parameter %s is not a valid identifier. Identifiers must begin with a letter; must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two consecutive hyphens.", param)
	}
	return nil
}

func (e *Emulator) describeDBInstances(q *queryRequest) (any, *apiError) {
	max, aerr := rdsMaxRecords(q)
	if aerr != nil {
		return nil, aerr
	}
	ident := q.form.Get("DBInstanceIdentifier")
	filters := rdsFilters(q.form)
	e.mu.Lock()
	var list []*dbInstance
	for _, d := range e.dbs {
		if d.AccountID != q.id.account || d.Region != q.region {
			continue
		}
		if ident != "" && ident != d.Identifier && ident != d.arn {
			continue
		}
		ok, aerr := matchFilters(filters, func(name string) ([]string, bool) {
			switch name {
			case "db-instance-id":
				return []string{d.Identifier, d.arn}, true
			case "engine":
				return []string{d.Engine}, true
			case "dbi-resource-id":
				return []string{d.resourceID}, true
			}
			return nil, false
		})
		if aerr != nil {
			e.mu.Unlock()
			return nil, aerr
		}
		if ok {
			list = append(list, d)
		}
	}
	e.mu.Unlock()
	if ident != "" && len(list) == 0 {
		return nil, notFoundf("DBInstanceNotFound", "DBInstance %s not found.", ident)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].seq < list[j].seq })
	items, next, aerr := page(list, q.form.Get("Marker"), max, e.opts.PageLimit)
	if aerr != nil {
		return nil, aerr
	}
	out := make([]dbInstanceXML, 0, len(items))
	e.mu.Lock()
	now := e.clock.Now()
	for _, d := range items {
		out = append(out, d.xml(now))
	}
	e.mu.Unlock()
	return struct {
		DBInstances []dbInstanceXML `xml:"DBInstances>DBInstance"`
		Marker      string          `xml:"Marker,omitempty"`
	}{out, next}, nil
}

// lookupDBSnapshot finds a snapshot by identifier or ARN in the caller's
// account and the given region; the caller holds e.mu.
func (e *Emulator) lookupDBSnapshot(account, region, idOrARN string) *dbSnapshot {
	if strings.HasPrefix(idOrARN, "arn:") {
		s := e.dbSnaps[idOrARN]
		if s == nil || s.account != account {
			return nil
		}
		return s
	}
	return e.dbSnaps[rdsARN(region, account, "snapshot", idOrARN)]
}

// deleteDBSnapshot deletes a manual snapshot; like RDS, one still being
// created or copied cannot be deleted.
func (e *Emulator) deleteDBSnapshot(q *queryRequest) (any, *apiError) {
	if err := required(q.form, "DBSnapshotIdentifier"); err != nil {
		return nil, err
	}
	id := q.form.Get("DBSnapshotIdentifier")
	now := e.clock.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	arn := rdsARN(q.region, q.id.account, "snapshot", id)
	s := e.dbSnaps[arn]
	if s == nil {
		return nil, notFoundf("DBSnapshotNotFound", "DBSnapshot %s not found.", id)
	}
	if x := s.xml(now); x.Status != "available" {
		return nil, badRequestf("InvalidDBSnapshotState", "Cannot delete the snapshot because it is %s.", x.Status)
	}
	delete(e.dbSnaps, arn)
	return struct {
		DBSnapshot dbSnapshotXML `xml:"DBSnapshot"`
	}{s.xml(now)}, nil
}

func (e *Emulator) createDBSnapshot(q *queryRequest) (any, *apiError) {
	if err := required(q.form, "DBInstanceIdentifier", "DBSnapshotIdentifier"); err != nil {
		return nil, err
	}
	snapID := q.form.Get("DBSnapshotIdentifier")
	if err := validIdentifier("DBSnapshotIdentifier", snapID); err != nil {
		return nil, err
	}
	instID := q.form.Get("DBInstanceIdentifier")
	now := e.clock.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	db := e.dbs[rdsARN(q.region, q.id.account, "db", instID)]
	if db == nil {
		return nil, notFoundf("DBInstanceNotFound", "DBInstance %s not found.", instID)
	}
	arn := rdsARN(q.region, q.id.account, "snapshot", snapID)
	if e.dbSnaps[arn] != nil {
		return nil, badRequestf("DBSnapshotAlreadyExists", "Cannot create the snapshot because a snapshot with the identifier %s already exists.", snapID)
	}
	s := &dbSnapshot{
		id: snapID, arn: arn, account: q.id.account, region: q.region, instanceID: instID, resourceID: db.resourceID,
		engine: db.Engine, engineVersion: db.EngineVersion, storage: db.StorageGiB, encrypted: db.Encrypted, kms: db.KMSKeyID,
		snapType: "manual", pending: "creating", created: now, ready: now.Add(e.opts.DBSnapshotDelay), original: now,
		tags: tagsAt(q.form, "Tags.Tag"), seq: e.nextSeq(),
	}
	e.dbSnaps[arn] = s
	return struct {
		DBSnapshot dbSnapshotXML `xml:"DBSnapshot"`
	}{s.xml(now)}, nil
}

func (e *Emulator) describeDBSnapshots(q *queryRequest) (any, *apiError) {
	max, aerr := rdsMaxRecords(q)
	if aerr != nil {
		return nil, aerr
	}
	instID := q.form.Get("DBInstanceIdentifier")
	snapID := q.form.Get("DBSnapshotIdentifier")
	snapType := q.form.Get("SnapshotType")
	filters := rdsFilters(q.form)
	now := e.clock.Now()
	e.mu.Lock()
	var list []*dbSnapshot
	if snapID != "" {
		if s := e.lookupDBSnapshot(q.id.account, q.region, snapID); s != nil && s.region == q.region {
			list = append(list, s)
		} else {
			e.mu.Unlock()
			return nil, notFoundf("DBSnapshotNotFound", "DBSnapshot %s not found.", snapID)
		}
	} else {
		for _, s := range e.dbSnaps {
			if s.account == q.id.account && s.region == q.region {
				list = append(list, s)
			}
		}
	}
	kept := list[:0]
	for _, s := range list {
		if instID != "" && s.instanceID != instID {
			continue
		}
		if snapType != "" && s.snapType != snapType {
			continue
		}
		ok, aerr := matchFilters(filters, func(name string) ([]string, bool) {
			switch name {
			case "db-instance-id":
				return []string{s.instanceID}, true
			case "db-snapshot-id":
				return []string{s.id}, true
			case "snapshot-type":
				return []string{s.snapType}, true
			case "engine":
				return []string{s.engine}, true
			case "dbi-resource-id":
				return []string{s.resourceID}, true
			}
			return nil, false
		})
		if aerr != nil {
			e.mu.Unlock()
			return nil, aerr
		}
		if ok {
			kept = append(kept, s)
		}
	}
	list = kept
	sort.Slice(list, func(i, j int) bool { return list[i].seq < list[j].seq })
	items, next, aerr := page(list, q.form.Get("Marker"), max, e.opts.PageLimit)
	if aerr != nil {
		e.mu.Unlock()
		return nil, aerr
	}
	out := make([]dbSnapshotXML, 0, len(items))
	for _, s := range items {
		out = append(out, s.xml(now))
	}
	e.mu.Unlock()
	return struct {
		DBSnapshots []dbSnapshotXML `xml:"DBSnapshots>DBSnapshot"`
		Marker      string          `xml:"Marker,omitempty"`
	}{out, next}, nil
}

// parseRDSARN splits arn:aws:rds:region:account:kind:id.
func parseRDSARN(arn string) (region, account, kind, id string, ok bool) {
	p := strings.SplitN(arn, ":", 7)
	if len(p) != 7 || p[0] != "arn" || p[2] != "rds" {
		return "", "", "", "", false
	}
	return p[3], p[4], p[5], p[6], true
}

// copyDBSnapshot is served in the destination region. Cross-region copies
// name the source by ARN; the SDK turns its client-side SourceRegion into a
// PreSignedUrl for the source region, which is checked for shape here.
func (e *Emulator) copyDBSnapshot(q *queryRequest) (any, *apiError) {
	if err := required(q.form, "SourceDBSnapshotIdentifier", "TargetDBSnapshotIdentifier"); err != nil {
		return nil, err
	}
	srcRef, target := q.form.Get("SourceDBSnapshotIdentifier"), q.form.Get("TargetDBSnapshotIdentifier")
	if err := validIdentifier("TargetDBSnapshotIdentifier", target); err != nil {
		return nil, err
	}
	if dst := q.form.Get("DestinationRegion"); dst != "" && dst != q.region {
		return nil, badRequestf("InvalidParameterValue", "DestinationRegion %s does not match the region the request was sent to (%s)", dst, q.region)
	}
	srcRegion := q.region
	if strings.HasPrefix(srcRef, "arn:") {
		r, _, kind, _, ok := parseRDSARN(srcRef)
		if !ok || kind != "snapshot" {
			return nil, badRequestf("InvalidParameterValue", "Invalid snapshot ARN: %s", srcRef)
		}
		srcRegion = r
	}
	crossRegion := srcRegion != q.region
	kms := q.form.Get("KmsKeyId")
	presigned := q.form.Get("PreSignedUrl")
	if crossRegion && presigned != "" {
		if err := checkCopyPresignedURL(presigned, srcRegion, srcRef); err != nil {
			return nil, err
		}
	}
	now := e.clock.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	src := e.lookupDBSnapshot(q.id.account, srcRegion, srcRef)
	if src == nil {
		return nil, notFoundf("DBSnapshotNotFound", "DBSnapshot %s not found.", srcRef)
	}
	if st := src.status(now); st != "available" {
		return nil, badRequestf("InvalidDBSnapshotState", "Cannot copy snapshot %s because its status is %s.", src.id, st)
	}
	if crossRegion && src.encrypted {
		if kms == "" {
			return nil, badRequestf("InvalidParameterCombination", "KmsKeyId must be specified to copy an encrypted snapshot to another region.")
		}
		if presigned == "" {
			return nil, badRequestf("InvalidParameterValue", "PreSignedUrl must be specified to copy an encrypted snapshot to another region.")
		}
	}
	arn := rdsARN(q.region, q.id.account, "snapshot", target)
	if e.dbSnaps[arn] != nil {
		return nil, badRequestf("DBSnapshotAlreadyExists", "Cannot copy the snapshot because a snapshot with the identifier %s already exists.", target)
	}
	tags := tagsAt(q.form, "Tags.Tag")
	if q.form.Get("CopyTags") == "true" {
		merged := copyTags(src.tags)
		for k, v := range tags {
			merged[k] = v
		}
		tags = merged
	}
	if kms == "" {
		kms = src.kms
	}
	s := &dbSnapshot{
		id: target, arn: arn, account: q.id.account, region: q.region, instanceID: src.instanceID, resourceID: src.resourceID,
		engine: src.engine, engineVersion: src.engineVersion, storage: src.storage, encrypted: src.encrypted, kms: kms,
		snapType: "manual", pending: "copying", created: now, ready: now.Add(e.opts.DBSnapshotDelay), original: src.original,
		tags: tags, seq: e.nextSeq(),
	}
	if crossRegion {
		s.sourceRegion, s.sourceARN = srcRegion, src.arn
	}
	e.dbSnaps[arn] = s
	return struct {
		DBSnapshot dbSnapshotXML `xml:"DBSnapshot"`
	}{s.xml(now)}, nil
}

// checkCopyPresignedURL verifies the URL is a CopyDBSnapshot request signed
// for the source region, which is what RDS itself would replay.
func checkCopyPresignedURL(raw, srcRegion, srcRef string) *apiError {
	u, err := url.Parse(raw)
	if err != nil {
		return badRequestf("InvalidParameterValue", "PreSignedUrl is not a valid URL")
	}
	qv := u.Query()
	parts := strings.Split(qv.Get("X-Amz-Credential"), "/")
	if qv.Get("Action") != "CopyDBSnapshot" || len(parts) != 5 || parts[2] != srcRegion || qv.Get("SourceDBSnapshotIdentifier") != srcRef {
		return badRequestf("InvalidParameterValue", "PreSignedUrl is not a CopyDBSnapshot request for %s signed in %s", srcRef, srcRegion)
	}
	return nil
}

func (e *Emulator) startExportTask(q *queryRequest) (any, *apiError) {
	if err := required(q.form, "ExportTaskIdentifier", "SourceArn", "S3BucketName", "IamRoleArn", "KmsKeyId"); err != nil {
		return nil, err
	}
	id := q.form.Get("ExportTaskIdentifier")
	if err := validIdentifier("ExportTaskIdentifier", id); err != nil {
		return nil, err
	}
	role := q.form.Get("IamRoleArn")
	if !strings.HasPrefix(role, "arn:aws:iam::") {
		return nil, badRequestf("InvalidIAMRoleFault", "The IAM role %s is not valid.", role)
	}
	bucket := q.form.Get("S3BucketName")
	exists, _ := e.backend.BucketExists(bucket)
	if !exists {
		return nil, badRequestf("InvalidS3BucketFault", "The S3 bucket %s doesn't exist.", bucket)
	}
	srcARN := q.form.Get("SourceArn")
	now := e.clock.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	key := q.id.account + "|" + q.region + "|" + id
	if e.exports[key] != nil {
		return nil, badRequestf("ExportTaskAlreadyExists", "The export task with the ID %s already exists.", id)
	}
	src := e.dbSnaps[srcARN]
	if src == nil || src.account != q.id.account || src.region != q.region {
		return nil, notFoundf("DBSnapshotNotFound", "DBSnapshot %s not found.", srcARN)
	}
	if st := src.status(now); st != "available" {
		return nil, badRequestf("InvalidExportSourceState", "The snapshot %s is in state %s; it must be available to export.", src.id, st)
	}
	t := &exportTask{
		id: id, account: q.id.account, region: q.region, sourceARN: srcARN, bucket: bucket,
		prefix: q.form.Get("S3Prefix"), role: role, kms: q.form.Get("KmsKeyId"),
		exportOnly: stringList(q.form, "ExportOnly.member"), snapshotTime: src.created,
		start: now, ready: now.Add(e.opts.ExportDelay), storageGiB: src.storage, seq: e.nextSeq(),
	}
	e.exports[key] = t
	return t.xml(e.opts.ExportDelay, now), nil
}

func (e *Emulator) describeExportTasks(q *queryRequest) (any, *apiError) {
	max, aerr := rdsMaxRecords(q)
	if aerr != nil {
		return nil, aerr
	}
	id := q.form.Get("ExportTaskIdentifier")
	srcARN := q.form.Get("SourceArn")
	filters := rdsFilters(q.form)
	now := e.clock.Now()
	e.mu.Lock()
	var list []*exportTask
	for _, t := range e.exports {
		if t.account != q.id.account || t.region != q.region {
			continue
		}
		if (id != "" && t.id != id) || (srcARN != "" && t.sourceARN != srcARN) {
			continue
		}
		ok, aerr := matchFilters(filters, func(name string) ([]string, bool) {
			switch name {
			case "export-task-identifier":
				return []string{t.id}, true
			case "s3-bucket":
				return []string{t.bucket}, true
			case "source-arn":
				return []string{t.sourceARN}, true
			case "status":
				// AWS matches the status in either case.
				st, _ := t.status(e.opts.ExportDelay, now)
				return []string{strings.ToLower(st), strings.ToUpper(st)}, true
			}
			return nil, false
		})
		if aerr != nil {
			e.mu.Unlock()
			return nil, aerr
		}
		if ok {
			list = append(list, t)
		}
	}
	if id != "" && len(list) == 0 {
		e.mu.Unlock()
		return nil, notFoundf("ExportTaskNotFound", "The export task with the ID %s was not found.", id)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].seq < list[j].seq })
	items, next, aerr := page(list, q.form.Get("Marker"), max, e.opts.PageLimit)
	if aerr != nil {
		e.mu.Unlock()
		return nil, aerr
	}
	out := make([]exportTaskXML, 0, len(items))
	var finished []*exportTask
	for _, t := range items {
		x := t.xml(e.opts.ExportDelay, now)
		if x.Status == "COMPLETE" && !t.materialized {
			t.materialized = true
			finished = append(finished, t)
		}
		out = append(out, x)
	}
	e.mu.Unlock()
	for _, t := range finished {
		e.writeExportFiles(t)
	}
	return struct {
		ExportTasks []exportTaskXML `xml:"ExportTasks>ExportTask"`
		Marker      string          `xml:"Marker,omitempty"`
	}{out, next}, nil
}

// writeExportFiles leaves the summary file a real export writes, so the
// sandbox shows something in the bucket once an export completes.
func (e *Emulator) writeExportFiles(t *exportTask) {
	key := t.id + "/export_info_" + t.id + ".json"
	if t.prefix != "" {
		key = strings.TrimSuffix(t.prefix, "/") + "/" + key
	}
	body, _ := json.Marshal(map[string]any{
		"exportTaskIdentifier": t.id, "sourceArn": t.sourceARN, "status": "COMPLETE",
		"exportOnly": t.exportOnly, "emulated": true,
	})
	if err := e.backend.seedObject(t.bucket, Object{Key: key, Body: body, ContentType: "application/json"}); err != nil {
		e.logf("rds export %s: writing export files to %s: %v", t.id, t.bucket, err)
	}
}
