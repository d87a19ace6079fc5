package monitoring

import (
	"context"
	"errors"

	"github.com/whistle-civic/whistle/pkg/auth"
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
	actRebuild     = service + "RebuildProjections"
)

// places tells where an org unit lies (pkg/orgtree).
type places interface {
	Path(ctx context.Context, id string) ([]string, error)
	Root(ctx context.Context) (string, error)
}

// mayRead checks that the caller may read the ticket's timeline; a ticket
// outside the caller's place is "not found", as one that does not exist.
func (g *grpcServer) mayRead(ctx context.Context, st State) error {
	res := policy.Resource{Ticket: true, Areas: st.Area, Departments: append([]string{st.LeadDepartmentID}, st.M.Depts...)}
	if err := policy.Authorize(ctx, actTimeline, res); errors.Is(err, policy.ErrOutOfScope) {
		return ErrNotFound
	} else if err != nil {
		return err
	}
	return nil
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
