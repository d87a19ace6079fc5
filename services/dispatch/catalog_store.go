package dispatch

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/postgres"
)

// catalogChannel is notified when the active catalog changes.
const catalogChannel = "dispatch_catalog"

const catalogColumns = `version, sha256, imported_at, imported_by, active, activated_at`

// SaveCatalog stores a version unless its name is taken.
func (s *store) SaveCatalog(ctx context.Context, info CatalogInfo, source []byte) (CatalogInfo, bool, error) {
	tag, err := s.db.Q(ctx).Exec(ctx, `INSERT INTO catalogs (version, source, sha256, imported_at, imported_by)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (version) DO NOTHING`,
		info.Version, source, info.SHA256, info.ImportedAt, info.ImportedBy)
	if err != nil {
		return CatalogInfo{}, false, err
	}
	_, stored, err := s.CatalogSource(ctx, info.Version)
	return stored, tag.RowsAffected() == 1, err
}

// ActivateCatalog makes version the only active one and notifies the replicas.
func (s *store) ActivateCatalog(ctx context.Context, version string, at time.Time) (CatalogInfo, error) {
	err := s.db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE catalogs SET active = false WHERE active AND version <> $1`, version); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE catalogs SET active = true, activated_at = $2 WHERE version = $1 AND NOT active`, version, at)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM catalogs WHERE version = $1)`, version).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				return ErrCatalogNotFound
			}
		}
		_, err = tx.Exec(ctx, `SELECT pg_notify($1, $2)`, catalogChannel, version)
		return err
	})
	if err != nil {
		return CatalogInfo{}, err
	}
	_, info, err := s.CatalogSource(ctx, version)
	return info, err
}

// CatalogSource returns a version's source; "" names the active one.
func (s *store) CatalogSource(ctx context.Context, version string) ([]byte, CatalogInfo, error) {
	where, args := `version = $1`, []any{version}
	if version == "" {
		where, args = `active`, nil
	}
	var src []byte
	var info CatalogInfo
	var activated *time.Time
	err := s.db.Q(ctx).QueryRow(ctx, `SELECT source, `+catalogColumns+` FROM catalogs WHERE `+where, args...).
		Scan(&src, &info.Version, &info.SHA256, &info.ImportedAt, &info.ImportedBy, &info.Active, &activated)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, CatalogInfo{}, ErrCatalogNotFound
	}
	info.ImportedAt, info.ActivatedAt = info.ImportedAt.UTC(), postgres.TimeOf(activated)
	return src, info, err
}

// ListCatalogs lists versions, newest import first.
func (s *store) ListCatalogs(ctx context.Context) ([]CatalogInfo, error) {
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT `+catalogColumns+` FROM catalogs ORDER BY imported_at DESC, version`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (CatalogInfo, error) {
		var info CatalogInfo
		var activated *time.Time
		err := row.Scan(&info.Version, &info.SHA256, &info.ImportedAt, &info.ImportedBy, &info.Active, &activated)
		info.ImportedAt, info.ActivatedAt = info.ImportedAt.UTC(), postgres.TimeOf(activated)
		return info, err
	})
}

// watchCatalog calls reload whenever another replica activates a catalog
// (LISTEN dispatch_catalog), and every poll as a fallback.
func (s *store) watchCatalog(ctx context.Context, poll time.Duration, reload func(context.Context) error) {
	wake := make(chan struct{}, 1)
	signal := func(string, string) {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	go postgres.Listener{DB: s.db, Channels: []string{catalogChannel}, Notify: signal}.Run(ctx)
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-t.C:
		}
		_ = reload(ctx)
	}
}
