package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ids"
)

func reportCommand(g *globals) *cobra.Command {
	var (
		req                 whistlev1.ReportRequest
		grid, address       string
		reporter, name, tel string
		kind, source        string
		lat, lon            float64
		hasCoords           bool
		photos              []string
	)
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Blow the whistle: report a problem and print its ticket",
		Long: `report files a whistle for the reporting org unit (--reporter, else --grid),
acting as that unit's reporter.`,
		Example: `  whistlectl report --category road_damage --grid xc-hd-dj-g01 --description "Deep pothole outside No. 12"
  whistlectl report --category noise_commercial --address "Xinhua St 8" --lat 40.81 --lon 111.67 --source resident --reporter hotline-12345 --description "Loud music after 23:00"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := parseEnum(whistlev1.WhistleKind(0).Descriptor(), "kind", kind)
			if err != nil {
				return err
			}
			s, err := parseEnum(whistlev1.Source(0).Descriptor(), "source", source)
			if err != nil {
				return err
			}
			req.Kind, req.Source = whistlev1.WhistleKind(k), whistlev1.Source(s)
			req.Location = &whistlev1.Location{GridId: grid, Address: address}
			if hasCoords = cmd.Flags().Changed("lat") || cmd.Flags().Changed("lon"); hasCoords {
				req.Location.Coordinates = &whistlev1.Coordinates{Latitude: lat, Longitude: lon}
			}
			if reporter == "" {
				reporter = grid
			}
			if reporter == "" {
				return fmt.Errorf("say who reports: --reporter <org unit id> (or --grid, which is used when --reporter is not given)")
			}
			req.Reporter = &whistlev1.Reporter{OrgUnitId: reporter, Name: name, Phone: tel}
			if req.IdempotencyKey == "" {
				req.IdempotencyKey = ids.New()
			}
			c, err := g.clients()
			if err != nil {
				return err
			}
			ctx, err := g.act(cmd.Context(), auth.RoleReporter, reporter)
			if err != nil {
				return err
			}
			for _, p := range photos {
				m, err := g.upload(ctx, p, &whistlev1.Actor{Id: "whistlectl", OrgUnitId: reporter})
				if err != nil {
					return err
				}
				req.PhotoIds = append(req.PhotoIds, m.GetId())
			}
			resp, err := c.Intake.Report(ctx, &req)
			if err != nil {
				return fmt.Errorf("report: %w", err)
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			t := resp.GetTicket()
			verb := "reported"
			if !resp.GetCreated() {
				verb = "already reported (same key)"
			}
			if resp.GetFollowedTicketId() != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "not reported: follow the ticket already reported, %s\n", resp.GetDuplicates()[0].GetTicketNumber())
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s: ticket %s (%s)", verb, t.GetCategory(), t.GetNumber(), t.GetId())
			if n := len(t.GetPhotoIds()); n > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), " with %d photo(s)", n)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "\nfollow it with: whistlectl show %s\n", t.GetNumber())
			for _, d := range resp.GetDuplicates() {
				fmt.Fprintf(cmd.OutOrStdout(), "likely the same matter: %s (%s, %s)\n", d.GetTicketNumber(), enumName(d.GetStatus()), nearness(d))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Category, "category", "", "matter type code, e.g. road_damage (see the catalog)")
	f.StringVar(&req.Description, "description", "", "what is wrong")
	f.StringVar(&req.Title, "title", "", "short summary")
	f.StringVar(&grid, "grid", "", "grid org unit id where the problem is, e.g. xc-hd-dj-g01")
	f.StringVar(&address, "address", "", "address in words")
	f.Float64Var(&lat, "lat", 0, "latitude (WGS-84)")
	f.Float64Var(&lon, "lon", 0, "longitude (WGS-84)")
	f.StringVar(&kind, "kind", "daily", "whistle kind: daily, tough or emergency")
	f.StringVar(&source, "source", "grid-patrol", "channel, e.g. grid-patrol, resident, hotline-12345")
	f.StringVar(&reporter, "reporter", "", "reporting org unit id (default: --grid)")
	f.StringVar(&name, "name", "", "reporter's name (personal data)")
	f.StringVar(&tel, "phone", "", "reporter's phone (personal data)")
	f.StringVar(&req.IdempotencyKey, "key", "", "idempotency key; resend with the same key to retry safely (default: new)")
	f.BoolVar(&req.Synthetic, "synthetic", false, "mark as test traffic")
	f.StringArrayVar(&photos, "photo", nil, "a photo or short video of the problem, uploaded with the report (repeatable, up to 9)")
	f.BoolVar(&req.FollowOriginal, "follow-original", false, "report nothing when the matter is already reported nearby: follow that ticket")
	_ = cmd.MarkFlagRequired("category")
	_ = cmd.MarkFlagRequired("description")
	return cmd
}

// nearness says how near a likely duplicate is.
func nearness(d *whistlev1.DuplicateCandidate) string {
	if d.GetSameGrid() {
		return "same grid"
	}
	return fmt.Sprintf("%.0f m away", d.GetDistanceMeters())
}
