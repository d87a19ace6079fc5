package calendar

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Window is the time a department has for a stage: whole days plus a time,
// "3d", "2h", "1d4h", "30m". In working time a day is one working day of the
// calendar; in wall-clock time (emergencies, critical matters) it is 24 h.
type Window struct {
	Days int
	Time time.Duration
}

// ParseWindow reads a window such as "3d", "2h30m" or "1d4h".
func ParseWindow(s string) (Window, error) {
	var w Window
	rest := strings.TrimSpace(s)
	if d, after, ok := strings.Cut(rest, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 {
			return Window{}, fmt.Errorf("window %q: days must be a whole number, like 3d", s)
		}
		w.Days, rest = n, after
	}
	if rest != "" {
		t, err := time.ParseDuration(rest)
		if err != nil || t < 0 {
			return Window{}, fmt.Errorf("window %q is not like 3d, 2h, 1d4h or 30m", s)
		}
		w.Time = t
	}
	if w.IsZero() {
		return Window{}, fmt.Errorf("window %q is empty", s)
	}
	return w, nil
}

// IsZero reports an empty window.
func (w Window) IsZero() bool { return w.Days == 0 && w.Time == 0 }

// String writes the window as ParseWindow reads it.
func (w Window) String() string {
	switch {
	case w.Days == 0:
		return w.Time.String()
	case w.Time == 0:
		return fmt.Sprintf("%dd", w.Days)
	default:
		return fmt.Sprintf("%dd%s", w.Days, w.Time)
	}
}

// Scale multiplies the window.
func (w Window) Scale(n int) Window { return Window{Days: w.Days * n, Time: w.Time * time.Duration(n)} }

// Min returns the shorter of w and a wall-clock cap, measured in wall time.
func (w Window) Min(capWall time.Duration) Window {
	if w.Wall() > capWall {
		return Window{Time: capWall}
	}
	return w
}

// Wall is the window in wall-clock time.
func (w Window) Wall() time.Duration { return time.Duration(w.Days)*24*time.Hour + w.Time }

// Working is the window in working time, for days of dayLength.
func (w Window) Working(dayLength time.Duration) time.Duration {
	return time.Duration(w.Days)*dayLength + w.Time
}

// Clock counts deadlines: in the calendar's working time, or in wall-clock
// time for emergencies and critical matters.
type Clock struct {
	Cal  *Calendar
	Wall bool
}

// Due returns when window w, started at from, ends.
func (c Clock) Due(from time.Time, w Window) time.Time {
	if c.Wall {
		return from.Add(w.Wall())
	}
	return c.Cal.Add(from, w.Working(c.Cal.DayLength()))
}

// Left is the clock's time from a to b.
func (c Clock) Left(a, b time.Time) time.Duration {
	if c.Wall {
		return max(b.Sub(a), 0)
	}
	return c.Cal.Between(a, b)
}

// After returns when d of the clock's time has passed after t.
func (c Clock) After(t time.Time, d time.Duration) time.Time {
	if c.Wall {
		return t.Add(d)
	}
	return c.Cal.Add(t, d)
}
