// Package calendar counts working time: a city's business calendar (working
// hours, weekdays, holidays, make-up working days) and windows such as "3d"
// or "2h" that deadlines are written in.
package calendar

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	_ "time/tzdata" // IANA zones without relying on the machine's
)

// Calendar is a city's business calendar: working periods of a day, working
// weekdays, holidays and make-up working days (调休). Deadlines of ordinary
// whistles count in its working time; emergencies count in wall-clock time.
type Calendar struct {
	loc      *time.Location
	periods  []period // sorted, minutes after midnight
	workdays [7]bool  // by time.Weekday
	holidays map[string]bool
	makeUp   map[string]bool
	source   Spec
}

type period struct{ start, end int }

// Spec is a calendar as written in a catalog file.
type Spec struct {
	TimeZone     string
	WorkingHours []string // "09:00-12:00"
	WorkingDays  []string // "mon"
	Holidays     []string // "2026-10-01"
	MakeUpDays   []string // "2026-10-10"
	// CoversUntil is the last day ("2026-12-31") whose holidays and make-up
	// days the calendar lists as officially published. Empty: the last day
	// of the latest year a holiday or make-up day is listed in.
	CoversUntil string
}

// Default is the calendar of a catalog that names none: Monday to
// Friday, 09:00–12:00 and 13:30–17:30, China Standard Time, no holidays.
var Default = Spec{
	TimeZone: "Asia/Shanghai", WorkingHours: []string{"09:00-12:00", "13:30-17:30"},
	WorkingDays: []string{"mon", "tue", "wed", "thu", "fri"},
}

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday,
	"wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// New checks a spec and returns its calendar, or every problem found.
func New(s Spec) (*Calendar, error) {
	var problems []string
	c := &Calendar{holidays: map[string]bool{}, makeUp: map[string]bool{}, source: s}
	loc, err := time.LoadLocation(s.TimeZone)
	if err != nil || s.TimeZone == "" {
		problems = append(problems, fmt.Sprintf("calendar: time zone %q is not an IANA zone like Asia/Shanghai", s.TimeZone))
		loc = time.UTC
	}
	c.loc = loc
	for _, h := range s.WorkingHours {
		p, ok := parsePeriod(h)
		if !ok {
			problems = append(problems, fmt.Sprintf("calendar: working hours %q are not like 09:00-12:00", h))
			continue
		}
		c.periods = append(c.periods, p)
	}
	sort.Slice(c.periods, func(i, j int) bool { return c.periods[i].start < c.periods[j].start })
	for i := 1; i < len(c.periods); i++ {
		if c.periods[i].start < c.periods[i-1].end {
			problems = append(problems, "calendar: working hours overlap")
		}
	}
	for _, d := range s.WorkingDays {
		wd, ok := weekdays[strings.ToLower(d)]
		if !ok {
			problems = append(problems, fmt.Sprintf("calendar: working day %q is not one of mon … sun", d))
		}
		c.workdays[wd] = ok
	}
	problems = append(problems, dates(s.Holidays, "holiday", c.holidays)...)
	problems = append(problems, dates(s.MakeUpDays, "make-up day", c.makeUp)...)
	if s.CoversUntil != "" {
		if _, err := time.Parse(time.DateOnly, s.CoversUntil); err != nil {
			problems = append(problems, fmt.Sprintf("calendar: covers_until %q is not a date like 2026-12-31", s.CoversUntil))
		}
	}
	if len(c.periods) == 0 || (len(s.WorkingDays) == 0 && len(s.MakeUpDays) == 0) {
		problems = append(problems, "calendar: no working time at all (name working_hours and working_days)")
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "\n- "))
	}
	return c, nil
}

func parsePeriod(s string) (period, bool) {
	a, b, ok := strings.Cut(s, "-")
	start, err1 := time.Parse("15:04", strings.TrimSpace(a))
	end, err2 := time.Parse("15:04", strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil {
		return period{}, false
	}
	p := period{start.Hour()*60 + start.Minute(), end.Hour()*60 + end.Minute()}
	return p, p.end > p.start
}

func dates(in []string, what string, into map[string]bool) []string {
	var problems []string
	for _, d := range in {
		if _, err := time.Parse(time.DateOnly, d); err != nil {
			problems = append(problems, fmt.Sprintf("calendar: %s %q is not a date like 2026-10-01", what, d))
			continue
		}
		into[d] = true
	}
	return problems
}

// Spec returns the calendar as written.
func (c *Calendar) Spec() Spec { return c.source }

// DayLength is the working time of one full working day (7 h for
// 09:00–12:00 and 13:30–17:30); a window of "3d" is three of them.
func (c *Calendar) DayLength() time.Duration {
	var d time.Duration
	for _, p := range c.periods {
		d += time.Duration(p.end-p.start) * time.Minute
	}
	return d
}

// Location is the calendar's time zone.
func (c *Calendar) Location() *time.Location { return c.loc }

// Works reports whether day (in the calendar's zone) is a working day.
func (c *Calendar) Works(day time.Time) bool {
	d := day.In(c.loc).Format(time.DateOnly)
	if c.makeUp[d] {
		return true
	}
	return c.workdays[day.In(c.loc).Weekday()] && !c.holidays[d]
}

// maxDays bounds the search for working time (ten years).
const maxDays = 3660

// Add returns the moment when d of working time has passed after t.
func (c *Calendar) Add(t time.Time, d time.Duration) time.Time {
	if d <= 0 {
		return t
	}
	left := d
	day := midnight(t.In(c.loc))
	for i := 0; i < maxDays; i, day = i+1, day.AddDate(0, 0, 1) {
		if !c.Works(day) {
			continue
		}
		for _, p := range c.periods {
			start, end := day.Add(time.Duration(p.start)*time.Minute), day.Add(time.Duration(p.end)*time.Minute)
			if t.After(start) {
				start = t
			}
			if !end.After(start) {
				continue
			}
			if avail := end.Sub(start); left <= avail {
				return start.Add(left).UTC()
			} else {
				left -= avail
			}
		}
	}
	return t.Add(d) // unreachable with a valid calendar
}

// Between returns the working time from a to b (zero if b is not after a).
func (c *Calendar) Between(a, b time.Time) time.Duration {
	var total time.Duration
	for day := midnight(a.In(c.loc)); day.Before(b); day = day.AddDate(0, 0, 1) {
		if !c.Works(day) {
			continue
		}
		for _, p := range c.periods {
			start, end := day.Add(time.Duration(p.start)*time.Minute), day.Add(time.Duration(p.end)*time.Minute)
			if a.After(start) {
				start = a
			}
			if b.Before(end) {
				end = b
			}
			if end.After(start) {
				total += end.Sub(start)
			}
		}
	}
	return total
}

func midnight(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
}
