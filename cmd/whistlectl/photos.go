package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

func photosCommand(g *globals) *cobra.Command {
	var save string
	cmd := &cobra.Command{
		Use:   "photos <ticket>",
		Short: "List a ticket's photos and evidence, and save them with --save",
		Example: `  whistlectl photos HH-20261126-00042
  whistlectl photos HH-20261126-00042 --save ./HH-20261126-00042`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := g.clients(); err != nil {
				return err
			}
			ctx, err := g.actCity(cmd.Context(), auth.RoleMonitor)
			if err != nil {
				return err
			}
			ms, err := g.c.ListMedia(ctx, args[0])
			if err != nil {
				return fmt.Errorf("photos of %s: %w", args[0], err)
			}
			if save != "" {
				if err := os.MkdirAll(save, 0o755); err != nil {
					return fmt.Errorf("--save %s: %w (name a folder you may write)", save, err)
				}
			}
			out := cmd.OutOrStdout()
			if g.output == "json" {
				return printJSON(out, &whistlev1.ListMediaResponse{Media: ms})
			}
			if len(ms) == 0 {
				fmt.Fprintf(out, "%s has no photos or evidence\n", args[0])
				return nil
			}
			for _, m := range ms {
				line := fmt.Sprintf("%s  %-10s %-10s %7d bytes  %s by %s at %s", m.GetId(), m.GetKind(), m.GetContentType(),
					m.GetSizeBytes(), m.GetName(), m.GetUploadedByOrgUnitId(), g.when(m.GetUploadedAt()))
				if save != "" {
					path := filepath.Join(save, m.GetId()+"-"+filepath.Base(m.GetName()))
					f, err := os.Create(path)
					if err != nil {
						return fmt.Errorf("save %s: %w", path, err)
					}
					_, err = g.c.DownloadMedia(ctx, m.GetId(), f)
					if cerr := f.Close(); err == nil {
						err = cerr
					}
					if err != nil {
						return fmt.Errorf("save %s: %w", path, err)
					}
					line += "  saved as " + path
				}
				fmt.Fprintln(out, line)
			}
			g.zoneNote(out)
			return nil
		},
	}
	cmd.Flags().StringVar(&save, "save", "", "a folder to save the files in (created if missing)")
	return cmd
}

func duplicatesCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "duplicates <ticket>",
		Short:   "List the open tickets that likely report the same matter (同一事项), nearest first",
		Example: "  whistlectl duplicates HH-20261126-00043\n  whistlectl merge HH-20261126-00043 --into HH-20261126-00042 --note \"the same pothole\" --as xc-hd",
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
			resp, err := c.Intake.FindDuplicates(ctx, &whistlev1.FindDuplicatesRequest{Ticket: args[0]})
			if err != nil {
				return fmt.Errorf("duplicates of %s: %w", args[0], err)
			}
			out := cmd.OutOrStdout()
			if g.output == "json" {
				return printJSON(out, resp)
			}
			if len(resp.GetDuplicates()) == 0 {
				fmt.Fprintf(out, "no open ticket of the same matter nearby\n")
				return nil
			}
			for _, d := range resp.GetDuplicates() {
				fmt.Fprintf(out, "%s  %-10s %-12s reported %s\n", d.GetTicketNumber(), enumName(d.GetStatus()), nearness(d),
					g.when(d.GetReportedAt()))
			}
			fmt.Fprintf(out, "merge one with: whistlectl merge %s --into <original> --note <why> --as <street>\n", args[0])
			g.zoneNote(out)
			return nil
		},
	}
}
