package store_test

import (
	"context"
	"testing"

	"github.com/mcloud/mcloud/integrations/store"
)

// An environment's inventory is replaced as a whole: a host the stack no
// longer has disappears, the other environment's hosts stay.
func TestInventoryReplacesAnEnvironment(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		first := []store.InventoryHost{
			{Host: "b", InstanceID: "i-2", Address: "10.0.2.5", KeyProblem: "the console output shows no SSH host keys"},
			{Host: "a", InstanceID: "i-1", Address: "10.0.2.4", HostKey: "ssh-ed25519 AAAA"},
		}
		if err := db.SetInventory(ctx, "customer-x", "staging", first); err != nil {
			t.Fatal(err)
		}
		if err := db.SetInventory(ctx, "customer-x", "prod", first[:1]); err != nil {
			t.Fatal(err)
		}
		if err := db.SetInventory(ctx, "customer-x", "staging", first[1:]); err != nil {
			t.Fatal(err)
		}
		got, err := db.Inventory(ctx, "customer-x", "staging")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Host != "a" || got[0].HostKey != "ssh-ed25519 AAAA" || got[0].Address != "10.0.2.4" || got[0].UpdatedAt.IsZero() {
			t.Fatalf("staging = %+v", got)
		}
		prod, _ := db.Inventory(ctx, "customer-x", "prod")
		if len(prod) != 1 || prod[0].KeyProblem == "" {
			t.Fatalf("prod = %+v", prod)
		}
	})
}
