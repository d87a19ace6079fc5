package bench

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/whistle-civic/whistle/pkg/pgtest"
)

// TestReferenceFloors runs each reference floor for a second on a real
// PostgreSQL and JetStream (as `whistle dev` runs it, the floor logged in
// as its own user): every ticket it started is done with no error, each
// made its steps' rows, messages and inbox rows (kept) or left no table
// and no stream behind (the default).
func TestReferenceFloors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		floor    string
		keep     bool
		inFlight int
	}{
		{RefNaive, false, NaiveInFlight},
		{RefNaive, true, NaiveInFlight},
		{RefBatched, false, BatchedInFlight},
		{RefBatched, true, BatchedInFlight},
	}
	for _, tc := range tests {
		name := tc.floor + "/cleaned up"
		if tc.keep {
			name = tc.floor + "/kept and counted"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env, asFloor := floorEnv(t)
			d := &Deployment{DatabaseURL: pgtest.NewDatabase(t), NATSURL: env.Config.URL, NATSOptions: asFloor}
			o := Options{FloorDuration: time.Second, Drain: 30 * time.Second, RunID: "rtest"}
			rep, err := RunReferenceFloor(context.Background(), d, o, tc.floor, FloorOptions{Keep: tc.keep})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Done == 0 || rep.Done != rep.Started || rep.Stuck != 0 || len(rep.Errors) > 0 {
				t.Fatalf("%d started, %d done, %d stuck, errors %v: want tickets, every one done", rep.Started, rep.Done, rep.Stuck, rep.Errors)
			}
			// How many finish within the second depends on the machine's load (a loaded CI machine may finish
			// none before the drain): the rate must be what finished in the window, over the window.
			if rep.Name != tc.floor || rep.InFlight != tc.inFlight || rep.StepsPerTicket != ReferenceSteps ||
				rep.DoneInWindow > rep.Done || rep.TicketsPerSecond != float64(rep.DoneInWindow)/o.FloorDuration.Seconds() {
				t.Fatalf("report %s: %d in flight, %d steps, %.1f tickets/s from %d of %d done in the window", rep.Name, rep.InFlight,
					rep.StepsPerTicket, rep.TicketsPerSecond, rep.DoneInWindow, rep.Done)
			}
			checkReferenceStages(t, rep)
			if _, ok := rep.CPUMsPerTicket["bench"]; !ok {
				t.Errorf("no CPU ms/ticket of the bench in %v", rep.CPUMsPerTicket)
			}
			if tc.floor == RefBatched && (len(rep.Batches) != 2 || rep.Batches[0].Max < 2 || rep.Batches[1].Max < 2) {
				t.Errorf("batches %+v: want steps and messages grouped", rep.Batches)
			}
			js := jetStream(t, env, asFloor)
			if tc.keep {
				checkReferenceRows(t, d.DatabaseURL, rep.Done)
				checkPublishes(t, js, rep.Done, ReferenceSteps)
				return
			}
			checkCleanedUp(t, d.DatabaseURL, js)
		})
	}
}

// checkReferenceStages wants one ordered sample per step or ticket.
func checkReferenceStages(t *testing.T, rep *ReferenceFloorReport) {
	t.Helper()
	for name, count := range map[string]int{RefStageCommit: rep.Done * ReferenceSteps, RefStagePublish: rep.Done * ReferenceSteps,
		RefStageConsume: rep.Done * ReferenceSteps, RefStageStep: rep.Done * ReferenceSteps, RefStageTicket: rep.Done} {
		s, ok := rep.Stage(name)
		if !ok || s.Count != count || !(s.P50 <= s.P99 && s.P99 <= s.Max) {
			t.Errorf("stage %q %+v: want %d ordered samples", name, s, count)
		}
	}
}

// checkReferenceRows counts each ticket's step rows and inbox rows: one of
// each per step.
func checkReferenceRows(t *testing.T, url string, tickets int) {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var n, bad int
	err = pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE s.steps <> $1 OR s.distinct_steps <> $1 OR i.msgs IS DISTINCT FROM $1)
		FROM (SELECT ticket, count(*) AS steps, count(DISTINCT step) AS distinct_steps FROM `+FloorSchema+`.steps GROUP BY ticket) s
		LEFT JOIN (SELECT ticket, count(*) AS msgs FROM `+FloorSchema+`.inbox GROUP BY ticket) i USING (ticket)`, ReferenceSteps).Scan(&n, &bad)
	if err != nil {
		t.Fatal(err)
	}
	if n != tickets || bad != 0 {
		t.Fatalf("%d tickets with rows (%d without %d steps and %d inbox rows each), want %d", n, bad, ReferenceSteps, ReferenceSteps, tickets)
	}
}

// checkCleanedUp wants neither the floors' schema nor their stream.
func checkCleanedUp(t *testing.T, url string, js jetstream.JetStream) {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var schemas int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_namespace WHERE nspname = $1`, FloorSchema).Scan(&schemas); err != nil {
		t.Fatal(err)
	}
	if schemas != 0 {
		t.Errorf("schema %s left behind", FloorSchema)
	}
	if _, err := js.Stream(ctx, FloorStream); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("stream %s: %v, want it gone", FloorStream, err)
	}
}

func TestReferenceFloorByName(t *testing.T) {
	t.Parallel()
	d := &Deployment{DatabaseURL: "postgres://unused", NATSURL: "nats://unused"}
	if _, err := RunReferenceFloor(context.Background(), d, Options{}, "clever", FloorOptions{}); err == nil {
		t.Fatal("an unknown reference floor ran")
	}
	if _, err := RunReferenceFloor(context.Background(), &Deployment{}, Options{}, RefNaive, FloorOptions{}); err == nil {
		t.Fatal("a reference floor ran without PostgreSQL and NATS")
	}
}
