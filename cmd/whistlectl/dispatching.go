package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

func triageCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "triage", Short: "Work the triage desk: tickets that wait for a person to dispatch or arbitrate"}
	cmd.AddCommand(triageList(g), triageDispatch(g), triageReject(g))
	return cmd
}

func triageList(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "list <org-unit>",
		Short:   "List tickets waiting for a person at an org unit (a street, district or the city) or below",
		Example: "  whistlectl triage list xc-hd",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.clients()
			if err != nil {
				return err
			}
			ctx, err := g.act(cmd.Context(), auth.RoleStreetOfficer, args[0])
			if err != nil {
				return err
			}
			resp, err := c.Dispatch.ListTriage(ctx, &whistlev1.ListTriageRequest{OrgUnitId: args[0], PageSize: 500})
			if err != nil {
				return fmt.Errorf("triage list %s: %w", args[0], err)
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			var rows [][]string
			for _, a := range resp.GetAssignments() {
				why := "dispatch by hand"
				if a.GetArbitration() {
					why = fmt.Sprintf("arbitrate (returned %d×, owner %s)", a.GetReturnCount(), dash(a.GetOwnerDepartmentId()))
				}
				rows = append(rows, []string{a.GetTicketNumber(), a.GetCategory(), a.GetGridId(), a.GetTriageOrgUnitId(), why, a.GetTicketId()})
			}
			return table(cmd.OutOrStdout(), "NUMBER\tMATTER\tGRID\tWAITS AT\tTO DO\tTICKET", rows)
		},
	}
}

func triageDispatch(g *globals) *cobra.Command {
	var who actorFlags
	var to, note string
	var assist []string
	var accept, resolve time.Duration
	cmd := &cobra.Command{
		Use:     "dispatch <ticket>",
		Short:   "Send a ticket waiting in triage to a department you choose",
		Example: `  whistlectl triage dispatch HH-20261127-00007 --to xc-env --accept-within 2h --resolve-within 21h --note "light pollution" --as xc-hd`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.clients()
			if err != nil {
				return err
			}
			ctx, id, err := g.actOn(cmd.Context(), c, args[0], auth.RoleStreetOfficer, who.orgUnit)
			if err != nil {
				return err
			}
			resp, err := c.Dispatch.Dispatch(ctx, &whistlev1.DispatchRequest{TicketId: id, LeadDepartmentId: to,
				AssistingDepartmentIds: assist, AcceptWithin: durationpb.New(accept), ResolveWithin: durationpb.New(resolve),
				Note: note, Actor: who.proto()})
			if err != nil {
				return fmt.Errorf("triage dispatch %s: %w", args[0], err)
			}
			a := resp.GetAssignment()
			return done(cmd, g, resp, "dispatched %s to %s: accept by %s, resolve by %s", a.GetTicketNumber(), to,
				g.when(a.GetAcceptDue()), g.when(a.GetResolveDue()))
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "the department to handle it")
	cmd.Flags().StringSliceVar(&assist, "assist", nil, "assisting departments")
	cmd.Flags().DurationVar(&accept, "accept-within", 2*time.Hour, "time to report in (working time)")
	cmd.Flags().DurationVar(&resolve, "resolve-within", 21*time.Hour, "time to resolve (working time; 21h = 3 working days)")
	cmd.Flags().StringVar(&note, "note", "", "why this department")
	_ = cmd.MarkFlagRequired("to")
	who.add(cmd, "the org unit you act for (where the ticket waits, or above)")
	return cmd
}

func triageReject(g *globals) *cobra.Command {
	var who actorFlags
	var reason string
	cmd := &cobra.Command{
		Use:   "reject <ticket>",
		Short: "Cancel a ticket in triage that no department should handle",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.clients()
			if err != nil {
				return err
			}
			ctx, id, err := g.actOn(cmd.Context(), c, args[0], auth.RoleStreetOfficer, who.orgUnit)
			if err != nil {
				return err
			}
			resp, err := c.Dispatch.RejectTriage(ctx, &whistlev1.RejectTriageRequest{TicketId: id, Reason: reason, Actor: who.proto()})
			if err != nil {
				return fmt.Errorf("triage reject %s: %w", args[0], err)
			}
			return done(cmd, g, resp, "rejected %s: %s", resp.GetAssignment().GetTicketNumber(), reason)
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why no department should handle it")
	_ = cmd.MarkFlagRequired("reason")
	who.add(cmd, "the org unit you act for (where the ticket waits, or above)")
	return cmd
}

func arbitrateCommand(g *globals) *cobra.Command {
	var who actorFlags
	var to, note string
	cmd := &cobra.Command{
		Use:     "arbitrate <ticket>",
		Short:   "Decide, bindingly, which department handles a returned ticket",
		Example: `  whistlectl arbitrate HH-20261127-00003 --to xc-water --note "a broken water pipe" --as xc-hd`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.clients()
			if err != nil {
				return err
			}
			ctx, id, err := g.actOn(cmd.Context(), c, args[0], auth.RoleStreetOfficer, who.orgUnit)
			if err != nil {
				return err
			}
			resp, err := c.Dispatch.Arbitrate(ctx, &whistlev1.ArbitrateRequest{TicketId: id, DepartmentId: to, Note: note, Actor: who.proto()})
			if err != nil {
				return fmt.Errorf("arbitrate %s: %w", args[0], err)
			}
			return done(cmd, g, resp, "arbitrated %s: %s must handle it (binding)", resp.GetAssignment().GetTicketNumber(), to)
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "the department that must handle it")
	cmd.Flags().StringVar(&note, "note", "", "the decision's reasons")
	_ = cmd.MarkFlagRequired("to")
	_ = cmd.MarkFlagRequired("note")
	who.add(cmd, "the org unit you arbitrate for (where the ticket waits, or above)")
	return cmd
}

func explainCommand(g *globals) *cobra.Command {
	var category, grid string
	cmd := &cobra.Command{
		Use:   "explain [<ticket>]",
		Short: "Show which catalog rule routes a ticket, or a --category at a --grid, and why",
		Example: `  whistlectl explain HH-20261127-00042
  whistlectl explain --category water_leak --grid yq-ht-dls-g01`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.clients()
			if err != nil {
				return err
			}
			req := &whistlev1.ExplainRoutingRequest{Category: category, GridId: grid}
			if len(args) == 1 {
				if req.TicketId, err = g.ticketID(cmd.Context(), c, args[0], auth.RoleMonitor, g.city); err != nil {
					return err
				}
			}
			ctx, err := g.actCity(cmd.Context(), auth.RoleMonitor)
			if err != nil {
				return err
			}
			resp, err := c.Dispatch.ExplainRouting(ctx, req)
			if err != nil {
				return fmt.Errorf("explain: %w", err)
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			out := cmd.OutOrStdout()
			for i, s := range resp.GetSteps() {
				fmt.Fprintf(out, "%2d. %s\n", i+1, s)
			}
			outcome := "lead " + resp.GetLeadDepartmentId()
			if resp.GetTriageOrgUnitId() != "" {
				outcome = "waits for a person at " + resp.GetTriageOrgUnitId()
			}
			if a := resp.GetAssistingDepartmentIds(); len(a) > 0 {
				outcome += ", assisted by " + strings.Join(a, ", ")
			}
			_, err = fmt.Fprintf(out, "=> %s\n", outcome)
			return err
		},
	}
	cmd.Flags().StringVar(&category, "category", "", "a matter code, to explain without a ticket")
	cmd.Flags().StringVar(&grid, "grid", "", "the grid, with --category")
	return cmd
}
