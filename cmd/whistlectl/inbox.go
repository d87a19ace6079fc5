package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

func inboxCommand(g *globals) *cobra.Command {
	var statuses []string
	var pageSize, minLevel int32
	var page, matter, area string
	var overdue, assisting bool
	cmd := &cobra.Command{
		Use:     "inbox <department>",
		Short:   "List a department's inbox, soonest deadline first",
		Example: "  whistlectl inbox xc-urban\n  whistlectl inbox xc-urban --status accepted,reopened",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &whistlev1.ListInboxRequest{DepartmentId: args[0], PageSize: pageSize, PageToken: page, Category: matter,
				AreaOrgUnitId: area, OverdueOnly: overdue, MinEscalationLevel: minLevel}
			if assisting {
				req.Role = whistlev1.InboxRole_INBOX_ROLE_ASSIST
			}
			for _, s := range statuses {
				n, err := parseEnum(whistlev1.TicketStatus(0).Descriptor(), "status", s)
				if err != nil {
					return err
				}
				req.Statuses = append(req.Statuses, whistlev1.TicketStatus(n))
			}
			c, err := g.clients()
			if err != nil {
				return err
			}
			ctx, err := g.act(cmd.Context(), auth.RoleDepartmentHandler, args[0])
			if err != nil {
				return err
			}
			resp, err := c.Response.ListInbox(ctx, req)
			if err != nil {
				return fmt.Errorf("inbox of %s: %w", args[0], err)
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			var rows [][]string
			for _, it := range resp.GetItems() {
				due := it.GetResolveDue()
				if it.GetStatus() == whistlev1.TicketStatus_TICKET_STATUS_DISPATCHED {
					due = it.GetAcceptDue()
				}
				rows = append(rows, []string{it.GetTicketNumber(), enumName(it.GetStatus()), it.GetCategory(),
					durationUntil(due), fmt.Sprint(it.GetEscalationLevel()), fmt.Sprint(it.GetReworkCount()), it.GetTicketId()})
			}
			if err := table(cmd.OutOrStdout(), "NUMBER\tSTATUS\tMATTER\tDUE\tESCALATION\tREWORKS\tTICKET", rows); err != nil {
				return err
			}
			if len(rows) == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "(nothing for %s in %s)\n", args[0], strings.Join(defaultIfEmpty(statuses), ", "))
			}
			if next := resp.GetNextPageToken(); next != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "more: whistlectl inbox %s --page %s\n", args[0], next)
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&statuses, "status", nil, "statuses to list (default: dispatched, accepted, reopened)")
	cmd.Flags().Int32Var(&pageSize, "page-size", 50, "items per page, up to 500")
	cmd.Flags().StringVar(&page, "page", "", "page token from the previous page")
	cmd.Flags().StringVar(&matter, "matter", "", "only this matter code")
	cmd.Flags().StringVar(&area, "area", "", "only tickets in this org unit (grid, community, street, district)")
	cmd.Flags().BoolVar(&overdue, "overdue", false, "only tickets past their next deadline")
	cmd.Flags().Int32Var(&minLevel, "min-escalation", 0, "only tickets supervised at this level or higher (1 street, 2 district, 3 city)")
	cmd.Flags().BoolVar(&assisting, "assisting", false, "the tickets your department assists on, instead of those it leads")
	return cmd
}

func defaultIfEmpty(statuses []string) []string {
	if len(statuses) == 0 {
		return []string{"dispatched", "accepted", "reopened"}
	}
	return statuses
}
