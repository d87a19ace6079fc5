package dispatch

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/whistle-civic/whistle/pkg/apperr"
	"github.com/whistle-civic/whistle/pkg/calendar"
	"github.com/whistle-civic/whistle/pkg/health"
)

// ErrBadCalendarRevision: the days to add or remove do not make a calendar.
var ErrBadCalendarRevision = apperr.New(apperr.InvalidArgument, "calendar revision refused")

// CalendarRevision is a new catalog version whose business calendar lists a
// year's published holidays and make-up working days (or fewer days).
type CalendarRevision struct {
	// Version names the new catalog version.
	Version string
	calendar.Revision
	// Activate makes the new version active once stored.
	Activate bool
}

// CalendarRevised is what ReviseCalendar stored.
type CalendarRevised struct {
	Info     CatalogInfo
	Calendar *calendar.Calendar
	// Revised is the version whose calendar was revised; Changes what differs.
	Revised string
	Changes []Change
	// Created is false when the same revision was stored before.
	Created bool
}

// ReviseCalendar stores the active catalog again under a new version with
// its calendar revised, audited as a catalog import, and activates it if
// asked: a city adds next year's holidays without re-issuing its catalog.
// Tickets routed already keep the deadlines computed with the calendar they
// were routed by. A revision that makes no calendar (a date that is none, a
// day both a holiday and a make-up day, nothing changed) is refused with
// ErrBadCalendarRevision and stores nothing; a version taken by other
// content with ErrCatalogVersionTaken. The same revision again changes nothing.
func (s *Service) ReviseCalendar(ctx context.Context, r CalendarRevision, by Actor) (CalendarRevised, error) {
	base := s.catalog()
	spec, err := base.Calendar.Spec().Revise(r.Revision)
	if err != nil {
		return CalendarRevised{}, fmt.Errorf("revise the calendar of catalog %s: %w: %v", base.Version, ErrBadCalendarRevision, err)
	}
	src, err := withCalendar(base.Source, r.Version, spec)
	if err != nil {
		return CalendarRevised{}, fmt.Errorf("revise the calendar of catalog %s: %w", base.Version, err)
	}
	info, created, err := s.ImportCatalog(ctx, src, r.Activate, by)
	if err != nil {
		return CalendarRevised{}, fmt.Errorf("revise the calendar of catalog %s: %w", base.Version, err)
	}
	revised, err := s.catalogVersion(ctx, info.Version)
	if err != nil {
		return CalendarRevised{}, err
	}
	return CalendarRevised{Info: info, Calendar: revised.Calendar, Revised: base.Version, Changes: Diff(base, revised),
		Created: created}, nil
}

// logCoverage says at start-up, and whenever a catalog is imported or
// activated, how far its calendar covers: a warning with what to do when it
// covers fewer than calendar.MinDaysAhead days.
func (s *Service) logCoverage(ctx context.Context, cat *Catalog) {
	now := s.clock.Now()
	until := cat.Calendar.CoversUntil()
	if warn := cat.Calendar.Coverage(now); warn != "" {
		s.log.WarnContext(ctx, warn, "catalog", cat.Version, "days_ahead", cat.Calendar.DaysAhead(now))
		return
	}
	s.log.InfoContext(ctx, "business calendar covers the days ahead", "catalog", cat.Version,
		"covers_until", until.AddDate(0, 0, -1).In(cat.Calendar.Location()).Format(time.DateOnly),
		"days_ahead", cat.Calendar.DaysAhead(now))
}

// HealthChecks returns dispatch's own health checks: "calendar" passes with
// a warning while the active catalog's business calendar covers fewer than
// calendar.MinDaysAhead days ahead (saying until when and what to do); its
// value is the days it covers ahead.
func (s *Service) HealthChecks() map[string]health.Check {
	return map[string]health.Check{"calendar": func(context.Context) (health.CheckResult, error) {
		cal, now := s.catalog().Calendar, s.clock.Now()
		res := health.CheckResult{Value: float64(cal.DaysAhead(now)), Warning: cal.Coverage(now)}
		if res.Warning == "" {
			res.Detail = fmt.Sprintf("covers until %s, %d days ahead",
				cal.CoversUntil().AddDate(0, 0, -1).In(cal.Location()).Format(time.DateOnly), cal.DaysAhead(now))
		}
		return res, nil
	}}
}

// instruments registers whistle.calendar.days_ahead, read at each scrape:
// how many days ahead the active catalog's calendar covers (alerted on
// below calendar.MinDaysAhead, deploy/observability/alerts.yaml).
func (s *Service) instruments() error {
	if s.deps.Telemetry == nil {
		return nil
	}
	m := s.deps.Telemetry.Meter.Meter("whistle/" + Name)
	_, err := m.Int64ObservableGauge("whistle.calendar.days_ahead",
		metric.WithDescription("Days ahead the active business calendar lists holidays for (negative once it ran out)"),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			if cat := s.catalog(); cat != nil {
				o.Observe(int64(cat.Calendar.DaysAhead(s.clock.Now())))
			}
			return nil
		}))
	if err != nil {
		return fmt.Errorf("dispatch gauges: %w", err)
	}
	return nil
}
