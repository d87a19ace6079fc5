package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

func watchCommand(g *globals) *cobra.Command {
	var after string
	var history bool
	cmd := &cobra.Command{
		Use:   "watch <department>",
		Short: "Print changes to a department's inbox as they happen (Ctrl-C stops)",
		Long: `watch follows a department's inbox live: one line per new or changed ticket.
It reconnects by itself and resumes where it stopped, so nothing is missed or
printed twice. By default it shows what happens from now on; --history starts
with the changes still kept, --after <cursor> after a cursor printed earlier.`,
		Example: "  whistlectl watch xc-urban\n  whistlectl watch xc-urban --after 1042 -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := g.clients(); err != nil {
				return err
			}
			ctx, err := g.act(cmd.Context(), auth.RoleDepartmentHandler, args[0])
			if err != nil {
				return err
			}
			req := &whistlev1.WatchInboxRequest{DepartmentId: args[0], AfterCursor: after, FromNow: after == "" && !history,
				HeartbeatInterval: durationpb.New(10 * time.Second)}
			out := cmd.OutOrStdout()
			if g.output != "json" {
				fmt.Fprintf(out, "watching %s's inbox (Ctrl-C stops)\n", args[0])
				g.zoneNote(out) // before the stream, which ends only when stopped
			}
			return g.c.Watch(ctx, req, func(ch *whistlev1.InboxChange) error {
				if g.output == "json" {
					return printJSON(out, ch)
				}
				it := ch.GetItem()
				what := enumName(it.GetStatus())
				if ch.GetKind() == whistlev1.InboxChangeKind_INBOX_CHANGE_KIND_REMOVED {
					what = "left the inbox"
				}
				_, err := fmt.Fprintf(out, "%s  #%s  %s  %-6s %s  %s  due %s\n", g.when(ch.GetChangedAt()), ch.GetCursor(),
					it.GetTicketNumber(), enumName(it.GetRole()), what, it.GetCategory(), durationUntil(nextDue(it)))
				return err
			})
		},
	}
	cmd.Flags().StringVar(&after, "after", "", "resume after this cursor")
	cmd.Flags().BoolVar(&history, "history", false, "start with the changes still kept")
	return cmd
}

func nextDue(it *whistlev1.InboxItem) *timestamppb.Timestamp {
	if it.GetStatus() == whistlev1.TicketStatus_TICKET_STATUS_DISPATCHED {
		return it.GetAcceptDue()
	}
	return it.GetResolveDue()
}
