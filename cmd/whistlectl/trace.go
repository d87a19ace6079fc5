package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// traceIDField is what a trace UI link template puts the trace id in place of.
const traceIDField = "{trace_id}"

func traceCommand(g *globals) *cobra.Command {
	var traceURL string
	cmd := &cobra.Command{
		Use:   "trace <ticket>",
		Short: "Print a ticket's trace id, and its link in the trace UI when one is configured",
		Long: `trace prints the id of the ticket's trace. Each ticket has one trace, begun when
it was reported, holding the spans of all five services that worked on it;
find it in the tracing backend Whistle exports to (OTEL_EXPORTER_OTLP_ENDPOINT).

With a trace UI configured (--trace-url, else WHISTLE_TRACE_URL, else
trace_url in the config file; none by default) it prints the link too: the
template with ` + traceIDField + ` replaced by the trace id, such as
http://localhost:16686/trace/` + traceIDField + ` for Jaeger.`,
		Example: `  whistlectl trace HH-20261126-00042
  whistlectl trace HH-20261126-00042 --trace-url 'http://localhost:16686/trace/{trace_id}'
  WHISTLE_TRACE_URL='http://localhost:16686/trace/{trace_id}' whistlectl trace 0193a5c4-… -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tmpl, from := traceURL, "--trace-url"
			if tmpl == "" {
				tmpl, from = os.Getenv("WHISTLE_TRACE_URL"), "WHISTLE_TRACE_URL"
			}
			if tmpl == "" {
				tmpl, from = g.file.TraceURL, "trace_url in the config file"
			}
			if tmpl != "" && !strings.Contains(tmpl, traceIDField) {
				return fmt.Errorf("%s %q has no %s to put the trace id in: give a template such as http://localhost:16686/trace/%s",
					from, tmpl, traceIDField, traceIDField)
			}
			c, err := g.clients()
			if err != nil {
				return err
			}
			ctx, err := g.actCity(cmd.Context(), auth.RoleMonitor)
			if err != nil {
				return err
			}
			resp, err := c.Intake.GetTicket(ctx, &whistlev1.GetTicketRequest{Ticket: args[0]})
			if status.Code(err) == codes.NotFound {
				return fmt.Errorf("trace %s: %w (check the ticket's number or id; whistlectl tickets lists them)", args[0], err)
			}
			if err != nil {
				return fmt.Errorf("trace %s: %w", args[0], err)
			}
			t := resp.GetTicket()
			if t.GetTraceId() == "" {
				return fmt.Errorf("ticket %s has no trace recorded; whistlectl show %s has its timeline", t.GetNumber(), t.GetNumber())
			}
			link := ""
			if tmpl != "" {
				link = strings.ReplaceAll(tmpl, traceIDField, t.GetTraceId())
			}
			out := cmd.OutOrStdout()
			if g.output == "json" {
				b, err := json.MarshalIndent(struct {
					TicketID string `json:"ticketId"`
					Number   string `json:"number"`
					TraceID  string `json:"traceId"`
					TraceURL string `json:"traceUrl,omitempty"`
				}{t.GetId(), t.GetNumber(), t.GetTraceId(), link}, "", "  ")
				if err != nil {
					return err
				}
				_, err = fmt.Fprintln(out, string(b))
				return err
			}
			fmt.Fprintf(out, "Ticket  %s  (%s)\n", t.GetNumber(), t.GetId())
			fmt.Fprintf(out, "Trace   %s\n", t.GetTraceId())
			if link != "" {
				fmt.Fprintf(out, "Link    %s\n", link)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&traceURL, "trace-url", "", "trace UI link template, "+traceIDField+
		" standing for the trace id, e.g. http://localhost:16686/trace/"+traceIDField+" (env WHISTLE_TRACE_URL, config trace_url; default none)")
	return cmd
}
