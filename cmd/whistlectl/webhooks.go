package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/whistle-civic/whistle/cmd/internal/loop"
	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

func webhooksCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "webhooks",
		Short: "Subscribe other systems to events by webhook; list, test and remove them, see failures (administrators)",
		Long: `webhooks keeps the subscriptions through which other systems (a department's
case system, a district's dashboard) hear of new work as it happens. Each
event a subscription asks for (by type, and by org unit: the ticket's place
and the units above it, the departments the event names) is POSTed to its
URL as a CloudEvents 1.0 JSON event, signed with its secret (Standard
Webhooks: webhook-id, webhook-timestamp, webhook-signature), at least once
with the event id as the idempotency key, in order per ticket. A failed
delivery is retried with backoff for a day, then listed by "webhooks
failures". Endpoints on private, loopback, link-local or metadata addresses
are refused unless the operators allow them (WHISTLE_EGRESS_ALLOW).
See docs/webhooks.md for verifying the signatures.`,
	}
	cmd.AddCommand(webhooksAdd(g), webhooksList(g), webhooksRemove(g), webhooksTest(g), webhooksFailures(g))
	return cmd
}

// asAdmin prepares a call as the city's administrator, acting for the org
// unit the token does.
func asAdmin(cmd *cobra.Command, g *globals, actorID string) (loop.Clients, context.Context, *whistlev1.Actor, error) {
	c, err := g.clients()
	if err != nil {
		return loop.Clients{}, nil, nil, err
	}
	org, err := g.cityActor()
	if err != nil {
		return loop.Clients{}, nil, nil, err
	}
	ctx, err := g.actCity(cmd.Context(), auth.RoleAdmin)
	if err != nil {
		return loop.Clients{}, nil, nil, err
	}
	return c, ctx, &whistlev1.Actor{Id: actorID, OrgUnitId: org}, nil
}

func webhooksAdd(g *globals) *cobra.Command {
	var req whistlev1.AddWebhookRequest
	var actorID string
	cmd := &cobra.Command{
		Use:   "add <url>",
		Short: "Subscribe a URL to events; prints the secret that signs them, once",
		Example: `  whistlectl webhooks add https://cases.water.example.gov/whistle --events dispatched --units xc-water
  whistlectl webhooks add https://dash.xc.example.gov/hook --units xc --description "district dashboard"`,
		Args: exactlyOne("give the URL to deliver to, e.g. https://cases.example.gov/whistle"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ctx, actor, err := asAdmin(cmd, g, actorID)
			if err != nil {
				return err
			}
			req.Url, req.Actor = args[0], actor
			resp, err := c.Webhooks.AddWebhook(ctx, &req)
			if err != nil {
				return fmt.Errorf("webhooks add: %w", err)
			}
			w := resp.GetWebhook()
			return done(cmd, g, resp, "added webhook %s for %s (events: %s; org units: %s)\nsecret: %s\nkeep the secret: it is shown only now, and verifies the webhook-signature of each delivery",
				w.GetId(), w.GetUrl(), orAll(w.GetEventTypes()), orAll(w.GetOrgUnitIds()), resp.GetSecret())
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&req.EventTypes, "events", nil, `event types to deliver, e.g. "dispatched,closed"; none for every event about a ticket`)
	f.StringSliceVar(&req.OrgUnitIds, "units", nil, `org units whose events to deliver (and those under them), e.g. "xc-water"; none for all`)
	f.StringVar(&req.Description, "description", "", "what the subscription is for")
	f.StringVar(&req.Secret, "secret", "", `a secret of your own ("whsec_" and base64 of 24 to 64 bytes); none to have one made`)
	f.StringVar(&actorID, "actor", "whistlectl", "your staff id, for the log")
	return cmd
}

func orAll(vs []string) string {
	if len(vs) == 0 {
		return "all"
	}
	return strings.Join(vs, ",")
}

func webhooksList(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the subscriptions with what waits for each and what failed",
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
			resp, err := c.Webhooks.ListWebhooks(ctx, &whistlev1.ListWebhooksRequest{})
			if err != nil {
				return fmt.Errorf("webhooks list: %w", err)
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			var rows [][]string
			for _, w := range resp.GetWebhooks() {
				rows = append(rows, []string{w.GetId(), w.GetUrl(), orAll(w.GetEventTypes()), orAll(w.GetOrgUnitIds()),
					strconv.FormatInt(w.GetPending(), 10), strconv.FormatInt(w.GetFailed(), 10), w.GetSecretHint(), dash(w.GetDescription())})
			}
			return table(cmd.OutOrStdout(), "ID\tURL\tEVENTS\tUNITS\tPENDING\tFAILED\tSECRET\tDESCRIPTION", rows)
		},
	}
}

func webhooksRemove(g *globals) *cobra.Command {
	var actorID string
	cmd := &cobra.Command{
		Use:     "remove <id>",
		Short:   "End a subscription; what waited for it is dropped",
		Example: "  whistlectl webhooks remove 0193a1b2-…",
		Args:    exactlyOne("give the webhook's ID (see `whistlectl webhooks list`)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ctx, actor, err := asAdmin(cmd, g, actorID)
			if err != nil {
				return err
			}
			resp, err := c.Webhooks.RemoveWebhook(ctx, &whistlev1.RemoveWebhookRequest{Id: args[0], Actor: actor})
			if err != nil {
				return fmt.Errorf("webhooks remove %s: %w", args[0], err)
			}
			return done(cmd, g, resp, "removed webhook %s for %s", args[0], resp.GetWebhook().GetUrl())
		},
	}
	cmd.Flags().StringVar(&actorID, "actor", "whistlectl", "your staff id, for the log")
	return cmd
}

func webhooksTest(g *globals) *cobra.Command {
	var actorID string
	cmd := &cobra.Command{
		Use:   "test <id>",
		Short: "Send a signed test event to a subscription now and show the answer",
		Long: `test sends a signed CloudEvent of type org.whistle.webhook.test to the
subscription's URL now, once, and prints what the endpoint answered. It
fails (exit status 1) when the event was not delivered.`,
		Example: "  whistlectl webhooks test 0193a1b2-…",
		Args:    exactlyOne("give the webhook's ID (see `whistlectl webhooks list`)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ctx, actor, err := asAdmin(cmd, g, actorID)
			if err != nil {
				return err
			}
			resp, err := c.Webhooks.TestWebhook(ctx, &whistlev1.TestWebhookRequest{Id: args[0], Actor: actor})
			if err != nil {
				return fmt.Errorf("webhooks test %s: %w", args[0], err)
			}
			if !resp.GetDelivered() {
				if g.output == "json" {
					_ = printJSON(cmd.OutOrStdout(), resp)
				}
				return fmt.Errorf("webhooks test %s: not delivered (HTTP %d, %d ms): %s; check the URL, that the endpoint answers 2xx, and for a private address WHISTLE_EGRESS_ALLOW",
					args[0], resp.GetHttpStatus(), resp.GetTookMs(), resp.GetError())
			}
			return done(cmd, g, resp, "delivered test event %s: HTTP %d in %d ms", resp.GetEventId(), resp.GetHttpStatus(), resp.GetTookMs())
		},
	}
	cmd.Flags().StringVar(&actorID, "actor", "whistlectl", "your staff id, for the log")
	return cmd
}

// webhookErrorWidth is how much of a failure's error the table shows; -o
// json shows all of it.
const webhookErrorWidth = 100

func webhooksFailures(g *globals) *cobra.Command {
	var req whistlev1.ListWebhookFailuresRequest
	cmd := &cobra.Command{
		Use:   "failures",
		Short: "List the deliveries given up on, newest first",
		Example: `  whistlectl webhooks failures
  whistlectl webhooks failures --webhook 0193a1b2-… --page-size 100 -o json`,
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
			resp, err := c.Webhooks.ListWebhookFailures(ctx, &req)
			if err != nil {
				return fmt.Errorf("webhooks failures: %w", err)
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			var rows [][]string
			for _, f := range resp.GetFailures() {
				rows = append(rows, []string{strconv.FormatInt(f.GetDeliveryId(), 10), g.when(f.GetFailedAt()), f.GetWebhookId(), f.GetEventType(),
					f.GetTicketId(), strconv.Itoa(int(f.GetAttempts())), httpStatus(f.GetHttpStatus()), oneLine(f.GetError(), webhookErrorWidth)})
			}
			if err := table(cmd.OutOrStdout(), "DELIVERY\tFAILED\tWEBHOOK\tEVENT\tTICKET\tATTEMPTS\tHTTP\tERROR", rows); err != nil {
				return err
			}
			if next := resp.GetNextBeforeDeliveryId(); next != 0 {
				_, err := fmt.Fprintf(cmd.OutOrStdout(), "more: whistlectl webhooks failures --before %d (with the same filters)\n", next)
				return err
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.WebhookId, "webhook", "", "only this subscription's (its ID)")
	f.Int64Var(&req.BeforeDeliveryId, "before", 0, `start before this DELIVERY, as printed after "more:" by the previous page`)
	f.Int32Var(&req.PageSize, "page-size", 50, "failures per page, up to 500")
	return cmd
}

func httpStatus(code int32) string {
	if code == 0 {
		return "-"
	}
	return strconv.Itoa(int(code))
}
