package calendar

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Revision is a change to the days a calendar lists: a year's published
// holidays and make-up working days added, days listed by mistake removed,
// and how far the calendar now covers.
type Revision struct {
	AddHolidays, AddMakeUpDays []string
	// Remove lists days to take off either list.
	Remove []string
	// CoversUntil, when set, replaces the spec's.
	CoversUntil string
}

// Revise returns s with r applied, each list sorted and without repeats, or
// every problem found: a date that is not one, a day added as both a
// holiday and a make-up day (or already on the other list), a day removed
// that is not listed, or a revision that changes nothing.
func (s Spec) Revise(r Revision) (Spec, error) {
	var problems []string
	check := func(what string, days []string) {
		for _, d := range days {
			if _, err := time.Parse(time.DateOnly, d); err != nil {
				problems = append(problems, fmt.Sprintf("%s %q is not a date like 2027-01-01", what, d))
			}
		}
	}
	check("holiday", r.AddHolidays)
	check("make-up day", r.AddMakeUpDays)
	check("day to remove", r.Remove)
	if r.CoversUntil != "" {
		check("covers_until", []string{r.CoversUntil})
	}
	out := s
	out.Holidays = revised(s.Holidays, r.AddHolidays, r.Remove)
	out.MakeUpDays = revised(s.MakeUpDays, r.AddMakeUpDays, r.Remove)
	for _, d := range out.Holidays {
		if slices.Contains(out.MakeUpDays, d) {
			problems = append(problems, fmt.Sprintf("%s would be both a holiday and a make-up working day", d))
		}
	}
	for _, d := range r.Remove {
		if !slices.Contains(s.Holidays, d) && !slices.Contains(s.MakeUpDays, d) {
			problems = append(problems, fmt.Sprintf("%s is neither a holiday nor a make-up day of the calendar: nothing to remove", d))
		}
	}
	if r.CoversUntil != "" {
		out.CoversUntil = r.CoversUntil
	}
	if len(problems) == 0 && slices.Equal(out.Holidays, sortedSet(s.Holidays)) &&
		slices.Equal(out.MakeUpDays, sortedSet(s.MakeUpDays)) && out.CoversUntil == s.CoversUntil {
		problems = append(problems, "the revision changes nothing: every day is listed already")
	}
	if len(problems) > 0 {
		return Spec{}, errors.New(strings.Join(problems, "\n- "))
	}
	return out, nil
}

// revised returns list with add added and remove removed, sorted, no repeats.
func revised(list, add, remove []string) []string {
	out := slices.DeleteFunc(slices.Concat(list, add), func(d string) bool { return slices.Contains(remove, d) })
	return sortedSet(out)
}

func sortedSet(days []string) []string {
	out := slices.Clone(days)
	slices.Sort(out)
	return slices.Compact(out)
}
