package monitoring_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/inbox"
)

// cst is the city's time zone in the tests (the service's default).
var cst = time.FixedZone("CST", 8*3600)

// local returns a time on a November 2026 day in the city's zone.
func local(day, hour, minute int) time.Time {
	return time.Date(2026, 11, day, hour, minute, 0, 0, cst)
}

// story writes one ticket's events as its services would: transitions
// raise the version, annotations happen at the current one.
type story struct {
	id, grid  string
	area      []string
	version   int64
	synthetic bool
	events    []*whistlev1.Event
}

// areaOf returns a seed grid's units up to the city.
func areaOf(grid string) []string {
	p := strings.Split(grid, "-")
	return []string{grid, strings.Join(p[:3], "-"), strings.Join(p[:2], "-"), p[0], "hh"}
}

func newStory(grid, category string, at time.Time, synthetic bool, source whistlev1.Source) *story {
	s := &story{id: ids.New(), grid: grid, area: areaOf(grid), synthetic: synthetic}
	s.add(at, &whistlev1.TicketReported{Ticket: &whistlev1.Ticket{Id: s.id, Category: category, Source: source,
		ReportedAt: timestamppb.New(at), Location: &whistlev1.Location{GridId: grid},
		Reporter: &whistlev1.Reporter{OrgUnitId: grid}, Synthetic: synthetic}})
	return s
}

// report starts a resident's report in a grid.
func report(grid, category string, at time.Time) *story {
	return newStory(grid, category, at, false, whistlev1.Source_SOURCE_RESIDENT)
}

func (s *story) add(at time.Time, body proto.Message) *story {
	typ := ""
	ev := events.MustNew(events.Meta{TicketID: s.id, TicketNumber: "HH-" + s.id[:8], OccurredAt: at, Producer: "test",
		Synthetic: s.synthetic, Version: 1}, body)
	typ = events.TypeOf(ev)
	if events.IsTransition(typ) {
		s.version++
	}
	ev.TicketVersion = s.version
	s.events = append(s.events, ev)
	return s
}

// dispatch sends the ticket to a department: accept within an hour,
// resolve within two days.
func (s *story) dispatch(dept string, at time.Time) *story {
	return s.add(at, &whistlev1.TicketDispatched{LeadDepartmentId: dept, AreaIds: s.area,
		AcceptDue: timestamppb.New(at.Add(time.Hour)), ResolveDue: timestamppb.New(at.Add(48 * time.Hour))})
}

func (s *story) triage(at time.Time) *story {
	return s.add(at, &whistlev1.TicketTriaged{OrgUnitId: s.area[2], Reason: "no rule", AreaIds: s.area})
}

func (s *story) accept(dept string, at time.Time) *story {
	return s.add(at, &whistlev1.TicketAccepted{DepartmentId: dept})
}

func (s *story) escalate(level int32, stage string, at time.Time) *story {
	return s.add(at, &whistlev1.TicketEscalated{Level: level, Stage: stage, NotifiedOrgUnitId: s.area[2]})
}

func (s *story) resolve(dept string, at time.Time) *story {
	return s.add(at, &whistlev1.TicketResolved{DepartmentId: dept, Result: "done"})
}

func (s *story) evaluate(dept string, v whistlev1.Verdict, byDefault bool, at time.Time) *story {
	src := whistlev1.EvaluationSource_EVALUATION_SOURCE_COMMUNITY
	if byDefault {
		src = whistlev1.EvaluationSource_EVALUATION_SOURCE_DEFAULT
	}
	return s.add(at, &whistlev1.TicketEvaluated{Verdict: v, DefaultVerdict: byDefault, DepartmentId: dept, Source: src, Round: 1})
}

func (s *story) reopen(dept string, at time.Time) *story {
	return s.add(at, &whistlev1.TicketReopened{DepartmentId: dept, ReworkCount: 1, ReasonCodes: []string{"not_fixed"}})
}

func (s *story) close(v whistlev1.Verdict, byDefault bool, at time.Time) *story {
	return s.add(at, &whistlev1.TicketClosed{FinalVerdict: v, DefaultVerdict: byDefault})
}

// project applies stories' events in order through the consumer's inbox.
func project(t testing.TB, p *inbox.Processor, stories ...*story) {
	t.Helper()
	for _, s := range stories {
		for _, ev := range s.events {
			if outcome, err := p.Process(context.Background(), ev); err != nil || outcome != inbox.OutcomeApplied {
				t.Fatalf("%s v%d of %s: %s %v", events.TypeOf(ev), ev.GetTicketVersion(), s.id, outcome, err)
			}
		}
	}
}
