package evaluation

import (
	"context"

	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/platform"
	"github.com/whistle-civic/whistle/pkg/telemetry"
	"github.com/whistle-civic/whistle/pkg/ticket"
	"github.com/whistle-civic/whistle/pkg/timeconv"
)

// consumer is evaluation's one consumer: resolved tickets, who reported
// them, where they lie and which duplicates were merged into which. It took over the work of evaluation-reporters and
// evaluation-areas (migration 00004 carries their inbox over).
func (s *Service) consumer() platform.Consumer {
	types, apply := platform.Route(platform.Routes{
		events.Resolved: s.applyResolved, events.Reported: s.applyReported, events.Dispatched: s.applyDispatched,
		events.Merged: s.applyMerged})
	return platform.Consumer{Name: Name, EventTypes: types, Apply: apply, ApplySet: s.applySet,
		Replaces: []string{Name + "-reporters", Name + "-areas"}}
}

func (s *Service) applyResolved(ctx context.Context, ev *whistlev1.Event) (ticket.Decision, error) {
	return s.Open(ctx, resolutionOf(ctx, ev))
}

// resolutionOf reads a resolved event, in the trace ctx carries.
func resolutionOf(ctx context.Context, ev *whistlev1.Event) Resolution {
	r := ev.GetResolved()
	return Resolution{
		TicketID: ev.GetTicketId(), Number: ev.GetTicketNumber(), Version: ev.GetTicketVersion(),
		DepartmentID: r.GetDepartmentId(), Result: r.GetResult(), ResolvedAt: ev.GetOccurredAt().AsTime(),
		Synthetic: ev.GetSynthetic(), TraceParent: telemetry.TraceParent(ctx),
	}
}

func (s *Service) applyReported(ctx context.Context, ev *whistlev1.Event) (ticket.Decision, error) {
	r := ev.GetReported()
	err := s.Reporter(ctx, ev.GetTicketId(), r.GetTicket().GetReporter().GetOrgUnitId())
	return ticket.Apply, err
}

func (s *Service) applyMerged(ctx context.Context, ev *whistlev1.Event) (ticket.Decision, error) {
	return ticket.Apply, s.MergedInto(ctx, ev.GetTicketId(), ev.GetMerged().GetOriginalTicketId())
}

func (s *Service) applyDispatched(ctx context.Context, ev *whistlev1.Event) (ticket.Decision, error) {
	return ticket.Apply, s.Area(ctx, ev.GetTicketId(), ev.GetDispatched().GetAreaIds())
}

// toEvents announces what a change to a round did: a round opened
// (evaluation_opened, an annotation at the resolved version), or a verdict:
// evaluated (at the resolved version), then closed or reopened (the next
// version); nothing else.
func toEvents(e Evaluation, action ticket.Action) []*whistlev1.Event {
	if action == "" {
		if e.announced.IsZero() {
			return nil
		}
		return []*whistlev1.Event{events.MustNew(events.Meta{
			TicketID: e.TicketID, TicketNumber: e.Number, Version: e.Version, OccurredAt: e.announced,
			Producer: Name, Synthetic: e.Synthetic, Actor: &whistlev1.Actor{Id: "service:" + Name},
		}, &whistlev1.TicketEvaluationOpened{Round: e.Round, EvaluateDue: timeconv.ToProto(e.DueAt), DepartmentId: e.DepartmentID})}
	}
	meta := events.Meta{
		TicketID: e.TicketID, TicketNumber: e.Number, Version: e.Version - 1, OccurredAt: e.EvaluatedAt,
		Producer: Name, Synthetic: e.Synthetic,
		Actor: &whistlev1.Actor{Id: e.Evaluator.ID, OrgUnitId: e.Evaluator.OrgUnitID, DisplayName: e.Evaluator.Name},
	}
	judged := events.MustNew(meta, &whistlev1.TicketEvaluated{
		Verdict: whistlev1.Verdict(e.Verdict), Comment: e.Comment, Round: e.Round, ReasonCodes: e.ReasonCodes,
		DepartmentId: e.DepartmentID, DefaultVerdict: e.DefaultVerdict, Source: whistlev1.EvaluationSource(e.Source),
		Attachments: toProtoPhotos(e.photos),
	})
	meta.Version = e.Version
	if action == ticket.Close {
		return []*whistlev1.Event{judged, events.MustNew(meta, &whistlev1.TicketClosed{FinalVerdict: whistlev1.Verdict(e.Verdict),
			DefaultVerdict: e.DefaultVerdict, CallBack: e.callBack})}
	}
	return []*whistlev1.Event{judged, events.MustNew(meta, &whistlev1.TicketReopened{
		DepartmentId: e.DepartmentID, ReasonCodes: e.ReasonCodes, Comment: e.Comment, ReworkCount: e.Round,
		Escalate: e.escalate,
	})}
}

func toProtoPhotos(ps []Photo) []*whistlev1.Attachment {
	var out []*whistlev1.Attachment
	for _, p := range ps {
		out = append(out, &whistlev1.Attachment{Name: p.Name, SizeBytes: p.Size, Sha256: p.SHA256, MediaId: p.MediaID, Url: p.URL})
	}
	return out
}

func fromProtoPhotos(as []*whistlev1.Attachment) []Photo {
	var out []Photo
	for _, a := range as {
		out = append(out, Photo{Name: a.GetName(), Size: a.GetSizeBytes(), SHA256: a.GetSha256(), MediaID: a.GetMediaId(), URL: a.GetUrl()})
	}
	return out
}
