// Package orgtree keeps, in every service, the org tree of the active
// catalog: dispatch announces it in an org_tree event whenever it activates a
// catalog (and at start), and each service stores it (table org_units of its
// schema, through Tree.Apply). Services ask whether a unit is in the tree
// (Known: a caller acting for a unit that is not sees nothing), where a unit
// lies (Path) and what lies under one (Under) to decide who may act where.
package orgtree

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/apperr"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/geo"
	"github.com/whistle-civic/whistle/pkg/postgres"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// The tree's errors.
var (
	// ErrNotYetKnown: no org tree has arrived yet (dispatch announces it at start).
	ErrNotYetKnown = apperr.New(apperr.Unavailable,
		"the org tree is not known here yet (dispatch announces it when it starts): retry in a moment")
	// ErrUnknownUnit: the org unit is not in the active catalog's tree (never
	// was, or a newer catalog removed it).
	ErrUnknownUnit = apperr.New(apperr.PermissionDenied,
		"the org unit is not in the active org tree: use the id of a unit of the active catalog (whistlectl catalog show)")
)

// DefaultMaxAge is how long a Tree serves what it read before reading the
// table again. The replica whose consumer stores a new tree sees it at once;
// the other replicas of a service within DefaultMaxAge.
const DefaultMaxAge = 2 * time.Second

// Tree reads the org tree a service stored. It keeps a copy in memory, read
// again when older than MaxAge or when the tree it stores itself changes, so
// that deciding who may act where costs no query. Safe for concurrent use.
type Tree struct {
	db *postgres.DB
	// MaxAge is how long the copy in memory is served. Default (zero):
	// DefaultMaxAge.
	MaxAge time.Duration

	mu       sync.Mutex
	snap     *snapshot // nil until read, and after a change
	loadedAt time.Time
}

// snapshot is the tree as read at one moment.
type snapshot struct {
	parent   map[string]string    // by unit; "" for the city
	level    map[string]string    // by unit: city, district, street, community, grid or department
	children map[string][]string  // by unit
	centres  map[string]geo.Point // by unit, of the units the catalog gives one
	root     string
}

// New returns the tree kept in db's schema.
func New(db *postgres.DB) *Tree { return &Tree{db: db} }

// Known reports whether the unit is in the tree. It fails with
// ErrNotYetKnown before any tree arrived.
func (t *Tree) Known(ctx context.Context, id string) (bool, error) {
	s, err := t.current(ctx)
	if err != nil {
		return false, err
	}
	_, ok := s.parent[id]
	return ok, nil
}

// Path returns a unit and the units above it, up to the city; nil for a unit
// the tree does not hold. It fails with ErrNotYetKnown before any tree arrived.
func (t *Tree) Path(ctx context.Context, id string) ([]string, error) {
	s, err := t.current(ctx)
	if err != nil {
		return nil, err
	}
	var path []string
	for u, ok := id, true; ok && u != "" && len(path) <= len(s.parent); u = s.parent[u] {
		if _, ok = s.parent[u]; ok {
			path = append(path, u)
		}
	}
	return path, nil
}

// Under returns a unit and every unit below it. It fails with ErrUnknownUnit
// for a unit the tree does not hold (so that an unknown unit never reads as
// "no limit"), and with ErrNotYetKnown before any tree arrived.
func (t *Tree) Under(ctx context.Context, id string) ([]string, error) {
	s, err := t.current(ctx)
	if err != nil {
		return nil, err
	}
	if _, ok := s.parent[id]; !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownUnit, id)
	}
	under := []string{id}
	for i := 0; i < len(under); i++ {
		under = append(under, s.children[under[i]]...)
	}
	return under, nil
}

// Level returns a unit's level ("city", "district", "street", "community",
// "grid" or "department"), or ErrUnknownUnit.
func (t *Tree) Level(ctx context.Context, id string) (string, error) {
	s, err := t.current(ctx)
	if err != nil {
		return "", err
	}
	level, ok := s.level[id]
	if !ok {
		return "", ErrUnknownUnit
	}
	return level, nil
}

// Centres returns the centres of the grids whose catalog entry gives one,
// by grid. It fails with ErrNotYetKnown before any tree arrived; the map is
// the tree's own: do not change it.
func (t *Tree) Centres(ctx context.Context) (map[string]geo.Point, error) {
	s, err := t.current(ctx)
	if err != nil {
		return nil, err
	}
	return s.centres, nil
}

// Root returns the city at the top of the tree.
func (t *Tree) Root(ctx context.Context) (string, error) {
	s, err := t.current(ctx)
	if err != nil {
		return "", err
	}
	return s.root, nil
}

// current returns the copy in memory, reading the table when it is missing
// or stale.
func (t *Tree) current(ctx context.Context) (*snapshot, error) {
	maxAge := t.MaxAge
	if maxAge == 0 {
		maxAge = DefaultMaxAge
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.snap != nil && time.Since(t.loadedAt) < maxAge {
		return t.snap, nil
	}
	s, err := t.load(ctx)
	if err != nil {
		return nil, err
	}
	t.snap, t.loadedAt = s, time.Now()
	return s, nil
}

// load reads the stored tree.
func (t *Tree) load(ctx context.Context) (*snapshot, error) {
	rows, err := t.db.Q(ctx).Query(ctx, `SELECT id, parent_id, level, latitude, longitude FROM org_units`)
	if err != nil {
		return nil, fmt.Errorf("read the org tree: %w", err)
	}
	s := &snapshot{parent: map[string]string{}, level: map[string]string{}, children: map[string][]string{}, centres: map[string]geo.Point{}}
	var id, parent, level string
	var lat, lng *float64
	_, err = pgx.ForEachRow(rows, []any{&id, &parent, &level, &lat, &lng}, func() error {
		s.parent[id], s.level[id] = parent, level
		if lat != nil && lng != nil && level == "grid" {
			s.centres[id] = geo.Point{Lat: *lat, Lng: *lng}
		}
		if parent == "" {
			if s.root == "" || id < s.root {
				s.root = id
			}
		} else {
			s.children[parent] = append(s.children[parent], id)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the org tree: %w", err)
	}
	if len(s.parent) == 0 {
		return nil, ErrNotYetKnown
	}
	return s, nil
}

// forget drops the copy in memory, so the next question reads the table.
func (t *Tree) forget() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.snap = nil
}

// Apply stores the tree an org_tree event announces, replacing the one
// stored, in the transaction ctx carries (an inbox.ApplyFunc: the consumer
// "<service>-org" of pkg/platform runs it). The copy in memory is dropped
// once the transaction commits.
func (t *Tree) Apply(ctx context.Context, ev *whistlev1.Event) (ticket.Decision, error) {
	tree := ev.GetOrgTree()
	if tree == nil || len(tree.GetUnits()) == 0 {
		return ticket.Apply, errors.New("org_tree event without units")
	}
	err := t.db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM org_units`); err != nil {
			return err
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"org_units"}, []string{"id", "parent_id", "level", "catalog_version", "latitude", "longitude"},
			pgx.CopyFromSlice(len(tree.GetUnits()), func(i int) ([]any, error) {
				u := tree.GetUnits()[i]
				var lat, lng *float64
				if c := u.GetCentre(); c != nil {
					lat, lng = &c.Latitude, &c.Longitude
				}
				return []any{u.GetId(), u.GetParentId(), u.GetLevel(), tree.GetCatalogVersion(), lat, lng}, nil
			}))
		postgres.AfterCommit(ctx, t.forget)
		return err
	})
	return ticket.Apply, err
}
