package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"

	"github.com/whistle-civic/whistle/cmd/internal/loop"
	"github.com/whistle-civic/whistle/cmd/internal/stack/stacktest"
)

// TestMonitoringRebuildReplaysTheStreamWithProgress runs `whistle monitoring
// rebuild` beside a running stack: it reports its progress and leaves the
// figures as they were.
func TestMonitoringRebuildReplaysTheStreamWithProgress(t *testing.T) {
	r := stacktest.Start(t)
	ctx := context.Background()
	res, err := loop.Run(ctx, r.Clients, loop.Options{Tickets: 6, Timeout: time.Minute, Seed: 3, As: r.LoopAs, City: r.City})
	if err != nil || res.Closed != 6 {
		t.Fatalf("%s %v %v", res.Summary(), err, res.Failures)
	}
	period := &whistlev1.Period{Kind: whistlev1.PeriodKind_PERIOD_KIND_CUSTOM, FromDate: "2000-01-01", ToDate: "2100-01-01"}
	scorecard := func() *whistlev1.GetScorecardResponse {
		sc, err := r.As(auth.RoleMonitor, r.City).Monitoring.GetScorecard(ctx, &whistlev1.GetScorecardRequest{OrgUnitId: "hh", Period: period})
		if err != nil {
			t.Fatal(err)
		}
		return sc
	}
	before := scorecard()
	if before.GetFigures()[3].GetNumerator() != 6 { // closing_rate
		t.Fatalf("scorecard before the rebuild: %v", before)
	}

	var out bytes.Buffer
	if err := runRebuild(ctx, r.Config, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	var n int
	if _, err := fmt.Sscanf(last, "rebuilt: %d events replayed, 0 skipped", &n); err != nil || n < 6*5 ||
		!strings.Contains(out.String(), fmt.Sprintf("replayed %d of %d events (100%%)", n, n)) {
		t.Fatalf("rebuild output:\n%s", out.String())
	}
	if after := scorecard(); !proto.Equal(before, after) {
		t.Fatalf("scorecard changed by the rebuild:\nbefore %v\nafter  %v", before, after)
	}
}
