package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// escalationLevels name who supervises (督办) at each escalation level.
var escalationLevels = []string{"none", "street", "district", "city"}

func levelName(l int32) string {
	if l >= 0 && int(l) < len(escalationLevels) {
		return fmt.Sprintf("%d (%s)", l, escalationLevels[l])
	}
	return strconv.Itoa(int(l))
}

func overdueCommand(g *globals) *cobra.Command {
	var req whistlev1.ListOverdueRequest
	cmd := &cobra.Command{
		Use:   "overdue",
		Short: "List open tickets past a deadline (accept or resolve), most escalated first",
		Example: `  whistlectl overdue
  whistlectl overdue --unit xc-urban
  whistlectl overdue --unit xc-hd --page-size 20`,
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
			resp, err := c.Monitoring.ListOverdue(ctx, &req)
			if err != nil {
				return fmt.Errorf("overdue: %w", err)
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			var rows [][]string
			for _, t := range resp.GetTickets() {
				st := t.GetState()
				rows = append(rows, []string{st.GetNumber(), levelName(st.GetEscalationLevel()), t.GetStage(), g.when(t.GetDueAt()),
					dash(st.GetLeadDepartmentId()), st.GetCategory(), st.GetTicketId()})
			}
			if err := table(cmd.OutOrStdout(), "TICKET NUMBER\tLEVEL\tSTAGE\tDUE\tLEAD DEPT\tCATEGORY\tTICKET ID", rows); err != nil {
				return err
			}
			return more(cmd, resp.GetNextPageToken(), "overdue")
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.OrgUnitId, "unit", "", "only tickets of this department or in this area (district, street, community, grid)")
	f.Int32Var(&req.PageSize, "page-size", 50, "tickets per page, 1 to 500")
	f.StringVar(&req.PageToken, "page-token", "", "page token printed after \"more:\" by the previous page")
	f.StringVar(&req.PageToken, "page", "", "same as --page-token, as the other list commands spell it")
	return cmd
}

func boardCommand(g *globals) *cobra.Command {
	var unit string
	cmd := &cobra.Command{
		Use:   "board",
		Short: "Count open escalated tickets (督办) by level for each department and street",
		Long: `board is the escalation board: for each lead department and each street with
open escalated tickets, how many are supervised by the street (L1), the
district (L2) and the city (L3); most escalated first. --unit keeps the
tickets of one department or area.`,
		Example: `  whistlectl board
  whistlectl board --unit xc`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.clients()
			if err != nil {
				return err
			}
			ctx, err := g.actCity(cmd.Context(), auth.RoleMonitor)
			if err != nil {
				return err
			}
			resp, err := c.Monitoring.GetEscalationBoard(ctx, &whistlev1.GetEscalationBoardRequest{OrgUnitId: unit})
			if err != nil {
				return fmt.Errorf("board: %w", err)
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			var rows [][]string
			for _, r := range resp.GetRows() {
				rows = append(rows, []string{r.GetOrgUnitId(), strconv.FormatInt(r.GetLevel_1(), 10), strconv.FormatInt(r.GetLevel_2(), 10),
					strconv.FormatInt(r.GetLevel_3(), 10)})
			}
			return table(cmd.OutOrStdout(), "ORG UNIT\tL1\tL2\tL3", rows)
		},
	}
	cmd.Flags().StringVar(&unit, "unit", "", "only tickets of this department or in this area (default: the whole city)")
	return cmd
}

func hotspotsCommand(g *globals) *cobra.Command {
	var req whistlev1.ListHotSpotsRequest
	var explain bool
	cmd := &cobra.Command{
		Use:   "hotspots",
		Short: "List recurring problems found before anyone complained (未诉先办), newest first",
		Long: `hotspots lists the recurring problems monitoring found — one matter reported
again and again in a grid, a community or a district — each with the
proactive ticket intake raised for it ("-" until it has). --explain prints
under each one which tickets fired which rule.`,
		Example: `  whistlectl hotspots
  whistlectl hotspots --unit xc-hd --explain`,
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
			resp, err := c.Monitoring.ListHotSpots(ctx, &req)
			if err != nil {
				return fmt.Errorf("hotspots: %w", err)
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			var rows, notes [][]string
			for _, h := range resp.GetHotSpots() {
				rows = append(rows, []string{g.when(h.GetDetectedAt()), h.GetRule(), h.GetOrgUnitId(), h.GetCategory(),
					strconv.Itoa(len(h.GetTicketIds())), dash(h.GetProactiveTicketId())})
				if explain {
					notes = append(notes, strings.Split(h.GetExplanation(), "\n"))
				}
			}
			return tableWithNotes(cmd.OutOrStdout(), "DETECTED\tRULE\tPLACE\tMATTER\tTICKETS\tPROACTIVE TICKET", rows, notes)
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.OrgUnitId, "unit", "", "only hot spots in this area (district, street, community or grid)")
	f.Int32Var(&req.PageSize, "limit", 50, "most hot spots to list, 1 to 500")
	f.BoolVar(&explain, "explain", false, "print under each hot spot which tickets fired which rule")
	return cmd
}

// tableWithNotes writes aligned columns with indented lines under each row
// (notes[i] under rows[i]; no notes, a plain table).
func tableWithNotes(w io.Writer, header string, rows, notes [][]string) error {
	if len(notes) == 0 {
		return table(w, header, rows)
	}
	var b bytes.Buffer
	if err := table(&b, header, rows); err != nil {
		return err
	}
	lines := strings.SplitAfter(b.String(), "\n")
	var out strings.Builder
	out.WriteString(lines[0])
	for i := range rows {
		out.WriteString(lines[i+1])
		for _, n := range notes[i] {
			out.WriteString("    " + n + "\n")
		}
	}
	_, err := io.WriteString(w, out.String())
	return err
}

// rebuildProgressEvery is how often rebuild says it is still waiting.
var rebuildProgressEvery = 2 * time.Second

func rebuildCommand(g *globals) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "rebuild --yes",
		Short: "Empty the monitoring read models and replay every event into them (needs --yes)",
		Long: `rebuild asks the monitoring service to empty its read models — timelines,
counts, figures, stage times, hot spots — and replay the whole event stream
into them, with the same rules as live projection. Live projection waits
meanwhile and catches up afterwards; until the replay ends, scorecards and
lists show the models filling up. whistlectl waits for the result and says
every few seconds on stderr that it still does; Ctrl-C stops waiting, not
the rebuild.`,
		Example: "  whistlectl rebuild --yes",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !yes {
				return errors.New("rebuild empties every monitoring read model (timelines, counts, figures, hot spots) and replays the whole " +
					"event stream into them; until it ends, scorecards and lists show partial numbers. Run `whistlectl rebuild --yes` to go ahead")
			}
			c, err := g.clients()
			if err != nil {
				return err
			}
			// The city's administrator asks; the actor acts for the org unit its token does.
			org, err := g.cityActor()
			if err != nil {
				return err
			}
			ctx, err := g.actCity(cmd.Context(), auth.RoleAdmin)
			if err != nil {
				return err
			}
			actor := &whistlev1.Actor{Id: "whistlectl", OrgUnitId: org}
			errOut := cmd.ErrOrStderr()
			fmt.Fprintln(errOut, "rebuilding the monitoring read models from the event stream…")
			start := time.Now()
			stop := ticking(errOut, rebuildProgressEvery, func() string { return "rebuilding… " + shortDuration(time.Since(start)) })
			resp, err := c.Monitoring.RebuildProjections(ctx, &whistlev1.RebuildProjectionsRequest{Actor: actor})
			stop()
			if err != nil {
				if cmd.Context().Err() != nil {
					return fmt.Errorf("stopped waiting after %s; the rebuild goes on in the server (its log reports the end): %w",
						shortDuration(time.Since(start)), err)
				}
				if status.Code(err) == codes.FailedPrecondition {
					// The server also refuses while live projection holds its side of the rebuild lock.
					return fmt.Errorf("rebuild: %w (if no other rebuild is running, live projection was busy at that moment: retry)", err)
				}
				return fmt.Errorf("rebuild: %w", err)
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			out := cmd.OutOrStdout()
			if _, err := fmt.Fprintf(out, "rebuilt the read models: %d events replayed, %d skipped, took %s\n", resp.GetEventsReplayed(),
				resp.GetEventsSkipped(), took(resp.GetTook().AsDuration())); err != nil {
				return err
			}
			if resp.GetEventsSkipped() > 0 {
				fmt.Fprintln(out, "skipped events could not apply (undecodable, or waiting for an event the stream lacks): "+
					"the monitoring consumer's dead-letter subject holds them, and the service log names them")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "go ahead: empty the read models and replay the event stream")
	return cmd
}

// ticking writes line() to w every so often until stop is called: the
// progress of a long command.
func ticking(w io.Writer, every time.Duration, line func() string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fmt.Fprintln(w, line())
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// took formats how long something took: to the millisecond under a minute.
func took(d time.Duration) string {
	if d < time.Minute {
		return d.Round(time.Millisecond).String()
	}
	return shortDuration(d)
}
