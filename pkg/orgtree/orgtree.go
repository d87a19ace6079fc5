// Package orgtree keeps, in each service that needs it, the org tree of the
// active catalog: dispatch announces it in an org_tree event whenever it
// activates a catalog (and at start), and Consumer stores it. Services ask
// where a unit lies (Path) and what lies under one (Under) to decide who may
// act where.
package orgtree

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/apperr"
	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/platform"
	"github.com/whistle-civic/whistle/pkg/postgres"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// ErrNotYetKnown: no org tree has arrived yet (dispatch announces it at start).
var ErrNotYetKnown = apperr.New(apperr.Unavailable,
	"the org tree is not known here yet (dispatch announces it when it starts): retry in a moment")

// Tree reads the org tree a service stored.
type Tree struct {
	db *postgres.DB
}

// New returns the tree kept in db's schema.
func New(db *postgres.DB) *Tree { return &Tree{db: db} }

// Path returns a unit and the units above it, up to the city; nil for a unit
// the tree does not hold. It fails with ErrNotYetKnown before any tree arrived.
func (t *Tree) Path(ctx context.Context, id string) ([]string, error) {
	rows, err := t.db.Q(ctx).Query(ctx, `WITH RECURSIVE up(id, parent_id, depth) AS (
			SELECT id, parent_id, 0 FROM org_units WHERE id = $1
			UNION ALL SELECT o.id, o.parent_id, up.depth + 1 FROM org_units o JOIN up ON o.id = up.parent_id
		) SELECT id FROM up ORDER BY depth`, id)
	if err != nil {
		return nil, fmt.Errorf("path of %s: %w", id, err)
	}
	path, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(path) > 0 {
		return path, err
	}
	return nil, t.known(ctx)
}

// Under returns a unit and every unit below it.
func (t *Tree) Under(ctx context.Context, id string) ([]string, error) {
	rows, err := t.db.Q(ctx).Query(ctx, `WITH RECURSIVE down(id) AS (
			SELECT id FROM org_units WHERE id = $1
			UNION ALL SELECT o.id FROM org_units o JOIN down ON o.parent_id = down.id
		) SELECT id FROM down`, id)
	if err != nil {
		return nil, fmt.Errorf("units under %s: %w", id, err)
	}
	under, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(under) > 0 {
		return under, err
	}
	return nil, t.known(ctx)
}

// Root returns the city at the top of the tree.
func (t *Tree) Root(ctx context.Context) (string, error) {
	var id string
	err := t.db.Q(ctx).QueryRow(ctx, `SELECT id FROM org_units WHERE parent_id = '' ORDER BY id LIMIT 1`).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", ErrNotYetKnown
	}
	return id, err
}

// known fails with ErrNotYetKnown while the tree is empty.
func (t *Tree) known(ctx context.Context) error {
	var any bool
	if err := t.db.Q(ctx).QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM org_units)`).Scan(&any); err != nil {
		return err
	}
	if !any {
		return ErrNotYetKnown
	}
	return nil
}

// Consumer returns the consumer that stores the trees dispatch announces,
// named "<service>-org".
func Consumer(service string, db *postgres.DB) platform.Consumer {
	return platform.Consumer{Name: service + "-org", EventTypes: []string{events.OrgTree},
		Apply: func(ctx context.Context, ev *whistlev1.Event) (ticket.Decision, error) {
			return ticket.Apply, replace(ctx, db, ev.GetOrgTree())
		}}
}

// replace swaps the stored tree for another, in the transaction ctx carries.
func replace(ctx context.Context, db *postgres.DB, tree *whistlev1.OrgTree) error {
	if tree == nil || len(tree.GetUnits()) == 0 {
		return errors.New("org_tree event without units")
	}
	return db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM org_units`); err != nil {
			return err
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"org_units"}, []string{"id", "parent_id", "level", "catalog_version"},
			pgx.CopyFromSlice(len(tree.GetUnits()), func(i int) ([]any, error) {
				u := tree.GetUnits()[i]
				return []any{u.GetId(), u.GetParentId(), u.GetLevel(), tree.GetCatalogVersion()}, nil
			}))
		return err
	})
}
