package monitoring

import (
	"fmt"
	"time"
)

// Figure is one rate with its parts.
type Figure struct {
	Name                   string
	Numerator, Denominator int64
}

// Rate is Numerator / Denominator, or 0 when there is no denominator.
func (f Figure) Rate() float64 {
	if f.Denominator == 0 {
		return 0
	}
	return float64(f.Numerator) / float64(f.Denominator)
}

// StageTime summarises one stage's durations.
type StageTime struct {
	Stage   string
	Count   int64
	Average time.Duration
	P90     time.Duration
}

// Scorecard is an org unit's figures for a period (docs/metrics.md).
type Scorecard struct {
	Unit          string
	From, To      string
	Figures       []Figure
	Stages        []StageTime
	Open, Overdue int64
	// SatisfactionGap is set when Config.SatisfactionGap flags the figures.
	SatisfactionGap bool
}

// The figures a scorecard and a ranking offer.
const (
	FigureResponseRate         = "response_rate"
	FigureResolutionRate       = "resolution_rate"
	FigureOnTimeResolutionRate = "on_time_resolution_rate"
	FigureClosingRate          = "closing_rate"
	FigureSatisfactionRate     = "satisfaction_rate"
	FigureReworkRate           = "rework_rate"
	// FigureDefaultCloseRate is the share of closes made by the default verdict.
	FigureDefaultCloseRate = "default_close_rate"
	// FigureReported and FigureDispatched are plain counts (denominator 1),
	// as are the tickets that ended without being handled: cancelled (of
	// them, withdrawn by the reporter) and merged into an original.
	FigureReported   = "reported"
	FigureDispatched = "dispatched"
	FigureCancelled  = "cancelled"
	FigureWithdrawn  = "withdrawn"
	FigureMerged     = "merged"
	// FigureStayedResolvedRate is the share of closed tickets not repeated
	// within 30 days of their close; FigureRepeated counts the repeated.
	FigureStayedResolvedRate = "stayed_resolved_rate"
	FigureRepeated           = "repeated"
	// FigureAuditedSatisfactionRate is the share of reached call-backs whose
	// reporter was satisfied.
	FigureAuditedSatisfactionRate = "audited_satisfaction_rate"
)

// FigureNames lists the figures in scorecard order: the rates, then the counts.
var FigureNames = []string{FigureResponseRate, FigureResolutionRate, FigureOnTimeResolutionRate, FigureClosingRate,
	FigureStayedResolvedRate, FigureSatisfactionRate, FigureAuditedSatisfactionRate, FigureReworkRate, FigureDefaultCloseRate,
	FigureReported, FigureDispatched, FigureCancelled, FigureWithdrawn, FigureMerged, FigureRepeated}

// figures computes the rates from a unit's fact totals. Each rate counts
// over what was due by now (accept_due, due, close_due, judged), never over
// work whose deadline has not come, so fresh work cannot lower a figure.
func figures(f map[string]int64) []Figure {
	return []Figure{
		{FigureResponseRate, f[FactAcceptedOnTime], f[FactAcceptDue]},
		{FigureResolutionRate, f[FactResolved], f[FactDue]},
		{FigureOnTimeResolutionRate, f[FactResolvedOnTime], f[FactDue]},
		{FigureClosingRate, f[FactClosed], f[FactCloseDue]},
		{FigureStayedResolvedRate, f[FactClosed] - f[FactRepeated], f[FactClosed]},
		{FigureSatisfactionRate, f[FactSatisfied], f[FactEvaluated]},
		{FigureAuditedSatisfactionRate, f[FactCallBackSatisfied], f[FactCallBackReached]},
		{FigureReworkRate, f[FactReopened], f[FactJudged]},
		{FigureDefaultCloseRate, f[FactDefaultClosed], f[FactClosed]},
		{FigureReported, f[FactReported], 1},
		{FigureDispatched, f[FactDispatched], 1},
		{FigureCancelled, f[FactCancelled], 1},
		{FigureWithdrawn, f[FactWithdrawn], 1},
		{FigureMerged, f[FactMerged], 1},
		{FigureRepeated, f[FactRepeated], 1},
	}
}

// GapRule flags a unit whose evaluated satisfaction rate exceeds its
// audited one (the call-backs') by more than Margin, over at least
// MinCallBacks reached call-backs: its evaluations may not be honest.
type GapRule struct {
	// Margin is the largest gap let pass, as a share. Default 0.15.
	Margin float64
	// MinCallBacks is the fewest reached call-backs the rule judges on.
	// Default 10.
	MinCallBacks int64
}

func (g *GapRule) defaults() {
	if g.Margin <= 0 {
		g.Margin = 0.15
	}
	if g.MinCallBacks <= 0 {
		g.MinCallBacks = 10
	}
}

// Flags reports whether a unit's figures show the gap.
func (g GapRule) Flags(fs []Figure) bool {
	var evaluated, audited Figure
	for _, f := range fs {
		switch f.Name {
		case FigureSatisfactionRate:
			evaluated = f
		case FigureAuditedSatisfactionRate:
			audited = f
		}
	}
	return audited.Denominator >= g.MinCallBacks && evaluated.Denominator > 0 && evaluated.Rate()-audited.Rate() > g.Margin
}

// figure returns the named figure from fact totals.
func figure(name string, f map[string]int64) (Figure, error) {
	for _, fig := range figures(f) {
		if fig.Name == name {
			return fig, nil
		}
	}
	return Figure{}, fmt.Errorf("%w: %q (one of %v)", ErrUnknownFigure, name, FigureNames)
}

// stageBuckets is one stage's histogram and total time.
type stageBuckets struct {
	counts  map[int]int64
	seconds int64
}

// stageTimes summarises histograms, in the loop's order.
func stageTimes(h map[string]*stageBuckets) []StageTime {
	var out []StageTime
	for _, stage := range Stages {
		b := h[stage]
		if b == nil {
			continue
		}
		var n int64
		for _, c := range b.counts {
			n += c
		}
		if n == 0 {
			continue
		}
		out = append(out, StageTime{Stage: stage, Count: n, Average: time.Duration(b.seconds/n) * time.Second,
			P90: percentile(b.counts, 0.9)})
	}
	return out
}
