package monitoring

import (
	"context"
	"errors"
	"slices"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/policy"
)

// The API's actions, as the policy table names them.
const (
	service        = "/whistle.v1.MonitoringService/"
	actTimeline    = service + "GetTimeline"
	actCounts      = service + "GetCounts"
	actScorecard   = service + "GetScorecard"
	actRankings    = service + "GetRankings"
	actOverdue     = service + "ListOverdue"
	actBoard       = service + "GetEscalationBoard"
	actHotSpots    = service + "ListHotSpots"
	actTopProblems = service + "GetTopProblems"
	actWatch       = service + "WatchEvents"
	actUpdates     = service + "ListUpdates"
	actRebuild     = service + "RebuildProjections"
	// actCallBacks lists the tickets drawn for a call-back; actRecordCallBack records one.
	actCallBacks      = service + "ListCallBacks"
	actRecordCallBack = service + "RecordCallBack"
)

// places tells where an org unit lies (pkg/orgtree).
type places interface {
	Path(ctx context.Context, id string) ([]string, error)
	Root(ctx context.Context) (string, error)
}

// visibleTimeline returns what of a ticket's timeline the caller may read:
// all of it where the ticket lies in the caller's place, or for the
// department that holds it now; for a department that held it once and lost
// it (it returned the ticket, which went to another), the entries up to its
// return and the state they left the ticket in, nothing after. A ticket
// outside the caller's place is "not found", as one that does not exist.
// The reporter's name is masked for those who need not call them
// (policy.SeesPersonalData).
func (g *grpcServer) visibleTimeline(ctx context.Context, st State, entries []Entry) (State, []Entry, error) {
	place := policy.Resource{Ticket: true, Areas: st.Area}
	if err := policy.Authorize(ctx, actTimeline, policy.Resource{Ticket: true, Areas: st.Area,
		Departments: []string{st.LeadDepartmentID}}); err == nil {
		return st, masked(ctx, place, entries), nil
	} else if !errors.Is(err, policy.ErrOutOfScope) {
		return State{}, nil, err
	}
	p, _ := auth.FromContext(ctx)
	if err := policy.Authorize(ctx, actTimeline, policy.Resource{Ticket: true, Departments: st.M.Depts}); err != nil {
		if errors.Is(err, policy.ErrOutOfScope) {
			return State{}, nil, ErrNotFound
		}
		return State{}, nil, err
	}
	entries = untilLeft(entries, p.OrgUnit)
	if len(entries) == 0 {
		return State{}, nil, ErrNotFound
	}
	last := entries[len(entries)-1]
	left := State{TicketID: st.TicketID, Number: st.Number, Status: last.Status, Version: last.Version, Category: st.Category,
		Synthetic: st.Synthetic, ReportedAt: st.ReportedAt, UpdatedAt: last.OccurredAt}
	return left, masked(ctx, place, entries), nil
}

// untilLeft is a department's part of a timeline it is no longer on: the
// entries up to its last return (or, had it none, its last entry).
func untilLeft(entries []Entry, dept string) []Entry {
	last, lastReturn := -1, -1
	for i, e := range entries {
		if e.ActorOrg != dept {
			continue
		}
		last = i
		if e.EventType == events.Returned {
			lastReturn = i
		}
	}
	if lastReturn >= 0 {
		last = lastReturn
	}
	return entries[:last+1]
}

// masked hides the reporter's name in the reported entry from those who need
// not call them, where the ticket lies at res.
func masked(ctx context.Context, res policy.Resource, entries []Entry) []Entry {
	if policy.SeesPersonalData(ctx, res) {
		return entries
	}
	out := slices.Clone(entries)
	for i := range out {
		if out[i].EventType == events.Reported {
			out[i].ActorName = policy.MaskName(out[i].ActorName)
		}
	}
	return out
}

// unitFor returns the org unit a query is about: the one named, or when none
// is, the whole city for those who may read everywhere and the caller's own
// unit for the others. It checks the caller may read there.
func (g *grpcServer) unitFor(ctx context.Context, action, named string) (string, error) {
	if policy.Everywhere(ctx, action) {
		return named, nil
	}
	unit := named
	if unit == "" {
		p, ok := auth.FromContext(ctx)
		if !ok {
			return "", policy.ErrNoPrincipal
		}
		unit = p.OrgUnit
	}
	path, err := g.places.Path(ctx, unit)
	if err != nil {
		return "", err
	}
	return unit, policy.Authorize(ctx, action, policy.Resource{Areas: path, Departments: []string{unit}})
}

// mayReadCity checks that the caller may read what spans the whole city.
func (g *grpcServer) mayReadCity(ctx context.Context, action string) error {
	if policy.Everywhere(ctx, action) {
		return nil
	}
	root, err := g.places.Root(ctx)
	if err != nil {
		return err
	}
	return policy.Authorize(ctx, action, policy.Resource{Areas: []string{root}})
}

// rankingWithin returns where a ranking looks. Departments are not placed
// under areas: they are ranked city-wide, by those who may read the city.
func (g *grpcServer) rankingWithin(ctx context.Context, req *whistlev1.GetRankingsRequest) (string, error) {
	if req.GetLevel() != whistlev1.RankingLevel_RANKING_LEVEL_DEPARTMENT {
		return g.unitFor(ctx, actRankings, req.GetWithin())
	}
	if req.GetWithin() != "" {
		return "", ErrWithinDepartments
	}
	return "", g.mayReadCity(ctx, actRankings)
}
