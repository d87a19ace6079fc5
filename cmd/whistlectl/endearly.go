package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

func withdrawCommand(g *globals) *cobra.Command {
	var who actorFlags
	var reason string
	cmd := &cobra.Command{
		Use:   "withdraw <ticket>",
		Short: "Take a whistle back (撤回) until a department has accepted it",
		Long: `Take a whistle back for the unit that reported it (or a unit above it), with a
reason: the ticket becomes CANCELLED, leaves every inbox at once, and is
counted apart from closures. Once a department has accepted it, it can no
longer be withdrawn: ask the department, or judge its result when resolved.`,
		Example: `  whistlectl withdraw HH-20261126-00042 --reason "fixed by the residents themselves" --as xc-hd-dj-g01`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.clients()
			if err != nil {
				return err
			}
			ctx, id, err := g.actOn(cmd.Context(), c, args[0], auth.RoleReporter, who.orgUnit)
			if err != nil {
				return err
			}
			st, err := g.c.Withdraw(ctx, id, reason, who.proto())
			if err != nil {
				return fmt.Errorf("withdraw %s: %w", args[0], err)
			}
			return done(cmd, g, &whistlev1.WithdrawFromInboxResponse{TicketId: id, Status: st}, "withdrew %s (%s): %s",
				args[0], enumName(st), reason)
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why the whistle is taken back, for the timeline")
	_ = cmd.MarkFlagRequired("reason")
	who.add(cmd, "the unit that reported the ticket, or one above it")
	return cmd
}

func mergeCommand(g *globals) *cobra.Command {
	var who actorFlags
	var into, note string
	var across bool
	cmd := &cobra.Command{
		Use:   "merge <duplicate> --into <original>",
		Short: "Link a duplicate report to its original (同一事项); the matter counts once",
		Long: `Link a duplicate to its original, as a street officer (or above) of both
tickets' area, until a department has accepted the duplicate: it becomes
MERGED, its reporter follows the original's outcome (and may judge it with
their own evaluation code), and the figures count the matter once.
"whistlectl duplicates <ticket>" lists the likely originals.`,
		Example: `  whistlectl merge HH-20261126-00043 --into HH-20261126-00042 --note "the same pothole" --as xc-hd`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.clients()
			if err != nil {
				return err
			}
			ctx, dup, err := g.actOn(cmd.Context(), c, args[0], auth.RoleStreetOfficer, who.orgUnit)
			if err != nil {
				return err
			}
			original, err := g.ticketID(ctx, c, into, auth.RoleStreetOfficer, who.orgUnit)
			if err != nil {
				return err
			}
			st, err := g.c.Merge(ctx, dup, original, note, across, who.proto())
			if err != nil {
				return fmt.Errorf("merge %s into %s: %w", args[0], into, err)
			}
			return done(cmd, g, &whistlev1.MergeFromInboxResponse{TicketId: dup, Status: st}, "merged %s into %s (%s)",
				args[0], into, enumName(st))
		},
	}
	cmd.Flags().StringVar(&into, "into", "", "the original ticket (id or number)")
	cmd.Flags().StringVar(&note, "note", "", "why they are the same matter, for both timelines")
	cmd.Flags().BoolVar(&across, "across-matters", false, "allow an original of another matter type (a report filed under the wrong one)")
	_ = cmd.MarkFlagRequired("into")
	_ = cmd.MarkFlagRequired("note")
	who.add(cmd, "the street (or above) you act for; both tickets must lie in it")
	return cmd
}
