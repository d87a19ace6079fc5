package main

import (
	"context"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// badCases is the corpus of check 5: for every kind of bound a request field
// of proto/whistle/v1 has (or must have) — length, list size, timestamp
// window, number range, format — one request that breaks it. The one of
// 1.2 MB comes last: a server that took it would choke its outbox on it.
func badCases() []badCase {
	var cs []badCase
	cs = append(cs, attachmentCases()...)
	cs = append(cs, textCases()...)
	cs = append(cs, windowCases()...)
	cs = append(cs, listCases()...)
	cs = append(cs, idCases()...)
	cs = append(cs, rangeCases()...)
	cs = append(cs, controls()...)
	return append(cs, progressCase("attachment url of 1.2 MB", func(r *whistlev1.AddProgressRequest) {
		r.Attachments = []*whistlev1.Attachment{attachment(func(a *whistlev1.Attachment) {
			a.Url = "https://files.example.gov/" + big(1_200_000)
		})}
	}))
}

func attachmentCases() []badCase {
	one := func(name string, mod func(*whistlev1.Attachment)) badCase {
		return progressCase(name, func(r *whistlev1.AddProgressRequest) { r.Attachments = []*whistlev1.Attachment{attachment(mod)} })
	}
	return []badCase{
		one("attachment size_bytes -1", func(a *whistlev1.Attachment) { a.SizeBytes = -1 }),
		one("attachment url javascript:alert(1)", func(a *whistlev1.Attachment) { a.Url = "javascript:alert(1)" }),
		one("attachment url http:// (https only)", func(a *whistlev1.Attachment) { a.Url = "http://files.example.gov/photo.jpg" }),
		one("attachment url data:", func(a *whistlev1.Attachment) { a.Url = "data:text/html;base64,PHNjcmlwdD4=" }),
		one("attachment url empty", func(a *whistlev1.Attachment) { a.Url = "" }),
		one("attachment sha256 of 3 hex chars", func(a *whistlev1.Attachment) { a.Sha256 = "abc" }),
		one("attachment sha256 of 64 non-hex chars", func(a *whistlev1.Attachment) { a.Sha256 = strings.Repeat("z", 64) }),
		one("attachment name of 100 KB", func(a *whistlev1.Attachment) { a.Name = big(100_000) }),
		one("attachment name with U+202E", func(a *whistlev1.Attachment) { a.Name = "invoice\u202Egpj.exe" }),
		progressCase("21 attachments (at most 20)", func(r *whistlev1.AddProgressRequest) { r.Attachments = attachments(21) }),
		progressCase("10,000 attachments", func(r *whistlev1.AddProgressRequest) { r.Attachments = attachments(10_000) }),
		{name: "ResponseService.ReportAssist attachment url javascript:", method: svc("ResponseService.ReportAssist"),
			role: auth.RoleDepartmentHandler, unit: "xc-urban", about: "accepted",
			call: func(ctx context.Context, w *world) (proto.Message, error) {
				return w.c.Response.ReportAssist(ctx, &whistlev1.ReportAssistRequest{TicketId: w.fx.t("accepted").id, Note: "helped",
					Actor:       &whistlev1.Actor{Id: "adv-input", OrgUnitId: "xc-urban"},
					Attachments: []*whistlev1.Attachment{attachment(func(a *whistlev1.Attachment) { a.Url = "javascript:alert(1)" })}})
			}},
	}
}

func textCases() []badCase {
	return []badCase{
		reportCase("description with U+202E (right-to-left override)", func(r *whistlev1.ReportRequest) { r.Description = "leak at \u202Eno. 5" }),
		reportCase("reporter name with U+2066 (left-to-right isolate)", func(r *whistlev1.ReportRequest) { r.Reporter.Name = "王\u2066小明" }),
		reportCase("title with U+202D (left-to-right override)", func(r *whistlev1.ReportRequest) { r.Title = "pipe \u202Dburst" }),
		reportCase("address with U+2069 (pop directional isolate)", func(r *whistlev1.ReportRequest) { r.Location.Address = "No. 5\u2069 East St" }),
		reportCase("description with a control character (U+0007)", func(r *whistlev1.ReportRequest) { r.Description = "bell\u0007" }),
		reportCase("description of 100 KB", func(r *whistlev1.ReportRequest) { r.Description = big(100_000) }),
		reportCase("description of 4,001 bytes (at most 4,000)", func(r *whistlev1.ReportRequest) { r.Description = big(4001) }),
		reportCase("title of 201 bytes", func(r *whistlev1.ReportRequest) { r.Title = big(201) }),
		reportCase("category of 65 bytes", func(r *whistlev1.ReportRequest) { r.Category = big(65) }),
		reportCase("empty idempotency key", func(r *whistlev1.ReportRequest) { r.IdempotencyKey = "" }),
		reportCase("idempotency key of 129 bytes", func(r *whistlev1.ReportRequest) { r.IdempotencyKey = big(129) }),
		reportCase("idempotency key with a space", func(r *whistlev1.ReportRequest) { r.IdempotencyKey = "a b" }),
		reportCase("reporter name of 101 bytes", func(r *whistlev1.ReportRequest) { r.Reporter.Name = big(101) }),
		reportCase("reporter phone of 33 digits", func(r *whistlev1.ReportRequest) { r.Reporter.Phone = strings.Repeat("1", 33) }),
		reportCase("reporter phone with letters", func(r *whistlev1.ReportRequest) { r.Reporter.Phone = "138-CALL-ME" }),
		reportCase("address of 501 bytes", func(r *whistlev1.ReportRequest) { r.Location.Address = big(501) }),
		reportCase("grid id not an org unit id", func(r *whistlev1.ReportRequest) { r.Location.GridId = "XC HD/../g01" }),
		reportCase("empty reporter org unit", func(r *whistlev1.ReportRequest) { r.Reporter.OrgUnitId = "" }),
		progressCase("note of 4,001 bytes", func(r *whistlev1.AddProgressRequest) { r.Note = big(4001) }),
		progressCase("note with U+202E", func(r *whistlev1.AddProgressRequest) { r.Note = "done\u202E" }),
		progressCase("note with U+2067 (right-to-left isolate)", func(r *whistlev1.AddProgressRequest) { r.Note = "done\u2067" }),
		progressCase("actor id of 65 bytes", func(r *whistlev1.AddProgressRequest) { r.Actor.Id = big(65) }),
		progressCase("actor display name of 101 bytes", func(r *whistlev1.AddProgressRequest) { r.Actor.DisplayName = big(101) }),
		progressCase("actor display name with U+202E", func(r *whistlev1.AddProgressRequest) { r.Actor.DisplayName = "Wang\u202E" }),
		progressCase("request id of 129 bytes", func(r *whistlev1.AddProgressRequest) { r.RequestId = big(129) }),
		extensionCase("reason of 2,001 bytes", "accepted", func(r *whistlev1.RequestExtensionRequest) { r.Reason = big(2001) }),
		decideCase("note of 2,001 bytes", "extension", func(r *whistlev1.DecideExtensionRequest) { r.Note = big(2001) }),
		evaluateCase("comment of 2,001 bytes", func(r *whistlev1.EvaluateRequest) { r.Comment = big(2001) }),
		evaluateCase("reason code not in [a-z0-9_]", func(r *whistlev1.EvaluateRequest) { r.ReasonCodes = []string{"Not Fixed!"} }),
		evaluateCase("evaluation code of 33 bytes", func(r *whistlev1.EvaluateRequest) { r.EvaluationCode = big(33) }),
		read("DispatchService.GetCatalog version of 65 bytes", "DispatchService.GetCatalog", auth.RoleAdmin, city,
			func(ctx context.Context, w *world) (proto.Message, error) {
				return w.c.Dispatch.GetCatalog(ctx, &whistlev1.GetCatalogRequest{Version: big(65)})
			}),
		read("AuditService.ListAudit subject of 257 bytes", "AuditService.ListAudit", auth.RoleAdmin, city,
			func(ctx context.Context, w *world) (proto.Message, error) {
				return w.c.Audit.ListAudit(ctx, &whistlev1.ListAuditRequest{Subject: big(257)})
			}),
		{name: "DispatchService.ImportCatalog source that is not a catalog", method: svc("DispatchService.ImportCatalog"),
			role: auth.RoleAdmin, unit: city, call: func(ctx context.Context, w *world) (proto.Message, error) {
				return w.c.Dispatch.ImportCatalog(ctx, &whistlev1.ImportCatalogRequest{Source: "version: [\n: nope",
					Actor: &whistlev1.Actor{Id: "adv-input", OrgUnitId: city}})
			}},
		{name: "DeadLetterService.DiscardDeadLetter reason of 501 bytes", method: svc("DeadLetterService.DiscardDeadLetter"),
			role: auth.RoleAdmin, unit: city, call: func(ctx context.Context, w *world) (proto.Message, error) {
				return w.c.DeadLetters.DiscardDeadLetter(ctx, &whistlev1.DiscardDeadLetterRequest{Seq: 1, Reason: big(501),
					Actor: &whistlev1.Actor{Id: "adv-input", OrgUnitId: city}})
			}},
	}
}

func windowCases() []badCase {
	return []badCase{
		listCase("reported_after in the year 10000", func(r *whistlev1.ListTicketsRequest) { r.ReportedAfter = year10000 }),
		listCase("reported_after in the year 1", func(r *whistlev1.ListTicketsRequest) { r.ReportedAfter = year1 }),
		listCase("reported_before in the year 10000", func(r *whistlev1.ListTicketsRequest) { r.ReportedBefore = year10000 }),
		listCase("reported_after later than reported_before", func(r *whistlev1.ListTicketsRequest) {
			r.ReportedAfter, r.ReportedBefore = ts(time.Now()), ts(time.Now().Add(-time.Hour))
		}),
		extensionCase("to the year 1", "accepted", func(r *whistlev1.RequestExtensionRequest) { r.RequestedResolveDue = year1 }),
		extensionCase("to the year 10000", "accepted-2", func(r *whistlev1.RequestExtensionRequest) { r.RequestedResolveDue = year10000 }),
		extensionCase("to the year 9999", "accepted-3", func(r *whistlev1.RequestExtensionRequest) { r.RequestedResolveDue = year9999 }),
		decideCase("granted until the year 1", "extension", func(r *whistlev1.DecideExtensionRequest) { r.ResolveDue = year1 }),
		decideCase("granted until the year 9999", "extension-2", func(r *whistlev1.DecideExtensionRequest) { r.ResolveDue = year9999 }),
		read("AuditService.ListAudit after in the year 10000", "AuditService.ListAudit", auth.RoleAdmin, city,
			func(ctx context.Context, w *world) (proto.Message, error) {
				return w.c.Audit.ListAudit(ctx, &whistlev1.ListAuditRequest{After: year10000})
			}),
		read("AuditService.ListAudit after later than before", "AuditService.ListAudit", auth.RoleAdmin, city,
			func(ctx context.Context, w *world) (proto.Message, error) {
				return w.c.Audit.ListAudit(ctx, &whistlev1.ListAuditRequest{After: ts(time.Now()), Before: ts(time.Now().Add(-time.Hour))})
			}),
		read("MonitoringService.GetScorecard impossible date 2026-02-30", "MonitoringService.GetScorecard", auth.RoleMonitor, city,
			func(ctx context.Context, w *world) (proto.Message, error) {
				return w.c.Monitoring.GetScorecard(ctx, &whistlev1.GetScorecardRequest{OrgUnitId: city,
					Period: &whistlev1.Period{Kind: whistlev1.PeriodKind_PERIOD_KIND_DAY, Date: "2026-02-30"}})
			}),
		read("MonitoringService.GetTopProblems month 2026-13", "MonitoringService.GetTopProblems", auth.RoleMonitor, city,
			func(ctx context.Context, w *world) (proto.Message, error) {
				return w.c.Monitoring.GetTopProblems(ctx, &whistlev1.GetTopProblemsRequest{DistrictId: districtA, Month: "2026-13"})
			}),
	}
}
