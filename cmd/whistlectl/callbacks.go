package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

func callbacksCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "callbacks",
		Short: "Hotline call-backs of closed tickets drawn at random (回访抽查): list them, record their outcome",
		Long: `callbacks works the hotline's call-backs: evaluation draws a share of the
tickets it closes at random, and the hotline calls their reporters. Their
verdicts give the audited satisfaction rate beside the evaluated one
(docs/metrics.md).`,
	}
	cmd.AddCommand(callbacksListCommand(g), callbacksRecordCommand(g))
	return cmd
}

func callbacksListCommand(g *globals) *cobra.Command {
	var req whistlev1.ListCallBacksRequest
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the tickets drawn for a call-back, those still to call first",
		Example: `  whistlectl callbacks list --pending
  whistlectl callbacks list --unit xc-urban`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := inRange("limit", req.PageSize, 1, 500); err != nil {
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
			resp, err := c.Monitoring.ListCallBacks(ctx, &req)
			if err != nil {
				return fmt.Errorf("callbacks: %w", err)
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			var rows [][]string
			for _, cb := range resp.GetCallBacks() {
				outcome := "to call"
				switch {
				case cb.GetDone() && !cb.GetReached():
					outcome = "no one reached"
				case cb.GetDone():
					outcome = flagSpelling("VERDICT_UNSPECIFIED", cb.GetVerdict().String())
				}
				rows = append(rows, []string{cb.GetTicketNumber(), cb.GetCategory(), cb.GetLeadDepartmentId(), g.when(cb.GetClosedAt()), outcome})
			}
			return table(cmd.OutOrStdout(), "TICKET\tMATTER\tDEPARTMENT\tCLOSED\tOUTCOME", rows)
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.OrgUnitId, "unit", "", "only tickets of this department or in this area (default: the whole city)")
	f.BoolVar(&req.PendingOnly, "pending", false, "only the tickets still to call")
	f.Int32Var(&req.PageSize, "limit", 50, "most tickets to list, 1 to 500")
	return cmd
}

func callbacksRecordCommand(g *globals) *cobra.Command {
	var verdict, note string
	var unreached bool
	cmd := &cobra.Command{
		Use:   "record <ticket>",
		Short: "Record a call-back: the reporter's verdict on the phone, or --unreached",
		Example: `  whistlectl callbacks record HH-20261126-00042 --verdict unsatisfied --note "still leaking"
  whistlectl callbacks record HH-20261126-00042 --unreached`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if unreached == (verdict != "") {
				return errors.New("say what the call found: --verdict satisfied|basically-satisfied|unsatisfied, or --unreached")
			}
			req := &whistlev1.RecordCallBackRequest{Reached: !unreached, Note: note}
			if !unreached {
				v, err := parseEnum(whistlev1.Verdict(0).Descriptor(), "verdict", verdict)
				if err != nil {
					return err
				}
				req.Verdict = whistlev1.Verdict(v)
			}
			c, err := g.clients()
			if err != nil {
				return err
			}
			if req.TicketId, err = g.ticketID(cmd.Context(), c, args[0], auth.RoleMonitor, ""); err != nil {
				return err
			}
			ctx, err := g.actCity(cmd.Context(), auth.RoleMonitor)
			if err != nil {
				return err
			}
			resp, err := c.Monitoring.RecordCallBack(ctx, req)
			if err != nil {
				return fmt.Errorf("record the call-back of %s: %w", args[0], err)
			}
			return done(cmd, g, resp, "recorded the call-back of %s", resp.GetCallBack().GetTicketNumber())
		},
	}
	f := cmd.Flags()
	f.StringVar(&verdict, "verdict", "", "the reporter's verdict: satisfied, basically-satisfied or unsatisfied")
	f.BoolVar(&unreached, "unreached", false, "no one could be reached")
	f.StringVar(&note, "note", "", "what the call found, up to 2000 characters")
	return cmd
}
