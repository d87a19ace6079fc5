package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/whistle-civic/whistle/pkg/auth"

	"github.com/whistle-civic/whistle/cmd/internal/loop"
)

func smokeCommand(g *globals) *cobra.Command {
	var o loop.Options
	cmd := &cobra.Command{
		Use:   "smoke",
		Short: "Push synthetic tickets through the whole loop and check every one closes",
		Long: `smoke reports --tickets synthetic whistles and, acting as each ticket's
department and evaluator, accepts, resolves and evaluates them (a share
--unsatisfied once, to exercise rework), until monitoring shows them closed.
It prints progress every second and ends with
  smoke: N reported, C closed, S stuck
and exits 0 only if every ticket closed. Synthetic tickets stay out of
official figures.

It acts as each ticket's reporter (its grid), department handler, community
officer and the city's monitor in turn, so it needs the signing key to mint
their tokens (--signing-key, or the config "whistle dev" writes) and the
city's org unit (--city): no single token can act as all of them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Tickets < 1 {
				return errors.New("--tickets must be at least 1")
			}
			if o.Unsatisfied < 0 || o.Unsatisfied > 1 {
				return errors.New("--unsatisfied is a share, from 0 to 1")
			}
			if !g.creds.minting() {
				return errors.New("smoke acts as reporter, department handler, community officer and city monitor in turn, which no " +
					"single token can: give it the signing key (--signing-key, WHISTLE_SIGNING_KEY, or the config `whistle dev` writes: " +
					"whistlectl --config <data>/whistlectl.yaml smoke)")
			}
			if _, err := g.actCity(cmd.Context(), auth.RoleMonitor); err != nil { // the key loads, the city is known
				return err
			}
			c, err := g.clients()
			if err != nil {
				return err
			}
			o.Synthetic, o.Progress, o.Seed = true, cmd.ErrOrStderr(), uint64(time.Now().UnixNano())
			o.As, o.City = g.as, g.city
			res, err := loop.Run(cmd.Context(), c, o)
			if err != nil {
				return err
			}
			if err := g.asError(); err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "smoke: could not mint a token:", err)
			}
			for _, f := range res.Failures {
				fmt.Fprintln(cmd.ErrOrStderr(), "smoke: failed:", f)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s (%s, %.1f tickets/s)\n", res.Summary(), res.Took.Round(time.Millisecond),
				float64(res.Closed)/res.Took.Seconds())
			if res.Closed != o.Tickets {
				return fmt.Errorf("%d of %d tickets did not close within %s: see the failures above, and `whistlectl show <ticket>`",
					o.Tickets-res.Closed, o.Tickets, o.Timeout)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Tickets, "tickets", 50, "how many tickets to push through")
	f.IntVar(&o.Concurrency, "concurrency", 16, "tickets in flight at once")
	f.Float64Var(&o.Unsatisfied, "unsatisfied", 0.1, "share of tickets judged unsatisfied once (then reworked)")
	f.DurationVar(&o.Timeout, "timeout", 2*time.Minute, "give up on tickets not closed by then")
	return cmd
}
