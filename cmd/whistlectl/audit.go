package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

func auditCommand(g *globals) *cobra.Command {
	var req whistlev1.ListAuditRequest
	var ticket, since, until string
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "List the audit log: who changed what through the API, newest first (administrators)",
		Long: `audit lists the append-only audit log of every service: when a change was
made, by which service, who made it (subject@org unit), what it was (an
event type such as "accepted", or an operation such as "catalog.activate"),
on which ticket, from which address and in which trace. Changes made by the
services themselves, in reaction to events, are not in it: "show" has them.`,
		Example: `  whistlectl audit --ticket HH-20261127-00003
  whistlectl audit --subject u-4711 --since "2026-11-27 08:00" --until "2026-11-28 08:00"
  whistlectl audit --org-unit xc-water --action accepted -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := inRange("page-size", req.PageSize, 1, 500); err != nil {
				return err
			}
			for _, tf := range []struct {
				flag, value string
				dst         **timestamppb.Timestamp
			}{{"since", since, &req.After}, {"until", until, &req.Before}} {
				if tf.value == "" {
					continue
				}
				t, err := parseWhen(tf.flag, tf.value)
				if err != nil {
					return err
				}
				*tf.dst = timestamppb.New(t)
			}
			c, err := g.clients()
			if err != nil {
				return err
			}
			if ticket != "" {
				if req.TicketId, err = g.ticketID(cmd.Context(), c, ticket, auth.RoleAdmin, g.city); err != nil {
					return err
				}
			}
			ctx, err := g.actCity(cmd.Context(), auth.RoleAdmin)
			if err != nil {
				return err
			}
			resp, err := c.Audit.ListAudit(ctx, &req)
			if err != nil {
				return fmt.Errorf("audit: %w", err)
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			var rows [][]string
			for _, e := range resp.GetEntries() {
				rows = append(rows, []string{g.when(e.GetAt()), e.GetService(), who(e.GetSubject(), e.GetOrgUnitId()), e.GetAction(),
					dash(e.GetTicketId()), dash(e.GetRemoteAddr()), dash(e.GetTraceId())})
			}
			if err := table(cmd.OutOrStdout(), "AT\tSERVICE\tWHO\tACTION\tTICKET\tFROM\tTRACE", rows); err != nil {
				return err
			}
			return more(cmd, resp.GetNextPageToken(), "audit")
		},
	}
	f := cmd.Flags()
	f.StringVar(&ticket, "ticket", "", "only changes to this ticket (number or id)")
	f.StringVar(&req.Subject, "subject", "", "only changes made by this caller, e.g. u-4711")
	f.StringVar(&req.OrgUnitId, "org-unit", "", "only changes made for this org unit")
	f.StringVar(&req.Action, "action", "", `only this action, e.g. "accepted" or "catalog.activate"`)
	f.StringVar(&since, "since", "", `made at or after (RFC 3339 or "2006-01-02 15:04")`)
	f.StringVar(&until, "until", "", "made before")
	f.Int32Var(&req.PageSize, "page-size", 50, "entries per page, up to 500")
	f.StringVar(&req.PageToken, "page-token", "", "page token printed after \"more:\" by the previous page")
	f.StringVar(&req.PageToken, "page", "", "same as --page-token, as the other list commands spell it")
	return cmd
}

// who formats a caller as subject@org unit; "-" for Whistle itself.
func who(subject, orgUnit string) string {
	switch {
	case subject == "" && orgUnit == "":
		return "-"
	case orgUnit == "":
		return subject
	}
	return subject + "@" + orgUnit
}
