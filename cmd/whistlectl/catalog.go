package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

func catalogCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "catalog", Short: "Import, show, list, activate and compare catalog versions (事项清单)"}
	cmd.AddCommand(catalogShow(g), catalogList(g), catalogImport(g), catalogActivate(g), catalogDiff(g))
	return cmd
}

func catalogShow(g *globals) *cobra.Command {
	var version string
	var source bool
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Show the active catalog (or --version): its matters, or its YAML with --source",
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
				return fmt.Errorf("catalog show: %w", err)
			}
			out := cmd.OutOrStdout()
			switch {
			case g.output == "json":
				return printJSON(out, resp)
			case source:
				_, err := fmt.Fprint(out, resp.GetSource())
				return err
			}
			fmt.Fprintf(out, "catalog %s (active: %v): %d org units, %d departments, %d matters; calendar %s %v %v\n\n",
				resp.GetVersion(), resp.GetActive(), len(resp.GetOrgUnits()), len(resp.GetDepartments()), len(resp.GetMatters()),
				resp.GetCalendar().GetTimeZone(), resp.GetCalendar().GetWorkingDays(), resp.GetCalendar().GetWorkingHours())
			var rows [][]string
			for _, m := range resp.GetMatters() {
				lead := m.GetLeadKind() + "@" + enumName(m.GetLeadLevel())
				if m.GetTriage() {
					lead = "triage (case by case)"
				}
				rows = append(rows, []string{m.GetCode(), m.GetName(), lead, m.GetUrgency(), m.GetAcceptWindow(), m.GetResolveWindow()})
			}
			return table(out, "CODE\tNAME\tLEAD\tURGENCY\tACCEPT\tRESOLVE", rows)
		},
	}
	cmd.Flags().StringVar(&version, "version", "", "catalog version (default: the active one)")
	cmd.Flags().BoolVar(&source, "source", false, "print the catalog's YAML")
	return cmd
}

func catalogList(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the stored catalog versions",
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
			resp, err := c.Dispatch.ListCatalogs(ctx, &whistlev1.ListCatalogsRequest{})
			if err != nil {
				return fmt.Errorf("catalog list: %w", err)
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			var rows [][]string
			for _, v := range resp.GetVersions() {
				active := ""
				if v.GetActive() {
					active = "active"
				}
				rows = append(rows, []string{v.GetVersion(), active, g.when(v.GetImportedAt()), v.GetImportedBy(), v.GetSha256()[:12]})
			}
			return table(cmd.OutOrStdout(), "VERSION\t\tIMPORTED\tBY\tSHA256", rows)
		},
	}
}

func catalogImport(g *globals) *cobra.Command {
	var activate bool
	var who actorFlags
	cmd := &cobra.Command{
		Use:     "import <catalog.yaml>",
		Short:   "Check a catalog file and store it as a new version; --activate routes new tickets by it",
		Example: "  whistlectl catalog import deploy/seed/catalog.yaml --activate --as hh",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, err := os.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("read %s: %w", args[0], err)
			}
			c, err := g.clients()
			if err != nil {
				return err
			}
			ctx, err := g.act(cmd.Context(), auth.RoleAdmin, who.orgUnit)
			if err != nil {
				return err
			}
			resp, err := c.Dispatch.ImportCatalog(ctx, &whistlev1.ImportCatalogRequest{Source: string(src),
				Activate: activate, Actor: who.proto()})
			if err != nil {
				return fmt.Errorf("catalog import %s: %w", args[0], err)
			}
			verb := "imported"
			if !resp.GetCreated() {
				verb = "already stored"
			}
			return done(cmd, g, resp, "%s catalog %s (active: %v)", verb, resp.GetVersion().GetVersion(), resp.GetVersion().GetActive())
		},
	}
	cmd.Flags().BoolVar(&activate, "activate", false, "make it the active catalog")
	who.add(cmd, "the org unit you administer the catalog for (e.g. the city)")
	return cmd
}

func catalogActivate(g *globals) *cobra.Command {
	var who actorFlags
	cmd := &cobra.Command{
		Use:   "activate <version>",
		Short: "Route new tickets by a stored catalog version",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.clients()
			if err != nil {
				return err
			}
			ctx, err := g.act(cmd.Context(), auth.RoleAdmin, who.orgUnit)
			if err != nil {
				return err
			}
			resp, err := c.Dispatch.ActivateCatalog(ctx, &whistlev1.ActivateCatalogRequest{Version: args[0], Actor: who.proto()})
			if err != nil {
				return fmt.Errorf("catalog activate %s: %w", args[0], err)
			}
			return done(cmd, g, resp, "catalog %s is active", resp.GetVersion().GetVersion())
		},
	}
	who.add(cmd, "the org unit you administer the catalog for")
	return cmd
}

func catalogDiff(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "diff <from-version> <to-version>",
		Short: "Show what changed between two catalog versions",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.clients()
			if err != nil {
				return err
			}
			ctx, err := g.actCity(cmd.Context(), auth.RoleMonitor)
			if err != nil {
				return err
			}
			resp, err := c.Dispatch.DiffCatalogs(ctx, &whistlev1.DiffCatalogsRequest{From: args[0], To: args[1]})
			if err != nil {
				return fmt.Errorf("catalog diff: %w", err)
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			if len(resp.GetChanges()) == 0 {
				_, err := fmt.Fprintf(cmd.OutOrStdout(), "no differences between %s and %s\n", args[0], args[1])
				return err
			}
			var rows [][]string
			for _, ch := range resp.GetChanges() {
				rows = append(rows, []string{ch.GetKind(), ch.GetEntity(), ch.GetId(), ch.GetDetail()})
			}
			return table(cmd.OutOrStdout(), "CHANGE\tWHAT\tID\tDETAIL", rows)
		},
	}
}
