package awsemu

import (
	"encoding/xml"
	"sort"
	"strconv"
	"strings"
	"time"
)

// What a rebuild in another region needs: databases restored from
// snapshots (taking Options.DBRestoreDelay), volumes made from snapshots,
// and the deletes that tear them down again, stacks included.

// DBInstances lists the RDS instances in one account's region, tags
// included, so a test can prove nothing of a drill is left.
func (e *Emulator) DBInstances(account, region string) []DBInstance {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []DBInstance
	for _, d := range e.dbs {
		if (account == "" || d.AccountID == account) && d.Region == region {
			out = append(out, d.DBInstance)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Identifier < out[j].Identifier })
	return out
}

// Volumes lists the EBS volumes in a region.
func (e *Emulator) Volumes(region string) []Volume {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Volume
	for _, v := range e.volumes {
		if v.Region == region {
			out = append(out, v.Volume)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Stacks names the CloudFormation stacks in a region.
func (e *Emulator) Stacks(region string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, st := range e.stacks {
		if st.region == region {
			out = append(out, st.name)
		}
	}
	return out
}

func (e *Emulator) restoreDBInstance(q *queryRequest) (any, *apiError) {
	id, snapID := q.form.Get("DBInstanceIdentifier"), q.form.Get("DBSnapshotIdentifier")
	if aerr := validIdentifier("DBInstanceIdentifier", id); aerr != nil {
		return nil, aerr
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.lookupDBSnapshot(q.id.account, q.region, snapID)
	if s == nil {
		return nil, notFoundf("DBSnapshotNotFound", "DBSnapshot %s not found.", snapID)
	}
	now := e.clock.Now()
	if s.pending != "" && now.Before(s.ready) {
		return nil, badRequestf("InvalidDBSnapshotState", "Snapshot %s is not available.", snapID)
	}
	arn := rdsARN(q.region, q.id.account, "db", id)
	if e.dbs[arn] != nil {
		return nil, badRequestf("DBInstanceAlreadyExists", "DB instance already exists")
	}
	class := q.form.Get("DBInstanceClass")
	if class == "" {
		class = "db.t3.medium"
	}
	d := &dbInstance{DBInstance: DBInstance{AccountID: q.id.account, Region: q.region, Identifier: id, Engine: s.engine, EngineVersion: s.engineVersion,
		Class: class, StorageGiB: s.storage, Encrypted: s.encrypted, KMSKeyID: s.kms, Tags: tagsAt(q.form, "Tags.Tag")},
		arn: arn, resourceID: "db-" + strings.ToUpper(randomID(26)), created: now, seq: e.nextSeq(), ready: now.Add(e.opts.DBRestoreDelay)}
	d.endpoint, d.port = dbEndpoint(q.id.account, q.region, id, d.Engine)
	m := Machine{Kind: "db", AccountID: q.id.account, Region: q.region, LogicalID: id, Tags: d.Tags, Address: d.endpoint, Port: d.port}
	e.machine(&m)
	d.endpoint, d.port = m.Address, m.Port
	e.dbs[arn] = d
	return struct {
		DBInstance dbInstanceXML `xml:"DBInstance"`
	}{d.xml(now)}, nil
}

func (d *dbInstance) status(now time.Time) string {
	if now.Before(d.ready) {
		return "creating"
	}
	return "available"
}

func (d *dbInstance) xml(now time.Time) dbInstanceXML {
	x := dbInstanceXML{
		DBInstanceIdentifier: d.Identifier, DBInstanceClass: d.Class, Engine: d.Engine, EngineVersion: d.EngineVersion,
		DBInstanceStatus: d.status(now), AllocatedStorage: d.StorageGiB, InstanceCreateTime: isoTime(d.created),
		AvailabilityZone: d.Region + "a", StorageType: "gp3", StorageEncrypted: d.Encrypted, KmsKeyID: d.KMSKeyID,
		DbiResourceID: d.resourceID, DBInstanceArn: d.arn, TagList: rdsTags(d.Tags),
	}
	if x.DBInstanceStatus == "available" {
		// As in RDS, an instance has an endpoint once it is up.
		host, port := d.endpoint, d.port
		if host == "" {
			host, port = dbEndpoint(d.AccountID, d.Region, d.Identifier, d.Engine)
		}
		x.Endpoint = &struct {
			Address string `xml:"Address"`
			Port    int    `xml:"Port"`
		}{host, port}
	}
	return x
}

func (e *Emulator) deleteDBInstance(q *queryRequest) (any, *apiError) {
	id := q.form.Get("DBInstanceIdentifier")
	e.mu.Lock()
	defer e.mu.Unlock()
	arn := rdsARN(q.region, q.id.account, "db", id)
	d := e.dbs[arn]
	if d == nil {
		return nil, notFoundf("DBInstanceNotFound", "DBInstance %s not found.", id)
	}
	delete(e.dbs, arn)
	x := d.xml(e.clock.Now())
	x.DBInstanceStatus = "deleting"
	return struct {
		DBInstance dbInstanceXML `xml:"DBInstance"`
	}{x}, nil
}

func (e *Emulator) createVolume(q *queryRequest) (any, *apiError) {
	snapID, az := q.form.Get("SnapshotId"), q.form.Get("AvailabilityZone")
	if az == "" {
		return nil, badRequestf("MissingParameter", "The request must contain the parameter AvailabilityZone")
	}
	tags := map[string]string{}
	for _, p := range members(q.form, "TagSpecification") {
		for k, v := range tagsAt(q.form, p+".Tag") {
			tags[k] = v
		}
	}
	size, _ := strconv.Atoi(q.form.Get("Size"))
	e.mu.Lock()
	defer e.mu.Unlock()
	encrypted := false
	if snapID != "" {
		s := e.snaps[snapID]
		if s == nil || s.account != q.id.account || s.region != q.region {
			return nil, badRequestf("InvalidSnapshot.NotFound", "The snapshot '%s' does not exist.", snapID)
		}
		if size == 0 {
			size = int(s.size)
		}
		encrypted = s.encrypted
	}
	if size == 0 {
		return nil, badRequestf("MissingParameter", "The request must contain the parameter size or snapshotId")
	}
	now := e.clock.Now()
	v := &volume{Volume: Volume{AccountID: q.id.account, Region: q.region, ID: "vol-" + randomID(17), AvailabilityZone: az, Type: "gp3",
		SizeGiB: int32(size), State: "available", Encrypted: encrypted, Tags: tags}, seq: e.nextSeq(), created: now}
	e.volumes[v.ID] = v
	return struct {
		XMLName   xml.Name `xml:"CreateVolumeResponse"`
		NS        string   `xml:"xmlns,attr"`
		RequestID string   `xml:"requestId"`
		ec2VolumeXML
	}{NS: ec2NS, RequestID: q.reqID, ec2VolumeXML: ec2VolumeXML{VolumeID: v.ID, Size: v.SizeGiB, AvailabilityZone: az, Status: "creating",
		CreateTime: isoTime(now), VolumeType: v.Type, Encrypted: encrypted, Tags: ec2Tags(tags)}}, nil
}

func (e *Emulator) deleteVolume(q *queryRequest) (any, *apiError) {
	id := q.form.Get("VolumeId")
	e.mu.Lock()
	defer e.mu.Unlock()
	v := e.volumes[id]
	if v == nil || v.AccountID != q.id.account || v.Region != q.region {
		return nil, badRequestf("InvalidVolume.NotFound", "The volume '%s' does not exist.", id)
	}
	delete(e.volumes, id)
	return struct {
		XMLName   xml.Name `xml:"DeleteVolumeResponse"`
		NS        string   `xml:"xmlns,attr"`
		RequestID string   `xml:"requestId"`
		Return    bool     `xml:"return"`
	}{NS: ec2NS, RequestID: q.reqID, Return: true}, nil
}

// deleteStack removes a stack and what it made at once (the caller holds
// e.mu); deleting a stack that does not exist succeeds, as in AWS.
func (e *Emulator) deleteStack(q *queryRequest) (any, *apiError) {
	st := e.stack(q, q.form.Get("StackName"))
	if st != nil {
		for _, r := range st.resources {
			switch r.typ {
			case "AWS::EC2::Instance":
				delete(e.instances, r.physical)
			case "AWS::EC2::Volume":
				delete(e.volumes, r.physical)
			case "AWS::RDS::DBInstance":
				delete(e.dbs, r.attrs["DBInstanceArn"])
			}
		}
		for i, s := range e.stacks {
			if s == st {
				e.stacks = append(e.stacks[:i], e.stacks[i+1:]...)
				break
			}
		}
	}
	return cfnResp("DeleteStack", q.reqID, struct{}{}), nil
}
