package main

import (
	"context"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// listCases break list sizes and page sizes.
func listCases() []badCase {
	statuses := make([]whistlev1.TicketStatus, 10_000)
	for i := range statuses {
		statuses[i] = whistlev1.TicketStatus_TICKET_STATUS_ACCEPTED
	}
	cs := []badCase{
		evaluateCase("10,000 reason codes", func(r *whistlev1.EvaluateRequest) { r.ReasonCodes = many(10_000, "slow") }),
		evaluateCase("11 reason codes (at most 10)", func(r *whistlev1.EvaluateRequest) { r.ReasonCodes = many(11, "slow") }),
		dispatchCase("10,000 assisting departments", func(r *whistlev1.DispatchRequest) { r.AssistingDepartmentIds = many(10_000, "xc-housing") }),
		{name: "ResponseService.Resolve 21 pieces of evidence (at most 20)", method: svc("ResponseService.Resolve"),
			role: auth.RoleDepartmentHandler, unit: "xc-water", about: "accepted",
			call: func(ctx context.Context, w *world) (proto.Message, error) {
				t := w.fx.t("accepted")
				return w.c.Response.Resolve(ctx, &whistlev1.ResolveRequest{TicketId: t.id, Result: "fixed", Evidence: attachments(21),
					MissingAssistsReason: "alone", Actor: &whistlev1.Actor{Id: "adv-input", OrgUnitId: t.lead}})
			}},
		read("ResponseService.ListInbox 10,000 statuses", "ResponseService.ListInbox", auth.RoleDepartmentHandler, "xc-water",
			func(ctx context.Context, w *world) (proto.Message, error) {
				return w.c.Response.ListInbox(ctx, &whistlev1.ListInboxRequest{DepartmentId: "xc-water", Statuses: statuses})
			}),
		read("MonitoringService.WatchEvents 10,000 event types", "MonitoringService.WatchEvents", auth.RoleMonitor, city,
			func(ctx context.Context, w *world) (proto.Message, error) {
				return first(w.c.Monitoring.WatchEvents(ctx, &whistlev1.WatchEventsRequest{EventTypes: many(10_000, "reported")}))
			}),
		read("MonitoringService.WatchEvents an event type of 10 KB", "MonitoringService.WatchEvents", auth.RoleMonitor, city,
			func(ctx context.Context, w *world) (proto.Message, error) {
				return first(w.c.Monitoring.WatchEvents(ctx, &whistlev1.WatchEventsRequest{EventTypes: []string{big(10_000)}}))
			}),
		listCase("page_size 501 (at most 500)", func(r *whistlev1.ListTicketsRequest) { r.PageSize = 501 }),
		listCase("page_size -1", func(r *whistlev1.ListTicketsRequest) { r.PageSize = -1 }),
		listCase("page_token of 201 bytes", func(r *whistlev1.ListTicketsRequest) { r.PageToken = big(201) }),
		listCase("page_token that no page gave", func(r *whistlev1.ListTicketsRequest) { r.PageToken = "bm90LWEtdG9rZW4" }),
		listCase("reporter org unit of 65 bytes", func(r *whistlev1.ListTicketsRequest) { r.ReporterOrgUnitId = big(65) }),
		listCase("source 99 (no such source)", func(r *whistlev1.ListTicketsRequest) { r.Source = 99 }),
	}
	return append(cs, pageSizeCases()...)
}

// pageSizeCases ask every other list for 501 items.
func pageSizeCases() []badCase {
	return []badCase{
		read("EvaluationService.ListOpenEvaluations page_size 501", "EvaluationService.ListOpenEvaluations", auth.RoleMonitor, city,
			func(ctx context.Context, w *world) (proto.Message, error) {
				return w.c.Evaluation.ListOpenEvaluations(ctx, &whistlev1.ListOpenEvaluationsRequest{PageSize: 501})
			}),
		read("ResponseService.ListInbox page_size 501", "ResponseService.ListInbox", auth.RoleDepartmentHandler, "xc-water",
			func(ctx context.Context, w *world) (proto.Message, error) {
				return w.c.Response.ListInbox(ctx, &whistlev1.ListInboxRequest{DepartmentId: "xc-water", PageSize: 501})
			}),
		read("DispatchService.ListTriage page_size 501", "DispatchService.ListTriage", auth.RoleStreetOfficer, streetA,
			func(ctx context.Context, w *world) (proto.Message, error) {
				return w.c.Dispatch.ListTriage(ctx, &whistlev1.ListTriageRequest{OrgUnitId: streetA, PageSize: 501})
			}),
		read("MonitoringService.ListOverdue page_size 501", "MonitoringService.ListOverdue", auth.RoleMonitor, city,
			func(ctx context.Context, w *world) (proto.Message, error) {
				return w.c.Monitoring.ListOverdue(ctx, &whistlev1.ListOverdueRequest{PageSize: 501})
			}),
		read("MonitoringService.ListHotSpots page_size 501", "MonitoringService.ListHotSpots", auth.RoleMonitor, city,
			func(ctx context.Context, w *world) (proto.Message, error) {
				return w.c.Monitoring.ListHotSpots(ctx, &whistlev1.ListHotSpotsRequest{PageSize: 501})
			}),
		read("MonitoringService.GetTopProblems limit 51 (at most 50)", "MonitoringService.GetTopProblems", auth.RoleMonitor, city,
			func(ctx context.Context, w *world) (proto.Message, error) {
				return w.c.Monitoring.GetTopProblems(ctx, &whistlev1.GetTopProblemsRequest{DistrictId: districtA, Limit: 51,
					Month: time.Now().Format("2006-01")})
			}),
		read("AuditService.ListAudit page_size 501", "AuditService.ListAudit", auth.RoleAdmin, city,
			func(ctx context.Context, w *world) (proto.Message, error) {
				return w.c.Audit.ListAudit(ctx, &whistlev1.ListAuditRequest{PageSize: 501})
			}),
		read("DeadLetterService.ListDeadLetters page_size 501", "DeadLetterService.ListDeadLetters", auth.RoleAdmin, city,
			func(ctx context.Context, w *world) (proto.Message, error) {
				return w.c.DeadLetters.ListDeadLetters(ctx, &whistlev1.ListDeadLettersRequest{PageSize: 501})
			}),
		read("WebhookService.ListWebhookFailures page_size 501", "WebhookService.ListWebhookFailures", auth.RoleAdmin, city,
			func(ctx context.Context, w *world) (proto.Message, error) {
				return w.c.Webhooks.ListWebhookFailures(ctx, &whistlev1.ListWebhookFailuresRequest{PageSize: 501})
			}),
		read("WebhookService.AddWebhook 33 event types (at most 32)", "WebhookService.AddWebhook", auth.RoleAdmin, city,
			func(ctx context.Context, w *world) (proto.Message, error) {
				return w.c.Webhooks.AddWebhook(ctx, &whistlev1.AddWebhookRequest{Url: "https://hooks.example.org/", EventTypes: slices.Repeat([]string{"closed"}, 33),
					Actor: &whistlev1.Actor{Id: "adversary", OrgUnitId: city}})
			}),
		read("WebhookService.AddWebhook a URL of 2049 bytes", "WebhookService.AddWebhook", auth.RoleAdmin, city,
			func(ctx context.Context, w *world) (proto.Message, error) {
				return w.c.Webhooks.AddWebhook(ctx, &whistlev1.AddWebhookRequest{Url: "https://hooks.example.org/" + strings.Repeat("a", 2049-26),
					Actor: &whistlev1.Actor{Id: "adversary", OrgUnitId: city}})
			}),
		read("MonitoringService.ListUpdates a period of 91 days", "MonitoringService.ListUpdates", auth.RoleAdmin, city,
			func(ctx context.Context, w *world) (proto.Message, error) {
				now := time.Now()
				return w.c.Monitoring.ListUpdates(ctx, &whistlev1.ListUpdatesRequest{After: timestamppb.New(now.Add(-91 * 24 * time.Hour)),
					Before: timestamppb.New(now)})
			}),
		read("MonitoringService.ListCallBacks page_size 501", "MonitoringService.ListCallBacks", auth.RoleMonitor, city,
			func(ctx context.Context, w *world) (proto.Message, error) {
				return w.c.Monitoring.ListCallBacks(ctx, &whistlev1.ListCallBacksRequest{PageSize: 501})
			}),
		read("MonitoringService.RecordCallBack a note of 2,001 characters", "MonitoringService.RecordCallBack", auth.RoleMonitor, city,
			func(ctx context.Context, w *world) (proto.Message, error) {
				return w.c.Monitoring.RecordCallBack(ctx, &whistlev1.RecordCallBackRequest{TicketId: w.fx.t("accepted").id, Note: big(2001)})
			}),
		read("MonitoringService.RecordCallBack reached without a verdict", "MonitoringService.RecordCallBack", auth.RoleMonitor, city,
			func(ctx context.Context, w *world) (proto.Message, error) {
				return w.c.Monitoring.RecordCallBack(ctx, &whistlev1.RecordCallBackRequest{TicketId: w.fx.t("accepted").id, Reached: true})
			}),
		read("MonitoringService.ListUpdates page_size 1001", "MonitoringService.ListUpdates", auth.RoleAdmin, city,
			func(ctx context.Context, w *world) (proto.Message, error) {
				now := time.Now()
				return w.c.Monitoring.ListUpdates(ctx, &whistlev1.ListUpdatesRequest{After: timestamppb.New(now.Add(-time.Hour)),
					Before: timestamppb.New(now), PageSize: 1001})
			}),
		read("Open311KeyService.AddOpen311Key a rate of 6001 a minute", "Open311KeyService.AddOpen311Key", auth.RoleAdmin, city,
			func(ctx context.Context, w *world) (proto.Message, error) {
				return w.c.Open311.AddOpen311Key(ctx, &whistlev1.AddOpen311KeyRequest{Name: "adversary", OrgUnitId: city, RatePerMinute: 6001,
					Actor: &whistlev1.Actor{Id: "adversary", OrgUnitId: city}})
			}),
		read("Open311KeyService.AddOpen311Key a proactive source", "Open311KeyService.AddOpen311Key", auth.RoleAdmin, city,
			func(ctx context.Context, w *world) (proto.Message, error) {
				return w.c.Open311.AddOpen311Key(ctx, &whistlev1.AddOpen311KeyRequest{Name: "adversary", OrgUnitId: city,
					Source: whistlev1.Source_SOURCE_PROACTIVE, Actor: &whistlev1.Actor{Id: "adversary", OrgUnitId: city}})
			}),
		read("IntakeService.Report 21 facts (at most 20)", "IntakeService.Report", auth.RoleAdmin, city,
			func(ctx context.Context, w *world) (proto.Message, error) {
				return w.c.Intake.Report(ctx, &whistlev1.ReportRequest{IdempotencyKey: "adversary-facts", Kind: whistlev1.WhistleKind_WHISTLE_KIND_DAILY,
					Source: whistlev1.Source_SOURCE_GRID_PATROL, Category: "water_leak", Description: "facts",
					Location: &whistlev1.Location{GridId: "xc-hd-dj-g01"}, Reporter: &whistlev1.Reporter{OrgUnitId: city},
					Facts: slices.Repeat([]*whistlev1.Fact{{Code: "floor", Value: "1"}}, 21)})
			}),
	}
}

// idCases name tickets by what is not a ticket id.
func idCases() []badCase {
	getter := func(name, method string, role auth.Role, unit string, call func(ctx context.Context, w *world, id string) (proto.Message, error), id string) badCase {
		return read(name+" ticket id "+id, method, role, unit, func(ctx context.Context, w *world) (proto.Message, error) { return call(ctx, w, id) })
	}
	return []badCase{
		getter("MonitoringService.GetTimeline", "MonitoringService.GetTimeline", auth.RoleMonitor, city,
			func(ctx context.Context, w *world, id string) (proto.Message, error) {
				return w.c.Monitoring.GetTimeline(ctx, &whistlev1.GetTimelineRequest{TicketId: id})
			}, "not-a-uuid"),
		getter("ResponseService.GetInboxItem", "ResponseService.GetInboxItem", auth.RoleDepartmentHandler, "xc-water",
			func(ctx context.Context, w *world, id string) (proto.Message, error) {
				return w.c.Response.GetInboxItem(ctx, &whistlev1.GetInboxItemRequest{TicketId: id})
			}, "../../etc/passwd"),
		getter("DispatchService.GetAssignment", "DispatchService.GetAssignment", auth.RoleMonitor, city,
			func(ctx context.Context, w *world, id string) (proto.Message, error) {
				return w.c.Dispatch.GetAssignment(ctx, &whistlev1.GetAssignmentRequest{TicketId: id})
			}, "1' OR '1'='1"),
		getter("EvaluationService.GetEvaluation", "EvaluationService.GetEvaluation", auth.RoleMonitor, city,
			func(ctx context.Context, w *world, id string) (proto.Message, error) {
				return w.c.Evaluation.GetEvaluation(ctx, &whistlev1.GetEvaluationRequest{TicketId: id})
			}, ""),
		getter("DispatchService.ExplainRouting", "DispatchService.ExplainRouting", auth.RoleMonitor, city,
			func(ctx context.Context, w *world, id string) (proto.Message, error) {
				return w.c.Dispatch.ExplainRouting(ctx, &whistlev1.ExplainRoutingRequest{TicketId: id})
			}, "HH-20261127-00001"),
		getter("AuditService.ListAudit", "AuditService.ListAudit", auth.RoleAdmin, city,
			func(ctx context.Context, w *world, id string) (proto.Message, error) {
				return w.c.Audit.ListAudit(ctx, &whistlev1.ListAuditRequest{TicketId: id})
			}, "x"),
		{name: "ResponseService.Accept ticket id not-a-uuid", method: svc("ResponseService.Accept"), role: auth.RoleDepartmentHandler,
			unit: "xc-water", call: func(ctx context.Context, w *world) (proto.Message, error) {
				return w.c.Response.Accept(ctx, &whistlev1.AcceptRequest{TicketId: "not-a-uuid", Actor: &whistlev1.Actor{Id: "adv-input", OrgUnitId: "xc-water"}})
			}},
	}
}

// rangeCases break number ranges and enums.
func rangeCases() []badCase {
	return []badCase{
		reportCase("latitude 91", func(r *whistlev1.ReportRequest) { r.Location.Coordinates = &whistlev1.Coordinates{Latitude: 91} }),
		reportCase("longitude -181", func(r *whistlev1.ReportRequest) { r.Location.Coordinates = &whistlev1.Coordinates{Longitude: -181} }),
		reportCase("latitude NaN", func(r *whistlev1.ReportRequest) { r.Location.Coordinates = &whistlev1.Coordinates{Latitude: nan} }),
		reportCase("kind 99 (no such kind)", func(r *whistlev1.ReportRequest) { r.Kind = 99 }),
		reportCase("source 99 (no such source)", func(r *whistlev1.ReportRequest) { r.Source = 99 }),
		evaluateCase("verdict 99 (no such verdict)", func(r *whistlev1.EvaluateRequest) { r.Verdict = 99 }),
		evaluateCase("source DEFAULT (the window's, not a caller's)", func(r *whistlev1.EvaluateRequest) {
			r.Source = whistlev1.EvaluationSource_EVALUATION_SOURCE_DEFAULT
		}),
		progressCase("clock change 99", func(r *whistlev1.AddProgressRequest) { r.Clock = 99 }),
		dispatchCase("accept_within 0", func(r *whistlev1.DispatchRequest) { r.AcceptWithin = durationpb.New(0) }),
		dispatchCase("accept_within 31 days (at most 30)", func(r *whistlev1.DispatchRequest) { r.AcceptWithin = durationpb.New(31 * 24 * time.Hour) }),
		dispatchCase("resolve_within 366 days (at most 365)", func(r *whistlev1.DispatchRequest) {
			r.ResolveWithin = durationpb.New(366 * 24 * time.Hour)
		}),
		read("ResponseService.ListInbox min_escalation_level 4 (at most 3)", "ResponseService.ListInbox", auth.RoleDepartmentHandler, "xc-water",
			func(ctx context.Context, w *world) (proto.Message, error) {
				return w.c.Response.ListInbox(ctx, &whistlev1.ListInboxRequest{DepartmentId: "xc-water", MinEscalationLevel: 4})
			}),
		read("ResponseService.WatchInbox heartbeat 301 s (at most 300)", "ResponseService.WatchInbox", auth.RoleDepartmentHandler, "xc-water",
			func(ctx context.Context, w *world) (proto.Message, error) {
				return first(w.c.Response.WatchInbox(ctx, &whistlev1.WatchInboxRequest{DepartmentId: "xc-water",
					HeartbeatInterval: durationpb.New(301 * time.Second)}))
			}),
		read("ResponseService.WatchInbox heartbeat -1 s", "ResponseService.WatchInbox", auth.RoleDepartmentHandler, "xc-water",
			func(ctx context.Context, w *world) (proto.Message, error) {
				return first(w.c.Response.WatchInbox(ctx, &whistlev1.WatchInboxRequest{DepartmentId: "xc-water",
					HeartbeatInterval: durationpb.New(-time.Second)}))
			}),
		read("MonitoringService.GetRankings level 99", "MonitoringService.GetRankings", auth.RoleMonitor, city,
			func(ctx context.Context, w *world) (proto.Message, error) {
				return w.c.Monitoring.GetRankings(ctx, &whistlev1.GetRankingsRequest{Level: 99, Figure: "response_rate", Period: recent()})
			}),
		read("MonitoringService.GetRankings figure of 65 bytes", "MonitoringService.GetRankings", auth.RoleMonitor, city,
			func(ctx context.Context, w *world) (proto.Message, error) {
				return w.c.Monitoring.GetRankings(ctx, &whistlev1.GetRankingsRequest{Level: whistlev1.RankingLevel_RANKING_LEVEL_STREET,
					Figure: big(65), Period: recent()})
			}),
		{name: "DeadLetterService.ReplayDeadLetter seq 0", method: svc("DeadLetterService.ReplayDeadLetter"), role: auth.RoleAdmin, unit: city,
			call: func(ctx context.Context, w *world) (proto.Message, error) {
				return w.c.DeadLetters.ReplayDeadLetter(ctx, &whistlev1.ReplayDeadLetterRequest{Seq: 0, Actor: &whistlev1.Actor{Id: "adv-input", OrgUnitId: city}})
			}},
	}
}

// controls are valid requests of the kinds above: they must be let through.
func controls() []badCase {
	ok := func(c badCase) badCase { c.control = true; return c }
	return []badCase{
		ok(reportCase("a valid report with a name in Chinese, a title and coordinates", func(r *whistlev1.ReportRequest) {
			r.Title, r.Reporter.Name = "噪音扰民", "李四"
			r.Location.Coordinates = &whistlev1.Coordinates{Latitude: 39.9, Longitude: 116.4}
		})),
		ok(progressCase("a valid https attachment", func(r *whistlev1.AddProgressRequest) { r.Attachments = attachments(1) })),
		ok(listCase("a valid period", func(r *whistlev1.ListTicketsRequest) {
			r.ReportedAfter, r.ReportedBefore = ts(time.Now().Add(-time.Hour)), ts(time.Now().Add(time.Hour))
		})),
	}
}
