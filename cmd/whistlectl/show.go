package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ids"

	"github.com/whistle-civic/whistle/cmd/internal/loop"
)

func showCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "show <ticket>",
		Short:   "Show a ticket as reported, its state and its timeline",
		Example: "  whistlectl show HH-20261126-00042\n  whistlectl show 0193a5c4-… -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.clients()
			if err != nil {
				return err
			}
			ctx, err := g.actCity(cmd.Context(), auth.RoleMonitor)
			if err != nil {
				return err
			}
			t, err := c.Intake.GetTicket(ctx, &whistlev1.GetTicketRequest{Ticket: args[0]})
			if err != nil {
				return fmt.Errorf("show %s: %w", args[0], err)
			}
			tl, err := c.Monitoring.GetTimeline(ctx, &whistlev1.GetTimelineRequest{TicketId: t.GetTicket().GetId()})
			if err != nil && status.Code(err) != codes.NotFound {
				return fmt.Errorf("timeline of %s: %w", args[0], err)
			}
			if g.output == "json" {
				if err := printJSON(cmd.OutOrStdout(), t); err != nil {
					return err
				}
				return printJSON(cmd.OutOrStdout(), tl)
			}
			return printTicket(cmd, g, t.GetTicket(), tl)
		},
	}
}

func printTicket(cmd *cobra.Command, g *globals, t *whistlev1.Ticket, tl *whistlev1.GetTimelineResponse) error {
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "Ticket    %s  (%s)\n", t.GetNumber(), t.GetId())
	fmt.Fprintf(out, "Matter    %s  %s\n", t.GetCategory(), t.GetTitle())
	fmt.Fprintf(out, "Where     grid %s %s\n", t.GetLocation().GetGridId(), t.GetLocation().GetAddress())
	fmt.Fprintf(out, "Reported  %s by %s via %s (%s whistle)\n", g.when(t.GetReportedAt()), t.GetReporter().GetOrgUnitId(),
		enumName(t.GetSource()), enumName(t.GetKind()))
	fmt.Fprintf(out, "          %s\n", t.GetDescription())
	fmt.Fprintf(out, "Trace     %s\n", t.GetTraceId())
	if n := len(t.GetPhotoIds()); n > 0 {
		fmt.Fprintf(out, "Photos    %d (whistlectl photos %s)\n", n, t.GetNumber())
	}
	var dups []string
	for _, d := range tl.GetDuplicates() {
		dups = append(dups, d.GetTicketNumber())
	}
	if len(dups) > 0 {
		fmt.Fprintf(out, "Merged    %s (the same matter, merged into this one)\n", strings.Join(dups, ", "))
	}
	st := tl.GetState()
	if st == nil {
		fmt.Fprintln(out, "\nNo events projected yet; try again in a moment.")
		return nil
	}
	fmt.Fprintf(out, "Now       %s (version %d)  lead %s  escalation %d  reworks %d\n\n",
		strings.TrimPrefix(st.GetStatus().String(), "TICKET_STATUS_"), st.GetVersion(), dash(st.GetLeadDepartmentId()),
		st.GetEscalationLevel(), st.GetReworkCount())
	var rows [][]string
	for _, e := range tl.GetEntries() {
		rows = append(rows, []string{fmt.Sprint(e.GetVersion()), g.when(e.GetOccurredAt()), e.GetEventType(),
			e.GetProducer(), dash(e.GetActor().GetId()), e.GetSummary()})
	}
	return table(out, "V\tWHEN\tEVENT\tSERVICE\tACTOR\tWHAT", rows)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ticketID accepts a ticket id or number and returns the id. A number is
// looked up as the principal role@orgUnit when that role may read tickets as
// reported, else (a department, a resident) as the city's monitor.
func (g *globals) ticketID(ctx context.Context, c loop.Clients, arg string, role auth.Role, orgUnit string) (string, error) {
	if ids.Valid(arg) {
		return arg, nil
	}
	var err error
	if mayLookUp(role) && orgUnit != "" {
		ctx, err = g.act(ctx, role, orgUnit)
	} else {
		ctx, err = g.actCity(ctx, auth.RoleMonitor)
	}
	if err != nil {
		return "", fmt.Errorf("find ticket %s: %w", arg, err)
	}
	t, err := c.Intake.GetTicket(ctx, &whistlev1.GetTicketRequest{Ticket: arg})
	if err != nil {
		if status.Code(err) == codes.PermissionDenied && !g.creds.minting() {
			return "", fmt.Errorf("find ticket %s: %w (your token may not look tickets up by number: pass the ticket's id, "+
				"which whistlectl inbox lists, instead)", arg, err)
		}
		return "", fmt.Errorf("find ticket %s: %w", arg, err)
	}
	return t.GetTicket().GetId(), nil
}

// actOn resolves a ticket argument, then returns ctx acting as the role for
// orgUnit, and the ticket's id.
func (g *globals) actOn(ctx context.Context, c loop.Clients, arg string, role auth.Role, orgUnit string) (context.Context, string, error) {
	id, err := g.ticketID(ctx, c, arg, role, orgUnit)
	if err != nil {
		return ctx, "", err
	}
	ctx, err = g.act(ctx, role, orgUnit)
	return ctx, id, err
}

// actOnCity is actOn as the city's principal of a role.
func (g *globals) actOnCity(ctx context.Context, c loop.Clients, arg string, role auth.Role) (context.Context, string, error) {
	id, err := g.ticketID(ctx, c, arg, role, g.city)
	if err != nil {
		return ctx, "", err
	}
	ctx, err = g.actCity(ctx, role)
	return ctx, id, err
}
