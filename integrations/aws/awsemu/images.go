package awsemu

import (
	"encoding/xml"
	"sort"
)

// Image seeds an EBS-backed AMI whose block device mappings reference
// snapshots, as CreateImage leaves behind: while it is registered, EC2
// refuses to delete those snapshots.
type Image struct {
	AccountID string
	Region    string
	ID        string // default: generated ami-…
	Name      string // default: the id
	// Snapshots by device name, e.g. {"/dev/xvda": "snap-…"}.
	Snapshots map[string]string
	Tags      map[string]string
}

type image struct {
	Image
	seq int
}

// AddImage registers an image and returns its id. It does not check that
// the snapshots exist, so a test can seed either first.
func (e *Emulator) AddImage(im Image) string {
	im.AccountID, im.Region = e.defaults(im.AccountID, im.Region)
	if im.ID == "" {
		im.ID = "ami-" + randomID(17)
	}
	if im.Name == "" {
		im.Name = im.ID
	}
	im.Snapshots = copyTags(im.Snapshots)
	im.Tags = copyTags(im.Tags)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.images[im.ID] = &image{Image: im, seq: e.nextSeq()}
	return im.ID
}

// imageUsing returns the id of a registered image of account in region
// whose mappings reference snapID, or ""; the caller holds e.mu.
func (e *Emulator) imageUsing(account, region, snapID string) string {
	var ids []string
	for _, im := range e.images {
		if im.AccountID != account || im.Region != region {
			continue
		}
		for _, s := range im.Snapshots {
			if s == snapID {
				ids = append(ids, im.ID)
			}
		}
	}
	sort.Strings(ids)
	if len(ids) == 0 {
		return ""
	}
	return ids[0]
}

type ec2ImageBDMXML struct {
	DeviceName string `xml:"deviceName"`
	EBS        struct {
		SnapshotID          string `xml:"snapshotId"`
		VolumeSize          int32  `xml:"volumeSize"`
		DeleteOnTermination bool   `xml:"deleteOnTermination"`
		VolumeType          string `xml:"volumeType"`
		Encrypted           bool   `xml:"encrypted"`
	} `xml:"ebs"`
}

type ec2ImageXML struct {
	ImageID            string           `xml:"imageId"`
	ImageLocation      string           `xml:"imageLocation"`
	ImageState         string           `xml:"imageState"`
	ImageOwnerID       string           `xml:"imageOwnerId"`
	IsPublic           bool             `xml:"isPublic"`
	Architecture       string           `xml:"architecture"`
	ImageType          string           `xml:"imageType"`
	Name               string           `xml:"name"`
	RootDeviceType     string           `xml:"rootDeviceType"`
	RootDeviceName     string           `xml:"rootDeviceName"`
	BlockDeviceMapping []ec2ImageBDMXML `xml:"blockDeviceMapping>item"`
	VirtualizationType string           `xml:"virtualizationType"`
	Hypervisor         string           `xml:"hypervisor"`
	Tags               []ec2Tag         `xml:"tagSet>item,omitempty"`
}

func (im *image) xml(sizeOf func(snapID string) int32) ec2ImageXML {
	out := ec2ImageXML{
		ImageID: im.ID, ImageLocation: im.AccountID + "/" + im.Name, ImageState: "available",
		ImageOwnerID: im.AccountID, Architecture: "x86_64", ImageType: "machine", Name: im.Name,
		RootDeviceType: "ebs", VirtualizationType: "hvm", Hypervisor: "xen", Tags: ec2Tags(im.Tags),
	}
	devs := sortedKeys(im.Snapshots)
	if len(devs) > 0 {
		out.RootDeviceName = devs[0]
	}
	for _, d := range devs {
		m := ec2ImageBDMXML{DeviceName: d}
		m.EBS.SnapshotID, m.EBS.VolumeSize, m.EBS.DeleteOnTermination, m.EBS.VolumeType = im.Snapshots[d], sizeOf(im.Snapshots[d]), true, "gp3"
		out.BlockDeviceMapping = append(out.BlockDeviceMapping, m)
	}
	return out
}

func imageMatches(im *image, filters []filter) (bool, *apiError) {
	for _, f := range filters {
		if handled, ok := matchTagFilter(f, im.Tags); handled {
			if !ok {
				return false, nil
			}
			continue
		}
		var vals []string
		switch f.name {
		case "image-id":
			vals = []string{im.ID}
		case "name":
			vals = []string{im.Name}
		case "owner-id":
			vals = []string{im.AccountID}
		case "state":
			vals = []string{"available"}
		case "block-device-mapping.snapshot-id":
			for _, d := range sortedKeys(im.Snapshots) {
				vals = append(vals, im.Snapshots[d])
			}
		case "block-device-mapping.device-name":
			vals = sortedKeys(im.Snapshots)
		default:
			return false, badRequestf("InvalidParameterValue", "The filter '%s' is invalid", f.name)
		}
		ok := false
		for _, v := range vals {
			ok = ok || matchValue(f.values, v)
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

// describeImages serves images only of the caller's account: the emulator
// has no public or shared AMIs, so Owner "self" (or the account id) and no
// Owner list the same images; any other owner lists none.
func (e *Emulator) describeImages(q *queryRequest) (any, *apiError) {
	ids := stringList(q.form, "ImageId")
	owners := stringList(q.form, "Owner")
	filters := ec2Filters(q.form)
	if len(ids) > 0 && q.form.Get("MaxResults") != "" {
		return nil, badRequestf("InvalidParameterCombination", "The parameter imagesSet cannot be used with the parameter maxResults")
	}
	max, aerr := ec2MaxResults(q, 1)
	if aerr != nil {
		return nil, aerr
	}
	e.mu.Lock()
	for _, id := range ids {
		if im := e.images[id]; im == nil || im.AccountID != q.id.account || im.Region != q.region {
			e.mu.Unlock()
			return nil, badRequestf("InvalidAMIID.NotFound", "The image id '[%s]' does not exist", id)
		}
	}
	var ims []*image
	for _, im := range e.images {
		if im.AccountID != q.id.account || im.Region != q.region {
			continue
		}
		if len(ids) > 0 && !contains(ids, im.ID) {
			continue
		}
		if len(owners) > 0 && !ownerMatches(owners, im.AccountID, q.id.account) {
			continue
		}
		ok, ferr := imageMatches(im, filters)
		if ferr != nil {
			e.mu.Unlock()
			return nil, ferr
		}
		if ok {
			ims = append(ims, im)
		}
	}
	sort.Slice(ims, func(i, j int) bool { return ims[i].seq < ims[j].seq })
	pageItems, next, aerr := page(ims, q.form.Get("NextToken"), max, e.opts.PageLimit)
	if aerr != nil {
		e.mu.Unlock()
		return nil, aerr
	}
	sizeOf := func(id string) int32 {
		if s := e.snaps[id]; s != nil {
			return s.size
		}
		return 8
	}
	out := make([]ec2ImageXML, 0, len(pageItems))
	for _, im := range pageItems {
		out = append(out, im.xml(sizeOf))
	}
	e.mu.Unlock()
	return struct {
		XMLName   xml.Name      `xml:"DescribeImagesResponse"`
		NS        string        `xml:"xmlns,attr"`
		RequestID string        `xml:"requestId"`
		Images    []ec2ImageXML `xml:"imagesSet>item"`
		NextToken string        `xml:"nextToken,omitempty"`
	}{NS: ec2NS, RequestID: q.reqID, Images: out, NextToken: next}, nil
}
