package monitoring

import (
	"fmt"
	"time"
)

// PeriodKind says how a period is given; values equal whistle.v1.PeriodKind.
type PeriodKind int32

// The period kinds.
const (
	PeriodDay    PeriodKind = 1
	PeriodWeek   PeriodKind = 2
	PeriodMonth  PeriodKind = 3
	PeriodCustom PeriodKind = 4
)

// Period is a span of days.
type Period struct {
	Kind           PeriodKind
	Date, From, To string
}

// Days returns the period's first and last day (YYYY-MM-DD). Weeks run
// Monday to Sunday.
func (p Period) Days() (string, string, error) {
	if p.Kind == PeriodCustom {
		from, err1 := time.Parse(time.DateOnly, p.From)
		to, err2 := time.Parse(time.DateOnly, p.To)
		if err1 != nil || err2 != nil || to.Before(from) {
			return "", "", ErrBadPeriod
		}
		return p.From, p.To, nil
	}
	d, err := time.Parse(time.DateOnly, p.Date)
	if err != nil {
		return "", "", ErrBadPeriod
	}
	var from, to time.Time
	switch p.Kind {
	case PeriodDay:
		from, to = d, d
	case PeriodWeek:
		from = d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
		to = from.AddDate(0, 0, 6)
	case PeriodMonth:
		from = time.Date(d.Year(), d.Month(), 1, 0, 0, 0, 0, time.UTC)
		to = from.AddDate(0, 1, -1)
	default:
		return "", "", fmt.Errorf("%w (kind %d)", ErrBadPeriod, p.Kind)
	}
	return from.Format(time.DateOnly), to.Format(time.DateOnly), nil
}

// span is a period cut into whole calendar months and the days around them,
// so that the figures of a long period are read a month at a time. A range
// whose first element is after its last is empty.
type span struct {
	head, tail [2]string // day ranges before and after the whole months
	months     [2]string // first days of the first and last whole month
}

// none is an empty range of dates.
var none = [2]string{"0001-01-02", "0001-01-01"}

// spanOf cuts the days from..to (YYYY-MM-DD, valid) into a span.
func spanOf(from, to string) span {
	f, _ := time.Parse(time.DateOnly, from)
	t, _ := time.Parse(time.DateOnly, to)
	day := func(d time.Time) string { return d.Format(time.DateOnly) }
	first := time.Date(f.Year(), f.Month(), 1, 0, 0, 0, 0, time.UTC)
	if !first.Equal(f) {
		first = first.AddDate(0, 1, 0)
	}
	end := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC) // the month after the last whole one
	if t.AddDate(0, 0, 1).Day() == 1 {
		end = end.AddDate(0, 1, 0)
	}
	if !first.Before(end) {
		return span{head: [2]string{from, to}, tail: none, months: none}
	}
	s := span{head: none, tail: none, months: [2]string{day(first), day(end.AddDate(0, -1, 0))}}
	if f.Before(first) {
		s.head = [2]string{from, day(first.AddDate(0, 0, -1))}
	}
	if !end.After(t) {
		s.tail = [2]string{day(end), to}
	}
	return s
}

// args returns the span's bounds as query arguments, after those given.
func (s span) args(before ...any) []any {
	return append(before, s.head[0], s.head[1], s.tail[0], s.tail[1], s.months[0], s.months[1])
}
