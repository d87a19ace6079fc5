package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ids"
)

func returnCommand(g *globals) *cobra.Command {
	var who actorFlags
	var reason, note string
	cmd := &cobra.Command{
		Use:     "return <ticket>",
		Short:   "Return an assignment that is not your department's (退单), with a reason",
		Example: `  whistlectl return HH-20261127-00003 --reason not-our-jurisdiction --note "a private road" --as xc-urban`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := parseEnum(whistlev1.ReturnReason(0).Descriptor(), "reason", reason)
			if err != nil {
				return err
			}
			c, err := g.clients()
			if err != nil {
				return err
			}
			ctx, id, err := g.actOn(cmd.Context(), c, args[0], auth.RoleDepartmentHandler, who.orgUnit)
			if err != nil {
				return err
			}
			resp, err := c.Response.Return(ctx, &whistlev1.ReturnRequest{TicketId: id, ReasonCode: whistlev1.ReturnReason(r),
				Note: note, Actor: who.proto(), RequestId: ids.New()})
			if err != nil {
				return fmt.Errorf("return %s: %w", args[0], err)
			}
			return done(cmd, g, resp, "returned %s; dispatch re-routes it or sends it to arbitration", resp.GetItem().GetTicketNumber())
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "not-our-jurisdiction, unclear-ownership, overlapping-duties or insufficient-information")
	cmd.Flags().StringVar(&note, "note", "", "explain the reason")
	_ = cmd.MarkFlagRequired("reason")
	_ = cmd.MarkFlagRequired("note")
	who.add(cmd, "the department you act for (the ticket's lead department)")
	return cmd
}

func progressCommand(g *globals) *cobra.Command {
	var who actorFlags
	var note string
	var pause, resume bool
	var attach []string
	cmd := &cobra.Command{
		Use:   "progress <ticket>",
		Short: "Add a progress note; --pause stops the resolve clock while you wait on others, --resume restarts it",
		Example: `  whistlectl progress HH-20261127-00003 --note "waiting for the resident to open the flat" --pause --as xc-housing
  whistlectl progress HH-20261127-00003 --note "inside now" --resume --as xc-housing`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if pause && resume {
				return fmt.Errorf("--pause and --resume exclude each other")
			}
			clock := whistlev1.ClockChange_CLOCK_CHANGE_UNSPECIFIED
			if pause {
				clock = whistlev1.ClockChange_CLOCK_CHANGE_PAUSE
			} else if resume {
				clock = whistlev1.ClockChange_CLOCK_CHANGE_RESUME
			}
			c, err := g.clients()
			if err != nil {
				return err
			}
			ctx, id, err := g.actOn(cmd.Context(), c, args[0], auth.RoleDepartmentHandler, who.orgUnit)
			if err != nil {
				return err
			}
			atts, err := g.attachments(ctx, attach, who.proto())
			if err != nil {
				return err
			}
			resp, err := c.Response.AddProgress(ctx, &whistlev1.AddProgressRequest{TicketId: id, Note: note, Clock: clock,
				Attachments: atts, Actor: who.proto(), RequestId: ids.New()})
			if err != nil {
				return fmt.Errorf("progress %s: %w", args[0], err)
			}
			return done(cmd, g, resp, "noted on %s (clock paused: %v)", resp.GetItem().GetTicketNumber(), resp.GetItem().GetPaused())
		},
	}
	cmd.Flags().StringVar(&note, "note", "", "what happened")
	cmd.Flags().BoolVar(&pause, "pause", false, "stop the resolve clock")
	cmd.Flags().BoolVar(&resume, "resume", false, "restart the resolve clock")
	cmd.Flags().StringSliceVar(&attach, "attachment", nil, attachmentHelp)
	_ = cmd.MarkFlagRequired("note")
	who.add(cmd, "the department you act for (the ticket's lead department)")
	return cmd
}

func extensionCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "extension", Short: "Ask for more time (延期), and decide such requests"}
	cmd.AddCommand(extensionRequest(g), extensionDecide(g))
	return cmd
}

func extensionRequest(g *globals) *cobra.Command {
	var who actorFlags
	var until, reason string
	cmd := &cobra.Command{
		Use:     "request <ticket>",
		Short:   "Ask the street for a later resolve deadline, before the current one passes",
		Example: `  whistlectl extension request HH-20261127-00003 --until "2026-12-04 17:30" --reason "parts on order" --as xc-urban`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			due, err := parseWhen("until", until)
			if err != nil {
				return err
			}
			c, err := g.clients()
			if err != nil {
				return err
			}
			ctx, id, err := g.actOn(cmd.Context(), c, args[0], auth.RoleDepartmentHandler, who.orgUnit)
			if err != nil {
				return err
			}
			resp, err := c.Response.RequestExtension(ctx, &whistlev1.RequestExtensionRequest{TicketId: id,
				RequestedResolveDue: timestamppb.New(due), Reason: reason, Actor: who.proto(), RequestId: ids.New()})
			if err != nil {
				return fmt.Errorf("extension request %s: %w", args[0], err)
			}
			return done(cmd, g, resp, "asked for more time on %s, until %s; the street decides", resp.GetItem().GetTicketNumber(), g.when(timestamppb.New(due)))
		},
	}
	cmd.Flags().StringVar(&until, "until", "", `the deadline asked for: RFC 3339 or "2006-01-02 15:04" (local time)`)
	cmd.Flags().StringVar(&reason, "reason", "", "why more time is needed")
	_ = cmd.MarkFlagRequired("until")
	_ = cmd.MarkFlagRequired("reason")
	who.add(cmd, "the department you act for (the ticket's lead department)")
	return cmd
}

func extensionDecide(g *globals) *cobra.Command {
	var who actorFlags
	var until, note string
	var grant, refuse bool
	cmd := &cobra.Command{
		Use:     "decide <ticket>",
		Short:   "Grant (--grant, optionally --until another date) or refuse (--refuse) a pending request for more time",
		Example: `  whistlectl extension decide HH-20261127-00003 --grant --note "agreed" --as xc-hd`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if grant == refuse {
				return fmt.Errorf("say --grant or --refuse")
			}
			req := &whistlev1.DecideExtensionRequest{Granted: grant, Note: note, Actor: who.proto()}
			if until != "" {
				due, err := parseWhen("until", until)
				if err != nil {
					return err
				}
				req.ResolveDue = timestamppb.New(due)
			}
			c, err := g.clients()
			if err != nil {
				return err
			}
			ctx, id, err := g.actOn(cmd.Context(), c, args[0], auth.RoleStreetOfficer, who.orgUnit)
			if err != nil {
				return err
			}
			req.TicketId = id
			resp, err := c.Dispatch.DecideExtension(ctx, req)
			if err != nil {
				return fmt.Errorf("extension decide %s: %w", args[0], err)
			}
			return done(cmd, g, resp, "%s: resolve by %s", resp.GetAssignment().GetTicketNumber(), g.when(resp.GetAssignment().GetResolveDue()))
		},
	}
	cmd.Flags().BoolVar(&grant, "grant", false, "grant the request")
	cmd.Flags().BoolVar(&refuse, "refuse", false, "refuse the request")
	cmd.Flags().StringVar(&until, "until", "", "grant until this date instead of the one asked for")
	cmd.Flags().StringVar(&note, "note", "", "the decision's reasons")
	who.add(cmd, "the org unit you decide for (the ticket's street, or above)")
	return cmd
}

// parseWhen reads RFC 3339, or "2006-01-02 15:04" in local time.
func parseWhen(flag, s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02 15:04", s, time.Local); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf(`--%s %q: write it as 2026-12-04T17:30:00+08:00 or "2026-12-04 17:30"`, flag, s)
}

func assistCommand(g *globals) *cobra.Command {
	var who actorFlags
	var note string
	var attach []string
	cmd := &cobra.Command{
		Use:     "assist <ticket>",
		Short:   "Report an assisting department's part done (joint handling)",
		Example: `  whistlectl assist HH-20261127-00003 --note "traffic diverted while the pipe was replaced" --as xc-urban`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.clients()
			if err != nil {
				return err
			}
			ctx, id, err := g.actOn(cmd.Context(), c, args[0], auth.RoleDepartmentHandler, who.orgUnit)
			if err != nil {
				return err
			}
			atts, err := g.attachments(ctx, attach, who.proto())
			if err != nil {
				return err
			}
			resp, err := c.Response.ReportAssist(ctx, &whistlev1.ReportAssistRequest{TicketId: id, Note: note,
				Attachments: atts, Actor: who.proto(), RequestId: ids.New()})
			if err != nil {
				return fmt.Errorf("assist %s: %w", args[0], err)
			}
			return done(cmd, g, resp, "reported %s's part of %s", who.orgUnit, resp.GetItem().GetTicketNumber())
		},
	}
	cmd.Flags().StringVar(&note, "note", "", "what your department did")
	cmd.Flags().StringSliceVar(&attach, "attachment", nil, attachmentHelp)
	_ = cmd.MarkFlagRequired("note")
	who.add(cmd, "the assisting department you act for")
	return cmd
}
