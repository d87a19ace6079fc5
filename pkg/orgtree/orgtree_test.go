package orgtree_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/fstest"
	"time"

	"github.com/whistle-civic/whistle/pkg/events"
	"github.com/whistle-civic/whistle/pkg/eventually"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/inbox"
	"github.com/whistle-civic/whistle/pkg/orgtree"
	"github.com/whistle-civic/whistle/pkg/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func tree(version string, units ...[3]string) *whistlev1.Event {
	t := &whistlev1.OrgTree{CatalogVersion: version}
	for _, u := range units {
		t.Units = append(t.Units, &whistlev1.OrgNode{Id: u[0], ParentId: u[1], Level: u[2]})
	}
	return events.MustNew(events.Meta{OccurredAt: time.Now(), Producer: "dispatch"}, t)
}

func TestTreeFollowsTheAnnouncements(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t, "intake", fstest.MapFS{"00001_none.sql": {Data: []byte("-- +goose Up\nSELECT 1;\n-- +goose Down\nSELECT 1;\n")}})
	tr := orgtree.New(db)
	ctx := context.Background()
	if _, err := tr.Path(ctx, "xc-hd"); !errors.Is(err, orgtree.ErrNotYetKnown) {
		t.Fatalf("path before any tree: %v", err)
	}
	p := &inbox.Processor{DB: db, Consumer: "intake-org", Apply: tr.Apply}
	for _, ev := range []*whistlev1.Event{
		tree("v1", [3]string{"hh", "", "city"}, [3]string{"xc", "hh", "district"}, [3]string{"xc-hd", "xc", "street"},
			[3]string{"xc-hd-g1", "xc-hd", "grid"}, [3]string{"xc-urban", "xc", "department"}),
	} {
		if _, err := p.Process(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		id   string
		path []string
	}{
		{"xc-hd-g1", []string{"xc-hd-g1", "xc-hd", "xc", "hh"}},
		{"xc-urban", []string{"xc-urban", "xc", "hh"}},
		{"hh", []string{"hh"}},
		{"nowhere", nil},
	} {
		if got, err := tr.Path(ctx, tc.id); err != nil || !slices.Equal(got, tc.path) {
			t.Errorf("path of %s: %v %v, want %v", tc.id, got, err, tc.path)
		}
	}
	for id, want := range map[string]string{"xc-hd-g1": "grid", "xc-urban": "department", "xc-hd": "street", "hh": "city"} {
		if got, err := tr.Level(ctx, id); err != nil || got != want {
			t.Errorf("level of %s: %q %v, want %s", id, got, err, want)
		}
	}
	if _, err := tr.Level(ctx, "nowhere"); !errors.Is(err, orgtree.ErrUnknownUnit) {
		t.Errorf("level of a unit not in the tree: %v, want ErrUnknownUnit", err)
	}
	if root, err := tr.Root(ctx); err != nil || root != "hh" {
		t.Fatalf("root: %q %v", root, err)
	}
	under, err := tr.Under(ctx, "xc")
	slices.Sort(under)
	if err != nil || !slices.Equal(under, []string{"xc", "xc-hd", "xc-hd-g1", "xc-urban"}) {
		t.Fatalf("under xc: %v %v", under, err)
	}
	// A new catalog replaces the tree.
	if _, err := p.Process(ctx, tree("v2", [3]string{"hh", "", "city"}, [3]string{"xc-hd", "hh", "street"})); err != nil {
		t.Fatal(err)
	}
	if got, _ := tr.Path(ctx, "xc-hd"); !slices.Equal(got, []string{"xc-hd", "hh"}) {
		t.Fatalf("path after v2: %v", got)
	}
	if got, _ := tr.Path(ctx, "xc-urban"); got != nil {
		t.Fatalf("a unit v2 dropped still has a path: %v", got)
	}
}

// A unit that is not in the tree is known nowhere: Under refuses it (so it
// never reads as "no limit"), and a unit a newer catalog removed goes the
// same way, at once in the replica that stores the new tree and within
// MaxAge in another.
func TestUnknownUnitsYieldNothing(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t, "monitoring", fstest.MapFS{"00001_none.sql": {Data: []byte("-- +goose Up\nSELECT 1;\n-- +goose Down\nSELECT 1;\n")}})
	tr, other := orgtree.New(db), orgtree.New(db)
	other.MaxAge = time.Millisecond
	ctx := context.Background()
	if _, err := tr.Known(ctx, "hh"); !errors.Is(err, orgtree.ErrNotYetKnown) {
		t.Fatalf("known before any tree: %v", err)
	}
	p := &inbox.Processor{DB: db, Consumer: "monitoring-org", Apply: tr.Apply}
	if _, err := p.Process(ctx, tree("v1", [3]string{"hh", "", "city"}, [3]string{"xc", "hh", "district"},
		[3]string{"xc-hd", "xc", "street"})); err != nil {
		t.Fatal(err)
	}
	for _, tr := range []*orgtree.Tree{tr, other} {
		if ok, err := tr.Known(ctx, "xc-hd"); err != nil || !ok {
			t.Fatalf("xc-hd known: %v %v", ok, err)
		}
		for _, ghost := range []string{"ghost", "", "xc-hd-ghost"} {
			if ok, err := tr.Known(ctx, ghost); err != nil || ok {
				t.Errorf("%q known: %v %v, want false", ghost, ok, err)
			}
			if under, err := tr.Under(ctx, ghost); !errors.Is(err, orgtree.ErrUnknownUnit) || under != nil {
				t.Errorf("under %q: %v %v, want ErrUnknownUnit", ghost, under, err)
			}
		}
	}
	if _, err := p.Process(ctx, tree("v2", [3]string{"hh", "", "city"}, [3]string{"xc", "hh", "district"})); err != nil {
		t.Fatal(err)
	}
	if ok, _ := tr.Known(ctx, "xc-hd"); ok {
		t.Fatal("the replica that stored v2 still knows xc-hd, which v2 removed")
	}
	if _, err := tr.Under(ctx, "xc-hd"); !errors.Is(err, orgtree.ErrUnknownUnit) {
		t.Fatalf("under a removed unit: %v", err)
	}
	eventually.True(t, "another replica to forget xc-hd, which v2 removed", func() bool {
		known, _ := other.Known(ctx, "xc-hd")
		return !known
	})
}
