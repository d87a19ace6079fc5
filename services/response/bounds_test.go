package response_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/grpcserver/grpctest"
)

// evidence is an attachment within every bound, changed by change.
func evidence(change func(a *whistlev1.Attachment)) *whistlev1.Attachment {
	a := &whistlev1.Attachment{Name: "修复后.jpg", SizeBytes: 482113, Sha256: strings.Repeat("9f", 32),
		Url: "https://files.example.gov/evidence/1.jpg"}
	if change != nil {
		change(a)
	}
	return a
}

// acceptedWithAssist returns an accepted ticket of xc-urban that xc-water assists.
func (f *fixture) acceptedWithAssist(t *testing.T) string {
	t.Helper()
	id := f.dispatchTo(t, "xc-urban", dispatchOpts{acceptIn: time.Hour, assisting: []string{"xc-water"}})
	if _, err := f.client.Accept(context.Background(), &whistlev1.AcceptRequest{TicketId: id, Actor: actor("xc-urban")}); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestOutOfBoundsRequestsChangeNothing sends requests the service would act on
// (an accepted ticket, its lead department, an assisting part still open),
// each with one field out of its bound: every one is InvalidArgument naming
// the field, and neither the inbox item nor the outbox changes.
func TestOutOfBoundsRequestsChangeNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	id := f.acceptedWithAssist(t)
	before, events := f.item(t, id), f.outboxCount(t)
	resolve := func(evs ...*whistlev1.Attachment) func() error {
		return func() error {
			_, err := f.client.Resolve(ctx, &whistlev1.ResolveRequest{TicketId: id, Actor: actor("xc-urban"), Result: "修好了",
				Evidence: evs, MissingAssistsReason: "the water company is late"})
			return err
		}
	}
	progress := func(note string, a *whistlev1.Actor) func() error {
		return func() error {
			_, err := f.client.AddProgress(ctx, &whistlev1.AddProgressRequest{TicketId: id, Note: note, Actor: a})
			return err
		}
	}
	extend := func(due *timestamppb.Timestamp) func() error {
		return func() error {
			_, err := f.client.RequestExtension(ctx, &whistlev1.RequestExtensionRequest{TicketId: id,
				RequestedResolveDue: due, Reason: "asphalt plant closed", Actor: actor("xc-urban")})
			return err
		}
	}
	tooMany := make([]*whistlev1.Attachment, 21)
	for i := range tooMany {
		tooMany[i] = evidence(nil)
	}
	year := func(y int) *timestamppb.Timestamp { return timestamppb.New(time.Date(y, 12, 31, 0, 0, 0, 0, time.UTC)) }
	tests := []struct {
		name  string
		call  func() error
		field string // the status message names it
	}{
		{"url of 1.2 MB", resolve(evidence(func(a *whistlev1.Attachment) {
			a.Url = "https://files.example.gov/" + strings.Repeat("a", 1_200_000)
		})), "evidence[0].url"},
		{"javascript: url", resolve(evidence(func(a *whistlev1.Attachment) { a.Url = "javascript:alert(1)" })), "evidence[0].url"},
		{"http: url", resolve(evidence(func(a *whistlev1.Attachment) { a.Url = "http://files.example.gov/1.jpg" })), "evidence[0].url"},
		{"url without a host", resolve(evidence(func(a *whistlev1.Attachment) { a.Url = "https:///1.jpg" })), "evidence[0].url"},
		{"neither url nor media_id", resolve(evidence(func(a *whistlev1.Attachment) { a.Url = "" })),
			"evidence[0]: an attachment needs a media_id (upload the file with UploadMedia) or an https url"},
		{"media_id not a UUID", resolve(evidence(func(a *whistlev1.Attachment) { a.Url, a.MediaId = "", "photo-1" })), "evidence[0].media_id"},
		{"size_bytes -1", resolve(evidence(func(a *whistlev1.Attachment) { a.SizeBytes = -1 })), "evidence[0].size_bytes"},
		{"size_bytes 0", resolve(evidence(func(a *whistlev1.Attachment) { a.SizeBytes = 0 })), "evidence[0].size_bytes"},
		{"size_bytes past 100 MiB", resolve(evidence(func(a *whistlev1.Attachment) { a.SizeBytes = 100<<20 + 1 })), "evidence[0].size_bytes"},
		{"sha256 in capitals", resolve(evidence(func(a *whistlev1.Attachment) { a.Sha256 = strings.Repeat("9F", 32) })), "evidence[0].sha256"},
		{"sha256 one digit short", resolve(evidence(func(a *whistlev1.Attachment) { a.Sha256 = a.Sha256[1:] })), "evidence[0].sha256"},
		{"no sha256", resolve(evidence(func(a *whistlev1.Attachment) { a.Sha256 = "" })), "evidence[0].sha256"},
		{"name with a path", resolve(evidence(func(a *whistlev1.Attachment) { a.Name = "../../etc/passwd" })), "evidence[0].name"},
		{"name with a backslash", resolve(evidence(func(a *whistlev1.Attachment) { a.Name = `C:\photo.jpg` })), "evidence[0].name"},
		{"name ..", resolve(evidence(func(a *whistlev1.Attachment) { a.Name = ".." })), "evidence[0].name"},
		{"no name", resolve(evidence(func(a *whistlev1.Attachment) { a.Name = "" })), "evidence[0].name"},
		{"name of 256 characters", resolve(evidence(func(a *whistlev1.Attachment) { a.Name = strings.Repeat("照", 256) })), "evidence[0].name"},
		{"second attachment bad", resolve(evidence(nil), evidence(func(a *whistlev1.Attachment) { a.SizeBytes = -1 })), "evidence[1].size_bytes"},
		{"21 attachments", resolve(tooMany...), "evidence"},
		{"attachment of a progress note", func() error {
			_, err := f.client.AddProgress(ctx, &whistlev1.AddProgressRequest{TicketId: id, Note: "waiting", Actor: actor("xc-urban"),
				Attachments: []*whistlev1.Attachment{evidence(func(a *whistlev1.Attachment) { a.Url = "javascript:alert(1)" })}})
			return err
		}, "attachments[0].url"},
		{"attachment of an assist", func() error {
			_, err := f.client.ReportAssist(ctx, &whistlev1.ReportAssistRequest{TicketId: id, Note: "valve closed", Actor: actor("xc-water"),
				Attachments: []*whistlev1.Attachment{evidence(func(a *whistlev1.Attachment) { a.SizeBytes = -1 })}})
			return err
		}, "attachments[0].size_bytes"},
		{"extension to 9999", extend(year(9999)), "requested_resolve_due"},
		{"extension beyond 9999", extend(&timestamppb.Timestamp{Seconds: 253402300800 + 86400}), "requested_resolve_due"},
		{"extension six years ahead", extend(timestamppb.New(time.Now().AddDate(6, 0, 0))), "requested_resolve_due"},
		{"extension before 2000", extend(year(1999)), "requested_resolve_due"},
		{"bidi override in a note", progress("pothole \u202efilled\u202c", actor("xc-urban")), "note"},
		{"bidi isolate in a name", progress("waiting", &whistlev1.Actor{Id: "handler-1", OrgUnitId: "xc-urban",
			DisplayName: "Li \u2067Wang\u2069"}), "actor.display_name"},
		{"actor id with a space", progress("waiting", &whistlev1.Actor{Id: "handler 1", OrgUnitId: "xc-urban"}), "actor.id"},
		{"a status filter twice", func() error {
			_, err := f.client.ListInbox(ctx, &whistlev1.ListInboxRequest{DepartmentId: "xc-urban", Statuses: []whistlev1.TicketStatus{3, 3}})
			return err
		}, "statuses"},
		{"area with spaces", func() error {
			_, err := f.client.ListInbox(ctx, &whistlev1.ListInboxRequest{DepartmentId: "xc-urban", AreaOrgUnitId: "xc hd"})
			return err
		}, "area_org_unit_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { grpctest.WantInvalidArgument(t, tt.call(), tt.field) })
	}
	if n := f.outboxCount(t); n != events {
		t.Fatalf("refused requests wrote %d events", n-events)
	}
	if after := f.item(t, id); !proto.Equal(before, after) {
		t.Fatalf("item changed:\n before %v\n after  %v", before, after)
	}
}

// TestBoundsLetRealWorkThrough resolves with what a department really sends at
// the bounds: 4000 Chinese characters, 20 attachments with Chinese names of
// 255 characters and 2048-character URLs, an extension asked 4 years ahead.
func TestBoundsLetRealWorkThrough(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	id := f.acceptedWithAssist(t)
	due := timestamppb.New(time.Now().AddDate(4, 0, 0).Truncate(time.Second))
	if _, err := f.client.RequestExtension(ctx, &whistlev1.RequestExtensionRequest{TicketId: id, RequestedResolveDue: due,
		Reason: "等待供热季结束后施工", Actor: actor("xc-urban")}); err != nil {
		t.Fatal(err)
	}
	if got := f.item(t, id).GetExtensionRequestedDue(); !got.AsTime().Equal(due.AsTime()) {
		t.Fatalf("extension asked until %v, item says %v", due.AsTime(), got.AsTime())
	}
	evs := make([]*whistlev1.Attachment, 20)
	for i := range evs {
		evs[i] = evidence(func(a *whistlev1.Attachment) {
			a.Name = strings.Repeat("照", 251) + ".jpg"
			a.Url += "?" + strings.Repeat("x", 2048-len(a.Url)-1)
			a.SizeBytes = 100 << 20
		})
	}
	result := strings.Repeat("路面已修复", 800)
	_, err := f.client.Resolve(ctx, &whistlev1.ResolveRequest{TicketId: id, Actor: actor("xc-urban"), Result: result,
		Evidence: evs, MissingAssistsReason: "自来水公司未到场"})
	if err != nil {
		t.Fatal(err)
	}
	ev := f.lastEvent(t).GetResolved()
	if ev.GetResult() != result || len(ev.GetEvidence()) != 20 || !proto.Equal(ev.GetEvidence()[19], evs[19]) {
		t.Fatalf("resolved event carries %d attachments, result of %d bytes", len(ev.GetEvidence()), len(ev.GetResult()))
	}
}
