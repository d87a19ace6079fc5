package calendar

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// MinDaysAhead is how many days ahead a calendar must cover before it is
// flagged: the State Council publishes a year's holidays in late autumn, so
// 60 days leave a city November and December to add them.
const MinDaysAhead = 60

// CoversUntil returns the end (exclusive: midnight after the last day, in
// the calendar's zone) of the days whose holidays the calendar knows:
// Spec.CoversUntil, else the end of the latest year it lists a holiday or
// make-up day in. Zero when it lists none: it knows no holidays at all.
func (c *Calendar) CoversUntil() time.Time {
	last := c.source.CoversUntil
	if last == "" {
		year := ""
		for _, d := range slices.Concat(c.source.Holidays, c.source.MakeUpDays) {
			year = max(year, d[:4]) // checked as dates by New
		}
		if year == "" {
			return time.Time{}
		}
		last = year + "-12-31"
	}
	day, _ := time.ParseInLocation(time.DateOnly, last, c.loc) // checked by New
	return day.AddDate(0, 0, 1)
}

// DaysAhead returns how many whole days after now the calendar still covers
// (negative once it ran out; -1 when it knows no holidays at all).
func (c *Calendar) DaysAhead(now time.Time) int {
	end := c.CoversUntil()
	if end.IsZero() {
		return -1
	}
	return int(math.Floor(end.Sub(now).Hours() / 24))
}

// Coverage says whether the calendar covers enough days after now: "" when
// it covers MinDaysAhead or more, else a warning saying until when it
// covers and what to do.
func (c *Calendar) Coverage(now time.Time) string {
	end := c.CoversUntil()
	switch days := c.DaysAhead(now); {
	case end.IsZero():
		return "the business calendar lists no holidays: every public holiday counts as working time; " +
			"add them with whistlectl calendar add"
	case days < 0:
		return fmt.Sprintf("the business calendar ran out on %s: public holidays since count as working time; "+
			"add the published holidays with whistlectl calendar add", end.AddDate(0, 0, -1).Format(time.DateOnly))
	case days < MinDaysAhead:
		return fmt.Sprintf("the business calendar covers only until %s (%d days ahead, fewer than %d): "+
			"add next year's published holidays and make-up days with whistlectl calendar add",
			end.AddDate(0, 0, -1).Format(time.DateOnly), days, MinDaysAhead)
	}
	return ""
}
