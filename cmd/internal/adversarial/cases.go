package main

import (
	"context"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/services/dispatch"

	"github.com/whistle-civic/whistle/cmd/internal/loop"
)

// scope says what a call names, which decides how a call from elsewhere
// must fail: a ticket elsewhere is NotFound (as a missing one), an org unit
// elsewhere PermissionDenied, and a call that names nothing covers the
// caller's own place and must show nothing of ours.
type scope int

const (
	onTicket  scope = iota // the request names a ticket
	onUnit                 // the request names an org unit or department
	onOwn                  // the request names no place: it covers the caller's own
	onNothing              // the call touches no place (catalog, audit, dead letters)
)

// actorKind says which field of a request names the acting org unit.
type actorKind int

const (
	noActor   actorKind = iota
	actor               // actor.org_unit_id
	evaluator           // evaluator.org_unit_id
	reporter            // reporter.org_unit_id: where a report comes from
)

// rpcCase is one RPC of the policy table, as the table of checks calls it.
type rpcCase struct {
	name   string // "IntakeService.GetTicket", with a variant in brackets
	method string // "/whistle.v1.IntakeService/GetTicket"
	scope  scope
	actor  actorKind
	// rulesOf names the method whose policy row the case follows, when the
	// service scopes the call more narrowly than its own row says.
	rulesOf string
	// dept is a handler's department in scope, when not the ticket's lead.
	dept string
	// about picks the ticket the call names (default: "matrix" for calls
	// that must be refused, "matrix-ok" for those let through).
	about func(refused bool) string
	// sees: in scope, the answer must show the ticket.
	sees bool
	// stream: a server stream; the first message (or error) is the answer.
	stream bool
	// unitOptional: the named unit may be left empty (then the caller's own).
	unitOptional bool
	// answered accepts an outcome as let through although its code reads as refused.
	answered func(outcome) bool
	call     func(ctx context.Context, c loop.Clients, k target) (proto.Message, error)
}

// target is what one row's call names.
type target struct {
	ticket  *ticket
	unit    string // the org unit the call names: the in-scope caller's own
	actor   string // the acting org unit the request names
	role    auth.Role
	key     string // a fresh idempotency key
	catalog string // the active catalog version
	code    string // the evaluation code a resident sends
}

func act(k target) *whistlev1.Actor {
	return &whistlev1.Actor{Id: "adv-" + string(k.role), OrgUnitId: k.actor}
}

func ts(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }

// recent is a period around today, whatever the city's time zone.
func recent() *whistlev1.Period {
	return &whistlev1.Period{Kind: whistlev1.PeriodKind_PERIOD_KIND_CUSTOM, FromDate: time.Now().AddDate(0, 0, -2).Format(time.DateOnly),
		ToDate: time.Now().AddDate(0, 0, 2).Format(time.DateOnly)}
}

func aboutTicket(name string) func(bool) string { return func(bool) string { return name } }

// deadLetterAnswer: "no such dead letter" is the answer an allowed caller
// gets for a sequence that does not exist.
func deadLetterAnswer(o outcome) bool {
	return o.code == codes.NotFound && strings.Contains(strings.ToLower(o.msg), "dead letter")
}

// first opens a server stream and returns its first message.
func first[T proto.Message](s interface{ Recv() (T, error) }, err error) (proto.Message, error) {
	if err != nil {
		return nil, err
	}
	return s.Recv()
}

func svc(m string) string { return "/whistle.v1." + strings.Replace(m, ".", "/", 1) }

// cases are every RPC of the policy table (and variants), in the table's order.
var cases = []rpcCase{
	{name: "IntakeService.Report", scope: onUnit, actor: reporter, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Intake.Report(ctx, &whistlev1.ReportRequest{IdempotencyKey: k.key, Kind: whistlev1.WhistleKind_WHISTLE_KIND_DAILY,
			Source: whistlev1.Source_SOURCE_GRID_PATROL, Category: "noise", Description: "adversarial table",
			Location: &whistlev1.Location{GridId: gridA}, Reporter: &whistlev1.Reporter{OrgUnitId: k.actor}, Synthetic: true})
	}},
	{name: "IntakeService.GetTicket", scope: onTicket, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Intake.GetTicket(ctx, &whistlev1.GetTicketRequest{Ticket: k.ticket.id})
	}},
	{name: "IntakeService.UploadMedia", scope: onNothing, actor: actor, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		id, err := loop.UploadJPEG(ctx, c, act(k))
		return &whistlev1.Media{Id: id}, err
	}},
	{name: "IntakeService.ImportTickets", scope: onNothing, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return loop.ImportOne(ctx, c)
	}},
	{name: "IntakeService.GetMedia", scope: onTicket, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		photo := k.ticket.photo
		if photo == "" { // a missing ticket: a file that does not exist
			photo = k.ticket.id
		}
		stream, err := c.Intake.GetMedia(ctx, &whistlev1.GetMediaRequest{MediaId: photo})
		if err != nil {
			return nil, err
		}
		return stream.Recv()
	}},
	{name: "IntakeService.ListMedia", scope: onTicket, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Intake.ListMedia(ctx, &whistlev1.ListMediaRequest{Ticket: k.ticket.id})
	}},
	{name: "IntakeService.FindDuplicates", scope: onTicket, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Intake.FindDuplicates(ctx, &whistlev1.FindDuplicatesRequest{Ticket: k.ticket.id})
	}},
	{name: "IntakeService.GetTicket(number)", scope: onTicket, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Intake.GetTicket(ctx, &whistlev1.GetTicketRequest{Ticket: k.ticket.number})
	}},
	{name: "IntakeService.ListTickets", scope: onOwn, sees: true, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Intake.ListTickets(ctx, &whistlev1.ListTicketsRequest{PageSize: 500, IncludeSynthetic: true})
	}},
	{name: "DispatchService.GetAssignment", scope: onTicket, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Dispatch.GetAssignment(ctx, &whistlev1.GetAssignmentRequest{TicketId: k.ticket.id})
	}},
	{name: "DispatchService.ExplainRouting", scope: onNothing, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Dispatch.ExplainRouting(ctx, &whistlev1.ExplainRoutingRequest{Category: "water_leak", GridId: gridA})
	}},
	{name: "DispatchService.ExplainRouting(ticket)", scope: onTicket, rulesOf: svc("DispatchService.GetAssignment"),
		call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
			return c.Dispatch.ExplainRouting(ctx, &whistlev1.ExplainRoutingRequest{TicketId: k.ticket.id})
		}},
	{name: "DispatchService.ListTriage", scope: onUnit, sees: true, about: aboutTicket("triage"), call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Dispatch.ListTriage(ctx, &whistlev1.ListTriageRequest{OrgUnitId: k.unit, PageSize: 500})
	}},
	{name: "DispatchService.Dispatch", scope: onTicket, actor: actor, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Dispatch.Dispatch(ctx, &whistlev1.DispatchRequest{TicketId: k.ticket.id, LeadDepartmentId: "xc-urban",
			AcceptWithin: durationpb.New(time.Hour), ResolveWithin: durationpb.New(24 * time.Hour), Note: "by hand", Actor: act(k)})
	}},
	{name: "DispatchService.RejectTriage", scope: onTicket, actor: actor, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Dispatch.RejectTriage(ctx, &whistlev1.RejectTriageRequest{TicketId: k.ticket.id, Reason: "not ours", Actor: act(k)})
	}},
	{name: "DispatchService.Arbitrate", scope: onTicket, actor: actor, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Dispatch.Arbitrate(ctx, &whistlev1.ArbitrateRequest{TicketId: k.ticket.id, DepartmentId: "xc-urban", Note: "decided", Actor: act(k)})
	}},
	{name: "DispatchService.DecideExtension", scope: onTicket, actor: actor, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Dispatch.DecideExtension(ctx, &whistlev1.DecideExtensionRequest{TicketId: k.ticket.id, Note: "no", Actor: act(k)})
	}},
	{name: "DispatchService.Withdraw", scope: onTicket, actor: actor, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Dispatch.Withdraw(ctx, &whistlev1.WithdrawRequest{TicketId: k.ticket.id, Reason: "taken back", Actor: act(k)})
	}},
	{name: "DispatchService.Merge", scope: onTicket, actor: actor, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Dispatch.Merge(ctx, &whistlev1.MergeRequest{TicketId: k.ticket.id, OriginalTicketId: k.ticket.id, Note: "the same",
			Actor: act(k)})
	}},
	{name: "DispatchService.GetCatalog", scope: onNothing, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Dispatch.GetCatalog(ctx, &whistlev1.GetCatalogRequest{})
	}},
	{name: "DispatchService.ListCatalogs", scope: onNothing, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Dispatch.ListCatalogs(ctx, &whistlev1.ListCatalogsRequest{})
	}},
	{name: "DispatchService.DiffCatalogs", scope: onNothing, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Dispatch.DiffCatalogs(ctx, &whistlev1.DiffCatalogsRequest{From: k.catalog, To: k.catalog})
	}},
	{name: "DispatchService.ImportCatalog", scope: onNothing, actor: actor, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Dispatch.ImportCatalog(ctx, &whistlev1.ImportCatalogRequest{Source: string(dispatch.SampleCatalog), Actor: act(k)})
	}},
	{name: "DispatchService.ReviseCalendar", scope: onNothing, actor: actor, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Dispatch.ReviseCalendar(ctx, &whistlev1.ReviseCalendarRequest{Version: "adversarial-calendar",
			AddHolidays: []string{"2099-01-01"}, Actor: act(k)})
	}},
	{name: "DispatchService.ActivateCatalog", scope: onNothing, actor: actor, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Dispatch.ActivateCatalog(ctx, &whistlev1.ActivateCatalogRequest{Version: k.catalog, Actor: act(k)})
	}},
	{name: "ResponseService.WithdrawFromInbox", scope: onTicket, actor: actor, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Response.WithdrawFromInbox(ctx, &whistlev1.WithdrawFromInboxRequest{TicketId: k.ticket.id, Reason: "taken back", Actor: act(k)})
	}},
	{name: "ResponseService.MergeFromInbox", scope: onTicket, actor: actor, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Response.MergeFromInbox(ctx, &whistlev1.MergeFromInboxRequest{TicketId: k.ticket.id, OriginalTicketId: k.ticket.id,
			Note: "the same", Actor: act(k)})
	}},
	{name: "ResponseService.ListInbox", scope: onUnit, sees: true, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Response.ListInbox(ctx, &whistlev1.ListInboxRequest{DepartmentId: k.unit, PageSize: 500,
			Statuses: []whistlev1.TicketStatus{whistlev1.TicketStatus_TICKET_STATUS_RESOLVED}})
	}},
	{name: "ResponseService.GetInboxItem", scope: onTicket, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Response.GetInboxItem(ctx, &whistlev1.GetInboxItemRequest{TicketId: k.ticket.id})
	}},
	{name: "ResponseService.Accept", scope: onTicket, actor: actor, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Response.Accept(ctx, &whistlev1.AcceptRequest{TicketId: k.ticket.id, Actor: act(k)})
	}},
	{name: "ResponseService.Resolve", scope: onTicket, actor: actor, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Response.Resolve(ctx, &whistlev1.ResolveRequest{TicketId: k.ticket.id, Result: "again", Actor: act(k),
			MissingAssistsReason: "alone"})
	}},
	{name: "ResponseService.Return", scope: onTicket, actor: actor, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Response.Return(ctx, &whistlev1.ReturnRequest{TicketId: k.ticket.id, Note: "not ours", Actor: act(k),
			ReasonCode: whistlev1.ReturnReason_RETURN_REASON_NOT_OUR_JURISDICTION})
	}},
	{name: "ResponseService.AddProgress", scope: onTicket, actor: actor, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Response.AddProgress(ctx, &whistlev1.AddProgressRequest{TicketId: k.ticket.id, Note: "checked", Actor: act(k)})
	}},
	{name: "ResponseService.RequestExtension", scope: onTicket, actor: actor, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Response.RequestExtension(ctx, &whistlev1.RequestExtensionRequest{TicketId: k.ticket.id, Reason: "parts on order",
			RequestedResolveDue: ts(time.Now().Add(20 * 24 * time.Hour)), Actor: act(k)})
	}},
	{name: "ResponseService.ReportAssist", scope: onTicket, actor: actor, dept: "xc-urban", call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Response.ReportAssist(ctx, &whistlev1.ReportAssistRequest{TicketId: k.ticket.id, Note: "helped", Actor: act(k)})
	}},
	{name: "ResponseService.WatchInbox", scope: onUnit, stream: true, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return first(c.Response.WatchInbox(ctx, &whistlev1.WatchInboxRequest{DepartmentId: k.unit, FromNow: true}))
	}},
	{name: "EvaluationService.GetEvaluation", scope: onTicket, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Evaluation.GetEvaluation(ctx, &whistlev1.GetEvaluationRequest{TicketId: k.ticket.id})
	}},
	{name: "EvaluationService.ListOpenEvaluations", scope: onOwn, sees: true, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Evaluation.ListOpenEvaluations(ctx, &whistlev1.ListOpenEvaluationsRequest{PageSize: 500})
	}},
	{name: "EvaluationService.Evaluate", scope: onTicket, actor: evaluator, about: judgeOrMatrix, call: evaluateAs},
	{name: "MonitoringService.GetTimeline", scope: onTicket, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Monitoring.GetTimeline(ctx, &whistlev1.GetTimelineRequest{TicketId: k.ticket.id})
	}},
	{name: "MonitoringService.GetCounts", scope: onOwn, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Monitoring.GetCounts(ctx, &whistlev1.GetCountsRequest{IncludeSynthetic: true})
	}},
	{name: "MonitoringService.GetScorecard", scope: onUnit, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Monitoring.GetScorecard(ctx, &whistlev1.GetScorecardRequest{OrgUnitId: k.unit, Period: recent()})
	}},
	{name: "MonitoringService.GetRankings", scope: onUnit, unitOptional: true, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Monitoring.GetRankings(ctx, &whistlev1.GetRankingsRequest{Level: whistlev1.RankingLevel_RANKING_LEVEL_COMMUNITY,
			Figure: "response_rate", Period: recent(), Within: k.unit})
	}},
	{name: "MonitoringService.ListOverdue", scope: onUnit, unitOptional: true, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Monitoring.ListOverdue(ctx, &whistlev1.ListOverdueRequest{OrgUnitId: k.unit})
	}},
	{name: "MonitoringService.GetEscalationBoard", scope: onUnit, unitOptional: true, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Monitoring.GetEscalationBoard(ctx, &whistlev1.GetEscalationBoardRequest{OrgUnitId: k.unit})
	}},
	{name: "MonitoringService.ListHotSpots", scope: onUnit, unitOptional: true, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Monitoring.ListHotSpots(ctx, &whistlev1.ListHotSpotsRequest{OrgUnitId: k.unit})
	}},
	{name: "MonitoringService.GetTopProblems", scope: onUnit, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Monitoring.GetTopProblems(ctx, &whistlev1.GetTopProblemsRequest{DistrictId: k.unit, Month: time.Now().Format("2006-01")})
	}},
	{name: "MonitoringService.ListUpdates", scope: onUnit, unitOptional: true, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		now := time.Now()
		return c.Monitoring.ListUpdates(ctx, &whistlev1.ListUpdatesRequest{After: timestamppb.New(now.Add(-24 * time.Hour)),
			Before: timestamppb.New(now.Add(time.Minute)), OrgUnitId: k.unit})
	}},
	{name: "MonitoringService.WatchEvents", scope: onOwn, stream: true, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return first(c.Monitoring.WatchEvents(ctx, &whistlev1.WatchEventsRequest{}))
	}},
	{name: "MonitoringService.ListCallBacks", scope: onUnit, unitOptional: true, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Monitoring.ListCallBacks(ctx, &whistlev1.ListCallBacksRequest{OrgUnitId: k.unit})
	}},
	{name: "MonitoringService.RecordCallBack", scope: onTicket, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Monitoring.RecordCallBack(ctx, &whistlev1.RecordCallBackRequest{TicketId: k.ticket.id, Note: "adversarial"})
	}},
	{name: "MonitoringService.RebuildProjections", scope: onNothing, actor: actor, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Monitoring.RebuildProjections(ctx, &whistlev1.RebuildProjectionsRequest{Actor: act(k)})
	}},
	{name: "AuditService.ListAudit", scope: onNothing, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Audit.ListAudit(ctx, &whistlev1.ListAuditRequest{TicketId: k.ticket.id})
	}},
	{name: "DeadLetterService.ListDeadLetters", scope: onNothing, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.DeadLetters.ListDeadLetters(ctx, &whistlev1.ListDeadLettersRequest{})
	}},
	{name: "DeadLetterService.ReplayDeadLetter", scope: onNothing, actor: actor, answered: deadLetterAnswer,
		call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
			return c.DeadLetters.ReplayDeadLetter(ctx, &whistlev1.ReplayDeadLetterRequest{Seq: 999_999_999, Actor: act(k)})
		}},
	{name: "DeadLetterService.DiscardDeadLetter", scope: onNothing, actor: actor, answered: deadLetterAnswer,
		call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
			return c.DeadLetters.DiscardDeadLetter(ctx, &whistlev1.DiscardDeadLetterRequest{Seq: 999_999_999, Reason: "test", Actor: act(k)})
		}},
	{name: "WebhookService.AddWebhook", scope: onNothing, actor: actor, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Webhooks.AddWebhook(ctx, &whistlev1.AddWebhookRequest{Url: "https://hooks.example.org/adversarial", EventTypes: []string{"closed"}, Actor: act(k)})
	}},
	{name: "WebhookService.ListWebhooks", scope: onNothing, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Webhooks.ListWebhooks(ctx, &whistlev1.ListWebhooksRequest{})
	}},
	{name: "WebhookService.RemoveWebhook", scope: onNothing, actor: actor, answered: webhookAnswer,
		call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
			return c.Webhooks.RemoveWebhook(ctx, &whistlev1.RemoveWebhookRequest{Id: noWebhook, Actor: act(k)})
		}},
	{name: "WebhookService.TestWebhook", scope: onNothing, actor: actor, answered: webhookAnswer,
		call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
			return c.Webhooks.TestWebhook(ctx, &whistlev1.TestWebhookRequest{Id: noWebhook, Actor: act(k)})
		}},
	{name: "WebhookService.ListWebhookFailures", scope: onNothing, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Webhooks.ListWebhookFailures(ctx, &whistlev1.ListWebhookFailuresRequest{})
	}},
	{name: "Open311KeyService.AddOpen311Key", scope: onNothing, actor: actor, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Open311.AddOpen311Key(ctx, &whistlev1.AddOpen311KeyRequest{Name: "adversarial", OrgUnitId: city, Actor: act(k)})
	}},
	{name: "Open311KeyService.ListOpen311Keys", scope: onNothing, call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
		return c.Open311.ListOpen311Keys(ctx, &whistlev1.ListOpen311KeysRequest{})
	}},
	{name: "Open311KeyService.RevokeOpen311Key", scope: onNothing, actor: actor, answered: open311KeyAnswer,
		call: func(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
			return c.Open311.RevokeOpen311Key(ctx, &whistlev1.RevokeOpen311KeyRequest{Id: noWebhook, Actor: act(k)})
		}},
}

// open311KeyAnswer: a key that does not exist is the answer an allowed
// caller gets.
func open311KeyAnswer(o outcome) bool {
	return o.code == codes.NotFound && strings.Contains(o.msg, "no Open311 key")
}

// noWebhook is the id of no subscription.
const noWebhook = "00000000-0000-7000-8000-000000000000"

// webhookAnswer: a subscription that does not exist is the answer an
// allowed caller gets.
func webhookAnswer(o outcome) bool {
	return o.code == codes.NotFound && strings.Contains(strings.ToLower(o.msg), "no webhook")
}

// judgeOrMatrix: verdicts let through close "judge"; refused ones aim at "matrix".
func judgeOrMatrix(refused bool) string {
	if refused {
		return "matrix"
	}
	return "judge"
}

// evaluateAs gives the verdict each role would: a system's hotline
// follow-up, a resident's code, otherwise the community's.
func evaluateAs(ctx context.Context, c loop.Clients, k target) (proto.Message, error) {
	req := &whistlev1.EvaluateRequest{TicketId: k.ticket.id, Verdict: whistlev1.Verdict_VERDICT_SATISFIED, Evaluator: act(k),
		Source: whistlev1.EvaluationSource_EVALUATION_SOURCE_COMMUNITY}
	switch k.role {
	case auth.RoleSystem:
		req.Source = whistlev1.EvaluationSource_EVALUATION_SOURCE_HOTLINE_FOLLOW_UP
	case auth.RoleResident:
		req.Source, req.EvaluationCode = whistlev1.EvaluationSource_EVALUATION_SOURCE_RESIDENT, k.code
	}
	return c.Evaluation.Evaluate(ctx, req)
}

func init() {
	for i := range cases {
		name, _, _ := strings.Cut(cases[i].name, "(")
		cases[i].method = svc(name)
	}
}

// streamTimeout bounds the wait for a stream's first message.
const streamTimeout = 5 * time.Second
