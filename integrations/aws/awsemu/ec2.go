package awsemu

import (
	"encoding/xml"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Volume seeds an EBS volume.
type Volume struct {
	AccountID        string // default: Options.DefaultAccountID
	Region           string // default: us-east-1
	ID               string // default: generated vol-…
	AvailabilityZone string // default: Region + "a"
	Type             string // default: gp3
	SizeGiB          int32  // default: 8
	State            string // default: in-use
	Encrypted        bool
	Tags             map[string]string
}

// Snapshot seeds an EBS snapshot that is already completed, for instance
// an older backup a "newest snapshot" query must look past.
type Snapshot struct {
	AccountID   string
	Region      string
	ID          string // default: generated snap-…
	VolumeID    string
	Description string
	SizeGiB     int32
	StartTime   time.Time // default: now
	Encrypted   bool
	Tags        map[string]string
}

type volume struct {
	Volume
	seq     int
	created time.Time
}

type snapshot struct {
	id, account, region string
	volumeID, desc, kms string
	size                int32
	encrypted           bool
	start, ready        time.Time
	tags                map[string]string
	seq                 int
}

func (s *snapshot) status(now time.Time) string {
	if now.Before(s.ready) {
		return "pending"
	}
	return "completed"
}

func (e *Emulator) defaults(account, region string) (string, string) {
	if account == "" {
		account = e.opts.DefaultAccountID
	}
	if region == "" {
		region = "us-east-1"
	}
	return account, region
}

// AddVolume seeds a volume and returns its id.
func (e *Emulator) AddVolume(v Volume) string {
	v.AccountID, v.Region = e.defaults(v.AccountID, v.Region)
	if v.ID == "" {
		v.ID = "vol-" + randomID(17)
	}
	if v.AvailabilityZone == "" {
		v.AvailabilityZone = v.Region + "a"
	}
	if v.Type == "" {
		v.Type = "gp3"
	}
	if v.SizeGiB == 0 {
		v.SizeGiB = 8
	}
	if v.State == "" {
		v.State = "in-use"
	}
	v.Tags = copyTags(v.Tags)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.volumes[v.ID] = &volume{Volume: v, seq: e.nextSeq(), created: e.clock.Now()}
	return v.ID
}

// AddSnapshot seeds a completed snapshot and returns its id.
func (e *Emulator) AddSnapshot(s Snapshot) string {
	s.AccountID, s.Region = e.defaults(s.AccountID, s.Region)
	if s.ID == "" {
		s.ID = "snap-" + randomID(17)
	}
	if s.StartTime.IsZero() {
		s.StartTime = e.clock.Now()
	}
	if s.SizeGiB == 0 {
		s.SizeGiB = 8
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.snaps[s.ID] = &snapshot{
		id: s.ID, account: s.AccountID, region: s.Region, volumeID: s.VolumeID, desc: s.Description,
		size: s.SizeGiB, encrypted: s.Encrypted, start: s.StartTime, ready: s.StartTime,
		tags: copyTags(s.Tags), seq: e.nextSeq(),
	}
	return s.ID
}

// nextSeq orders resources by creation so paginated listings are stable;
// the caller holds e.mu.
func (e *Emulator) nextSeq() int {
	e.seq++
	return e.seq
}

func copyTags(t map[string]string) map[string]string {
	out := make(map[string]string, len(t))
	for k, v := range t {
		out[k] = v
	}
	return out
}

type ec2Tag struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

func ec2Tags(t map[string]string) []ec2Tag {
	out := make([]ec2Tag, 0, len(t))
	for _, k := range sortedKeys(t) {
		out = append(out, ec2Tag{k, t[k]})
	}
	return out
}

type ec2SnapshotXML struct {
	SnapshotID  string   `xml:"snapshotId"`
	VolumeID    string   `xml:"volumeId"`
	Status      string   `xml:"status"`
	StartTime   string   `xml:"startTime"`
	Progress    string   `xml:"progress"`
	OwnerID     string   `xml:"ownerId"`
	VolumeSize  int32    `xml:"volumeSize"`
	Description string   `xml:"description"`
	Encrypted   bool     `xml:"encrypted"`
	KmsKeyID    string   `xml:"kmsKeyId,omitempty"`
	StorageTier string   `xml:"storageTier"`
	Tags        []ec2Tag `xml:"tagSet>item"`
}

func (s *snapshot) xml(now time.Time) ec2SnapshotXML {
	return ec2SnapshotXML{
		SnapshotID: s.id, VolumeID: s.volumeID, Status: s.status(now), StartTime: isoTime(s.start),
		Progress: strconv.Itoa(progress(s.start, s.ready, now)) + "%", OwnerID: s.account,
		VolumeSize: s.size, Description: s.desc, Encrypted: s.encrypted, KmsKeyID: s.kms,
		StorageTier: "standard", Tags: ec2Tags(s.tags),
	}
}

type ec2VolumeXML struct {
	VolumeID         string   `xml:"volumeId"`
	Size             int32    `xml:"size"`
	AvailabilityZone string   `xml:"availabilityZone"`
	Status           string   `xml:"status"`
	CreateTime       string   `xml:"createTime"`
	VolumeType       string   `xml:"volumeType"`
	Encrypted        bool     `xml:"encrypted"`
	Tags             []ec2Tag `xml:"tagSet>item"`
}

func (e *Emulator) ec2(q *queryRequest) (any, *apiError) {
	switch q.action {
	case "DescribeVolumes":
		return e.describeVolumes(q)
	case "CreateSnapshot":
		return e.createSnapshot(q)
	case "DescribeSnapshots":
		return e.describeSnapshots(q)
	case "CopySnapshot":
		return e.copySnapshot(q)
	case "CreateTags":
		return e.createTags(q)
	case "DeleteSnapshot":
		return e.deleteSnapshot(q)
	case "DescribeImages":
		return e.describeImages(q)
	case "CreateVolume":
		return e.createVolume(q)
	case "DeleteVolume":
		return e.deleteVolume(q)
	case "DescribeInstances", "GetConsoleOutput":
		return e.ec2Instances(q)
	default:
		return nil, unknownAction(q)
	}
}

// ec2MaxResults validates MaxResults the way EC2 does for these calls.
func ec2MaxResults(q *queryRequest, min int) (int, *apiError) {
	n, err := intParam(q.form, "MaxResults")
	if err != nil {
		return 0, err
	}
	if q.form.Get("MaxResults") != "" && (n < min || n > 1000) {
		return 0, badRequestf("InvalidParameterValue", "Value ( %d ) for parameter maxResults is invalid. Expecting a value between %d and 1000.", n, min)
	}
	return n, nil
}

func (e *Emulator) describeVolumes(q *queryRequest) (any, *apiError) {
	ids := stringList(q.form, "VolumeId")
	filters := ec2Filters(q.form)
	max, aerr := ec2MaxResults(q, 5)
	if aerr != nil {
		return nil, aerr
	}
	e.mu.Lock()
	var vols []*volume
	for _, id := range ids {
		v := e.volumes[id]
		if v == nil || v.AccountID != q.id.account || v.Region != q.region {
			e.mu.Unlock()
			return nil, badRequestf("InvalidVolume.NotFound", "The volume '%s' does not exist.", id)
		}
	}
	for _, v := range e.volumes {
		if v.AccountID != q.id.account || v.Region != q.region {
			continue
		}
		if len(ids) > 0 && !contains(ids, v.ID) {
			continue
		}
		ok, ferr := volumeMatches(v, filters)
		if ferr != nil {
			e.mu.Unlock()
			return nil, ferr
		}
		if ok {
			vols = append(vols, v)
		}
	}
	e.mu.Unlock()
	sort.Slice(vols, func(i, j int) bool { return vols[i].seq < vols[j].seq })
	pageItems, next, aerr := page(vols, q.form.Get("NextToken"), max, e.opts.PageLimit)
	if aerr != nil {
		return nil, aerr
	}
	out := make([]ec2VolumeXML, 0, len(pageItems))
	for _, v := range pageItems {
		out = append(out, ec2VolumeXML{
			VolumeID: v.ID, Size: v.SizeGiB, AvailabilityZone: v.AvailabilityZone, Status: v.State,
			CreateTime: isoTime(v.created), VolumeType: v.Type, Encrypted: v.Encrypted, Tags: ec2Tags(v.Tags),
		})
	}
	return struct {
		XMLName   xml.Name       `xml:"DescribeVolumesResponse"`
		NS        string         `xml:"xmlns,attr"`
		RequestID string         `xml:"requestId"`
		Volumes   []ec2VolumeXML `xml:"volumeSet>item"`
		NextToken string         `xml:"nextToken,omitempty"`
	}{NS: ec2NS, RequestID: q.reqID, Volumes: out, NextToken: next}, nil
}

func volumeMatches(v *volume, filters []filter) (bool, *apiError) {
	for _, f := range filters {
		if handled, ok := matchTagFilter(f, v.Tags); handled {
			if !ok {
				return false, nil
			}
			continue
		}
		var val string
		switch f.name {
		case "volume-id":
			val = v.ID
		case "status":
			val = v.State
		case "availability-zone":
			val = v.AvailabilityZone
		case "volume-type":
			val = v.Type
		case "size":
			val = strconv.Itoa(int(v.SizeGiB))
		case "encrypted":
			val = strconv.FormatBool(v.Encrypted)
		default:
			return false, badRequestf("InvalidParameterValue", "The filter '%s' is invalid", f.name)
		}
		if !matchValue(f.values, val) {
			return false, nil
		}
	}
	return true, nil
}

func snapshotMatches(s *snapshot, filters []filter, now time.Time) (bool, *apiError) {
	for _, f := range filters {
		if handled, ok := matchTagFilter(f, s.tags); handled {
			if !ok {
				return false, nil
			}
			continue
		}
		var val string
		switch f.name {
		case "snapshot-id":
			val = s.id
		case "volume-id":
			val = s.volumeID
		case "status":
			val = s.status(now)
		case "owner-id":
			val = s.account
		case "description":
			val = s.desc
		case "volume-size":
			val = strconv.Itoa(int(s.size))
		case "encrypted":
			val = strconv.FormatBool(s.encrypted)
		default:
			return false, badRequestf("InvalidParameterValue", "The filter '%s' is invalid", f.name)
		}
		if !matchValue(f.values, val) {
			return false, nil
		}
	}
	return true, nil
}

// snapshotTags reads TagSpecification.N for resource type "snapshot".
func snapshotTags(q *queryRequest) (map[string]string, *apiError) {
	tags := map[string]string{}
	for _, p := range members(q.form, "TagSpecification") {
		if rt := q.form.Get(p + ".ResourceType"); rt != "snapshot" {
			return nil, badRequestf("InvalidParameterValue", "'%s' is not a valid taggable resource type for this operation.", rt)
		}
		for k, v := range tagsAt(q.form, p+".Tag") {
			tags[k] = v
		}
	}
	return tags, nil
}

func (e *Emulator) createSnapshot(q *queryRequest) (any, *apiError) {
	if err := required(q.form, "VolumeId"); err != nil {
		return nil, err
	}
	tags, aerr := snapshotTags(q)
	if aerr != nil {
		return nil, aerr
	}
	volID := q.form.Get("VolumeId")
	now := e.clock.Now()
	e.mu.Lock()
	v := e.volumes[volID]
	if v == nil || v.AccountID != q.id.account || v.Region != q.region {
		e.mu.Unlock()
		return nil, badRequestf("InvalidVolume.NotFound", "The volume '%s' does not exist.", volID)
	}
	s := &snapshot{
		id: "snap-" + randomID(17), account: q.id.account, region: q.region, volumeID: v.ID,
		desc: q.form.Get("Description"), size: v.SizeGiB, encrypted: v.Encrypted,
		start: now, ready: now.Add(e.opts.SnapshotDelay), tags: tags, seq: e.nextSeq(),
	}
	e.snaps[s.id] = s
	body := s.xml(now)
	e.mu.Unlock()
	return struct {
		XMLName   xml.Name `xml:"CreateSnapshotResponse"`
		NS        string   `xml:"xmlns,attr"`
		RequestID string   `xml:"requestId"`
		ec2SnapshotXML
	}{NS: ec2NS, RequestID: q.reqID, ec2SnapshotXML: body}, nil
}

func (e *Emulator) describeSnapshots(q *queryRequest) (any, *apiError) {
	ids := stringList(q.form, "SnapshotId")
	owners := stringList(q.form, "Owner")
	filters := ec2Filters(q.form)
	if len(ids) > 0 && q.form.Get("MaxResults") != "" {
		return nil, badRequestf("InvalidParameterCombination", "The parameter snapshotSet cannot be used with the parameter maxResults")
	}
	max, aerr := ec2MaxResults(q, 5)
	if aerr != nil {
		return nil, aerr
	}
	now := e.clock.Now()
	e.mu.Lock()
	for _, id := range ids {
		s := e.snaps[id]
		if s == nil || s.account != q.id.account || s.region != q.region {
			e.mu.Unlock()
			return nil, badRequestf("InvalidSnapshot.NotFound", "The snapshot '%s' does not exist.", id)
		}
	}
	var snaps []*snapshot
	for _, s := range e.snaps {
		if s.account != q.id.account || s.region != q.region {
			continue
		}
		if len(ids) > 0 && !contains(ids, s.id) {
			continue
		}
		if len(owners) > 0 && !ownerMatches(owners, s.account, q.id.account) {
			continue
		}
		ok, ferr := snapshotMatches(s, filters, now)
		if ferr != nil {
			e.mu.Unlock()
			return nil, ferr
		}
		if ok {
			snaps = append(snaps, s)
		}
	}
	e.mu.Unlock()
	sort.Slice(snaps, func(i, j int) bool { return snaps[i].seq < snaps[j].seq })
	pageItems, next, aerr := page(snaps, q.form.Get("NextToken"), max, e.opts.PageLimit)
	if aerr != nil {
		return nil, aerr
	}
	out := make([]ec2SnapshotXML, 0, len(pageItems))
	e.mu.Lock()
	for _, s := range pageItems {
		out = append(out, s.xml(now))
	}
	e.mu.Unlock()
	return struct {
		XMLName   xml.Name         `xml:"DescribeSnapshotsResponse"`
		NS        string           `xml:"xmlns,attr"`
		RequestID string           `xml:"requestId"`
		Snapshots []ec2SnapshotXML `xml:"snapshotSet>item"`
		NextToken string           `xml:"nextToken,omitempty"`
	}{NS: ec2NS, RequestID: q.reqID, Snapshots: out, NextToken: next}, nil
}

func ownerMatches(owners []string, owner, caller string) bool {
	for _, o := range owners {
		if o == owner || (o == "self" && owner == caller) {
			return true
		}
	}
	return false
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// copySnapshot is served in the destination region, which is where the
// SDK sends CopySnapshot; the source is looked up in SourceRegion.
func (e *Emulator) copySnapshot(q *queryRequest) (any, *apiError) {
	if err := required(q.form, "SourceRegion", "SourceSnapshotId"); err != nil {
		return nil, err
	}
	if dst := q.form.Get("DestinationRegion"); dst != "" && dst != q.region {
		return nil, badRequestf("InvalidParameterValue", "DestinationRegion %s does not match the region the request was sent to (%s)", dst, q.region)
	}
	tags, aerr := snapshotTags(q)
	if aerr != nil {
		return nil, aerr
	}
	srcRegion, srcID := q.form.Get("SourceRegion"), q.form.Get("SourceSnapshotId")
	now := e.clock.Now()
	e.mu.Lock()
	src := e.snaps[srcID]
	if src == nil || src.account != q.id.account || src.region != srcRegion {
		e.mu.Unlock()
		return nil, badRequestf("InvalidSnapshot.NotFound", "The snapshot '%s' does not exist.", srcID)
	}
	if st := src.status(now); st != "completed" {
		e.mu.Unlock()
		return nil, badRequestf("IncorrectState", "Snapshot is in invalid state - %s", st)
	}
	desc := q.form.Get("Description")
	if desc == "" {
		desc = fmt.Sprintf("[Copied %s from %s]", srcID, srcRegion)
	}
	s := &snapshot{
		id: "snap-" + randomID(17), account: q.id.account, region: q.region,
		// AWS does not carry the volume id across to a copy.
		volumeID: "vol-ffffffff", desc: desc, size: src.size,
		encrypted: src.encrypted || q.form.Get("Encrypted") == "true", kms: q.form.Get("KmsKeyId"),
		start: now, ready: now.Add(e.opts.SnapshotDelay), tags: tags, seq: e.nextSeq(),
	}
	e.snaps[s.id] = s
	outTags := ec2Tags(tags)
	e.mu.Unlock()
	return struct {
		XMLName    xml.Name `xml:"CopySnapshotResponse"`
		NS         string   `xml:"xmlns,attr"`
		RequestID  string   `xml:"requestId"`
		SnapshotID string   `xml:"snapshotId"`
		Tags       []ec2Tag `xml:"tagSet>item"`
	}{NS: ec2NS, RequestID: q.reqID, SnapshotID: s.id, Tags: outTags}, nil
}

func (e *Emulator) createTags(q *queryRequest) (any, *apiError) {
	ids := stringList(q.form, "ResourceId")
	if len(ids) == 0 {
		return nil, badRequestf("MissingParameter", "The request must contain the parameter resourceIdSet")
	}
	tags := tagsAt(q.form, "Tag")
	e.mu.Lock()
	defer e.mu.Unlock()
	var targets []map[string]string
	for _, id := range ids {
		switch {
		case strings.HasPrefix(id, "snap-"):
			s := e.snaps[id]
			if s == nil || s.account != q.id.account || s.region != q.region {
				return nil, badRequestf("InvalidSnapshot.NotFound", "The snapshot '%s' does not exist.", id)
			}
			targets = append(targets, s.tags)
		case strings.HasPrefix(id, "vol-"):
			v := e.volumes[id]
			if v == nil || v.AccountID != q.id.account || v.Region != q.region {
				return nil, badRequestf("InvalidVolume.NotFound", "The volume '%s' does not exist.", id)
			}
			targets = append(targets, v.Tags)
		default:
			return nil, badRequestf("InvalidID", "The ID '%s' is not valid", id)
		}
	}
	for _, t := range targets {
		for k, v := range tags {
			t[k] = v
		}
	}
	return ec2Return("CreateTagsResponse", q.reqID), nil
}

func (e *Emulator) deleteSnapshot(q *queryRequest) (any, *apiError) {
	id := q.form.Get("SnapshotId")
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.snaps[id]
	if s == nil || s.account != q.id.account || s.region != q.region {
		return nil, badRequestf("InvalidSnapshot.NotFound", "The snapshot '%s' does not exist.", id)
	}
	if ami := e.imageUsing(s.account, s.region, id); ami != "" {
		return nil, badRequestf("InvalidSnapshot.InUse", "The snapshot %s is currently in use by %s", id, ami)
	}
	delete(e.snaps, id)
	return ec2Return("DeleteSnapshotResponse", q.reqID), nil
}

func ec2Return(root, reqID string) any {
	return struct {
		XMLName   xml.Name
		NS        string `xml:"xmlns,attr"`
		RequestID string `xml:"requestId"`
		Return    bool   `xml:"return"`
	}{XMLName: xml.Name{Local: root}, NS: ec2NS, RequestID: reqID, Return: true}
}
