package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ids"
)

// actorFlags name who acts.
type actorFlags struct {
	orgUnit, id, name string
}

func (a *actorFlags) add(cmd *cobra.Command, orgHelp string) {
	a.addOptional(cmd, orgHelp)
	_ = cmd.MarkFlagRequired("as")
}

// addOptional adds the flags with --as optional.
func (a *actorFlags) addOptional(cmd *cobra.Command, orgHelp string) {
	cmd.Flags().StringVar(&a.orgUnit, "as", "", orgHelp)
	cmd.Flags().StringVar(&a.id, "actor", "whistlectl", "your staff id")
	cmd.Flags().StringVar(&a.name, "name", "", "your name, for the timeline")
}

func (a *actorFlags) proto() *whistlev1.Actor {
	return &whistlev1.Actor{Id: a.id, OrgUnitId: a.orgUnit, DisplayName: a.name}
}

// done prints the outcome of an action.
func done(cmd *cobra.Command, g *globals, m proto.Message, format string, args ...any) error {
	if g.output == "json" {
		return printJSON(cmd.OutOrStdout(), m)
	}
	_, err := fmt.Fprintf(cmd.OutOrStdout(), format+"\n", args...)
	return err
}

func acceptCommand(g *globals) *cobra.Command {
	var who actorFlags
	cmd := &cobra.Command{
		Use:     "accept <ticket>",
		Short:   "Report a department in on a dispatched ticket (报到/应哨)",
		Example: "  whistlectl accept HH-20261126-00042 --as xc-urban",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.clients()
			if err != nil {
				return err
			}
			ctx, id, err := g.actOn(cmd.Context(), c, args[0], auth.RoleDepartmentHandler, who.orgUnit)
			if err != nil {
				return err
			}
			resp, err := c.Response.Accept(ctx, &whistlev1.AcceptRequest{TicketId: id, Actor: who.proto(), RequestId: ids.New()})
			if err != nil {
				return fmt.Errorf("accept %s: %w", args[0], err)
			}
			return done(cmd, g, resp, "accepted %s for %s; resolve it by %s", resp.GetItem().GetTicketNumber(),
				who.orgUnit, g.when(resp.GetItem().GetResolveDue()))
		},
	}
	who.add(cmd, "the department you act for (the ticket's lead department)")
	return cmd
}

func resolveCommand(g *globals) *cobra.Command {
	var who actorFlags
	var result, missing string
	var evidence []string
	cmd := &cobra.Command{
		Use:     "resolve <ticket>",
		Short:   "Record a department's result on an accepted or reopened ticket (办结)",
		Example: `  whistlectl resolve HH-20261126-00042 --as xc-urban --result "Pothole filled and sealed"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.clients()
			if err != nil {
				return err
			}
			ctx, id, err := g.actOn(cmd.Context(), c, args[0], auth.RoleDepartmentHandler, who.orgUnit)
			if err != nil {
				return err
			}
			atts, err := g.attachments(ctx, evidence, who.proto())
			if err != nil {
				return err
			}
			resp, err := c.Response.Resolve(ctx, &whistlev1.ResolveRequest{TicketId: id, Actor: who.proto(), Result: result,
				Evidence: atts, MissingAssistsReason: missing, RequestId: ids.New()})
			if err != nil {
				return fmt.Errorf("resolve %s: %w", args[0], err)
			}
			return done(cmd, g, resp, "resolved %s; it now waits for evaluation", resp.GetItem().GetTicketNumber())
		},
	}
	who.add(cmd, "the department you act for (the ticket's lead department)")
	cmd.Flags().StringVar(&result, "result", "", "what was done")
	cmd.Flags().StringSliceVar(&evidence, "evidence", nil, attachmentHelp)
	cmd.Flags().StringVar(&missing, "missing-assists-reason", "", "why you resolve before every assisting department reported")
	_ = cmd.MarkFlagRequired("result")
	return cmd
}

func evaluateCommand(g *globals) *cobra.Command {
	var who actorFlags
	var verdict, comment, code string
	var reasons, photos []string
	cmd := &cobra.Command{
		Use:   "evaluate <ticket>",
		Short: "Judge a resolved ticket: satisfied or basically-satisfied closes it, unsatisfied sends it back",
		Long: `evaluate gives the verdict on a resolved ticket's result: as the reporting
community's officer (--as the community), or as the resident who reported it,
with the one-time code they were given (--code; a resident needs no token, the
code is the credential).`,
		Example: `  whistlectl evaluate HH-20261126-00042 --as xc-hd-dj --verdict satisfied
  whistlectl evaluate HH-20261126-00042 --as xc-hd-dj --verdict unsatisfied --reason not_fixed --comment "Still leaking"
  whistlectl evaluate 0193a5c4-… --code K7Q2M9 --verdict satisfied`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := parseEnum(whistlev1.Verdict(0).Descriptor(), "verdict", verdict)
			if err != nil {
				return err
			}
			if who.orgUnit == "" && code == "" {
				return errors.New("say who evaluates: --as <the reporting community>, or --code <the resident's one-time code>")
			}
			c, err := g.clients()
			if err != nil {
				return err
			}
			req := &whistlev1.EvaluateRequest{Verdict: whistlev1.Verdict(v), Comment: comment, ReasonCodes: reasons,
				Evaluator: who.proto(), RequestId: ids.New()}
			var ctx context.Context
			if code != "" { // a resident: no credentials but the code
				if req.TicketId, err = g.ticketID(cmd.Context(), c, args[0], auth.RoleResident, ""); err != nil {
					return err
				}
				req.Source, req.EvaluationCode = whistlev1.EvaluationSource_EVALUATION_SOURCE_RESIDENT, code
				ctx = anonymous(cmd.Context())
			} else if ctx, req.TicketId, err = g.actOn(cmd.Context(), c, args[0], auth.RoleCommunityOfficer, who.orgUnit); err != nil {
				return err
			}
			if len(photos) > 0 && code != "" {
				return errors.New("--photo needs --as: a resident judging with a code cannot upload photos")
			}
			if req.Attachments, err = g.attachments(ctx, photos, who.proto()); err != nil {
				return err
			}
			resp, err := c.Evaluation.Evaluate(ctx, req)
			if err != nil {
				return fmt.Errorf("evaluate %s: %w", args[0], err)
			}
			next := "it closes"
			if whistlev1.Verdict(v) == whistlev1.Verdict_VERDICT_UNSATISFIED {
				next = "it goes back to " + resp.GetEvaluation().GetDepartmentId() + " for rework"
			}
			return done(cmd, g, resp, "evaluated %s (round %d): %s; %s", resp.GetEvaluation().GetTicketNumber(),
				resp.GetEvaluation().GetRound(), verdict, next)
		},
	}
	who.addOptional(cmd, "the org unit you evaluate for (the reporting community); not with --code")
	cmd.Flags().StringVar(&code, "code", "", "the reporting resident's one-time evaluation code, to judge as that resident")
	cmd.Flags().StringVar(&verdict, "verdict", "", "satisfied, basically-satisfied or unsatisfied")
	cmd.Flags().StringVar(&comment, "comment", "", "why")
	cmd.Flags().StringSliceVar(&reasons, "reason", nil, "reason codes for an unsatisfied verdict, e.g. not_fixed")
	cmd.Flags().StringArrayVar(&photos, "photo", nil, "a photo of what is still wrong, with an unsatisfied verdict (uploaded; repeatable)")
	_ = cmd.MarkFlagRequired("verdict")
	return cmd
}
