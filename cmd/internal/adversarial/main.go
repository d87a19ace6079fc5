// Command adversarial is Whistle's hostile caller's suite (`make
// adversarial`). It builds whistle, starts a real `whistle dev` (its
// in-process NATS, a fresh database on the PostgreSQL at 127.0.0.1:5432 or
// dev's private one), sets tickets up through the API, and then plays
// against it: every RPC of the policy table as every role, in scope and out
// of it, without a token, for an org unit that is not in the tree, naming
// another acting unit or none; forged verdicts; personal data; bad input;
// rate limits; forged tokens; anonymous NATS; and the audit log of all it
// did, dead letters replayed and discarded included (made on a second,
// short-lived dev whose NATS the suite runs itself). Each row says what it expected and what came back; the suite prints
// the failures, a count per check and "N passed, M failed", and exits
// non-zero on any failure.
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
	"time"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	signal.Ignore(syscall.SIGPIPE) // output piped into head: still stop dev and drop the database
	failed, err := run(ctx, os.Args[1:], os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "adversarial:", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

// check is one of the suite's checks, in the order they run: those that
// flood or poison come last.
type check struct {
	group string
	run   func(w *world, ctx context.Context, rep *report)
}

var checks = []check{
	{gPolicy, (*world).runPolicy},
	{gGhost, (*world).runGhost},
	{gPersonal, (*world).runPersonal},
	{gInput, (*world).runBadInput},
	{gVerdict, (*world).runVerdicts},
	{gToken, (*world).runTokens},
	{gRate, (*world).runRateLimits},
	{gAudit, (*world).runAudit},
	{gNATS, (*world).runNATS},
}

func run(ctx context.Context, args []string, out io.Writer) (bool, error) {
	fs := flag.NewFlagSet("adversarial", flag.ContinueOnError)
	pgURL := fs.String("postgres", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
		"PostgreSQL server to make a fresh database on (dev's private one when it does not answer)")
	only := fs.String("checks", "", "comma-separated check numbers to run (default all), e.g. 1,3")
	verbose := fs.Bool("v", false, "print every row, not only the failures")
	keep := fs.Bool("keep", false, "keep the work folder (the devs' data and logs)")
	if err := fs.Parse(args); err != nil {
		return false, err
	}
	began := time.Now()
	work, err := os.MkdirTemp("", "whistle-adversarial-")
	if err != nil {
		return false, err
	}
	if !*keep {
		defer os.RemoveAll(work)
	}
	progress(out, "building whistle into %s", work)
	bin, err := buildWhistle(ctx, work)
	if err != nil {
		return false, err
	}
	launch := launcher{bin: bin, work: work, pgURL: *pgURL, out: out}
	d, err := launch.start(ctx, "whistle dev", "")
	defer d.stop(out)
	if err != nil {
		return false, err
	}
	w, err := newWorld(d, out)
	if err != nil {
		return false, err
	}
	defer w.close()
	w.launch = launch
	if err := w.prepare(ctx); err != nil {
		return false, fmt.Errorf("%w (dev's log: %s; rerun with -keep to keep it)", err, d.log)
	}
	rep := &report{out: out, verbose: *verbose}
	for _, c := range checks {
		if *only != "" && !strings.Contains(","+*only+",", ","+strings.Fields(c.group)[0]+",") {
			continue
		}
		if ctx.Err() != nil {
			return true, errors.New("interrupted")
		}
		progress(out, "check %s", c.group)
		c.run(w, ctx, rep)
	}
	rep.print(time.Since(began))
	return rep.count(failed) > 0, nil
}

// prepare reads the active catalog and sets the tickets up.
func (w *world) prepare(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	cat, err := w.c.Dispatch.GetCatalog(w.admin(cctx), &whistlev1.GetCatalogRequest{})
	cancel()
	if err != nil {
		return fmt.Errorf("read the active catalog as admin: %w", err)
	}
	w.catalog, w.units = cat, map[string]bool{}
	for _, u := range cat.GetOrgUnits() {
		w.units[u.GetId()] = true
	}
	for _, d := range cat.GetDepartments() {
		w.units[d.GetId()] = true
	}
	w.runID = fmt.Sprintf("%d", time.Now().UnixNano())
	progress(w.out, "setting up %d tickets through the API", len(plans()))
	start := time.Now()
	if err := w.setUp(ctx, w.runID); err != nil {
		return err
	}
	progress(w.out, "set up in %s", time.Since(start).Round(100*time.Millisecond))
	return nil
}

// key returns a fresh idempotency key.
func (w *world) key() string {
	return fmt.Sprintf("adv-%s-%d", w.runID, w.seq.Add(1))
}
