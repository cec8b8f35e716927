package alerts

import (
	"context"
	"errors"
)

// RemoveCommented ends every downtime and silence by author whose comment
// starts with prefix, in every configured system, trying all of them even
// when one fails; it returns how many it ended. A job's comment names it,
// so this finds what it set even when their ids were never saved.
func (d *Downtimes) RemoveCommented(ctx context.Context, author, prefix string) (int, error) {
	var errs []error
	total := 0
	if d.Icinga2 != nil {
		n, err := d.Icinga2.RemoveDowntimesCommented(ctx, author, prefix)
		total += n
		errs = append(errs, err)
	}
	if d.Alertmanager != nil {
		n, err := d.Alertmanager.ExpireCommented(ctx, author, prefix)
		total += n
		errs = append(errs, err)
	}
	return total, errors.Join(errs...)
}
