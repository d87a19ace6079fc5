package calendar_test

import (
	"strings"
	"testing"
	"time"

	"github.com/whistle-civic/whistle/pkg/calendar"
)

func TestCalendar(t *testing.T) {
	t.Parallel()
	cal, err := calendar.New(calendar.Spec{
		TimeZone: "Asia/Shanghai", WorkingHours: []string{"09:00-12:00", "13:30-17:30"},
		WorkingDays: []string{"mon", "tue", "wed", "thu", "fri"},
		Holidays:    []string{"2026-10-01", "2026-10-02"}, MakeUpDays: []string{"2026-10-10"},
	})
	if err != nil {
		t.Fatal(err)
	}
	cst := cal.Location()
	at := func(s string) time.Time {
		tt, err := time.ParseInLocation("2006-01-02 15:04", s, cst)
		if err != nil {
			t.Fatal(err)
		}
		return tt
	}
	tests := []struct {
		name, from string
		add        time.Duration
		want       string
	}{
		{"inside the morning", "2026-11-26 09:30", time.Hour, "2026-11-26 10:30"},
		{"across lunch", "2026-11-26 11:30", time.Hour, "2026-11-26 14:00"},
		{"before work starts", "2026-11-26 06:00", 2 * time.Hour, "2026-11-26 11:00"},
		{"after work ends", "2026-11-26 19:00", time.Hour, "2026-11-27 10:00"},
		{"Friday into Monday", "2026-11-27 17:00", 2 * time.Hour, "2026-11-30 10:30"},
		{"a whole working day is 7 h", "2026-11-26 09:00", 7 * time.Hour, "2026-11-26 17:30"},
		{"72 working hours are over ten working days", "2026-11-23 09:00", 72 * time.Hour, "2026-12-07 11:00"},
		{"over holidays", "2026-09-30 17:00", time.Hour, "2026-10-05 09:30"},
		{"make-up Saturday works", "2026-10-09 17:00", time.Hour, "2026-10-10 09:30"},
		{"zero", "2026-11-28 03:00", 0, "2026-11-28 03:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := cal.Add(at(tt.from), tt.add)
			if !got.Equal(at(tt.want)) {
				t.Fatalf("Add(%s, %s) = %s, want %s", tt.from, tt.add, got.In(cst).Format("2006-01-02 15:04"), tt.want)
			}
			if back := cal.Between(at(tt.from), got); back != tt.add {
				t.Fatalf("Between(%s, %s) = %s, want %s", tt.from, tt.want, back, tt.add)
			}
		})
	}
}

func TestCalendarProblems(t *testing.T) {
	t.Parallel()
	_, err := calendar.New(calendar.Spec{TimeZone: "Mars/Olympus", WorkingHours: []string{"9-5", "14:00-13:00"},
		WorkingDays: []string{"someday"}, Holidays: []string{"1 Oct"}})
	if err == nil {
		t.Fatal("a broken calendar was accepted")
	}
	for _, want := range []string{"Mars/Olympus", `"9-5"`, `"14:00-13:00"`, `"someday"`, `"1 Oct"`} {
		if !contains(err.Error(), want) {
			t.Errorf("error does not mention %s: %v", want, err)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
