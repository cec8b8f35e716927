package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// InventoryHost is a host `provision` built: where it is, and the SSH host
// key read from its console output (empty, with KeyProblem saying why,
// when none could be read: such a host is unusable until a key is
// configured).
type InventoryHost struct {
	Host, InstanceID, Address string
	HostKey, KeyProblem       string
	UpdatedAt                 time.Time
}

// SetInventory replaces an environment's inventory in one transaction.
func (s *DB) SetInventory(ctx context.Context, customer, env string, hosts []InventoryHost) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("record inventory of %s/%s: %w", customer, env, err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, s.rebind(`DELETE FROM inventory WHERE customer = ? AND env = ?`), customer, env); err != nil {
		return fmt.Errorf("record inventory of %s/%s: %w", customer, env, err)
	}
	for _, h := range hosts {
		if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO inventory (customer, env, host, instance_id, address, host_key, key_problem, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
			customer, env, h.Host, h.InstanceID, h.Address, h.HostKey, h.KeyProblem, ms(s.Now())); err != nil {
			return fmt.Errorf("record inventory host %s of %s/%s: %w", h.Host, customer, env, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("record inventory of %s/%s: %w", customer, env, err)
	}
	return nil
}

// Inventory lists an environment's provisioned hosts by name.
func (s *DB) Inventory(ctx context.Context, customer, env string) ([]InventoryHost, error) {
	var out []InventoryHost
	err := s.eachRow(ctx, `SELECT host, instance_id, address, host_key, key_problem, updated_at FROM inventory WHERE customer = ? AND env = ? ORDER BY host`,
		[]any{customer, env}, func(rows *sql.Rows) error {
			var h InventoryHost
			var at int64
			if err := rows.Scan(&h.Host, &h.InstanceID, &h.Address, &h.HostKey, &h.KeyProblem, &at); err != nil {
				return err
			}
			h.UpdatedAt = time.UnixMilli(at).UTC()
			out = append(out, h)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("read inventory of %s/%s: %w", customer, env, err)
	}
	return out, nil
}
