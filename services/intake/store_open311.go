package intake

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

const apiKeyColumns = `id::text, name, org_unit_id, source, rate_per_minute, prefix, created_at, created_by,
	COALESCE(revoked_at, 'epoch'::timestamptz)`

func scanAPIKey(row pgx.Row) (APIKey, error) {
	var k APIKey
	err := row.Scan(&k.ID, &k.Name, &k.OrgUnitID, &k.Source, &k.RatePerMinute, &k.Prefix, &k.CreatedAt, &k.CreatedBy, &k.RevokedAt)
	if k.RevokedAt.Equal(time.Unix(0, 0)) {
		k.RevokedAt = time.Time{}
	}
	return k, err
}

// AddAPIKey stores a key, in the transaction ctx carries, unless MaxAPIKeys
// exist (ErrTooManyKeys).
func (s *store) AddAPIKey(ctx context.Context, k APIKey, hash []byte) error {
	q := s.db.Q(ctx)
	if err := roomFor(ctx, q, "open311_keys", MaxAPIKeys, ErrTooManyKeys); err != nil {
		return err
	}
	_, err := q.Exec(ctx, `INSERT INTO open311_keys (id, name, org_unit_id, source, rate_per_minute, secret_hash, prefix, created_at, created_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		k.ID, k.Name, k.OrgUnitID, k.Source, k.RatePerMinute, hash, k.Prefix, k.CreatedAt, k.CreatedBy)
	if err != nil {
		return fmt.Errorf("store open311 key: %w", err)
	}
	return nil
}

// APIKeys lists the keys, oldest first.
func (s *store) APIKeys(ctx context.Context, includeRevoked bool) ([]APIKey, error) {
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT `+apiKeyColumns+` FROM open311_keys
		WHERE $1 OR revoked_at IS NULL ORDER BY created_at, id`, includeRevoked)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (APIKey, error) { return scanAPIKey(row) })
}

// RevokeAPIKey revokes a key once, in the transaction ctx carries, and
// returns it; ErrAPIKeyNotFound if none has the id.
func (s *store) RevokeAPIKey(ctx context.Context, id, by string, at time.Time) (APIKey, error) {
	k, err := scanAPIKey(s.db.Q(ctx).QueryRow(ctx, `UPDATE open311_keys
		SET revoked_at = COALESCE(revoked_at, $2), revoked_by = CASE WHEN revoked_at IS NULL THEN $3 ELSE revoked_by END
		WHERE id = $1 RETURNING `+apiKeyColumns, id, at, by))
	if errors.Is(err, pgx.ErrNoRows) {
		return APIKey{}, ErrAPIKeyNotFound
	}
	return k, err
}

// APIKeyByHash returns the key of a secret's hash, revoked or not;
// ErrAPIKeyNotFound if none has it.
func (s *store) APIKeyByHash(ctx context.Context, hash []byte) (APIKey, error) {
	k, err := scanAPIKey(s.db.Q(ctx).QueryRow(ctx, `SELECT `+apiKeyColumns+` FROM open311_keys WHERE secret_hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return APIKey{}, ErrAPIKeyNotFound
	}
	return k, err
}
