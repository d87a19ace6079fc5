package dispatch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/audit"
	"github.com/whistle-civic/whistle/pkg/outbox"
)

// CatalogInfo describes a stored catalog version.
type CatalogInfo struct {
	Version     string
	SHA256      string
	ImportedAt  time.Time
	ImportedBy  string
	Active      bool
	ActivatedAt time.Time
}

// catalogs is what the catalog use cases need from storage.
type catalogs interface {
	// SaveCatalog stores a version unless one with that name exists, and
	// returns the stored version's description and whether it was created.
	SaveCatalog(ctx context.Context, info CatalogInfo, source []byte) (CatalogInfo, bool, error)
	// ActivateCatalog makes version the only active one.
	ActivateCatalog(ctx context.Context, version string, at time.Time) (CatalogInfo, error)
	// CatalogSource returns a version's source; "" names the active one.
	CatalogSource(ctx context.Context, version string) ([]byte, CatalogInfo, error)
	// ListCatalogs lists versions, newest import first.
	ListCatalogs(ctx context.Context) ([]CatalogInfo, error)
}

// ImportCatalog checks a catalog and stores it as a new, immutable version,
// activating it if asked. A catalog with problems is refused whole, listing
// every problem, and the active catalog keeps serving. Importing the same
// source again changes nothing; another source under a stored version's name
// is refused.
func (s *Service) ImportCatalog(ctx context.Context, source []byte, activate bool, by Actor) (CatalogInfo, bool, error) {
	cat, err := ParseCatalog(source)
	if err != nil {
		return CatalogInfo{}, false, fmt.Errorf("import catalog: %w", err)
	}
	sum := sha256.Sum256(source)
	info := CatalogInfo{Version: cat.Version, SHA256: hex.EncodeToString(sum[:]), ImportedAt: s.clock.Now(), ImportedBy: by.ID}
	var stored CatalogInfo
	var created bool
	err = s.deps.DB.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if stored, created, err = s.cats.SaveCatalog(ctx, info, source); err != nil || !created {
			return err
		}
		return audit.RecordCall(ctx, tx, audit.Entry{Action: "catalog.import", Detail: cat.Version})
	})
	if err != nil {
		return CatalogInfo{}, false, fmt.Errorf("import catalog %s: %w", cat.Version, err)
	}
	if stored.SHA256 != info.SHA256 {
		return CatalogInfo{}, false, fmt.Errorf("import catalog %s: %w", cat.Version, ErrCatalogVersionTaken)
	}
	s.cache.Store(cat.Version, cat)
	s.log.InfoContext(ctx, "catalog imported", "version", cat.Version, "created", created, "by", by.ID)
	if activate && !stored.Active {
		stored, err = s.ActivateCatalog(ctx, cat.Version, by)
	}
	return stored, created, err
}

// ActivateCatalog makes a stored version the one new tickets are routed by,
// here and, through a notification, on every other replica.
func (s *Service) ActivateCatalog(ctx context.Context, version string, by Actor) (CatalogInfo, error) {
	var info CatalogInfo
	err := s.deps.DB.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		if info, err = s.cats.ActivateCatalog(ctx, version, s.clock.Now()); err != nil {
			return err
		}
		return audit.RecordCall(ctx, tx, audit.Entry{Action: "catalog.activate", Detail: version})
	})
	if err != nil {
		return CatalogInfo{}, fmt.Errorf("activate catalog %s: %w", version, err)
	}
	if err := s.reloadActive(ctx); err != nil {
		return CatalogInfo{}, err
	}
	if err := s.announceTree(ctx); err != nil {
		return CatalogInfo{}, err
	}
	s.log.InfoContext(ctx, "catalog activated", "version", version, "by", by.ID)
	return info, nil
}

// announceTree tells every service the active catalog's org tree, so that
// they decide who may act where by the same tree dispatch routes by.
func (s *Service) announceTree(ctx context.Context) error {
	cat := s.catalog()
	if err := s.deps.DB.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		return outbox.Append(ctx, tx, toOrgTreeEvent(cat, s.clock.Now()))
	}); err != nil {
		return fmt.Errorf("announce the org tree of %s: %w", cat.Version, err)
	}
	return nil
}

// CatalogVersion returns a stored version ("" for the active one).
func (s *Service) CatalogVersion(ctx context.Context, version string) (*Catalog, CatalogInfo, error) {
	src, info, err := s.cats.CatalogSource(ctx, version)
	if err != nil {
		return nil, CatalogInfo{}, fmt.Errorf("catalog %q: %w", version, err)
	}
	cat, err := s.parseCached(info.Version, src)
	return cat, info, err
}

// ListCatalogs lists the stored versions, newest first.
func (s *Service) ListCatalogs(ctx context.Context) ([]CatalogInfo, error) {
	infos, err := s.cats.ListCatalogs(ctx)
	if err != nil {
		return nil, fmt.Errorf("list catalogs: %w", err)
	}
	return infos, nil
}

// DiffCatalogs lists what changed from one stored version to another.
func (s *Service) DiffCatalogs(ctx context.Context, from, to string) ([]Change, error) {
	a, _, err := s.CatalogVersion(ctx, from)
	if err != nil {
		return nil, err
	}
	b, _, err := s.CatalogVersion(ctx, to)
	if err != nil {
		return nil, err
	}
	return Diff(a, b), nil
}

// catalog returns the active catalog.
func (s *Service) catalog() *Catalog { return s.active.Load() }

// catalogVersion returns a version for explaining old decisions.
func (s *Service) catalogVersion(ctx context.Context, version string) (*Catalog, error) {
	if c, ok := s.cache.Load(version); ok {
		return c.(*Catalog), nil
	}
	cat, _, err := s.CatalogVersion(ctx, version)
	return cat, err
}

func (s *Service) parseCached(version string, src []byte) (*Catalog, error) {
	if c, ok := s.cache.Load(version); ok {
		return c.(*Catalog), nil
	}
	cat, err := ParseCatalog(src)
	if err != nil {
		return nil, fmt.Errorf("stored catalog %s no longer parses: %w", version, err)
	}
	s.cache.Store(version, cat)
	return cat, nil
}

// reloadActive loads the active version into memory if it changed.
func (s *Service) reloadActive(ctx context.Context) error {
	src, info, err := s.cats.CatalogSource(ctx, "")
	if err != nil {
		return fmt.Errorf("load the active catalog: %w", err)
	}
	if cur := s.active.Load(); cur != nil && cur.Version == info.Version {
		return nil
	}
	cat, err := s.parseCached(info.Version, src)
	if err != nil {
		return err
	}
	s.active.Store(cat)
	s.log.InfoContext(ctx, "routing by catalog", "version", cat.Version)
	s.logCoverage(ctx, cat)
	return nil
}

// installSeed stores the configured catalog unless its version is stored
// already, and activates it when no catalog is active yet.
func (s *Service) installSeed(ctx context.Context, seed *Catalog) error {
	if _, _, err := s.ImportCatalog(ctx, seed.Source, false, Actor{ID: "service:" + Name}); err != nil {
		return err
	}
	if _, _, err := s.cats.CatalogSource(ctx, ""); err == nil {
		if err := s.reloadActive(ctx); err != nil {
			return err
		}
		return s.announceTree(ctx) // again at each start: services that joined since learn it
	}
	_, err := s.ActivateCatalog(ctx, seed.Version, Actor{ID: "service:" + Name})
	return err
}
