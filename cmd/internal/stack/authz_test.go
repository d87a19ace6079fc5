package stack_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/eventually"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/services/dispatch"

	"github.com/whistle-civic/whistle/cmd/internal/loop"
	"github.com/whistle-civic/whistle/cmd/internal/stack/stacktest"
)

// The tickets of the authorization test, both in grid xc-hd-dj-g01: handled
// is a water leak led by xc-water, assisted by xc-urban, resolved and waiting
// for its evaluation; judged waits for its evaluation too, and is closed by
// the first verdict allowed.
type fixture struct {
	handled, judged, code string
	// photo was reported with handled.
	photo string
}

// target is what one call touches, as one principal makes it.
type target struct {
	fixture
	// unit is the org unit the call names: the in-scope principal's own.
	unit string
	// actor is the caller's org unit, named as the request's actor.
	actor string
	// role is the caller's.
	role auth.Role
}

// rpc is one API call with the policy the test expects of it. Roles are
// abbreviated: rep com str han lea mon adm sys res.
type rpc struct {
	name string
	// allow lists the roles that may make the call where they act.
	allow string
	// anywhere lists those who may make it outside their place too.
	anywhere string
	// ticket: outside one's place the ticket is NotFound (else PermissionDenied).
	ticket bool
	// list: outside one's place the call succeeds but shows nothing of ours.
	list bool
	// dept is the department acting in scope, when not the lead.
	dept string
	// call makes the call; it reports whether the fixture's ticket was seen.
	call func(ctx context.Context, c loop.Clients, k target) (bool, error)
}

var roleNames = map[string]auth.Role{"rep": auth.RoleReporter, "com": auth.RoleCommunityOfficer, "str": auth.RoleStreetOfficer,
	"han": auth.RoleDepartmentHandler, "lea": auth.RoleDepartmentLead, "mon": auth.RoleMonitor, "adm": auth.RoleAdmin,
	"sys": auth.RoleSystem, "res": auth.RoleResident}

// principal is a role with the org unit it acts for in and out of the
// fixture's place.
type principal struct {
	short   string
	in, out string
}

const lead = "xc-water"

var principals = []principal{
	{"rep", "xc-hd-dj-g01", "yq-ht-dls-g01"}, {"com", "xc-hd-dj", "yq-ht-dls"}, {"str", "xc-hd", "yq-ht"},
	{"han", lead, "yq-water"}, {"lea", lead, "yq-water"}, {"mon", "hh", "yq"}, {"adm", "hh", "yq"}, {"sys", "hh", "yq"},
	{"res", "xc-hd-dj", "xc-hd-dj"},
}

func actor(k target) *whistlev1.Actor { return &whistlev1.Actor{Id: "authz-test", OrgUnitId: k.actor} }

func ok[T any](_ T, err error) (bool, error) { return err == nil, err }

const everyone = "rep com str han lea mon adm sys"

var month = &whistlev1.Period{Kind: whistlev1.PeriodKind_PERIOD_KIND_CUSTOM, FromDate: "2000-01-01", ToDate: "2100-01-01"}

// rpcs is every RPC of the five APIs, the audit log, the dead letters, the webhooks and the Open311 keys.
var rpcs = []rpc{
	{name: "Intake.Report", allow: "rep com str sys adm", anywhere: "adm", call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Intake.Report(ctx, &whistlev1.ReportRequest{IdempotencyKey: fmt.Sprint("authz-", time.Now().UnixNano()),
			Kind: whistlev1.WhistleKind_WHISTLE_KIND_DAILY, Source: whistlev1.Source_SOURCE_GRID_PATROL, Category: "noise",
			Description: "authz", Location: &whistlev1.Location{GridId: "xc-hd-dj-g01"},
			Reporter: &whistlev1.Reporter{OrgUnitId: k.unit}, Synthetic: true}))
	}},
	{name: "Intake.GetTicket", allow: "rep com str mon adm sys", anywhere: "adm", ticket: true, call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Intake.GetTicket(ctx, &whistlev1.GetTicketRequest{Ticket: k.handled}))
	}},
	{name: "Intake.ListTickets", allow: "rep com str mon adm sys", anywhere: "adm", list: true, call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		resp, err := c.Intake.ListTickets(ctx, &whistlev1.ListTicketsRequest{Category: "water_leak", PageSize: 500})
		return slices.ContainsFunc(resp.GetTickets(), func(t *whistlev1.Ticket) bool { return t.GetId() == k.handled }), err
	}},
	{name: "Intake.UploadMedia", allow: "rep com str han lea sys adm", anywhere: "rep com str han lea sys adm", call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(loop.UploadJPEG(ctx, c, actor(k)))
	}},
	{name: "Intake.ImportTickets", allow: "adm", anywhere: "adm", call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(loop.ImportOne(ctx, c))
	}},
	{name: "Intake.GetMedia", allow: "rep com str han lea mon adm sys", anywhere: "adm", ticket: true, call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		stream, err := c.Intake.GetMedia(ctx, &whistlev1.GetMediaRequest{MediaId: k.photo})
		if err == nil {
			_, err = stream.Recv()
		}
		return err == nil, err
	}},
	{name: "Intake.ListMedia", allow: "rep com str han lea mon adm sys", anywhere: "adm", ticket: true, call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Intake.ListMedia(ctx, &whistlev1.ListMediaRequest{Ticket: k.handled}))
	}},
	{name: "Intake.FindDuplicates", allow: "rep com str mon adm sys", anywhere: "adm", ticket: true, call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Intake.FindDuplicates(ctx, &whistlev1.FindDuplicatesRequest{Ticket: k.handled}))
	}},
	{name: "Dispatch.GetAssignment", allow: "rep com str han lea mon adm sys", anywhere: "adm", ticket: true, call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Dispatch.GetAssignment(ctx, &whistlev1.GetAssignmentRequest{TicketId: k.handled}))
	}},
	{name: "Dispatch.ExplainRouting", allow: everyone, anywhere: everyone, call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Dispatch.ExplainRouting(ctx, &whistlev1.ExplainRoutingRequest{Category: "water_leak", GridId: "xc-hd-dj-g01"}))
	}},
	{name: "Dispatch.ExplainRouting(ticket)", allow: "rep com str han lea mon adm sys", anywhere: "adm", ticket: true, call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Dispatch.ExplainRouting(ctx, &whistlev1.ExplainRoutingRequest{TicketId: k.handled}))
	}},
	{name: "Dispatch.ListTriage", allow: "str mon adm", anywhere: "adm", call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Dispatch.ListTriage(ctx, &whistlev1.ListTriageRequest{OrgUnitId: k.unit}))
	}},
	{name: "Dispatch.Dispatch", allow: "str adm", anywhere: "adm", ticket: true, call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Dispatch.Dispatch(ctx, &whistlev1.DispatchRequest{TicketId: k.handled, LeadDepartmentId: "xc-urban",
			AcceptWithin: durationpb.New(time.Hour), ResolveWithin: durationpb.New(24 * time.Hour), Note: "by hand", Actor: actor(k)}))
	}},
	{name: "Dispatch.RejectTriage", allow: "str adm", anywhere: "adm", ticket: true, call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Dispatch.RejectTriage(ctx, &whistlev1.RejectTriageRequest{TicketId: k.handled, Reason: "not ours", Actor: actor(k)}))
	}},
	{name: "Dispatch.Arbitrate", allow: "str adm", anywhere: "adm", ticket: true, call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Dispatch.Arbitrate(ctx, &whistlev1.ArbitrateRequest{TicketId: k.handled, DepartmentId: "xc-urban", Note: "decided",
			Actor: actor(k)}))
	}},
	{name: "Dispatch.Withdraw", allow: "rep com sys adm", anywhere: "adm", ticket: true, call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Dispatch.Withdraw(ctx, &whistlev1.WithdrawRequest{TicketId: k.handled, Reason: "taken back", Actor: actor(k)}))
	}},
	{name: "Dispatch.Merge", allow: "str adm", anywhere: "adm", ticket: true, call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Dispatch.Merge(ctx, &whistlev1.MergeRequest{TicketId: k.handled, OriginalTicketId: k.judged, Note: "the same",
			AcrossMatters: true, Actor: actor(k)}))
	}},
	{name: "Dispatch.DecideExtension", allow: "str adm", anywhere: "adm", ticket: true, call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Dispatch.DecideExtension(ctx, &whistlev1.DecideExtensionRequest{TicketId: k.handled, Note: "no", Actor: actor(k)}))
	}},
	{name: "Dispatch.GetCatalog", allow: everyone, anywhere: everyone, call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Dispatch.GetCatalog(ctx, &whistlev1.GetCatalogRequest{}))
	}},
	{name: "Dispatch.ListCatalogs", allow: everyone, anywhere: everyone, call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Dispatch.ListCatalogs(ctx, &whistlev1.ListCatalogsRequest{}))
	}},
	{name: "Dispatch.DiffCatalogs", allow: everyone, anywhere: everyone, call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Dispatch.DiffCatalogs(ctx, &whistlev1.DiffCatalogsRequest{From: "2026.11-sample", To: "2026.11-sample"}))
	}},
	{name: "Dispatch.ImportCatalog", allow: "adm", anywhere: "adm", call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Dispatch.ImportCatalog(ctx, &whistlev1.ImportCatalogRequest{Source: string(dispatch.SampleCatalog), Actor: actor(k)}))
	}},
	{name: "Dispatch.ReviseCalendar", allow: "adm", anywhere: "adm", call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Dispatch.ReviseCalendar(ctx, &whistlev1.ReviseCalendarRequest{Version: "authz-calendar",
			AddHolidays: []string{"2099-01-01"}, Actor: actor(k)}))
	}},
	{name: "Dispatch.ActivateCatalog", allow: "adm", anywhere: "adm", call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Dispatch.ActivateCatalog(ctx, &whistlev1.ActivateCatalogRequest{Version: "2026.11-sample", Actor: actor(k)}))
	}},
	{name: "Response.ListInbox", allow: "han lea", call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Response.ListInbox(ctx, &whistlev1.ListInboxRequest{DepartmentId: k.unit}))
	}},
	{name: "Response.GetInboxItem", allow: "han lea", ticket: true, call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Response.GetInboxItem(ctx, &whistlev1.GetInboxItemRequest{TicketId: k.handled}))
	}},
	{name: "Response.Accept", allow: "han lea", ticket: true, call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Response.Accept(ctx, &whistlev1.AcceptRequest{TicketId: k.handled, Actor: actor(k)}))
	}},
	{name: "Response.Resolve", allow: "han lea", ticket: true, call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Response.Resolve(ctx, &whistlev1.ResolveRequest{TicketId: k.handled, Result: "again", Actor: actor(k)}))
	}},
	{name: "Response.Return", allow: "han lea", ticket: true, call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Response.Return(ctx, &whistlev1.ReturnRequest{TicketId: k.handled, Note: "not ours", Actor: actor(k),
			ReasonCode: whistlev1.ReturnReason_RETURN_REASON_NOT_OUR_JURISDICTION}))
	}},
	{name: "Response.AddProgress", allow: "han lea", ticket: true, call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Response.AddProgress(ctx, &whistlev1.AddProgressRequest{TicketId: k.handled, Note: "checked", Actor: actor(k)}))
	}},
	{name: "Response.RequestExtension", allow: "han lea", ticket: true, call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Response.RequestExtension(ctx, &whistlev1.RequestExtensionRequest{TicketId: k.handled, Reason: "parts on order",
			RequestedResolveDue: timestamppb.New(time.Now().Add(30 * 24 * time.Hour)), Actor: actor(k)}))
	}},
	{name: "Response.ReportAssist", allow: "han lea", ticket: true, dept: "xc-urban", call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Response.ReportAssist(ctx, &whistlev1.ReportAssistRequest{TicketId: k.handled, Note: "helped", Actor: actor(k)}))
	}},
	{name: "Response.WithdrawFromInbox", allow: "rep com sys adm", anywhere: "adm", ticket: true, call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Response.WithdrawFromInbox(ctx, &whistlev1.WithdrawFromInboxRequest{TicketId: k.handled, Reason: "taken back", Actor: actor(k)}))
	}},
	{name: "Response.MergeFromInbox", allow: "str adm", anywhere: "adm", ticket: true, call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Response.MergeFromInbox(ctx, &whistlev1.MergeFromInboxRequest{TicketId: k.handled, OriginalTicketId: k.judged,
			Note: "the same", AcrossMatters: true, Actor: actor(k)}))
	}},
	{name: "Response.WatchInbox", allow: "han lea", call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		stream, err := c.Response.WatchInbox(ctx, &whistlev1.WatchInboxRequest{DepartmentId: k.unit, FromNow: true})
		if err != nil {
			return false, err
		}
		return ok(stream.Recv())
	}},
	{name: "Evaluation.GetEvaluation", allow: "rep com str han lea mon adm sys", anywhere: "adm", ticket: true, call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Evaluation.GetEvaluation(ctx, &whistlev1.GetEvaluationRequest{TicketId: k.handled}))
	}},
	{name: "Evaluation.ListOpenEvaluations", allow: "com str mon adm sys", anywhere: "adm", list: true, call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		resp, err := c.Evaluation.ListOpenEvaluations(ctx, &whistlev1.ListOpenEvaluationsRequest{PageSize: 500})
		return slices.ContainsFunc(resp.GetEvaluations(), func(e *whistlev1.Evaluation) bool { return e.GetTicketId() == k.handled }), err
	}},
	{name: "Evaluation.Evaluate", allow: "com sys res", ticket: true, call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		req := &whistlev1.EvaluateRequest{TicketId: k.judged, Verdict: whistlev1.Verdict_VERDICT_SATISFIED, Evaluator: actor(k)}
		switch k.role {
		case auth.RoleSystem:
			req.Source = whistlev1.EvaluationSource_EVALUATION_SOURCE_HOTLINE_FOLLOW_UP
		case auth.RoleResident:
			req.Source, req.EvaluationCode = whistlev1.EvaluationSource_EVALUATION_SOURCE_RESIDENT, k.code
		}
		return ok(c.Evaluation.Evaluate(ctx, req))
	}},
	{name: "Monitoring.GetTimeline", allow: "rep com str han lea mon adm sys", anywhere: "adm", ticket: true, call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Monitoring.GetTimeline(ctx, &whistlev1.GetTimelineRequest{TicketId: k.handled}))
	}},
	{name: "Monitoring.GetCounts", allow: "mon adm", anywhere: "adm", call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Monitoring.GetCounts(ctx, &whistlev1.GetCountsRequest{}))
	}},
	{name: "Monitoring.GetScorecard", allow: "com str lea mon adm sys", anywhere: "adm", call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Monitoring.GetScorecard(ctx, &whistlev1.GetScorecardRequest{OrgUnitId: k.unit, Period: month}))
	}},
	{name: "Monitoring.GetRankings", allow: "str mon adm", anywhere: "adm", call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Monitoring.GetRankings(ctx, &whistlev1.GetRankingsRequest{Level: whistlev1.RankingLevel_RANKING_LEVEL_COMMUNITY,
			Figure: "response_rate", Period: month, Within: k.unit}))
	}},
	{name: "Monitoring.ListOverdue", allow: "han com str lea mon adm sys", anywhere: "adm", call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Monitoring.ListOverdue(ctx, &whistlev1.ListOverdueRequest{OrgUnitId: k.unit}))
	}},
	{name: "Monitoring.GetEscalationBoard", allow: "str mon adm", anywhere: "adm", call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Monitoring.GetEscalationBoard(ctx, &whistlev1.GetEscalationBoardRequest{OrgUnitId: k.unit}))
	}},
	{name: "Monitoring.ListHotSpots", allow: "com str mon adm", anywhere: "adm", call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Monitoring.ListHotSpots(ctx, &whistlev1.ListHotSpotsRequest{OrgUnitId: k.unit}))
	}},
	{name: "Monitoring.GetTopProblems", allow: "str mon adm", anywhere: "adm", call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Monitoring.GetTopProblems(ctx, &whistlev1.GetTopProblemsRequest{DistrictId: k.unit, Month: "2026-11"}))
	}},
	{name: "Monitoring.ListUpdates", allow: "com str mon adm", anywhere: "adm", call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		now := time.Now()
		return ok(c.Monitoring.ListUpdates(ctx, &whistlev1.ListUpdatesRequest{After: timestamppb.New(now.Add(-time.Hour)),
			Before: timestamppb.New(now), OrgUnitId: k.unit}))
	}},
	{name: "Monitoring.WatchEvents", allow: "mon adm", anywhere: "adm", call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		stream, err := c.Monitoring.WatchEvents(ctx, &whistlev1.WatchEventsRequest{})
		if err != nil {
			return false, err
		}
		return ok(stream.Recv())
	}},
	{name: "Monitoring.ListCallBacks", allow: "mon adm", anywhere: "adm", call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Monitoring.ListCallBacks(ctx, &whistlev1.ListCallBacksRequest{OrgUnitId: k.unit}))
	}},
	{name: "Monitoring.RecordCallBack", allow: "mon", ticket: true, call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Monitoring.RecordCallBack(ctx, &whistlev1.RecordCallBackRequest{TicketId: k.handled, Note: "authz"}))
	}},
	{name: "Monitoring.RebuildProjections", allow: "adm", anywhere: "adm", call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Monitoring.RebuildProjections(ctx, &whistlev1.RebuildProjectionsRequest{Actor: actor(k)}))
	}},
	{name: "Audit.ListAudit", allow: "adm", anywhere: "adm", call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Audit.ListAudit(ctx, &whistlev1.ListAuditRequest{TicketId: k.handled}))
	}},
	{name: "DeadLetter.ListDeadLetters", allow: "mon adm", anywhere: "mon adm", call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.DeadLetters.ListDeadLetters(ctx, &whistlev1.ListDeadLettersRequest{}))
	}},
	{name: "DeadLetter.ReplayDeadLetter", allow: "adm", anywhere: "adm", call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		_, err := c.DeadLetters.ReplayDeadLetter(ctx, &whistlev1.ReplayDeadLetterRequest{Seq: 999999, Actor: actor(k)})
		return err == nil, notFoundAsAnswer(err)
	}},
	{name: "DeadLetter.DiscardDeadLetter", allow: "adm", anywhere: "adm", call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		_, err := c.DeadLetters.DiscardDeadLetter(ctx, &whistlev1.DiscardDeadLetterRequest{Seq: 999999, Reason: "test", Actor: actor(k)})
		return err == nil, notFoundAsAnswer(err)
	}},
	{name: "Webhook.AddWebhook", allow: "adm", anywhere: "adm", call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Webhooks.AddWebhook(ctx, &whistlev1.AddWebhookRequest{Url: "https://hooks.example.org/authz", EventTypes: []string{"closed"}, Actor: actor(k)}))
	}},
	{name: "Webhook.ListWebhooks", allow: "mon adm", anywhere: "mon adm", call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Webhooks.ListWebhooks(ctx, &whistlev1.ListWebhooksRequest{}))
	}},
	{name: "Webhook.RemoveWebhook", allow: "adm", anywhere: "adm", call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		_, err := c.Webhooks.RemoveWebhook(ctx, &whistlev1.RemoveWebhookRequest{Id: "00000000-0000-7000-8000-000000000000", Actor: actor(k)})
		return err == nil, notFoundAsAnswer(err)
	}},
	{name: "Webhook.TestWebhook", allow: "adm", anywhere: "adm", call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		_, err := c.Webhooks.TestWebhook(ctx, &whistlev1.TestWebhookRequest{Id: "00000000-0000-7000-8000-000000000000", Actor: actor(k)})
		return err == nil, notFoundAsAnswer(err)
	}},
	{name: "Webhook.ListWebhookFailures", allow: "mon adm", anywhere: "mon adm", call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Webhooks.ListWebhookFailures(ctx, &whistlev1.ListWebhookFailuresRequest{}))
	}},
	{name: "Open311Key.AddOpen311Key", allow: "adm", anywhere: "adm", call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Open311.AddOpen311Key(ctx, &whistlev1.AddOpen311KeyRequest{Name: "authz", OrgUnitId: "hh", Actor: actor(k)}))
	}},
	{name: "Open311Key.ListOpen311Keys", allow: "mon adm", anywhere: "mon adm", call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		return ok(c.Open311.ListOpen311Keys(ctx, &whistlev1.ListOpen311KeysRequest{}))
	}},
	{name: "Open311Key.RevokeOpen311Key", allow: "adm", anywhere: "adm", call: func(ctx context.Context, c loop.Clients, k target) (bool, error) {
		_, err := c.Open311.RevokeOpen311Key(ctx, &whistlev1.RevokeOpen311KeyRequest{Id: "00000000-0000-7000-8000-000000000000", Actor: actor(k)})
		return err == nil, notFoundAsAnswer(err)
	}},
}

// notFoundAsAnswer turns "no such dead letter" or "no such webhook" — the
// answer an allowed call gets for one that does not exist — into a
// FailedPrecondition, so that it reads as allowed; denials stay as they are.
func notFoundAsAnswer(err error) error {
	if status.Code(err) == codes.NotFound && (strings.Contains(err.Error(), "dead letter") ||
		strings.Contains(err.Error(), "no webhook") || strings.Contains(err.Error(), "no Open311 key")) {
		return status.Error(codes.FailedPrecondition, err.Error())
	}
	return err
}

// TestEveryRPCWithEveryRoleInAndOutOfScope calls every RPC as every role,
// for its own place and for another, through the real gRPC server with real
// tokens, and checks the outcome: allowed (whatever the call then says about
// the ticket's state), PermissionDenied, NotFound for a ticket outside one's
// place, Unauthenticated without credentials.
func TestEveryRPCWithEveryRoleInAndOutOfScope(t *testing.T) {
	r := stacktest.Start(t)
	fx := authzFixture(t, r)
	ctx := context.Background()
	for _, call := range rpcs {
		t.Run(call.name, func(t *testing.T) {
			_, err := call.call(ctx, r.Clients, target{fixture: fx, unit: "hh", actor: "hh"})
			if status.Code(err) != codes.Unauthenticated {
				t.Errorf("without credentials: %v, want Unauthenticated", err)
			}
			for _, p := range principals {
				role := roleNames[p.short]
				inUnit := p.in
				if call.dept != "" && (role == auth.RoleDepartmentHandler || role == auth.RoleDepartmentLead) {
					inUnit = call.dept
				}
				for _, in := range []bool{true, false} {
					if !in && p.in == p.out {
						continue // a resident has no place
					}
					org := p.out
					if in {
						org = inUnit
					}
					k := target{fixture: fx, unit: inUnit, actor: org, role: role}
					seen, err := call.call(ctx, r.As(role, org), k)
					checkOutcome(t, call, p.short, in, org, seen, err)
				}
				if role == auth.RoleResident {
					continue // a resident has no credentials to name a unit with
				}
				// A unit that is not in the tree sees nothing, whatever it names.
				for _, named := range []string{"ghost", inUnit} {
					seen, err := call.call(ctx, r.As(role, "ghost"), target{fixture: fx, unit: named, actor: "ghost", role: role})
					if status.Code(err) != codes.PermissionDenied || seen {
						t.Errorf("%s@ghost naming %s: %v (saw the ticket: %v), want PermissionDenied", p.short, named, err, seen)
					}
				}
			}
		})
	}
	// A resident has no account: the one-time code alone lets them judge.
	_, err := r.Clients.Evaluation.Evaluate(ctx, &whistlev1.EvaluateRequest{TicketId: fx.judged, Verdict: whistlev1.Verdict_VERDICT_SATISFIED,
		Source: whistlev1.EvaluationSource_EVALUATION_SOURCE_RESIDENT, EvaluationCode: fx.code,
		Evaluator: &whistlev1.Actor{Id: "resident", OrgUnitId: "resident"}})
	if c := status.Code(err); c != codes.FailedPrecondition { // judged already by the community above
		t.Errorf("a resident's code after the verdict: %v, want FailedPrecondition (already evaluated)", err)
	}
	checkAudit(t, r, fx)
	if _, err := r.Clients.Evaluation.Evaluate(ctx, &whistlev1.EvaluateRequest{TicketId: fx.judged,
		Verdict: whistlev1.Verdict_VERDICT_SATISFIED, Evaluator: &whistlev1.Actor{Id: "x", OrgUnitId: "xc-hd-dj"}}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("an evaluation without credentials or code: %v, want Unauthenticated", err)
	}
}

// allowed are the codes of a call that authorization let through: it ran
// and answered about the ticket's state or the request.
var allowed = []codes.Code{codes.OK, codes.FailedPrecondition, codes.InvalidArgument, codes.AlreadyExists}

func checkOutcome(t *testing.T, call rpc, role string, in bool, org string, seen bool, err error) {
	t.Helper()
	code := status.Code(err)
	where := "outside its place"
	if in {
		where = "in its place"
	}
	mayCall := strings.Contains(" "+call.allow+" ", " "+role+" ")
	anywhere := strings.Contains(" "+call.anywhere+" ", " "+role+" ")
	switch {
	case !mayCall && role == "res":
		if code != codes.Unauthenticated {
			t.Errorf("a resident (no credentials) %s: %v, want Unauthenticated", where, err)
		}
	case !mayCall:
		if code != codes.PermissionDenied {
			t.Errorf("%s@%s %s: %v, want PermissionDenied (role may not)", role, org, where, err)
		}
	case in || anywhere:
		if !slices.Contains(allowed, code) || (call.list && !seen) {
			t.Errorf("%s@%s %s: %v (saw the ticket: %v), want allowed", role, org, where, err, seen)
		}
	case call.list:
		if code != codes.OK || seen {
			t.Errorf("%s@%s %s: %v, saw the ticket %v; want OK without it", role, org, where, err, seen)
		}
	case call.ticket:
		if code != codes.NotFound {
			t.Errorf("%s@%s %s: %v, want NotFound (a ticket elsewhere is not shown to exist)", role, org, where, err)
		}
	default:
		if code != codes.PermissionDenied {
			t.Errorf("%s@%s %s: %v, want PermissionDenied (unit outside its own)", role, org, where, err)
		}
	}
}

// authzFixture reports the tickets of the test and takes them to their
// evaluation, each step by the principal who would take it.
func authzFixture(t *testing.T, r *stacktest.Running) fixture {
	t.Helper()
	ctx := context.Background()
	reporter := r.As(auth.RoleReporter, "xc-hd-dj-g01")
	var fx fixture
	photo, err := loop.UploadJPEG(ctx, reporter, &whistlev1.Actor{Id: "w", OrgUnitId: "xc-hd-dj-g01"})
	if err != nil {
		t.Fatal(err)
	}
	fx.photo = photo
	report := func(key, category string) (string, string) {
		var photos []string
		if category == "water_leak" {
			photos = []string{photo}
		}
		resp, err := reporter.Intake.Report(ctx, &whistlev1.ReportRequest{IdempotencyKey: key, Kind: whistlev1.WhistleKind_WHISTLE_KIND_DAILY,
			Source: whistlev1.Source_SOURCE_RESIDENT, Category: category, Description: "authz fixture",
			Location: &whistlev1.Location{GridId: "xc-hd-dj-g01"}, Reporter: &whistlev1.Reporter{OrgUnitId: "xc-hd-dj-g01", Name: "王小明",
				Phone: "13812345678"}, PhotoIds: photos})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetTicket().GetId(), resp.GetEvaluationCode()
	}
	fx.handled, _ = report("authz-handled", "water_leak")
	fx.judged, fx.code = report("authz-judged", "road_damage")
	monitor := r.As(auth.RoleMonitor, r.City)
	for _, id := range []string{fx.handled, fx.judged} {
		var a *whistlev1.Assignment
		eventually.True(t, "dispatch of "+id, func() bool {
			resp, err := monitor.Dispatch.GetAssignment(ctx, &whistlev1.GetAssignmentRequest{TicketId: id})
			a = resp.GetAssignment()
			return err == nil && a.GetLeadDepartmentId() != ""
		})
		if id == fx.handled && (a.GetLeadDepartmentId() != lead || !slices.Contains(a.GetAssistingDepartmentIds(), "xc-urban")) {
			t.Fatalf("water_leak in xc-hd-dj-g01 goes to %s with %v; the test expects %s with xc-urban", a.GetLeadDepartmentId(),
				a.GetAssistingDepartmentIds(), lead)
		}
		dept := r.As(auth.RoleDepartmentHandler, a.GetLeadDepartmentId())
		me := &whistlev1.Actor{Id: "h", OrgUnitId: a.GetLeadDepartmentId()}
		eventually.True(t, "the inbox of "+a.GetLeadDepartmentId(), func() bool {
			_, err := dept.Response.GetInboxItem(ctx, &whistlev1.GetInboxItemRequest{TicketId: id})
			return err == nil
		})
		if _, err := dept.Response.Accept(ctx, &whistlev1.AcceptRequest{TicketId: id, Actor: me}); err != nil {
			t.Fatal(err)
		}
		if _, err := dept.Response.Resolve(ctx, &whistlev1.ResolveRequest{TicketId: id, Actor: me, Result: "done",
			MissingAssistsReason: "fixed alone"}); err != nil {
			t.Fatal(err)
		}
		judge := r.As(auth.RoleCommunityOfficer, "xc-hd-dj")
		eventually.True(t, "the evaluation of "+id, func() bool {
			e, err := judge.Evaluation.GetEvaluation(ctx, &whistlev1.GetEvaluationRequest{TicketId: id})
			return err == nil && e.GetEvaluation().GetState() == whistlev1.EvaluationState_EVALUATION_STATE_OPEN
		})
	}
	eventually.True(t, "monitoring to count the fixture", func() bool {
		sc, err := monitor.Monitoring.GetScorecard(ctx, &whistlev1.GetScorecardRequest{OrgUnitId: "xc-hd-dj", Period: month})
		tl, err2 := monitor.Monitoring.GetTimeline(ctx, &whistlev1.GetTimelineRequest{TicketId: fx.handled})
		return err == nil && err2 == nil && len(sc.GetFigures()) > 0 && tl.GetState().GetStatus() == whistlev1.TicketStatus_TICKET_STATUS_RESOLVED
	})
	return fx
}

// TestPersonalDataIsMaskedForThoseWhoNeedNotCall shows a reporter's name and
// phone to the community and the street, masked to a monitor and an admin.
func TestPersonalDataIsMaskedForThoseWhoNeedNotCall(t *testing.T) {
	r := stacktest.Start(t)
	fx := authzFixture(t, r)
	for _, tc := range []struct {
		role        auth.Role
		org         string
		name, phone string
	}{
		{auth.RoleCommunityOfficer, "xc-hd-dj", "王小明", "13812345678"},
		{auth.RoleStreetOfficer, "xc-hd", "王小明", "13812345678"},
		{auth.RoleReporter, "xc-hd-dj-g01", "王小明", "13812345678"},
		{auth.RoleMonitor, "hh", "王**", "138****5678"},
		{auth.RoleAdmin, "hh", "王**", "138****5678"},
	} {
		resp, err := r.As(tc.role, tc.org).Intake.GetTicket(context.Background(), &whistlev1.GetTicketRequest{Ticket: fx.handled})
		if err != nil {
			t.Fatalf("%s@%s: %v", tc.role, tc.org, err)
		}
		if rep := resp.GetTicket().GetReporter(); rep.GetName() != tc.name || rep.GetPhone() != tc.phone {
			t.Errorf("%s@%s sees %q %q, want %q %q", tc.role, tc.org, rep.GetName(), rep.GetPhone(), tc.name, tc.phone)
		}
	}
	// The timeline's reported entry names the reporter: by the same rule.
	for _, tc := range []struct {
		role auth.Role
		org  string
		name string
	}{
		{auth.RoleCommunityOfficer, "xc-hd-dj", "王小明"},
		{auth.RoleDepartmentHandler, lead, "王**"},
		{auth.RoleDepartmentLead, lead, "王**"},
		{auth.RoleMonitor, "hh", "王**"},
	} {
		tl, err := r.As(tc.role, tc.org).Monitoring.GetTimeline(context.Background(), &whistlev1.GetTimelineRequest{TicketId: fx.handled})
		if err != nil || len(tl.GetEntries()) == 0 || tl.GetEntries()[0].GetEventType() != "reported" {
			t.Fatalf("%s@%s timeline: %v %v", tc.role, tc.org, tl, err)
		}
		if got := tl.GetEntries()[0].GetActor().GetDisplayName(); got != tc.name {
			t.Errorf("%s@%s sees the reporter as %q, want %q", tc.role, tc.org, got, tc.name)
		}
	}
	list, err := r.As(auth.RoleMonitor, "hh").Intake.ListTickets(context.Background(), &whistlev1.ListTicketsRequest{Category: "water_leak"})
	if err != nil || len(list.GetTickets()) == 0 || list.GetTickets()[0].GetReporter().GetPhone() != "138****5678" {
		t.Fatalf("a monitor's list: %v %v", list, err)
	}
}

// checkAudit reads in the audit log who accepted the handled ticket, and that
// the admin activated a catalog (an operation with no ticket).
func checkAudit(t *testing.T, r *stacktest.Running, fx fixture) {
	t.Helper()
	admin := r.As(auth.RoleAdmin, r.City)
	for _, tc := range []struct {
		req              *whistlev1.ListAuditRequest
		service, subject string
	}{
		{&whistlev1.ListAuditRequest{TicketId: fx.handled, Action: "accepted"}, "response", "test-department_handler@" + lead},
		{&whistlev1.ListAuditRequest{Action: "catalog.activate"}, "dispatch", "test-admin@hh"},
		{&whistlev1.ListAuditRequest{TicketId: fx.handled, Action: "reported"}, "intake", "test-reporter@xc-hd-dj-g01"},
	} {
		resp, err := admin.Audit.ListAudit(context.Background(), tc.req)
		if err != nil || len(resp.GetEntries()) == 0 {
			t.Fatalf("audit of %v: %v %v", tc.req, resp, err)
		}
		i := slices.IndexFunc(resp.GetEntries(), func(e *whistlev1.AuditEntry) bool { return e.GetSubject() == tc.subject })
		if i < 0 {
			t.Fatalf("audit of %v: nothing by %s in %v", tc.req, tc.subject, resp.GetEntries())
		}
		if e := resp.GetEntries()[i]; e.GetService() != tc.service || !strings.HasPrefix(e.GetRemoteAddr(), "127.0.0.1") ||
			e.GetTraceId() == "" || e.GetVia() != "jwt" {
			t.Errorf("audit of %v: %v", tc.req, e)
		}
	}
}

// TestTheMatrixCoversEveryRPC fails when an RPC is added without a row in
// the authorization test.
func TestTheMatrixCoversEveryRPC(t *testing.T) {
	names := map[string]bool{}
	for _, c := range rpcs {
		names[strings.TrimSuffix(c.name, "(ticket)")] = true
	}
	n := 0
	protoregistry.GlobalFiles.RangeFilesByPackage("whistle.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := 0; i < fd.Services().Len(); i++ {
			sd := fd.Services().Get(i)
			for j := 0; j < sd.Methods().Len(); j++ {
				n++
				name := strings.TrimSuffix(string(sd.Name()), "Service") + "." + string(sd.Methods().Get(j).Name())
				if !names[name] {
					t.Errorf("%s has no row in the authorization test", name)
				}
			}
		}
		return true
	})
	if n < 40 {
		t.Fatalf("found only %d RPCs: are the whistle.v1 protos linked in?", n)
	}
}
