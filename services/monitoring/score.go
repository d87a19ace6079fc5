package monitoring

import (
	"slices"
	"time"

	"github.com/whistle-civic/whistle/pkg/ticket"
)

// The counted facts, per org unit and cohort day (docs/metrics.md).
const (
	FactReported       = "reported"
	FactDispatched     = "dispatched"
	FactAcceptedOnTime = "accepted_on_time"
	FactAcceptDue      = "accept_due"
	FactDue            = "due"
	FactResolved       = "resolved"
	FactResolvedOnTime = "resolved_on_time"
	FactClosed         = "closed"
	FactCloseDue       = "close_due"
	FactJudged         = "judged"
	FactDefaultClosed  = "default_closed"
	FactEvaluated      = "evaluated"
	FactSatisfied      = "satisfied"
	FactReopened       = "reopened"
	FactCancelled      = "cancelled"
	FactWithdrawn      = "withdrawn"
	FactMerged         = "merged"
	// FactRepeated counts a closed ticket whose matter was reported again at
	// its place within 30 days of its close (intake's repeated event).
	FactRepeated = "repeated"
	// FactCallBackDrawn counts a closed ticket drawn for a call-back;
	// FactCallBackReached those whose reporter answered, of them
	// FactCallBackSatisfied those satisfied or basically satisfied.
	FactCallBackDrawn     = "call_back_drawn"
	FactCallBackReached   = "call_back_reached"
	FactCallBackSatisfied = "call_back_satisfied"
)

// Facts lists the counted facts in a stable order.
var Facts = []string{FactReported, FactDispatched, FactAcceptedOnTime, FactAcceptDue, FactDue, FactResolved,
	FactResolvedOnTime, FactClosed, FactCloseDue, FactDefaultClosed, FactEvaluated, FactSatisfied, FactJudged, FactReopened, FactCancelled, FactWithdrawn, FactMerged,
	FactRepeated, FactCallBackDrawn, FactCallBackReached, FactCallBackSatisfied}

// The measured stages.
const (
	StageReportToDispatch = "report_to_dispatch"
	StageDispatchToAccept = "dispatch_to_accept"
	StageAcceptToResolve  = "accept_to_resolve"
	StageResolveToClose   = "resolve_to_close"
	StageReportToClose    = "report_to_close"
)

// Stages lists the measured stages in the loop's order.
var Stages = []string{StageReportToDispatch, StageDispatchToAccept, StageAcceptToResolve, StageResolveToClose, StageReportToClose}

// Count adds N to a fact of a unit on a cohort day (YYYY-MM-DD).
type Count struct {
	Unit, Day, Fact string
	N               int64
}

// Sample is one measured stage duration of a unit on a cohort day.
type Sample struct {
	Unit, Day, Stage string
	Took             time.Duration
}

// Live changes a unit's current open and overdue counts.
type Live struct {
	Unit          string
	Open, Overdue int64
}

// Effects are what one event changes in the figures.
type Effects struct {
	Counts  []Count
	Samples []Sample
	Live    []Live
	// Categories counts a report of a matter type per area unit and day.
	Categories []Count
	// Units are org units seen for the first time here, with their level.
	Units []Unit
	// Routed is set on the event that first routed a non-synthetic ticket:
	// time to look for a hot spot.
	Routed bool
}

// Unit is an org unit that figures are kept for, with its level (community,
// street, district, city, or department) and the units above it.
type Unit struct {
	ID, Kind string
	Path     []string
}

// areaKinds names the levels of a full area path after the grid.
var areaKinds = []string{"community", "street", "district", "city"}

// scorer applies one event to a ticket's state and says what it changes in
// the figures. Synthetic tickets change the state only.
type scorer struct {
	st  *State
	c   Change
	loc *time.Location
	e   Effects
}

// apply moves st by c and returns the effects on the figures.
func apply(st *State, c Change, loc *time.Location) Effects {
	s := &scorer{st: st, c: c, loc: loc}
	s.common()
	at := c.Entry.OccurredAt
	switch c.Entry.EventType {
	case "triaged":
		s.routed()
	case "dispatched", "arbitrated":
		s.routed()
		s.assigned(at)
	case "accepted":
		s.accepted(at)
	case "escalated":
		s.escalated(at)
	case "rescheduled", "extension_decided":
		s.rescheduled(at)
	case "resolved":
		s.resolved(at)
	case "evaluated":
		s.judged()
		if c.Evaluated {
			s.count(FactEvaluated, 1, s.areas(), c.Department)
			if c.Satisfied {
				s.count(FactSatisfied, 1, s.areas(), c.Department)
			}
		}
	case "reopened":
		s.judged()
		if !st.M.Reopened {
			st.M.Reopened = true
			s.count(FactReopened, 1, s.areas(), st.LeadDepartmentID)
		}
	case "cancelled":
		s.count(FactCancelled, 1, s.areas(), st.LeadDepartmentID)
		if c.Withdrawn {
			s.count(FactWithdrawn, 1, s.areas(), st.LeadDepartmentID)
		}
	case "merged":
		st.M.MergedInto = c.MergedInto
		s.uncount()
		s.count(FactMerged, 1, s.areas(), st.LeadDepartmentID)
	case "repeated":
		s.repeated()
	case "called_back":
		s.calledBack()
	case "closed":
		s.judged()
		s.closeDue()
		s.count(FactClosed, 1, s.areas(), st.LeadDepartmentID)
		st.M.ClosedAt = at
		if c.CallBack {
			st.M.CallBack = callBackDrawn
			s.count(FactCallBackDrawn, 1, s.areas(), st.LeadDepartmentID)
		}
		if c.DefaultClose {
			s.count(FactDefaultClosed, 1, s.areas(), st.LeadDepartmentID)
		}
		s.sample(StageResolveToClose, st.M.LastResolvedAt, at, s.areas(), st.LeadDepartmentID)
		s.sample(StageReportToClose, st.ReportedAt, at, s.areas(), "")
	}
	if c.Action != "" && ticket.Target(c.Action).Final() {
		s.finished()
	}
	if st.Synthetic {
		return Effects{}
	}
	return s.e
}

// common keeps the state's plain fields.
func (s *scorer) common() {
	st, c := s.st, s.c
	if c.Action != "" {
		st.Status, st.Version = ticket.Target(c.Action), c.Entry.Version
	}
	if st.TraceID == "" {
		st.TraceID = c.Entry.TraceID // the ticket's trace: its first event's
	}
	if c.Number != "" {
		st.Number = c.Number
	}
	if c.Category != "" {
		st.Category = c.Category
	}
	if !c.ReportedAt.IsZero() {
		st.ReportedAt, st.Synthetic, st.M.Grid, st.M.Source, st.M.Imported = c.ReportedAt, c.Synthetic, c.Grid, c.Source, c.Historical
	}
	if c.EscalationLevel > st.EscalationLevel {
		st.EscalationLevel = c.EscalationLevel
	}
	if c.ReworkCount > st.ReworkCount {
		st.ReworkCount = c.ReworkCount
	}
	if c.Entry.OccurredAt.After(st.UpdatedAt) {
		st.UpdatedAt = c.Entry.OccurredAt
	}
}

// routed counts the ticket as reported in its area, the first time dispatch routes it.
func (s *scorer) routed() {
	st := s.st
	if st.M.Routed || len(s.c.Area) == 0 {
		return
	}
	st.M.Routed, st.Area = true, s.c.Area
	areas := s.areas()
	for i, u := range areas {
		kind := "city"
		if len(areas) == len(areaKinds) {
			kind = areaKinds[i]
		}
		s.e.Units = append(s.e.Units, Unit{ID: u, Kind: kind, Path: areas[i:]})
	}
	s.count(FactReported, 1, s.areas(), "")
	for _, u := range s.areas() {
		if st.M.Source != proactiveSource { // a proactive ticket restates reports already counted
			s.e.Categories = append(s.e.Categories, Count{Unit: u, Day: s.day(), Fact: st.Category, N: 1})
		}
		s.e.Live = append(s.e.Live, Live{Unit: u, Open: 1})
	}
	s.e.Routed = true
}

// assigned records a dispatch or arbitration to a lead department.
func (s *scorer) assigned(at time.Time) {
	st, c := s.st, s.c
	prev := st.LeadDepartmentID
	s.clearOverdue()
	st.LeadDepartmentID, st.M.AcceptDue, st.M.ResolveDue = c.LeadDepartmentID, c.AcceptDue, c.ResolveDue
	if st.M.DispatchedAt.IsZero() {
		st.M.DispatchedAt = at
		s.count(FactDispatched, 1, s.areas(), "")
		s.sample(StageReportToDispatch, st.ReportedAt, at, s.areas(), "")
	}
	if !slices.Contains(st.M.Depts, c.LeadDepartmentID) {
		st.M.Depts = append(st.M.Depts, c.LeadDepartmentID)
		s.e.Units = append(s.e.Units, Unit{ID: c.LeadDepartmentID, Kind: "department", Path: []string{c.LeadDepartmentID}})
		s.count(FactDispatched, 1, nil, c.LeadDepartmentID)
	}
	if prev != c.LeadDepartmentID {
		if prev != "" {
			s.e.Live = append(s.e.Live, Live{Unit: prev, Open: -1})
		}
		s.e.Live = append(s.e.Live, Live{Unit: c.LeadDepartmentID, Open: 1})
	}
}

// accepted counts the first acceptance of the ticket, and each department's first.
func (s *scorer) accepted(at time.Time) {
	st, dept := s.st, s.c.Department
	onTime := int64(0)
	if !at.After(st.M.AcceptDue) {
		onTime = 1
	}
	s.acceptDue(dept)
	if st.M.AcceptedAt.IsZero() {
		st.M.AcceptedAt = at
		s.count(FactAcceptedOnTime, onTime, s.areas(), "")
		s.sample(StageDispatchToAccept, st.M.DispatchedAt, at, s.areas(), "")
	}
	if !slices.Contains(st.M.DeptsAccepted, dept) {
		st.M.DeptsAccepted = append(st.M.DeptsAccepted, dept)
		s.count(FactAcceptedOnTime, onTime, nil, dept)
		s.sample(StageDispatchToAccept, st.M.DispatchedAt, at, nil, dept)
	}
	if st.OverdueStage == "accept" {
		s.clearOverdue()
	}
}

// escalated marks the ticket overdue; a missed accept deadline makes it due
// to be accepted, a missed resolve deadline due to be resolved and closed.
func (s *scorer) escalated(at time.Time) {
	st, stage := s.st, s.c.Stage
	if stage != "accept" && stage != "resolve" {
		return
	}
	if stage == "accept" && !slices.Contains(st.M.DeptsAccepted, st.LeadDepartmentID) {
		s.acceptDue(st.LeadDepartmentID)
	}
	if stage == "resolve" {
		s.closeDue()
		if !st.M.DueCounted {
			st.M.DueCounted = true
			s.count(FactDue, 1, s.areas(), st.LeadDepartmentID)
		}
	}
	if !st.Overdue {
		st.Overdue, st.OverdueStage = true, stage
		st.StageDue = st.M.AcceptDue
		if stage == "resolve" {
			st.StageDue = st.M.ResolveDue
		}
		if st.StageDue.IsZero() {
			st.StageDue = at
		}
		s.live(0, 1)
	}
}

// acceptDue counts the ticket as due to be accepted (应响应), once in its
// areas and once for each department: at its first acceptance, or when a
// department's accept deadline passed before it accepted.
func (s *scorer) acceptDue(dept string) {
	st := s.st
	if !st.M.AcceptDueCounted {
		st.M.AcceptDueCounted = true
		s.count(FactAcceptDue, 1, s.areas(), "")
	}
	if dept != "" && !slices.Contains(st.M.DeptsAcceptDue, dept) {
		st.M.DeptsAcceptDue = append(st.M.DeptsAcceptDue, dept)
		s.count(FactAcceptDue, 1, nil, dept)
	}
}

// closeDue counts the ticket as due to be closed (应办结), once, for its
// areas and its lead department: when it closes, or when its resolve
// deadline passed first.
func (s *scorer) closeDue() {
	if st := s.st; !st.M.CloseDueCounted {
		st.M.CloseDueCounted = true
		s.count(FactCloseDue, 1, s.areas(), st.LeadDepartmentID)
	}
}

// judged counts the ticket's result as judged, once, for its areas and its
// lead department: at its first verdict (a real or the default one), or its
// close, whichever comes first; only then can it have been sent back.
func (s *scorer) judged() {
	if st := s.st; !st.M.Judged {
		st.M.Judged = true
		s.count(FactJudged, 1, s.areas(), st.LeadDepartmentID)
	}
}

// rescheduled takes new deadlines; a deadline moved past now lifts overdue.
func (s *scorer) rescheduled(at time.Time) {
	st, c := s.st, s.c
	if !c.AcceptDue.IsZero() {
		st.M.AcceptDue = c.AcceptDue
	}
	if !c.ResolveDue.IsZero() {
		st.M.ResolveDue = c.ResolveDue
	}
	if st.Overdue && ((st.OverdueStage == "accept" && st.M.AcceptDue.After(at)) ||
		(st.OverdueStage == "resolve" && st.M.ResolveDue.After(at))) {
		s.clearOverdue()
	}
}

// resolved counts the first resolution (due, resolved, on time).
func (s *scorer) resolved(at time.Time) {
	st := s.st
	st.M.LastResolvedAt = at
	s.clearOverdue()
	if !st.M.ResolvedAt.IsZero() {
		return
	}
	st.M.ResolvedAt = at
	dept := s.c.Department
	if !st.M.DueCounted {
		st.M.DueCounted = true
		s.count(FactDue, 1, s.areas(), dept)
	}
	s.count(FactResolved, 1, s.areas(), dept)
	if !at.After(st.M.ResolveDue) {
		s.count(FactResolvedOnTime, 1, s.areas(), dept)
	}
	s.sample(StageAcceptToResolve, st.M.AcceptedAt, at, s.areas(), dept)
}

// uncount takes back every fact a duplicate was counted in before it was
// merged, so that its matter counts once, in its original: reported (and
// its matter's count), dispatched, and what fell due before the merge. A
// merge comes before any acceptance, so nothing later was counted. Stage
// times measured stay: they did take that long.
func (s *scorer) uncount() {
	st := s.st
	if !st.M.Routed {
		return
	}
	s.count(FactReported, -1, s.areas(), "")
	if st.M.Source != proactiveSource {
		for _, u := range s.areas() {
			s.e.Categories = append(s.e.Categories, Count{Unit: u, Day: s.day(), Fact: st.Category, N: -1})
		}
	}
	if !st.M.DispatchedAt.IsZero() {
		s.count(FactDispatched, -1, s.areas(), "")
	}
	for _, d := range st.M.Depts {
		s.count(FactDispatched, -1, nil, d)
	}
	if st.M.AcceptDueCounted {
		s.count(FactAcceptDue, -1, s.areas(), "")
	}
	for _, d := range st.M.DeptsAcceptDue {
		s.count(FactAcceptDue, -1, nil, d)
	}
	if st.M.DueCounted {
		s.count(FactDue, -1, s.areas(), st.LeadDepartmentID)
	}
	if st.M.CloseDueCounted {
		s.count(FactCloseDue, -1, s.areas(), st.LeadDepartmentID)
	}
}

// finished takes a ticket off the open (and overdue) counts.
func (s *scorer) finished() {
	s.clearOverdue()
	s.live(-1, 0)
}

func (s *scorer) clearOverdue() {
	if s.st.Overdue {
		s.live(0, -1)
		s.st.Overdue, s.st.OverdueStage, s.st.StageDue = false, "", time.Time{}
	}
}

// live changes the open and overdue counts of the ticket's area and lead.
func (s *scorer) live(open, overdue int64) {
	if !s.st.M.Routed {
		return
	}
	for _, u := range s.areas() {
		s.e.Live = append(s.e.Live, Live{Unit: u, Open: open, Overdue: overdue})
	}
	if d := s.st.LeadDepartmentID; d != "" {
		s.e.Live = append(s.e.Live, Live{Unit: d, Open: open, Overdue: overdue})
	}
}

// areas are the area units figures are kept for: community, street,
// district and city (not the grid).
func (s *scorer) areas() []string {
	if a := s.st.Area; len(a) > 1 {
		return a[1:]
	}
	return s.st.Area
}

// day is the ticket's cohort day: the day it was reported, in the city's time zone.
func (s *scorer) day() string { return s.st.ReportedAt.In(s.loc).Format(time.DateOnly) }

func (s *scorer) count(fact string, n int64, areas []string, dept string) {
	if n == 0 {
		return
	}
	for _, u := range areas {
		s.e.Counts = append(s.e.Counts, Count{Unit: u, Day: s.day(), Fact: fact, N: n})
	}
	if dept != "" {
		s.e.Counts = append(s.e.Counts, Count{Unit: dept, Day: s.day(), Fact: fact, N: n})
	}
}

func (s *scorer) sample(stage string, from, to time.Time, areas []string, dept string) {
	if from.IsZero() || to.Before(from) {
		return
	}
	for _, u := range areas {
		s.e.Samples = append(s.e.Samples, Sample{Unit: u, Day: s.day(), Stage: stage, Took: to.Sub(from)})
	}
	if dept != "" {
		s.e.Samples = append(s.e.Samples, Sample{Unit: dept, Day: s.day(), Stage: stage, Took: to.Sub(from)})
	}
}

// repeated counts a closed ticket as repeated, once.
func (s *scorer) repeated() {
	st := s.st
	if st.Status != ticket.Closed || st.M.Repeated {
		return
	}
	st.M.Repeated = true
	s.count(FactRepeated, 1, s.areas(), st.LeadDepartmentID)
}

// calledBack counts a drawn ticket's call-back, once.
func (s *scorer) calledBack() {
	st, o := s.st, s.c.CalledBack
	if st.M.CallBack != callBackDrawn || o == nil {
		return
	}
	st.M.CallBack = callBackUnreached
	if !o.Reached {
		return
	}
	st.M.CallBack = callBackReached
	s.count(FactCallBackReached, 1, s.areas(), st.LeadDepartmentID)
	if o.Satisfied {
		st.M.CallBack = callBackSatisfied
		s.count(FactCallBackSatisfied, 1, s.areas(), st.LeadDepartmentID)
	}
}
