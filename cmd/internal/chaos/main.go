// Command chaos is Whistle's fault suite (`make chaos`): it runs the five
// services as separate processes on a real NATS server (or a three-node
// JetStream cluster) and a private PostgreSQL, drives a steady load of
// tickets through the whole loop, and meanwhile kills and restarts services,
// NATS and PostgreSQL. Once everything is back it checks that every accepted
// whistle was closed exactly once, and prints a table per scenario.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
}

// modes size the suite: short for CI (a few minutes), full for `make chaos`.
var modes = map[string]sizes{
	"short": {rate: 8, seconds: 20, kills: 1},
	"full":  {rate: 12, seconds: 60, kills: 3},
}

// sizes are a mode's load and number of faults.
type sizes struct {
	rate    float64 // tickets started a second
	seconds int     // of load per scenario
	kills   int     // rounds of faults per scenario
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	mode := fs.String("mode", "full", "short (CI: a few minutes) or full")
	only := fs.String("scenarios", "", "comma-separated scenarios to run (default all): "+strings.Join(scenarioNames(), ", "))
	keep := fs.Bool("keep", false, "keep each scenario's folder (logs, data) for inspection")
	if err := fs.Parse(args); err != nil {
		return err
	}
	sz, ok := modes[*mode]
	if !ok {
		return fmt.Errorf("-mode %q: use short or full", *mode)
	}
	work, err := os.MkdirTemp("", "wchaos-")
	if err != nil {
		return err
	}
	if !*keep {
		defer os.RemoveAll(work)
	}
	fmt.Fprintf(out, "chaos: building whistle and nats-server into %s\n", work)
	whistle, natsBin, err := build(ctx, work)
	if err != nil {
		return err
	}
	var rows []row
	for _, sc := range scenarios {
		if *only != "" && !strings.Contains(","+*only+",", ","+sc.name+",") {
			continue
		}
		fmt.Fprintf(out, "chaos: scenario %s: %s\n", sc.name, sc.what)
		r := runScenario(ctx, sc, sz, work, whistle, natsBin, out)
		rows = append(rows, r)
		if ctx.Err() != nil {
			break
		}
	}
	printTable(out, rows)
	for _, r := range rows {
		if r.err != nil || r.lost > 0 || r.duplicated > 0 || len(r.problems) > 0 {
			return errors.New("the promise did not hold: see the table and the problems above")
		}
	}
	return nil
}

// row is one scenario's line in the table.
type row struct {
	name              string
	tickets, faults   int
	lost, duplicated  int
	maxRecovery, took time.Duration
	problems          []string
	err               error
}

func printTable(out io.Writer, rows []row) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "\nSCENARIO\tTICKETS\tFAULTS\tLOST\tDUPLICATED\tMAX RECOVERY\tTOOK\tRESULT")
	for _, r := range rows {
		result := "ok"
		if r.err != nil || r.lost > 0 || r.duplicated > 0 || len(r.problems) > 0 {
			result = "FAILED"
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\n", r.name, r.tickets, r.faults, r.lost, r.duplicated,
			r.maxRecovery.Round(100*time.Millisecond), r.took.Round(time.Second), result)
	}
	_ = w.Flush()
}
