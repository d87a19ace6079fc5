package calendar_test

import (
	"strings"
	"testing"
	"time"

	"github.com/whistle-civic/whistle/pkg/calendar"
)

func TestCoverage(t *testing.T) {
	t.Parallel()
	cst := time.FixedZone("CST", 8*3600)
	dec2 := time.Date(2026, 12, 2, 10, 0, 0, 0, cst)
	tests := []struct {
		name              string
		holidays, makeUps []string
		coversUntil       string
		now               time.Time
		wantUntil         string // last day covered, "" for none
		wantDays          int
		warn              string // part of the warning, "" for none
	}{
		{"the year's holidays, in December", []string{"2026-01-01", "2026-10-01"}, []string{"2026-10-10"}, "", dec2,
			"2026-12-31", 29, "covers only until 2026-12-31 (29 days ahead"},
		{"next year's added", []string{"2026-10-01", "2027-01-01"}, nil, "", dec2, "2027-12-31", 394, ""},
		{"a make-up day of next year is enough", []string{"2026-10-01"}, []string{"2027-02-07"}, "", dec2, "2027-12-31", 394, ""},
		{"said explicitly", []string{"2026-10-01"}, nil, "2027-01-31", dec2, "2027-01-31", 60, ""},
		{"said explicitly, one day short", []string{"2026-10-01"}, nil, "2027-01-30", dec2, "2027-01-30", 59, "fewer than 60"},
		{"ran out", []string{"2025-10-01"}, nil, "", dec2, "2025-12-31", -336, "ran out on 2025-12-31"},
		{"no holidays at all", nil, nil, "", dec2, "", -1, "lists no holidays"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cal, err := calendar.New(calendar.Spec{TimeZone: "Asia/Shanghai", WorkingHours: []string{"09:00-17:00"},
				WorkingDays: []string{"mon"}, Holidays: tc.holidays, MakeUpDays: tc.makeUps, CoversUntil: tc.coversUntil})
			if err != nil {
				t.Fatal(err)
			}
			until := ""
			if end := cal.CoversUntil(); !end.IsZero() {
				until = end.AddDate(0, 0, -1).In(cal.Location()).Format(time.DateOnly)
			}
			days, warn := cal.DaysAhead(tc.now), cal.Coverage(tc.now)
			if until != tc.wantUntil || days != tc.wantDays || (tc.warn == "") != (warn == "") || !strings.Contains(warn, tc.warn) {
				t.Fatalf("covers until %q, %d days ahead, warning %q; want %q, %d, a warning with %q",
					until, days, warn, tc.wantUntil, tc.wantDays, tc.warn)
			}
		})
	}
	if _, err := calendar.New(calendar.Spec{TimeZone: "UTC", WorkingHours: []string{"09:00-17:00"}, WorkingDays: []string{"mon"},
		CoversUntil: "next year"}); err == nil || !strings.Contains(err.Error(), `covers_until "next year"`) {
		t.Fatalf("a covers_until that is no date: %v", err)
	}
}

func TestRevise(t *testing.T) {
	t.Parallel()
	base := calendar.Spec{TimeZone: "Asia/Shanghai", Holidays: []string{"2026-10-01", "2026-01-01"}, MakeUpDays: []string{"2026-10-10"}}
	tests := []struct {
		name                     string
		r                        calendar.Revision
		wantHolidays, wantMakeUp string
		wantErr                  string
	}{
		{"next year added, sorted, no repeats", calendar.Revision{AddHolidays: []string{"2027-01-01", "2026-10-01", "2027-01-01"},
			AddMakeUpDays: []string{"2027-02-07"}}, "2026-01-01 2026-10-01 2027-01-01", "2026-10-10 2027-02-07", ""},
		{"a day removed", calendar.Revision{Remove: []string{"2026-10-10"}}, "2026-01-01 2026-10-01", "", ""},
		{"not a date", calendar.Revision{AddHolidays: []string{"2027-13-01"}}, "", "", `holiday "2027-13-01" is not a date`},
		{"both lists", calendar.Revision{AddHolidays: []string{"2026-10-10"}}, "", "", "both a holiday and a make-up"},
		{"removing what is not listed", calendar.Revision{Remove: []string{"2026-05-01"}}, "", "", "nothing to remove"},
		{"nothing new", calendar.Revision{AddHolidays: []string{"2026-10-01"}}, "", "", "changes nothing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := base.Revise(tc.r)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Revise = %v, %v; want an error with %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || strings.Join(got.Holidays, " ") != tc.wantHolidays || strings.Join(got.MakeUpDays, " ") != tc.wantMakeUp {
				t.Fatalf("Revise = %v, %v; want holidays %q, make-up days %q", got, err, tc.wantHolidays, tc.wantMakeUp)
			}
		})
	}
}
