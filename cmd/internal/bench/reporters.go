package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// step is one ticket's plan: what is reported where, and the verdict.
type step struct {
	category, grid string
	unsatisfied    bool
}

// planner draws tickets from the catalog: a matter that routes without a
// person (no triage), a grid, and whether the community is unsatisfied once.
type planner struct {
	mu          sync.Mutex
	rng         *rand.Rand
	grids       []string
	matters     []string
	unsatisfied float64
}

func newPlanner(cat *whistlev1.GetCatalogResponse, seed uint64, unsatisfied float64) (*planner, error) {
	p := &planner{rng: rand.New(rand.NewPCG(seed, seed^0x5eed)), unsatisfied: unsatisfied}
	for _, u := range cat.GetOrgUnits() {
		if u.GetLevel() == whistlev1.OrgLevel_ORG_LEVEL_GRID {
			p.grids = append(p.grids, u.GetId())
		}
	}
	for _, m := range cat.GetMatters() {
		if !m.GetTriage() {
			p.matters = append(p.matters, m.GetCode())
		}
	}
	if len(p.grids) == 0 || len(p.matters) == 0 {
		return nil, errors.New("the active catalog has no grid or no matter that routes by itself: activate a catalog with both " +
			"(whistlectl catalog import/activate)")
	}
	return p, nil
}

func (p *planner) next() step {
	p.mu.Lock()
	defer p.mu.Unlock()
	return step{category: p.matters[p.rng.IntN(len(p.matters))], grid: p.grids[p.rng.IntN(len(p.grids))],
		unsatisfied: p.rng.Float64() < p.unsatisfied}
}

// departments lists the catalog's departments, whose inboxes the handlers watch.
func departments(cat *whistlev1.GetCatalogResponse) []string {
	var out []string
	for _, d := range cat.GetDepartments() {
		out = append(out, d.GetId())
	}
	return out
}

// reportTicket reports arrival i as its grid's reporter and, once the ticket
// is known, waits until it closes, is given up, or the run's drain ends.
func (r *loopRun) reportTicket(ctx context.Context, i int) {
	s := r.plan.next()
	start := r.now()
	var resp *whistlev1.ReportResponse
	err := r.call(ctx, rpcReport, func(ctx context.Context) (err error) {
		resp, err = r.d.Clients.Intake.Report(r.d.As(ctx, auth.RoleReporter, s.grid), &whistlev1.ReportRequest{
			IdempotencyKey: fmt.Sprintf("bench-%s-%d", r.o.RunID, i),
			Kind:           whistlev1.WhistleKind_WHISTLE_KIND_DAILY,
			Source:         whistlev1.Source_SOURCE_GRID_PATROL,
			Category:       s.category,
			Title:          r.tag + " " + s.category,
			Description:    fmt.Sprintf("Synthetic whistle %d of bench run %s", i, r.o.RunID),
			Location:       &whistlev1.Location{GridId: s.grid},
			Reporter:       &whistlev1.Reporter{OrgUnitId: s.grid, Name: "bench"},
			Synthetic:      true,
		})
		return err
	})
	if err != nil {
		r.reportFailed.Add(1)
		return
	}
	tk, round := r.tr.register(resp.GetTicket().GetId(), s, start, r.now())
	if round > 0 {
		r.spawn(func() { r.evaluate(ctx, tk, round) })
	}
	select {
	case <-tk.done:
	case <-ctx.Done():
	}
}
