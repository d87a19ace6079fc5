package monitoring

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/platform/platformtest"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// BenchmarkQueriesByHistorySize measures the figure queries over a year of
// history of 1,000 and of 1,000,000 tickets (WHISTLE_BENCH_TICKETS overrides
// the larger size). Each ticket's events go through the counting rules of
// live projection (apply); their effects are summed in memory and bulk
// loaded, with every ticket's state row, because a million transactions
// would take an hour to load. A query's cost should not grow with history.
func BenchmarkQueriesByHistorySize(b *testing.B) {
	large := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("WHISTLE_BENCH_TICKETS")); err == nil && v > 0 {
		large = v
	}
	for _, n := range []int{1_000, large} {
		b.Run(fmt.Sprintf("tickets=%d", n), func(b *testing.B) {
			svc := loadHistory(b, n)
			ctx := context.Background()
			month := Period{Kind: PeriodMonth, Date: "2026-06-15"}
			b.Run("scorecard/street/month", func(b *testing.B) {
				for b.Loop() {
					if _, err := svc.Scorecard(ctx, "xc-hd", month); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("scorecard/city/year", func(b *testing.B) {
				year := Period{Kind: PeriodCustom, From: "2026-01-01", To: "2026-12-31"}
				for b.Loop() {
					if _, err := svc.Scorecard(ctx, "hh", year); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("rankings/street/month", func(b *testing.B) {
				for b.Loop() {
					if _, err := svc.Rankings(ctx, "street", FigureSatisfactionRate, "", month); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("overdue/first-page", func(b *testing.B) {
				for b.Loop() {
					if _, _, err := svc.Overdue(ctx, "", overdueCursor{}, 50); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// benchGrids are the seed catalog's grids in district xc, with their units.
var benchGrids = [][]string{
	{"xc-hd-dj-g01", "xc-hd-dj", "xc-hd", "xc", "hh"}, {"xc-hd-dj-g02", "xc-hd-dj", "xc-hd", "xc", "hh"},
	{"xc-hd-wy-g01", "xc-hd-wy", "xc-hd", "xc", "hh"}, {"xc-xh-jy-g01", "xc-xh-jy", "xc-xh", "xc", "hh"},
	{"hn-bt-lq-g01", "hn-bt-lq", "hn-bt", "hn", "hh"}, {"hn-qs-fx-g02", "hn-qs-fx", "hn-qs", "hn", "hh"},
	{"yq-ht-dls-g01", "yq-ht-dls", "yq-ht", "yq", "hh"}, {"yq-ht-wjy-g02", "yq-ht-wjy", "yq-ht", "yq", "hh"},
}

// loadHistory builds a monitoring service on a fresh database holding n
// tickets reported through 2026, and checks the city's figures count them all.
func loadHistory(b *testing.B, n int) *Service {
	b.Helper()
	deps := platformtest.Deps(b, Name, Migrations(), nil, nil)
	svc, err := New(deps, Config{})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	h := newHistory()
	rng := rand.New(rand.NewPCG(uint64(n), 1))
	for i := range n {
		h.ticket(svc.loc, rng, i, n)
	}
	if err := h.copy(context.Background(), svc); err != nil {
		b.Fatal(err)
	}
	year := Period{Kind: PeriodCustom, From: "2026-01-01", To: "2026-12-31"}
	sc, err := svc.Scorecard(context.Background(), "hh", year)
	if err != nil || sc.Figures[7].Numerator != int64(n) {
		b.Fatalf("the city's figures count %v reported tickets, want %d (%v)", sc.Figures[7], n, err)
	}
	b.Logf("loaded %d tickets in %s: %d score rows, %d stage rows", n, time.Since(start).Round(time.Second), len(h.scores), len(h.stages))
	return svc
}

// history sums the effects of many tickets' events.
type history struct {
	scores map[[3]string]int64
	// monthly sums the scores per month; stages keys monthly rows with an
	// "m" before the bucket.
	monthly map[[3]string]int64
	stages  map[[4]string][2]int64
	live    map[string][2]int64
	cats    map[[3]string]int64
	units   map[string]Unit
	states  []State
}

func newHistory() *history {
	return &history{scores: map[[3]string]int64{}, monthly: map[[3]string]int64{}, stages: map[[4]string][2]int64{}, live: map[string][2]int64{},
		cats: map[[3]string]int64{}, units: map[string]Unit{}}
}

// ticket plays one ticket's life through apply: most are handled on time and
// satisfy; some are late, reworked, closed by default, or still open.
func (h *history) ticket(loc *time.Location, rng *rand.Rand, i, n int) {
	at := time.Date(2026, 1, 1, 8, 0, 0, 0, loc).Add(time.Duration(float64(i) / float64(n) * float64(364*24*time.Hour)))
	area := benchGrids[rng.IntN(len(benchGrids))]
	dept := area[3] + []string{"-urban", "-water"}[rng.IntN(2)]
	st := &State{TicketID: ids.New()}
	v := int64(0)
	step := func(typ string, action ticket.Action, after time.Duration, c Change) {
		at = at.Add(after)
		if action != "" {
			v++
		}
		c.Entry, c.Action = Entry{EventType: typ, Version: v, OccurredAt: at}, action
		h.add(apply(st, c, loc))
	}
	step("reported", ticket.Report, 0, Change{Category: []string{"road_damage", "noise", "water_leak", "drain_blocked"}[rng.IntN(4)],
		ReportedAt: at, Grid: area[0], Source: 1})
	step("dispatched", ticket.Dispatch, time.Minute, Change{Area: area, LeadDepartmentID: dept,
		AcceptDue: at.Add(time.Hour + time.Minute), ResolveDue: at.Add(48 * time.Hour)})
	if rng.IntN(20) == 0 {
		step("escalated", "", 2*time.Hour, Change{Stage: "accept", EscalationLevel: 1})
		if i > n-n/50 {
			h.states = append(h.states, *st) // still open and overdue
			return
		}
	}
	step("accepted", ticket.Accept, time.Duration(rng.IntN(90))*time.Minute, Change{Department: dept})
	step("resolved", ticket.Resolve, time.Duration(rng.IntN(72))*time.Hour, Change{Department: dept})
	if rng.IntN(10) == 0 {
		step("evaluated", "", time.Hour, Change{Department: dept, Evaluated: true})
		step("reopened", ticket.Reopen, 0, Change{ReworkCount: 1})
		step("resolved", ticket.Resolve, 24*time.Hour, Change{Department: dept})
	}
	byDefault := rng.IntN(8) == 0
	step("evaluated", "", 3*time.Hour, Change{Department: dept, Evaluated: !byDefault, Satisfied: !byDefault})
	step("closed", ticket.Close, 0, Change{DefaultClose: byDefault})
	h.states = append(h.states, *st)
}

func (h *history) add(e Effects) {
	for _, c := range e.Counts {
		h.scores[[3]string{c.Unit, c.Day, c.Fact}] += c.N
		h.monthly[[3]string{c.Unit, c.Day[:8] + "01", c.Fact}] += c.N
	}
	for _, s := range e.Samples {
		for _, k := range [][4]string{{s.Unit, s.Day, s.Stage, strconv.Itoa(bucketOf(s.Took))},
			{s.Unit, s.Day[:8] + "01", s.Stage, "m" + strconv.Itoa(bucketOf(s.Took))}} {
			v := h.stages[k]
			h.stages[k] = [2]int64{v[0] + 1, v[1] + int64(s.Took.Seconds())}
		}
	}
	for _, l := range e.Live {
		v := h.live[l.Unit]
		h.live[l.Unit] = [2]int64{v[0] + l.Open, v[1] + l.Overdue}
	}
	for _, c := range e.Categories {
		h.cats[[3]string{c.Unit, c.Fact, c.Day}] += c.N
	}
	for _, u := range e.Units {
		h.units[u.ID] = u
	}
}

// copy bulk loads the sums and the states.
func (h *history) copy(ctx context.Context, svc *Service) error {
	pool := svc.deps.DB.Pool
	var rows [][]any
	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
	for k, n := range h.scores {
		rows = append(rows, []any{k[0], day(k[1]), k[2], n})
	}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"scores"}, []string{"unit_id", "day", "fact", "n"}, pgx.CopyFromRows(rows)); err != nil {
		return err
	}
	rows = rows[:0]
	for k, n := range h.monthly {
		rows = append(rows, []any{k[0], day(k[1]), k[2], n})
	}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"scores_monthly"}, []string{"unit_id", "month", "fact", "n"}, pgx.CopyFromRows(rows)); err != nil {
		return err
	}
	var daily, monthly [][]any
	for k, v := range h.stages {
		bucket, _ := strconv.Atoi(strings.TrimPrefix(k[3], "m"))
		row := []any{k[0], day(k[1]), k[2], int16(bucket), v[0], v[1]}
		if strings.HasPrefix(k[3], "m") {
			monthly = append(monthly, row)
		} else {
			daily = append(daily, row)
		}
	}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"stage_times"}, []string{"unit_id", "day", "stage", "bucket", "n", "seconds"},
		pgx.CopyFromRows(daily)); err != nil {
		return err
	}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"stage_times_monthly"}, []string{"unit_id", "month", "stage", "bucket", "n", "seconds"},
		pgx.CopyFromRows(monthly)); err != nil {
		return err
	}
	rows = rows[:0]
	for u, v := range h.live {
		rows = append(rows, []any{u, v[0], v[1]})
	}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"live"}, []string{"unit_id", "open", "overdue"}, pgx.CopyFromRows(rows)); err != nil {
		return err
	}
	rows = rows[:0]
	for _, u := range h.units {
		rows = append(rows, []any{u.ID, u.Kind, u.Path})
	}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"units"}, []string{"unit_id", "kind", "path"}, pgx.CopyFromRows(rows)); err != nil {
		return err
	}
	rows = rows[:0]
	for k, n := range h.cats {
		rows = append(rows, []any{k[0], k[1], day(k[2]), n})
	}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"categories"}, []string{"unit_id", "category", "day", "n"}, pgx.CopyFromRows(rows)); err != nil {
		return err
	}
	states := pgx.CopyFromSlice(len(h.states), func(i int) ([]any, error) {
		st := h.states[i]
		return []any{st.TicketID, st.Number, int16(st.Status), st.Version, st.EscalationLevel, st.LeadDepartmentID, st.Category,
			st.ReworkCount, st.Synthetic, st.ReportedAt, st.UpdatedAt, st.TraceID, st.Area, st.Overdue, st.OverdueStage,
			nullTime(st.StageDue), []byte("{}")}, nil
	})
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"tickets"}, []string{"ticket_id", "ticket_number", "status", "version",
		"escalation_level", "lead_department_id", "category", "rework_count", "synthetic", "reported_at", "updated_at", "trace_id",
		"area_ids", "overdue", "overdue_stage", "stage_due", "memory"}, states); err != nil {
		return err
	}
	_, err := pool.Exec(ctx, "ANALYZE")
	return err
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
