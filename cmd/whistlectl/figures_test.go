package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/whistle-civic/whistle/pkg/clock"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/services/dispatch"

	"github.com/whistle-civic/whistle/cmd/internal/stack/stacktest"
)

// ctlAll runs one command line against addr and returns its stdout and stderr.
func ctlAll(t *testing.T, addr string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), ctlArgs(addr, args...), &out, &errOut)
	return out.String(), errOut.String(), err
}

// eventuallyMatch retries a command until its output matches re.
func eventuallyMatch(t *testing.T, addr, re string, args ...string) string {
	t.Helper()
	want := regexp.MustCompile(re)
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := ctl(t, addr, args...)
		if err == nil && want.MatchString(out) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("whistlectl %s never matched %q; last output\n%s\nerror %v", strings.Join(args, " "), re, out, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mustMatch fails the test unless out matches every pattern.
func mustMatch(t *testing.T, what, out string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile(p).MatchString(out) {
			t.Errorf("%s does not match %q:\n%s", what, p, out)
		}
	}
}

var reportedRE = regexp.MustCompile(`ticket (HH-\d{8}-\d{5}) \(([0-9a-f-]{36})\)`)

// reportIn reports a matter in a grid through the CLI and returns the
// ticket's number and id.
func reportIn(t *testing.T, addr, key, category, grid string) (string, string) {
	t.Helper()
	out := mustCtl(t, addr, "report", "--category", category, "--grid", grid, "--description", "cli "+key, "--key", key)
	m := reportedRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no ticket in %q", out)
	}
	return m[1], m[2]
}

// closeTicket walks a dispatched ticket through the loop: the department
// accepts and resolves it, the community is satisfied, it closes.
func closeTicket(t *testing.T, addr, number, dept, community string) {
	t.Helper()
	eventually(t, addr, number, "inbox", dept)
	mustCtl(t, addr, "accept", number, "--as", dept)
	mustCtl(t, addr, "resolve", number, "--as", dept, "--result", "fixed")
	eventually(t, addr, "it closes", "evaluate", number, "--as", community, "--verdict", "satisfied")
	eventually(t, addr, "CLOSED", "show", number)
}

// cityToday is today in the sample catalog's time zone, where figures count days.
func cityToday(t *testing.T) time.Time {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	return time.Now().In(loc)
}

func TestScorecardRankingsAndTopProblems(t *testing.T) {
	r := startStack(t)
	// Community xc-hd-dj: two street lights out, fixed and closed. Community
	// xc-hd-wy: a damaged road, still open. Both for xc-urban.
	for i := range 2 {
		n, _ := reportIn(t, r.Addr, fmt.Sprint("lamp-", i), "street_light_out", "xc-hd-dj-g01")
		closeTicket(t, r.Addr, n, "xc-urban", "xc-hd-dj")
	}
	road, _ := reportIn(t, r.Addr, "road", "road_damage", "xc-hd-wy-g01")
	eventually(t, r.Addr, road, "inbox", "xc-urban")

	today := cityToday(t)
	day := today.Format(time.DateOnly)
	monday := today.AddDate(0, 0, -((int(today.Weekday()) + 6) % 7))
	closed := `closing_rate\s+100\.0%\s+2/2\n`
	sc := eventuallyMatch(t, r.Addr, closed, "scorecard", "xc-hd-dj") // this week by default
	mustMatch(t, "scorecard xc-hd-dj", sc,
		`^xc-hd-dj, `+monday.Format(time.DateOnly)+` to `+monday.AddDate(0, 0, 6).Format(time.DateOnly)+`\n`,
		`FIGURE\s+RATE\s+NUMERATOR/DENOMINATOR\n`,
		`reported\s+2\n`, `dispatched\s+2\n`,
		`response_rate\s+100\.0%\s+2/2\n`, `resolution_rate\s+100\.0%\s+2/2\n`, `on_time_resolution_rate\s+100\.0%\s+2/2\n`,
		`satisfaction_rate\s+100\.0%\s+2/2\n`, `rework_rate\s+0\.0%\s+0/2\n`, `default_close_rate\s+0\.0%\s+0/2\n`,
		`STAGE\s+COUNT\s+AVERAGE\s+P90\n`, `dispatch_to_accept\s+2\s+\d+s\s+1m\n`, `report_to_close\s+2\s+\S+\s+\S+\n`,
		`\nopen 0, overdue 0 \(now\)\n$`)

	periods := []struct {
		name  string
		flags []string
		want  string
	}{
		{"day", []string{"--day", day}, closed},
		{"week", []string{"--week", day}, closed},
		{"month", []string{"--month", today.Format("2006-01")}, closed},
		{"custom", []string{"--from", monday.AddDate(0, 0, -7).Format(time.DateOnly), "--to", day}, closed},
		{"long ago", []string{"--day", "2020-01-06"}, `closing_rate\s+—\s+0/0\n(.|\n)*reported\s+0\n`},
	}
	for _, p := range periods {
		t.Run(p.name, func(t *testing.T) {
			out, errOut, err := ctlAll(t, r.Addr, append([]string{"scorecard", "xc-hd-dj"}, p.flags...)...)
			if err != nil {
				t.Fatal(err)
			}
			mustMatch(t, "scorecard "+strings.Join(p.flags, " "), out, p.want)
			if p.name == "long ago" && !strings.Contains(errOut, "nothing counted for xc-hd-dj") {
				t.Errorf("an empty scorecard says nothing on stderr: %q", errOut)
			}
		})
	}
	wy := eventuallyMatch(t, r.Addr, `dispatched\s+1\n`, "scorecard", "xc-hd-wy")
	mustMatch(t, "scorecard xc-hd-wy", wy, `closing_rate\s+—\s+0/0\n`, `response_rate\s+—\s+0/0\n`, `satisfaction_rate\s+—\s+0/0\n`, `open 1, overdue 0`)
	var js struct {
		OrgUnitID string `json:"orgUnitId"`
		Figures   []struct {
			Name        string
			Numerator   string
			Denominator string
			Rate        float64
		}
	}
	if err := json.Unmarshal([]byte(mustCtl(t, r.Addr, "scorecard", "xc-hd-dj", "-o", "json")), &js); err != nil || js.OrgUnitID != "xc-hd-dj" {
		t.Fatalf("scorecard -o json: %v %+v", err, js)
	}
	for _, f := range js.Figures {
		if f.Name == "closing_rate" && (f.Numerator != "2" || f.Denominator != "2" || f.Rate != 1) {
			t.Errorf("closing_rate in json: %+v", f)
		}
	}

	rankings := []struct {
		args []string
		want []string
	}{
		{[]string{"community"}, []string{`^communities by satisfaction_rate, ` + monday.Format(time.DateOnly),
			`RANK\s+ORG UNIT\s+RATE\s+N/D\n1\s+xc-hd-dj\s+100\.0%\s+2/2\n2\s+xc-hd-wy\s+—\s+0/0\n$`}},
		{[]string{"community", "--by", "closing_rate", "--day", day}, []string{`\n1\s+xc-hd-dj\s+100\.0%\s+2/2\n2\s+xc-hd-wy\s+—\s+0/0\n$`}},
		{[]string{"community", "--by", "rework_rate"}, []string{`\n1\s+xc-hd-dj\s+0\.0%\s+0/2\n2\s+xc-hd-wy\s+—\s+0/0\n$`}},
		{[]string{"street", "--within", "xc", "--by", "reported"}, []string{`^streets within xc by reported`, `\n1\s+xc-hd\s+3\n$`}},
		{[]string{"district", "--by", "dispatched", "--month", today.Format("2006-01")}, []string{`\n1\s+xc\s+3\n$`}},
		{[]string{"department", "--by", "response_rate"}, []string{`\n1\s+xc-urban\s+100\.0%\s+2/2\n$`}},
	}
	for _, tt := range rankings {
		out := mustCtl(t, r.Addr, append([]string{"rankings"}, tt.args...)...)
		mustMatch(t, "rankings "+strings.Join(tt.args, " "), out, tt.want...)
	}
	var ranked whistlev1.GetRankingsResponse
	if err := unmarshalJSON(mustCtl(t, r.Addr, "rankings", "community", "-o", "json"), &ranked); err != nil ||
		len(ranked.GetEntries()) != 2 || ranked.GetEntries()[0].GetOrgUnitId() != "xc-hd-dj" || ranked.GetEntries()[0].GetRank() != 1 {
		t.Fatalf("rankings -o json: %v %v", err, &ranked)
	}

	top := eventuallyMatch(t, r.Addr, `road_damage`, "top-problems", "xc")
	mustMatch(t, "top-problems xc", top,
		`^xc in `+today.Format("2006-01")+`, most reported first; PREVIOUS counts `+today.AddDate(0, 0, -today.Day()).Format("2006-01")+`\n`,
		`MATTER\s+COUNT\s+PREVIOUS\s+SHARE\n`, `street_light_out\s+2\s+0\s+66\.7%\n`, `road_damage\s+1\s+0\s+33\.3%\n$`)
	if out := mustCtl(t, r.Addr, "top-problems", "xc", "--limit", "1"); strings.Contains(out, "road_damage") {
		t.Errorf("top-problems --limit 1 lists two:\n%s", out)
	}
	if out, errOut, err := ctlAll(t, r.Addr, "top-problems", "xc", "--month", "2020-01"); err != nil || strings.Contains(out, "street_light_out") ||
		!strings.Contains(errOut, "nothing reported in xc in 2020-01") {
		t.Errorf("top-problems of an empty month: %v\n%s%s", err, out, errOut)
	}
}

func TestOverdueAndEscalationBoard(t *testing.T) {
	cst := time.FixedZone("CST", 8*3600)
	clk := clock.NewFake(time.Date(2026, 11, 26, 9, 0, 0, 0, cst)) // a Thursday morning
	r := startStackWith(t, stacktest.Options{Clock: clk, Dispatch: dispatch.Config{SchedulerEvery: 10 * time.Millisecond}})
	// Two damaged roads for xc-urban, to accept within 2 working hours.
	first, firstID := reportIn(t, r.Addr, "late-1", "road_damage", "xc-hd-dj-g01")
	second, secondID := reportIn(t, r.Addr, "late-2", "road_damage", "xc-hd-wy-g02")
	eventually(t, r.Addr, first, "inbox", "xc-urban")
	eventually(t, r.Addr, second, "inbox", "xc-urban")
	if out := mustCtl(t, r.Addr, "overdue"); strings.Contains(out, "road_damage") {
		t.Fatalf("overdue before any deadline passed:\n%s", out)
	}

	clk.Set(time.Date(2026, 11, 26, 11, 0, 0, 0, cst))
	// Times read in the city's zone (the catalog's calendar), whatever the
	// machine's, named once; --utc prints UTC.
	due := "2026-11-26 11:00:00"
	row := func(number, id string) string {
		return number + `\s+1 \(street\)\s+accept\s+` + regexp.QuoteMeta(due) + `\s+xc-urban\s+road_damage\s+` + id + `\n`
	}
	out := eventuallyMatch(t, r.Addr, `(?s)`+row(first, firstID)+`.*`+row(second, secondID)+`|`+row(second, secondID)+`.*`+row(first, firstID), "overdue")
	mustMatch(t, "overdue", out, `^TICKET NUMBER\s+LEVEL\s+STAGE\s+DUE\s+LEAD DEPT\s+CATEGORY\s+TICKET ID\n`)
	if n := strings.Count(out, "times in Asia/Shanghai (UTC+08:00), the city's time zone"); n != 1 {
		t.Errorf("the zone is named %d times, want once:\n%s", n, out)
	}
	utc := mustCtl(t, r.Addr, "overdue", "--utc")
	if !strings.Contains(utc, "2026-11-26 03:00:00") || strings.Contains(utc, due) || !strings.HasSuffix(utc, "times in UTC\n") {
		t.Errorf("overdue --utc:\n%s", utc)
	}
	if js := mustCtl(t, r.Addr, "overdue", "-o", "json"); !strings.Contains(js, `"2026-11-26T03:00:00Z"`) || strings.Contains(js, "times in") {
		t.Errorf("overdue -o json keeps RFC 3339 and no note:\n%s", js)
	}
	if strings.Contains(out, "more:") {
		t.Errorf("one page says there is more:\n%s", out)
	}

	// Paging: one ticket a page, the next page through the token printed after "more:".
	page := mustCtl(t, r.Addr, "overdue", "--page-size", "1")
	m := regexp.MustCompile(`more: whistlectl overdue --page (\S+) `).FindStringSubmatch(page)
	if m == nil || strings.Count(page, "road_damage") != 1 {
		t.Fatalf("overdue --page-size 1:\n%s", page)
	}
	for _, flag := range []string{"--page-token", "--page"} {
		next := mustCtl(t, r.Addr, "overdue", "--page-size", "1", flag, m[1])
		if strings.Count(next, "road_damage") != 1 || strings.Contains(next, "more:") || strings.Contains(page, strings.Fields(strings.Split(next, "\n")[1])[0]) {
			t.Fatalf("the second page (%s):\n%s\nafter the first:\n%s", flag, next, page)
		}
	}

	units := []struct {
		unit string
		want []string
	}{
		{"xc-hd-dj", []string{row(first, firstID)}},
		{"xc-urban", []string{row(first, firstID), row(second, secondID)}},
		{"xc-env", nil},
	}
	for _, u := range units {
		out := mustCtl(t, r.Addr, "overdue", "--unit", u.unit)
		mustMatch(t, "overdue --unit "+u.unit, out, u.want...)
		if got := strings.Count(out, "road_damage"); got != len(u.want) {
			t.Errorf("overdue --unit %s lists %d tickets, want %d:\n%s", u.unit, got, len(u.want), out)
		}
	}

	board := mustCtl(t, r.Addr, "board")
	mustMatch(t, "board", board, `^ORG UNIT\s+L1\s+L2\s+L3\n`, `\nxc-urban\s+2\s+0\s+0\n`, `\nxc-hd\s+2\s+0\s+0\n`)
	mustMatch(t, "board --unit xc-hd-wy", mustCtl(t, r.Addr, "board", "--unit", "xc-hd-wy"), `^ORG UNIT\s+L1\s+L2\s+L3\nxc-hd\s+1\s+0\s+0\nxc-urban\s+1\s+0\s+0\n$`)
	mustMatch(t, "board --unit yq", mustCtl(t, r.Addr, "board", "--unit", "yq"), `^ORG UNIT\s+L1\s+L2\s+L3\n$`)
	var js whistlev1.GetEscalationBoardResponse
	if err := unmarshalJSON(mustCtl(t, r.Addr, "board", "-o", "json"), &js); err != nil || len(js.GetRows()) != 2 {
		t.Fatalf("board -o json: %v %v", err, &js)
	}

	// The department's scorecard for that day counts them open and overdue now.
	sc := eventuallyMatch(t, r.Addr, `open 2, overdue 2`, "scorecard", "xc-urban", "--day", "2026-11-26")
	mustMatch(t, "scorecard xc-urban", sc, `dispatched\s+2\n`, `response_rate\s+0\.0%\s+0/2\n`)

	// Accepting one takes it off the overdue list; it stays on the board, escalated.
	mustCtl(t, r.Addr, "accept", first, "--as", "xc-urban")
	eventuallyMatch(t, r.Addr, `^[^\n]*\n`+row(second, secondID)+zoneNoteRE+`$`, "overdue")
	mustMatch(t, "board after the accept", mustCtl(t, r.Addr, "board"), `\nxc-urban\s+2\s+0\s+0\n`)
}

func TestHotSpotsAndRebuild(t *testing.T) {
	r := startStack(t)
	var ids []string
	for i := range 3 {
		_, id := reportIn(t, r.Addr, fmt.Sprint("drain-", i), "drain_blocked", "xc-hd-dj-g01")
		ids = append(ids, id)
	}
	noise, _ := reportIn(t, r.Addr, "noise", "drain_blocked", "xc-hd-dj-g02")
	spot := `repeat_grid\s+xc-hd-dj-g01\s+drain_blocked\s+3\s+([0-9a-f-]{36})\n`
	out := eventuallyMatch(t, r.Addr, spot, "hotspots") // found, and its proactive ticket raised
	proactive := regexp.MustCompile(spot).FindStringSubmatch(out)[1]
	mustMatch(t, "hotspots", out, `^DETECTED\s+RULE\s+PLACE\s+MATTER\s+TICKETS\s+PROACTIVE TICKET\n\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+`+spot+zoneNoteRE+`$`)
	if got := strings.Count(out, "repeat_grid"); got != 1 {
		t.Fatalf("%d hot spots, want one:\n%s", got, out)
	}

	explained := mustCtl(t, r.Addr, "hotspots", "--explain", "--unit", "xc-hd-dj")
	mustMatch(t, "hotspots --explain", explained, spot+`    3 reports of drain_blocked in grid xc-hd-dj-g01 .*rule repeat_grid.*\n`+zoneNoteRE+`$`)
	for _, id := range ids {
		if !strings.Contains(explained, id) {
			t.Errorf("the explanation does not name ticket %s:\n%s", id, explained)
		}
	}
	if out := mustCtl(t, r.Addr, "hotspots", "--unit", "yq"); strings.Contains(out, "repeat_grid") {
		t.Errorf("hotspots --unit yq lists a hot spot of xc:\n%s", out)
	}
	var spots whistlev1.ListHotSpotsResponse
	if err := unmarshalJSON(mustCtl(t, r.Addr, "hotspots", "-o", "json", "--limit", "5"), &spots); err != nil || len(spots.GetHotSpots()) != 1 ||
		len(spots.GetHotSpots()[0].GetTicketIds()) != 3 {
		t.Fatalf("hotspots -o json: %v %v", err, &spots)
	}

	// Let the loop settle first: the server refuses a rebuild while it projects a live event.
	eventually(t, r.Addr, "Now       DISPATCHED", "show", proactive)
	eventually(t, r.Addr, "Now       DISPATCHED", "show", noise)

	// Without --yes nothing happens.
	if out, err := ctl(t, r.Addr, "rebuild"); err == nil || !strings.Contains(err.Error(), "--yes") || !strings.Contains(err.Error(), "empties") || out != "" {
		t.Fatalf("rebuild without --yes: %v %q", err, out)
	}
	defer func(every time.Duration) { rebuildProgressEvery = every }(rebuildProgressEvery)
	rebuildProgressEvery = time.Millisecond
	out, errOut, err := ctlAll(t, r.Addr, "rebuild", "--yes")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`^rebuilt the read models: (\d+) events replayed, 0 skipped, took \d`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("rebuild --yes printed %q", out)
	}
	if n, _ := strconv.Atoi(m[1]); n < 8 { // four reports, each reported and dispatched at least
		t.Errorf("rebuild replayed %d events", n)
	}
	if !strings.HasPrefix(errOut, "rebuilding the monitoring read models") || !regexp.MustCompile(`\nrebuilding… \d+s\n`).MatchString(errOut) {
		t.Errorf("rebuild progress on stderr: %q", errOut)
	}
	// The rebuilt models find the same hot spot, once.
	out = eventuallyMatch(t, r.Addr, spot, "hotspots")
	if got := strings.Count(out, "repeat_grid"); got != 1 {
		t.Fatalf("%d hot spots after the rebuild, want one:\n%s", got, out)
	}
	var rebuilt whistlev1.RebuildProjectionsResponse
	if err := unmarshalJSON(mustCtl(t, r.Addr, "rebuild", "--yes", "-o", "json"), &rebuilt); err != nil || rebuilt.GetEventsReplayed() == 0 {
		t.Fatalf("rebuild -o json: %v %v", err, &rebuilt)
	}
}

// unmarshalJSON reads what -o json printed.
func unmarshalJSON(s string, m proto.Message) error { return protojson.Unmarshal([]byte(s), m) }

func TestMonitoringCommandsRefuseBadInput(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"scorecard"}, "name the org unit to score"},
		{[]string{"scorecard", "xc", "xc-hd"}, "one argument only"},
		{[]string{"scorecard", "xc", "--day", "2026-11-26", "--month", "2026-11"}, "--day and --month: give one period only"},
		{[]string{"scorecard", "xc", "--week", "2026-11-26", "--from", "2026-11-01", "--to", "2026-11-02"}, "give one period only"},
		{[]string{"scorecard", "xc", "--day", "2026-13-01"}, `--day "2026-13-01": write the date as YYYY-MM-DD`},
		{[]string{"scorecard", "xc", "--day", "26/11/2026"}, "YYYY-MM-DD"},
		{[]string{"scorecard", "xc", "--month", "2026-11-26"}, `--month "2026-11-26": write the month as YYYY-MM`},
		{[]string{"scorecard", "xc", "--from", "2026-11-01"}, "a custom period names both days"},
		{[]string{"scorecard", "xc", "--from", "2026-11-30", "--to", "2026-11-01"}, "--from 2026-11-30 is after --to 2026-11-01: swap them"},
		{[]string{"rankings"}, "say what to rank: district, street, community, department"},
		{[]string{"rankings", "province"}, `cannot rank "province": say district, street, community, department`},
		{[]string{"rankings", "street", "--by", "speed"}, `--by "speed": rank by one of response_rate, resolution_rate`},
		{[]string{"rankings", "street", "--week", "yesterday"}, "YYYY-MM-DD"},
		{[]string{"overdue", "--page-size", "0"}, "--page-size 0: choose 1 to 500"},
		{[]string{"overdue", "xc"}, `unknown command "xc"`},
		{[]string{"hotspots", "--limit", "501"}, "--limit 501: choose 1 to 500"},
		{[]string{"top-problems"}, "name the district"},
		{[]string{"top-problems", "xc", "--month", "11/2026"}, "write the month as YYYY-MM"},
		{[]string{"top-problems", "xc", "--limit", "51"}, "--limit 51: choose 1 to 50"},
		{[]string{"rebuild"}, "Run `whistlectl rebuild --yes` to go ahead"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			// No server listens there: each must be refused before any call.
			out, _, err := ctlAll(t, "127.0.0.1:1", tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %v, want one mentioning %q", err, tt.want)
			}
			if out != "" {
				t.Errorf("printed %q", out)
			}
		})
	}
}

func TestPeriodFlags(t *testing.T) {
	thursday := time.Date(2026, 11, 26, 23, 30, 0, 0, time.UTC)
	tests := []struct {
		flags          []string
		want           *whistlev1.Period
		wantFrom, toTo string
	}{
		{nil, &whistlev1.Period{Kind: whistlev1.PeriodKind_PERIOD_KIND_WEEK, Date: "2026-11-26"}, "2026-11-23", "2026-11-29"},
		{[]string{"--day", "2026-11-01"}, &whistlev1.Period{Kind: whistlev1.PeriodKind_PERIOD_KIND_DAY, Date: "2026-11-01"}, "2026-11-01", "2026-11-01"},
		{[]string{"--week", "2026-11-30"}, &whistlev1.Period{Kind: whistlev1.PeriodKind_PERIOD_KIND_WEEK, Date: "2026-11-30"}, "2026-11-30", "2026-12-06"},
		{[]string{"--week", "2026-11-29"}, &whistlev1.Period{Kind: whistlev1.PeriodKind_PERIOD_KIND_WEEK, Date: "2026-11-29"}, "2026-11-23", "2026-11-29"},
		{[]string{"--month", "2026-02"}, &whistlev1.Period{Kind: whistlev1.PeriodKind_PERIOD_KIND_MONTH, Date: "2026-02-01"}, "2026-02-01", "2026-02-28"},
		{[]string{"--from", "2026-10-30", "--to", "2026-11-02"},
			&whistlev1.Period{Kind: whistlev1.PeriodKind_PERIOD_KIND_CUSTOM, FromDate: "2026-10-30", ToDate: "2026-11-02"}, "2026-10-30", "2026-11-02"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.flags, " "), func(t *testing.T) {
			var pf periodFlags
			cmd := &cobra.Command{}
			pf.add(cmd)
			if err := cmd.ParseFlags(tt.flags); err != nil {
				t.Fatal(err)
			}
			asked := false
			got, err := pf.period(cmd, func() (time.Time, error) { asked = true; return thursday, nil })
			if err != nil || !proto.Equal(got, tt.want) {
				t.Fatalf("period %v, %v; want %v", got, err, tt.want)
			}
			if asked != (tt.flags == nil) {
				t.Errorf("asked for today: %v", asked)
			}
			if from, to := periodDays(got); from != tt.wantFrom || to != tt.toTo {
				t.Errorf("days %s to %s, want %s to %s", from, to, tt.wantFrom, tt.toTo)
			}
		})
	}
}

func TestHumanFormats(t *testing.T) {
	durations := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"}, {42*time.Second + 400*time.Millisecond, "42s"}, {90 * time.Second, "1m30s"}, {5 * time.Minute, "5m"},
		{12*time.Minute + 40*time.Second, "13m"}, {83*time.Minute + 10*time.Second, "1h23m"}, {2 * time.Hour, "2h"},
		{76 * time.Hour, "3d4h"}, {48*time.Hour + 10*time.Minute, "2d"},
	}
	for _, tt := range durations {
		if got := shortDuration(tt.d); got != tt.want {
			t.Errorf("shortDuration(%s) = %s, want %s", tt.d, got, tt.want)
		}
	}
	figures := []struct {
		f          *whistlev1.Figure
		rate, part string
	}{
		{&whistlev1.Figure{Name: "closing_rate", Numerator: 2, Denominator: 3, Rate: 2.0 / 3}, "66.7%", "2/3"},
		{&whistlev1.Figure{Name: "satisfaction_rate"}, "—", "0/0"},
		{&whistlev1.Figure{Name: "reported", Numerator: 7, Denominator: 1, Rate: 7}, "", "7"},
	}
	for _, tt := range figures {
		if rate, part := figureCells(tt.f); rate != tt.rate || part != tt.part {
			t.Errorf("figureCells(%v) = %q %q, want %q %q", tt.f, rate, part, tt.rate, tt.part)
		}
	}
}
