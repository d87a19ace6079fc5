package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

func calendarCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "calendar", Short: "Show the business calendar and add a year's holidays and make-up days (节假日安排)"}
	cmd.AddCommand(calendarShow(g), calendarAdd(g))
	return cmd
}

func calendarShow(g *globals) *cobra.Command {
	var version string
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Show the active catalog's business calendar (or --version's) and how far ahead it covers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.clients()
			if err != nil {
				return err
			}
			ctx, err := g.actCity(cmd.Context(), auth.RoleMonitor)
			if err != nil {
				return err
			}
			resp, err := c.Dispatch.GetCatalog(ctx, &whistlev1.GetCatalogRequest{Version: version})
			if err != nil {
				return fmt.Errorf("calendar show: %w", err)
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), resp.GetCalendar())
			}
			return printCalendar(cmd.OutOrStdout(), resp.GetVersion(), resp.GetCalendar())
		},
	}
	cmd.Flags().StringVar(&version, "version", "", "catalog version (default: the active one)")
	return cmd
}

func calendarAdd(g *globals) *cobra.Command {
	var version, coversUntil string
	var holidays, makeUps, remove []string
	var activate bool
	var who actorFlags
	cmd := &cobra.Command{
		Use:   "add",
		Short: "Store the active catalog as a new version whose calendar lists more days; --activate routes by it",
		Long: `add stores the active catalog again, under --version, with the holidays and make-up working
days given added to its business calendar (and --remove'd days taken off), and prints what
changed. Tickets already routed keep the deadlines they were given; new ones count by the
new calendar once it is active.`,
		Example: "  whistlectl calendar add --version 2027.01 --holiday 2027-01-01,2027-02-05 --make-up 2027-02-07 --activate --as hh",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.clients()
			if err != nil {
				return err
			}
			ctx, err := g.act(cmd.Context(), auth.RoleAdmin, who.orgUnit)
			if err != nil {
				return err
			}
			resp, err := c.Dispatch.ReviseCalendar(ctx, &whistlev1.ReviseCalendarRequest{Version: version,
				AddHolidays: holidays, AddMakeUpDays: makeUps, Remove: remove, CoversUntil: coversUntil,
				Activate: activate, Actor: who.proto()})
			if err != nil {
				return fmt.Errorf("calendar add: %w", err)
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			out := cmd.OutOrStdout()
			verb := "stored"
			if !resp.GetCreated() {
				verb = "already stored"
			}
			fmt.Fprintf(out, "%s catalog %s from %s (active: %v)\n", verb, resp.GetVersion().GetVersion(), resp.GetRevised(),
				resp.GetVersion().GetActive())
			for _, ch := range resp.GetChanges() {
				fmt.Fprintf(out, "  %s %s: %s\n", ch.GetKind(), ch.GetEntity(), ch.GetDetail())
			}
			if !resp.GetVersion().GetActive() {
				fmt.Fprintf(out, "route new tickets by it with: whistlectl catalog activate %s\n", resp.GetVersion().GetVersion())
			}
			return printCalendar(out, resp.GetVersion().GetVersion(), resp.GetCalendar())
		},
	}
	cmd.Flags().StringVar(&version, "version", "", "the new catalog version, e.g. 2027.01 (required)")
	cmd.Flags().StringSliceVar(&holidays, "holiday", nil, "holiday dates to add, YYYY-MM-DD (repeat or comma-separate)")
	cmd.Flags().StringSliceVar(&makeUps, "make-up", nil, "make-up working days (调休) to add, YYYY-MM-DD")
	cmd.Flags().StringSliceVar(&remove, "remove", nil, "dates to take off either list")
	cmd.Flags().StringVar(&coversUntil, "covers-until", "", "last date the calendar covers (default: the end of the latest year listed)")
	cmd.Flags().BoolVar(&activate, "activate", false, "make the new version the active catalog")
	_ = cmd.MarkFlagRequired("version")
	who.add(cmd, "the org unit you administer the catalog for (e.g. the city)")
	return cmd
}

// printCalendar writes a calendar and its coverage, with what to do when it
// runs out within 60 days.
func printCalendar(out io.Writer, version string, cal *whistlev1.Calendar) error {
	fmt.Fprintf(out, "calendar of catalog %s: %s, %s, %s\n", version, cal.GetTimeZone(),
		strings.Join(cal.GetWorkingDays(), " "), strings.Join(cal.GetWorkingHours(), " "))
	fmt.Fprintf(out, "holidays:     %s\n", dash(strings.Join(cal.GetHolidays(), " ")))
	fmt.Fprintf(out, "make-up days: %s\n", dash(strings.Join(cal.GetMakeUpDays(), " ")))
	switch {
	case cal.GetCoversUntil() == "":
		_, err := fmt.Fprintln(out, "covers: no holidays listed: add them with whistlectl calendar add")
		return err
	case cal.GetDaysAhead() < 60:
		_, err := fmt.Fprintf(out, "covers until %s (%d days ahead): fewer than 60 days; add next year's holidays with whistlectl calendar add\n",
			cal.GetCoversUntil(), cal.GetDaysAhead())
		return err
	}
	_, err := fmt.Fprintf(out, "covers until %s (%d days ahead)\n", cal.GetCoversUntil(), cal.GetDaysAhead())
	return err
}
