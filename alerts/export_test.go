package alerts

import (
	"context"

	"github.com/mcloud/mcloud/integrations/store"
)

// SetRecord replaces the store write under the pipeline's batches.
func (p *Pipeline) SetRecord(f func(ctx context.Context, items []store.AlertItem) ([]store.AlertOutcome, error)) {
	p.record = f
}
