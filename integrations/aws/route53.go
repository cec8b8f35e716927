package aws

import (
	"context"
	"fmt"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
)

// Record is a DNS record set in a Route 53 hosted zone.
type Record struct {
	Name   string // fully qualified, with the trailing dot
	Type   string
	TTL    int64
	Values []string
}

// route53Client: Route 53 is global, its calls are signed for us-east-1.
func (a *Account) route53Client() *route53.Client {
	return a.clients.route53.get("us-east-1", func(region string) *route53.Client {
		return route53.NewFromConfig(a.cfg, func(o *route53.Options) { o.Region = region })
	})
}

// Records lists a hosted zone's record sets.
func (a *Account) Records(ctx context.Context, zoneID string) ([]Record, error) {
	p := route53.NewListResourceRecordSetsPaginator(a.route53Client(), &route53.ListResourceRecordSetsInput{HostedZoneId: awssdk.String(zoneID)})
	var out []Record
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list the records of hosted zone %s: %w", zoneID, err)
		}
		for _, s := range page.ResourceRecordSets {
			r := Record{Name: awssdk.ToString(s.Name), Type: string(s.Type), TTL: awssdk.ToInt64(s.TTL)}
			for _, v := range s.ResourceRecords {
				r.Values = append(r.Values, awssdk.ToString(v.Value))
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// UpsertRecords sets records in one change batch and waits until Route 53
// has applied it everywhere (INSYNC), within maxWait.
func (a *Account) UpsertRecords(ctx context.Context, zoneID, comment string, recs []Record, maxWait time.Duration) error {
	var changes []r53types.Change
	for _, r := range recs {
		set := &r53types.ResourceRecordSet{Name: awssdk.String(r.Name), Type: r53types.RRType(r.Type), TTL: awssdk.Int64(r.TTL)}
		for _, v := range r.Values {
			set.ResourceRecords = append(set.ResourceRecords, r53types.ResourceRecord{Value: awssdk.String(v)})
		}
		changes = append(changes, r53types.Change{Action: r53types.ChangeActionUpsert, ResourceRecordSet: set})
	}
	c := a.route53Client()
	out, err := c.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{HostedZoneId: awssdk.String(zoneID),
		ChangeBatch: &r53types.ChangeBatch{Comment: awssdk.String(comment), Changes: changes}})
	if err != nil {
		return fmt.Errorf("change records in hosted zone %s: %w", zoneID, err)
	}
	id := strings.TrimPrefix(awssdk.ToString(out.ChangeInfo.Id), "/change/")
	minD, maxD := a.waiterDelays(time.Second, 30*time.Second)
	w := route53.NewResourceRecordSetsChangedWaiter(c, func(o *route53.ResourceRecordSetsChangedWaiterOptions) {
		o.MinDelay, o.MaxDelay = minD, maxD
	})
	if err := w.Wait(ctx, &route53.GetChangeInput{Id: awssdk.String(id)}, maxWait); err != nil {
		return fmt.Errorf("wait for change %s in hosted zone %s: %w", id, zoneID, err)
	}
	return nil
}
