package commands

// Number formatting shared by every verb's plans and reports.

import (
	"fmt"

	"github.com/mcloud/mcloud"
)

// humanBytes is a size in binary units: 1.5 GiB.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// thousands and nOf are mcloud.Thousands and mcloud.Count under the short
// names the verbs use; there is one implementation, in the domain, shared
// with bot/ and the store.
func thousands(n int) string { return mcloud.Thousands(n) }

func nOf(n int, one, many string) string { return mcloud.Count(n, one, many) }
