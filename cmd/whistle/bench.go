package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/whistle-civic/whistle/cmd/internal/bench"
)

func benchCommand() *cobra.Command {
	var (
		o        bench.Options
		t        bench.Target
		noFloor  bool
		refs     bool
		jsonPath string
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load the whole loop at a steady rate and measure it against the floor",
		Long: `bench drives the whole loop: simulated communities report synthetic tickets at
--rate a second for --duration (an open model: arrivals never wait for
completions; --rate 0 reports as fast as --concurrency reporters can, each
waiting for its ticket to close), simulated departments accept, assist and
resolve what reaches their inboxes, and simulated communities judge each
result (--unsatisfied of them unsatisfied once, to exercise rework). Then
it drains (up to --drain) and prints the throughput, each stage's latency,
the errors by gRPC code, and the CPU time and memory of whistle dev, its
PostgreSQL and itself; and it writes the same as JSON (--json).

It then runs the floor: the same number of PostgreSQL commits, JetStream
publishes and consumes per ticket as the loop did (counted in the services'
outbox and inbox tables), with no business logic, on the same servers, and
prints every loop figure also as a ratio to the floor (docs/performance.md).

Then the two reference floors, fixed work on the same servers for
--floor-duration each: tickets of 6 steps (a row committed, a message
published and acked, consumed into an inbox table), done one by one by 64
tickets in flight ("naive"), and group-committed by 256 ("batched"); the
loop's throughput is printed as a ratio to each. --reference-only runs just
those two; --no-floor skips every floor.

Without --addr, --data or --config it starts a fresh whistle dev on a
temporary folder and stops it at the end. --data uses a running whistle dev
(its endpoints.json and whistlectl.yaml); --addr with --config (or
--signing-key and --city) any deployment, with --database-url and --nats-url
for the work per ticket and the floor (which logs in to that NATS with the
WHISTLE_NATS_* credentials: a user allowed the floor's own subjects).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			if t.NATS, err = cfg.natsBus(); err != nil { // the floor's user on a deployment's NATS
				return err
			}
			o.Floor = !noFloor
			// The reference floors run with the loop unless asked otherwise;
			// --floor-only runs them only when asked; --no-floor runs none.
			o.ReferenceFloors = refs && !noFloor && !o.ReferenceOnly && (!o.FloorOnly || cmd.Flags().Changed("reference-floors"))
			if noFloor && o.ReferenceOnly {
				return errors.New("--reference-only runs only the reference floors, and --no-floor none: pass one")
			}
			t.Dev = t.Dev || (t.Addr == "" && t.Data == "" && t.Config == "")
			return runBench(cmd, o, t, jsonPath)
		},
	}
	f := cmd.Flags()
	f.Float64Var(&o.Rate, "rate", 20, "tickets reported a second (open model); 0: as fast as --concurrency reporters can")
	f.IntVar(&o.Concurrency, "concurrency", 16, "reporters when --rate is 0")
	f.DurationVar(&o.Duration, "duration", time.Minute, "how long tickets arrive (the measured window)")
	f.DurationVar(&o.Drain, "drain", time.Minute, "how long tickets still in flight may take to close afterwards")
	f.Float64Var(&o.Unsatisfied, "unsatisfied", 0.1, "share of tickets judged unsatisfied once (then reworked)")
	f.Uint64Var(&o.Seed, "seed", uint64(time.Now().UnixNano()), "seed of the matters, grids and verdicts drawn")
	f.BoolVar(&noFloor, "no-floor", false, "skip every floor (the floor and the reference floors)")
	f.BoolVar(&o.FloorOnly, "floor-only", false, "run only the floor, with --floor-commits, --floor-publishes, --floor-consumes per ticket")
	f.BoolVar(&refs, "reference-floors", true, "also run the two reference floors, naive and batched, for --floor-duration each "+
		"(with --floor-only only when given; --reference-floors=false skips them)")
	f.BoolVar(&o.ReferenceOnly, "reference-only", false, "run only the two reference floors (no loop, no floor)")
	f.DurationVar(&o.FloorDuration, "floor-duration", 0, "how long each floor's tickets arrive (default --duration)")
	f.IntVar(&o.FloorWork.Commits, "floor-commits", bench.DefaultFloorWork.Commits, "with --floor-only: PostgreSQL commits per ticket")
	f.IntVar(&o.FloorWork.Publishes, "floor-publishes", bench.DefaultFloorWork.Publishes, "with --floor-only: JetStream publishes per ticket")
	f.IntVar(&o.FloorWork.Consumes, "floor-consumes", bench.DefaultFloorWork.Consumes, "with --floor-only: consumes per ticket")
	f.StringVar(&jsonPath, "json", "", "write the report as JSON to this file (default bench-<time>.json)")
	f.BoolVar(&t.Dev, "dev", false, "start a fresh whistle dev for the run (the default without --addr, --data or --config)")
	f.BoolVar(&t.KeepData, "keep", false, "keep the fresh whistle dev's data folder (its log: dev.log)")
	f.StringVar(&t.Data, "data", "", "data folder of a running whistle dev to drive")
	f.StringVar(&t.Addr, "addr", "", "gRPC address of the deployment to drive")
	f.StringVar(&t.Config, "config", "", "whistlectl config file: addr, signing_key, city, tls, ca_file")
	f.StringVar(&t.SigningKey, "signing-key", "", "private JWK to mint each simulated principal's token with")
	f.StringVar(&t.City, "city", "", "the city's root org unit")
	f.StringVar(&t.DatabaseURL, "database-url", "", "the deployment's PostgreSQL, for the work per ticket and the floor")
	f.StringVar(&t.NATSURL, "nats-url", "", "the deployment's NATS, for the floor")
	return cmd
}

// runBench opens the target, runs, prints the table and writes the JSON.
func runBench(cmd *cobra.Command, o bench.Options, t bench.Target, jsonPath string) error {
	ctx := cmd.Context()
	if err := o.Validate(); err != nil {
		return err
	}
	if t.Dev {
		fmt.Fprintln(cmd.ErrOrStderr(), "bench: starting a fresh whistle dev")
	}
	d, err := bench.Open(ctx, t)
	if err != nil {
		return err
	}
	defer d.Close()
	o.Progress, o.Terminal = cmd.ErrOrStderr(), isTerminal(os.Stderr)
	rep, err := bench.Run(ctx, d, o)
	if err != nil {
		return err
	}
	if err := rep.WriteTable(cmd.OutOrStdout()); err != nil {
		return err
	}
	if jsonPath == "" {
		jsonPath = "bench-" + rep.Started.Format("20060102T150405") + ".json"
	}
	if err := rep.WriteJSON(jsonPath); err != nil {
		return err
	}
	fmt.Fprintln(cmd.ErrOrStderr(), "bench: report written to", jsonPath)
	if rep.Loop != nil && rep.Loop.Stuck > 0 {
		return fmt.Errorf("%d of %d tickets did not close within --drain %s: see the errors above (a longer --drain or a lower --rate may help)",
			rep.Loop.Stuck, rep.Loop.Reported, o.Drain)
	}
	for _, f := range rep.ReferenceFloors {
		if f.Stuck > 0 {
			return fmt.Errorf("the %s floor: %d of %d tickets were not done within --drain %s: see its errors above",
				f.Name, f.Stuck, f.Started, o.Drain)
		}
	}
	return nil
}

// isTerminal reports whether f is a terminal (the progress line then
// rewrites itself).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
