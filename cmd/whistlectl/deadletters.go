package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/whistle-civic/whistle/cmd/internal/loop"
	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// deadLetterErrorWidth is how much of a dead letter's error the table shows;
// -o json shows all of it.
const deadLetterErrorWidth = 100

func deadLettersCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "dead-letters",
		Aliases: []string{"dlq"},
		Short:   "List, replay and discard the events the services' consumers gave up on (administrators)",
		Long: `dead-letters shows the dead-letter stream: events a service's consumer gave
up on — undecodable, failing ten times in a row, or waiting an hour for
earlier events — each with the error and how often it was tried. Nothing is
dropped silently: an event stays there until an administrator replays it
(once the cause is fixed: a bug, a missing catalog entry, a service that was
down) or discards it (with a reason, for the log).

A replay publishes the event again on its original subject, with its trace
context, so every consumer of its type receives it again; those that had
applied it find it in their inbox and change nothing.`,
	}
	cmd.AddCommand(deadLettersList(g), deadLettersReplay(g), deadLettersDiscard(g))
	return cmd
}

func deadLettersList(g *globals) *cobra.Command {
	var req whistlev1.ListDeadLettersRequest
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List dead letters, oldest first",
		Example: `  whistlectl dead-letters list
  whistlectl dead-letters list --consumer dispatch
  whistlectl dead-letters list --after 120 --page-size 100 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := inRange("page-size", req.PageSize, 1, 500); err != nil {
				return err
			}
			c, err := g.clients()
			if err != nil {
				return err
			}
			ctx, err := g.actCity(cmd.Context(), auth.RoleMonitor)
			if err != nil {
				return err
			}
			resp, err := c.DeadLetters.ListDeadLetters(ctx, &req)
			if err != nil {
				return fmt.Errorf("dead-letters list: %w", err)
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			var rows [][]string
			for _, dl := range resp.GetDeadLetters() {
				rows = append(rows, []string{strconv.FormatUint(dl.GetSeq(), 10), g.when(dl.GetDeadLetteredAt()), dl.GetConsumer(),
					dash(dl.GetEventType()), dash(dl.GetTicketId()), strconv.FormatUint(dl.GetDeliveries(), 10),
					dash(oneLine(dl.GetError(), deadLetterErrorWidth))})
			}
			if err := table(cmd.OutOrStdout(), "SEQ\tAT\tCONSUMER\tEVENT\tTICKET\tDELIVERIES\tERROR", rows); err != nil {
				return err
			}
			if next := resp.GetNextAfterSeq(); next != 0 {
				_, err := fmt.Fprintf(cmd.OutOrStdout(), "more: whistlectl dead-letters list --after %d (with the same filters)\n", next)
				return err
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Consumer, "consumer", "", `only this durable consumer's, e.g. "dispatch" (the CONSUMER column)`)
	f.Uint64Var(&req.AfterSeq, "after", 0, `start after this SEQ, as printed after "more:" by the previous page`)
	f.Int32Var(&req.PageSize, "page-size", 50, "dead letters per page, up to 500")
	return cmd
}

func deadLettersReplay(g *globals) *cobra.Command {
	var actorID string
	cmd := &cobra.Command{
		Use:   "replay <seq>",
		Short: "Publish a dead letter's event again on its original subject and remove it from the dead letters",
		Long: `replay publishes the event of a dead letter (by its SEQ in "dead-letters
list") again on its original subject, with its trace context, and removes it
from the dead letters. Fix the cause first: an event that fails again is
dead-lettered again, under a new SEQ. Every consumer of the event type
receives it; those that had applied it change nothing.`,
		Example: "  whistlectl dead-letters replay 42",
		Args:    exactlyOne("give the SEQ of the dead letter to replay (see `whistlectl dead-letters list`)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := asCityAdmin(cmd, g, args[0], actorID)
			if err != nil {
				return err
			}
			seq := a.seq
			resp, err := a.c.DeadLetters.ReplayDeadLetter(a.ctx, &whistlev1.ReplayDeadLetterRequest{Seq: seq, Actor: a.actor})
			if err != nil {
				return fmt.Errorf("dead-letters replay %d: %w", seq, err)
			}
			dl := resp.GetDeadLetter()
			return done(cmd, g, resp, "replayed dead letter %d (%s event %s) on %s; every consumer of it receives it again",
				seq, dash(dl.GetEventType()), dash(dl.GetEventId()), dl.GetSubject())
		},
	}
	cmd.Flags().StringVar(&actorID, "actor", "whistlectl", "your staff id, for the log")
	return cmd
}

func deadLettersDiscard(g *globals) *cobra.Command {
	var actorID, reason string
	cmd := &cobra.Command{
		Use:     "discard <seq> --reason <why>",
		Short:   "Remove a dead letter without replaying it",
		Example: `  whistlectl dead-letters discard 42 --reason "test traffic published by hand"`,
		Args:    exactlyOne("give the SEQ of the dead letter to discard (see `whistlectl dead-letters list`)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := asCityAdmin(cmd, g, args[0], actorID)
			if err != nil {
				return err
			}
			seq := a.seq
			resp, err := a.c.DeadLetters.DiscardDeadLetter(a.ctx, &whistlev1.DiscardDeadLetterRequest{Seq: seq,
				Actor: a.actor, Reason: reason})
			if err != nil {
				return fmt.Errorf("dead-letters discard %d: %w", seq, err)
			}
			dl := resp.GetDeadLetter()
			return done(cmd, g, resp, "discarded dead letter %d (%s event %s of %s)", seq, dash(dl.GetEventType()),
				dash(dl.GetEventId()), dl.GetConsumer())
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why the event is not to be applied, for the log")
	cmd.Flags().StringVar(&actorID, "actor", "whistlectl", "your staff id, for the log")
	_ = cmd.MarkFlagRequired("reason")
	return cmd
}

// adminCall is what replaying or discarding a dead letter needs: its
// sequence, the clients, and the city's administrator to act as.
type adminCall struct {
	seq   uint64
	c     loop.Clients
	ctx   context.Context
	actor *whistlev1.Actor
}

// asCityAdmin reads the dead letter's sequence from arg and prepares to act
// as the city's administrator; the actor acts for the org unit its token does.
func asCityAdmin(cmd *cobra.Command, g *globals, arg, actorID string) (adminCall, error) {
	seq, err := parseSeq(arg)
	if err != nil {
		return adminCall{}, err
	}
	c, err := g.clients()
	if err != nil {
		return adminCall{}, err
	}
	org, err := g.cityActor()
	if err != nil {
		return adminCall{}, err
	}
	ctx, err := g.actCity(cmd.Context(), auth.RoleAdmin)
	if err != nil {
		return adminCall{}, err
	}
	return adminCall{seq: seq, c: c, ctx: ctx, actor: &whistlev1.Actor{Id: actorID, OrgUnitId: org}}, nil
}

// parseSeq reads a dead letter's sequence.
func parseSeq(s string) (uint64, error) {
	seq, err := strconv.ParseUint(s, 10, 64)
	if err != nil || seq == 0 {
		return 0, fmt.Errorf("%q is not a dead letter's SEQ: give the number `whistlectl dead-letters list` shows", s)
	}
	return seq, nil
}

// oneLine puts s on one line, cut to width runes.
func oneLine(s string, width int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > width {
		return string(r[:width-1]) + "…"
	}
	return s
}
