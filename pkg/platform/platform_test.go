package platform_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/whistle-civic/whistle/pkg/bus"
	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/inbox"
	"github.com/whistle-civic/whistle/pkg/pgtest"
	"github.com/whistle-civic/whistle/pkg/platform"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func newEvent(t *testing.T, typ string) *whistlev1.Event {
	t.Helper()
	m := events.Meta{TicketID: "0190a4c8-0000-7000-8000-000000000001", TicketNumber: "W-1", Version: 1, OccurredAt: time.Now(), Producer: "test"}
	var ev *whistlev1.Event
	var err error
	switch typ {
	case events.Closed:
		ev, err = events.New(m, &whistlev1.TicketClosed{})
	case events.Escalated:
		ev, err = events.New(m, &whistlev1.TicketEscalated{})
	default:
		ev, err = events.New(m, &whistlev1.TicketAccepted{})
	}
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestRouteAppliesByEventType(t *testing.T) {
	var got []string
	effect := func(name string) inbox.ApplyFunc {
		return func(_ context.Context, ev *whistlev1.Event) (ticket.Decision, error) {
			got = append(got, name+":"+events.TypeOf(ev))
			return ticket.Apply, nil
		}
	}
	types, apply := platform.Route(map[string]inbox.ApplyFunc{events.Escalated: effect("supervise"), events.Closed: effect("finish")})
	if !slices.Equal(types, []string{events.Closed, events.Escalated}) {
		t.Fatalf("types %v; want closed and escalated, sorted", types)
	}
	for _, typ := range []string{events.Escalated, events.Closed} {
		if d, err := apply(context.Background(), newEvent(t, typ)); d != ticket.Apply || err != nil {
			t.Fatalf("%s: %v, %v", typ, d, err)
		}
	}
	if want := []string{"supervise:escalated", "finish:closed"}; !slices.Equal(got, want) {
		t.Fatalf("applied %v; want %v", got, want)
	}
	if _, err := apply(context.Background(), newEvent(t, events.Accepted)); !bus.IsPoison(err) {
		t.Fatalf("an accepted event: %v; want a poison error", err)
	}
}

// TestInboxCarryOver: with the carry-over trigger on a former consumer's
// name, an event either consumer recorded first is a duplicate to the other.
func TestInboxCarryOver(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t, "svc", nil)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `CREATE TRIGGER inbox_carry_over BEFORE INSERT ON inbox FOR EACH ROW
		WHEN (NEW.consumer IN ('svc-old')) EXECUTE FUNCTION inbox_carry_over('svc')`); err != nil {
		t.Fatal(err)
	}
	applied := 0
	apply := func(context.Context, *whistlev1.Event) (ticket.Decision, error) { applied++; return ticket.Apply, nil }
	merged := &inbox.Processor{DB: db, Consumer: "svc", Apply: apply}
	former := &inbox.Processor{DB: db, Consumer: "svc-old", Apply: apply}
	other := &inbox.Processor{DB: db, Consumer: "other", Apply: apply}
	for _, tc := range []struct {
		name          string
		first, second *inbox.Processor
		want          string
	}{
		{"former first", former, merged, inbox.OutcomeDuplicate},
		{"merged first", merged, former, inbox.OutcomeDuplicate},
		{"another consumer", merged, other, inbox.OutcomeApplied},
	} {
		ev := newEvent(t, events.Closed)
		applied = 0
		if outcome, err := tc.first.Process(ctx, ev); outcome != inbox.OutcomeApplied || err != nil {
			t.Fatalf("%s: first %q, %v", tc.name, outcome, err)
		}
		outcome, err := tc.second.Process(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		wantApplied := 1
		if tc.want == inbox.OutcomeApplied {
			wantApplied = 2
		}
		if outcome != tc.want || applied != wantApplied {
			t.Errorf("%s: second %q, applied %d times; want %q, %d", tc.name, outcome, applied, tc.want, wantApplied)
		}
	}
}
