package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

func open311Command(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "open311",
		Short: "Manage the Open311 gateway's API keys (administrators)",
		Long: `open311 keeps the api_keys with which civic apps and 311 platforms post
requests through the Open311 GeoReport v2 gateway (see docs/open311.md).
A key reports for one org unit (the reporting unit of its tickets, and the
area they must lie in), with one source, at most so many calls a minute. It
is stored hashed and shown once, when added.`,
	}
	keys := &cobra.Command{Use: "keys", Short: "Add, list and revoke the Open311 API keys"}
	keys.AddCommand(open311KeysAdd(g), open311KeysList(g), open311KeysRevoke(g))
	cmd.AddCommand(keys)
	return cmd
}

func open311KeysAdd(g *globals) *cobra.Command {
	var req whistlev1.AddOpen311KeyRequest
	var source, actorID string
	cmd := &cobra.Command{
		Use:   "add <name>",
		Short: "Issue a key for a system; prints the key, once",
		Example: `  whistlectl open311 keys add "市民随手拍 app" --unit hh --rate 600
  whistlectl open311 keys add "东街社区小程序" --unit xc-hd-dj --source building_head`,
		Args: exactlyOne(`give the system's name, e.g. "市民随手拍 app"`),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, err := sourceOf(source)
			if err != nil {
				return err
			}
			c, ctx, actor, err := asAdmin(cmd, g, actorID)
			if err != nil {
				return err
			}
			req.Name, req.Source, req.Actor = args[0], src, actor
			resp, err := c.Open311.AddOpen311Key(ctx, &req)
			if err != nil {
				return fmt.Errorf("open311 keys add: %w", err)
			}
			k := resp.GetKey()
			return done(cmd, g, resp, "added Open311 key %s for %s (%s, %d calls a minute)\nkey: %s\nkeep the key: it is shown only now; the system sends it as api_key",
				k.GetId(), k.GetOrgUnitId(), shortSource(k.GetSource()), k.GetRatePerMinute(), resp.GetSecret())
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.OrgUnitId, "unit", "", "the org unit the key reports for, e.g. the city (hh) or a community (xc-hd-dj); required")
	f.StringVar(&source, "source", "resident", "the source of its tickets: resident, grid_patrol, building_head, part_time_grid_worker, hotline_12345 or government_system")
	f.Int32Var(&req.RatePerMinute, "rate", 0, "calls a minute the key may make (default 60)")
	f.StringVar(&actorID, "actor", "whistlectl", "your staff id, for the log")
	_ = cmd.MarkFlagRequired("unit")
	return cmd
}

// sourceOf reads a source's short name.
func sourceOf(s string) (whistlev1.Source, error) {
	v, ok := whistlev1.Source_value["SOURCE_"+strings.ToUpper(s)]
	if !ok || v == 0 || whistlev1.Source(v) == whistlev1.Source_SOURCE_PROACTIVE {
		return 0, fmt.Errorf("--source %q: one of resident, grid_patrol, building_head, part_time_grid_worker, hotline_12345, government_system", s)
	}
	return whistlev1.Source(v), nil
}

func shortSource(s whistlev1.Source) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "SOURCE_"))
}

func open311KeysList(g *globals) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the keys (without the keys themselves)",
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
			resp, err := c.Open311.ListOpen311Keys(ctx, &whistlev1.ListOpen311KeysRequest{IncludeRevoked: all})
			if err != nil {
				return fmt.Errorf("open311 keys list: %w", err)
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			var rows [][]string
			for _, k := range resp.GetKeys() {
				revoked := "-"
				if k.GetRevokedAt() != nil {
					revoked = k.GetRevokedAt().AsTime().Format("2006-01-02 15:04")
				}
				rows = append(rows, []string{k.GetId(), k.GetName(), k.GetOrgUnitId(), shortSource(k.GetSource()),
					strconv.Itoa(int(k.GetRatePerMinute())), k.GetPrefix() + "…", revoked})
			}
			return table(cmd.OutOrStdout(), "ID\tNAME\tUNIT\tSOURCE\tPER MINUTE\tKEY\tREVOKED", rows)
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "also list revoked keys")
	return cmd
}

func open311KeysRevoke(g *globals) *cobra.Command {
	var actorID string
	cmd := &cobra.Command{
		Use:     "revoke <id>",
		Short:   "Revoke a key: calls with it fail from now on",
		Example: "  whistlectl open311 keys revoke 0193a1b2-…",
		Args:    exactlyOne("give the key's ID (see `whistlectl open311 keys list`)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ctx, actor, err := asAdmin(cmd, g, actorID)
			if err != nil {
				return err
			}
			resp, err := c.Open311.RevokeOpen311Key(ctx, &whistlev1.RevokeOpen311KeyRequest{Id: args[0], Actor: actor})
			if err != nil {
				return fmt.Errorf("open311 keys revoke %s: %w", args[0], err)
			}
			return done(cmd, g, resp, "revoked Open311 key %s (%s) of %s", args[0], resp.GetKey().GetPrefix()+"…", resp.GetKey().GetName())
		},
	}
	cmd.Flags().StringVar(&actorID, "actor", "whistlectl", "your staff id, for the log")
	return cmd
}
