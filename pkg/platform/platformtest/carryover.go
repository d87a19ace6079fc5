package platformtest

import (
	"context"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/inbox"
	"github.com/whistle-civic/whistle/pkg/pgtest"
	"github.com/whistle-civic/whistle/pkg/platform"
	"github.com/whistle-civic/whistle/pkg/postgres"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// CarryOver checks that the service's migration file carries the inbox of
// the consumers c replaces over to c: an event one of them recorded before
// the migration, or records after it (a replica of the previous version,
// during a rolling update), is a duplicate to c, and one c recorded is a
// duplicate to them.
func CarryOver(t *testing.T, schema string, migrations fs.FS, c platform.Consumer, file string) {
	t.Helper()
	if len(c.Replaces) == 0 {
		t.Fatalf("consumer %s replaces none", c.Name)
	}
	ctx := context.Background()
	db := pgtest.Open(t, schema, Before(t, migrations, file))
	applied := 0
	apply := func(context.Context, *whistlev1.Event) (ticket.Decision, error) { applied++; return ticket.Apply, nil }
	process := func(consumer string, ev *whistlev1.Event, want string) {
		t.Helper()
		before := applied
		p := &inbox.Processor{DB: db, Consumer: consumer, Apply: apply}
		got, err := p.Process(ctx, ev)
		if err != nil {
			t.Fatalf("%s: %v", consumer, err)
		}
		if got != want || (applied > before) != (want == inbox.OutcomeApplied) {
			t.Fatalf("%s, event %s: outcome %q (applied %d times); want %q", consumer, ev.GetEventId(), got, applied-before, want)
		}
	}
	event := func() *whistlev1.Event {
		return events.MustNew(events.Meta{TicketID: ids.New(), Version: 1, OccurredAt: time.Now(), Producer: "test"}, &whistlev1.TicketClosed{})
	}
	var earlier []*whistlev1.Event
	for _, former := range c.Replaces {
		ev := event()
		process(former, ev, inbox.OutcomeApplied)
		earlier = append(earlier, ev)
	}
	if err := postgres.Migrate(ctx, db, migrations, nil); err != nil {
		t.Fatal(err)
	}
	for _, ev := range earlier {
		process(c.Name, ev, inbox.OutcomeDuplicate)
	}
	for _, former := range c.Replaces {
		ev := event()
		process(former, ev, inbox.OutcomeApplied)
		process(c.Name, ev, inbox.OutcomeDuplicate)
		ev = event()
		process(c.Name, ev, inbox.OutcomeApplied)
		process(former, ev, inbox.OutcomeDuplicate)
	}
	ev := event()
	process(c.Name, ev, inbox.OutcomeApplied)
	process("someone-else", ev, inbox.OutcomeApplied)
}

// Before returns the migrations of fsys whose names sort before file, which
// must be one of them.
func Before(t *testing.T, fsys fs.FS, file string) fs.FS {
	t.Helper()
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		t.Fatal(err)
	}
	out, found := fstest.MapFS{}, false
	for _, e := range entries {
		found = found || e.Name() == file
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") || e.Name() >= file {
			continue
		}
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = &fstest.MapFile{Data: b}
	}
	if !found {
		t.Fatalf("no migration %s", file)
	}
	return out
}
