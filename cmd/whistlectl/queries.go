package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"

	"github.com/whistle-civic/whistle/cmd/internal/loop"
)

func ticketsCommand(g *globals) *cobra.Command {
	var req whistlev1.ListTicketsRequest
	var source, after, before string
	cmd := &cobra.Command{
		Use:     "tickets",
		Short:   "List reported tickets, newest first",
		Example: "  whistlectl tickets --reporter xc-hd-dj-g01 --category road_damage",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if source != "" {
				s, err := parseEnum(whistlev1.Source(0).Descriptor(), "source", source)
				if err != nil {
					return err
				}
				req.Source = whistlev1.Source(s)
			}
			for flag, dst := range map[string]**timestamppb.Timestamp{after: &req.ReportedAfter, before: &req.ReportedBefore} {
				if flag == "" {
					continue
				}
				t, err := parseWhen("after/--before", flag)
				if err != nil {
					return err
				}
				*dst = timestamppb.New(t)
			}
			c, err := g.clients()
			if err != nil {
				return err
			}
			ctx, err := g.actCity(cmd.Context(), auth.RoleMonitor)
			if err != nil {
				return err
			}
			resp, err := c.Intake.ListTickets(ctx, &req)
			if err != nil {
				return fmt.Errorf("tickets: %w", err)
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			var rows [][]string
			for _, t := range resp.GetTickets() {
				rows = append(rows, []string{t.GetNumber(), g.when(t.GetReportedAt()), t.GetCategory(), t.GetReporter().GetOrgUnitId(),
					enumName(t.GetSource()), t.GetId()})
			}
			if err := table(cmd.OutOrStdout(), "NUMBER\tREPORTED\tMATTER\tREPORTER\tSOURCE\tTICKET", rows); err != nil {
				return err
			}
			return more(cmd, resp.GetNextPageToken(), "tickets")
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.ReporterOrgUnitId, "reporter", "", "reporting org unit")
	f.StringVar(&req.Category, "category", "", "matter code")
	f.StringVar(&source, "source", "", "channel, e.g. resident")
	f.StringVar(&after, "after", "", "reported at or after (RFC 3339 or \"2006-01-02 15:04\")")
	f.StringVar(&before, "before", "", "reported before")
	f.BoolVar(&req.IncludeSynthetic, "synthetic", false, "include test traffic")
	f.Int32Var(&req.PageSize, "page-size", 50, "tickets per page, up to 500")
	f.StringVar(&req.PageToken, "page", "", "page token from the previous page")
	return cmd
}

// more tells how to fetch the next page.
func more(cmd *cobra.Command, token, command string) error {
	if token == "" {
		return nil
	}
	_, err := fmt.Fprintf(cmd.OutOrStdout(), "more: whistlectl %s --page %s (with the same filters)\n", command, token)
	return err
}

func itemCommand(g *globals) *cobra.Command {
	var dept string
	cmd := &cobra.Command{
		Use:   "item <ticket>",
		Short: "Show a ticket's inbox item: department, deadlines, supervision, assists, rework",
		Long: `item shows a ticket as its department's inbox holds it, read as that
department's handler: the department --as names, else the ticket's lead
department.`,
		Example: "  whistlectl item HH-20261127-00003\n  whistlectl item HH-20261127-00003 --as xc-urban",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.clients()
			if err != nil {
				return err
			}
			id, err := g.ticketID(cmd.Context(), c, args[0], auth.RoleDepartmentHandler, dept)
			if err != nil {
				return err
			}
			if dept == "" && g.creds.minting() { // read as the lead department's handler
				if dept, err = g.leadDepartment(cmd.Context(), c, id, args[0]); err != nil {
					return err
				}
			}
			ctx, err := g.act(cmd.Context(), auth.RoleDepartmentHandler, dept)
			if err != nil {
				return err
			}
			resp, err := c.Response.GetInboxItem(ctx, &whistlev1.GetInboxItemRequest{TicketId: id})
			if err != nil {
				return fmt.Errorf("item %s: %w", args[0], err)
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			it := resp.GetItem()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Ticket      %s (%s)  %s  %s\n", it.GetTicketNumber(), it.GetTicketId(), it.GetCategory(), it.GetTitle())
			fmt.Fprintf(out, "Department  %s  status %s  version %d\n", it.GetDepartmentId(), enumName(it.GetStatus()), it.GetVersion())
			fmt.Fprintf(out, "Deadlines   accept %s, resolve %s  (paused: %v, escalation %d, binding: %v)\n", g.when(it.GetAcceptDue()),
				g.when(it.GetResolveDue()), it.GetPaused(), it.GetEscalationLevel(), it.GetBinding())
			for _, a := range it.GetAssists() {
				fmt.Fprintf(out, "Assist      %s  reported: %v  %s\n", a.GetDepartmentId(), a.GetReported(), a.GetNote())
			}
			if it.GetReworkCount() > 0 {
				fmt.Fprintf(out, "Rework      #%d: %s %s\n", it.GetReworkCount(), strings.Join(it.GetReworkReasons(), ", "), it.GetReworkComment())
			}
			if it.GetResult() != "" {
				fmt.Fprintf(out, "Result      %s\n", it.GetResult())
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dept, "as", "", "the department you read for (default: the ticket's lead department)")
	return cmd
}

// leadDepartment asks dispatch, as the city's monitor, which department leads a ticket.
func (g *globals) leadDepartment(ctx context.Context, c loop.Clients, id, arg string) (string, error) {
	ctx, err := g.actCity(ctx, auth.RoleMonitor)
	if err != nil {
		return "", err
	}
	resp, err := c.Dispatch.GetAssignment(ctx, &whistlev1.GetAssignmentRequest{TicketId: id})
	if err != nil {
		return "", fmt.Errorf("find the lead department of %s: %w", arg, err)
	}
	lead := resp.GetAssignment().GetLeadDepartmentId()
	if lead == "" {
		return "", fmt.Errorf("%s has no lead department yet (whistlectl assignment %s tells where it waits): name the department with --as", arg, arg)
	}
	return lead, nil
}

func assignmentCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "assignment <ticket>",
		Short: "Show how dispatch routed a ticket: department, owner, deadlines, supervision, returns",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.clients()
			if err != nil {
				return err
			}
			ctx, id, err := g.actOnCity(cmd.Context(), c, args[0], auth.RoleMonitor)
			if err != nil {
				return err
			}
			resp, err := c.Dispatch.GetAssignment(ctx, &whistlev1.GetAssignmentRequest{TicketId: id})
			if err != nil {
				return fmt.Errorf("assignment %s: %w", args[0], err)
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			a := resp.GetAssignment()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Ticket      %s  %s at %s  status %s  version %d\n", a.GetTicketNumber(), a.GetCategory(), a.GetGridId(),
				enumName(a.GetStatus()), a.GetVersion())
			fmt.Fprintf(out, "Lead        %s  assisted by %s  owner %s  binding %v\n", dash(a.GetLeadDepartmentId()),
				dash(strings.Join(a.GetAssistingDepartmentIds(), ", ")), dash(a.GetOwnerDepartmentId()), a.GetBinding())
			fmt.Fprintf(out, "Deadlines   accept %s, resolve %s  paused %v  escalation %d\n", g.when(a.GetAcceptDue()), g.when(a.GetResolveDue()),
				a.GetPaused(), a.GetEscalationLevel())
			fmt.Fprintf(out, "Returns     %d  waits at %s (arbitration %v)\n", a.GetReturnCount(), dash(a.GetTriageOrgUnitId()), a.GetArbitration())
			fmt.Fprintf(out, "Rule        %s (catalog %s)\n", a.GetRule(), a.GetCatalogVersion())
			return nil
		},
	}
}

func evaluationCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "evaluation <ticket>",
		Short: "Show a ticket's latest evaluation round",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.clients()
			if err != nil {
				return err
			}
			ctx, id, err := g.actOnCity(cmd.Context(), c, args[0], auth.RoleMonitor)
			if err != nil {
				return err
			}
			resp, err := c.Evaluation.GetEvaluation(ctx, &whistlev1.GetEvaluationRequest{TicketId: id})
			if err != nil {
				return fmt.Errorf("evaluation %s: %w", args[0], err)
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			e := resp.GetEvaluation()
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s round %d: %s; %s resolved it: %s; verdict %s %s\n", e.GetTicketNumber(),
				e.GetRound(), enumName(e.GetState()), e.GetDepartmentId(), e.GetResult(), enumName(e.GetVerdict()), e.GetComment())
			return err
		},
	}
}

func evaluationsCommand(g *globals) *cobra.Command {
	var req whistlev1.ListOpenEvaluationsRequest
	cmd := &cobra.Command{
		Use:     "evaluations",
		Short:   "List resolved tickets waiting for a verdict, oldest first",
		Example: "  whistlectl evaluations --reporter xc-hd-dj-g01",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.clients()
			if err != nil {
				return err
			}
			// A community lists its own rounds; without one, the city's monitor lists them all.
			var ctx context.Context
			if req.ReporterOrgUnitId != "" {
				ctx, err = g.act(cmd.Context(), auth.RoleCommunityOfficer, req.ReporterOrgUnitId)
			} else {
				ctx, err = g.actCity(cmd.Context(), auth.RoleMonitor)
			}
			if err != nil {
				return err
			}
			resp, err := c.Evaluation.ListOpenEvaluations(ctx, &req)
			if err != nil {
				return fmt.Errorf("evaluations: %w", err)
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			var rows [][]string
			for _, e := range resp.GetEvaluations() {
				rows = append(rows, []string{e.GetTicketNumber(), fmt.Sprint(e.GetRound()), g.when(e.GetOpenedAt()), e.GetDepartmentId(),
					e.GetReporterOrgUnitId(), e.GetResult()})
			}
			if err := table(cmd.OutOrStdout(), "NUMBER\tROUND\tRESOLVED\tDEPARTMENT\tREPORTER\tRESULT", rows); err != nil {
				return err
			}
			return more(cmd, resp.GetNextPageToken(), "evaluations")
		},
	}
	cmd.Flags().StringVar(&req.ReporterOrgUnitId, "reporter", "", "only tickets reported from this org unit")
	cmd.Flags().Int32Var(&req.PageSize, "page-size", 50, "rounds per page, up to 500")
	cmd.Flags().StringVar(&req.PageToken, "page", "", "page token from the previous page")
	return cmd
}
