package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

func countsCommand(g *globals) *cobra.Command {
	var synthetic bool
	cmd := &cobra.Command{
		Use:   "counts",
		Short: "Show how many tickets are in each status now",
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
			resp, err := c.Monitoring.GetCounts(ctx, &whistlev1.GetCountsRequest{IncludeSynthetic: synthetic})
			if err != nil {
				return fmt.Errorf("counts: %w", err)
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			var rows [][]string
			for _, c := range resp.GetCounts() {
				rows = append(rows, []string{enumName(c.GetStatus()), fmt.Sprint(c.GetCount())})
			}
			rows = append(rows, []string{"total", fmt.Sprint(resp.GetTotal())})
			return table(cmd.OutOrStdout(), "STATUS\tTICKETS", rows)
		},
	}
	cmd.Flags().BoolVar(&synthetic, "synthetic", false, "include test traffic (smoke, benchmarks)")
	return cmd
}
