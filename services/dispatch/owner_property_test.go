package dispatch

import (
	"github.com/whistle-civic/whistle/pkg/calendar"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/whistle-civic/whistle/pkg/clock"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// TestOneOwnerWhileOpen drives tickets through random sequences of what
// departments, officers and evaluators may do, through the same rules the
// service applies, and checks 首接负责: while a ticket is open it always has
// exactly one responsible party; the first department to receive it stays
// responsible until another department accepts it; and an arbitrated
// department keeps it.
func TestOneOwnerWhileOpen(t *testing.T) {
	cat, err := ParseCatalog(SampleCatalog)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)
	rapid.Check(t, func(t *rapid.T) {
		s := &Service{maxReturns: int32(rapid.IntRange(0, 3).Draw(t, "maxReturns")), clock: clock.NewFake(base)}
		s.active.Store(cat)
		now := base
		facts := Facts{Category: rapid.SampledFrom([]string{"road_damage", "drain_blocked", "noise_commercial", "ufo_sighting",
			"other_public_affairs"}).Draw(t, "category"), GridID: rapid.SampledFrom([]string{"xc-hd-dj-g01", "yq-ht-dls-g02"}).Draw(t, "grid"), Kind: 1}
		a := &Assignment{TicketID: "t", Status: ticket.Reported, Version: 1, Facts: facts}
		if _, err := a.applyRoute(cat.Route(facts, now), cat.Version, now); err != nil {
			t.Fatal(err)
		}
		street, _ := cat.ancestor(facts.GridID, LevelStreet)
		district, _ := cat.ancestor(facts.GridID, LevelDistrict)
		officer := Actor{ID: "o", OrgUnitID: district.ID}
		depts := []string{}
		for _, d := range cat.Departments() {
			if cat.Serves(d.ID, facts.GridID) {
				depts = append(depts, d.ID)
			}
		}
		first, binder := a.Owner, ""
		for step := 0; step < 40 && !a.Status.Final(); step++ {
			now = now.Add(time.Duration(rapid.IntRange(1, 600).Draw(t, "minutes")) * time.Minute)
			before := a.Owner
			var err error
			acceptedBy := ""
			switch op := rapid.SampledFrom(ops(a)).Draw(t, "op"); op {
			case "accept":
				acceptedBy = a.Lead
				_, err = s.follow(a, Transition{Action: ticket.Accept, Version: a.Version + 1, Department: a.Lead}, now)
			case "return":
				_, err = s.follow(a, Transition{Action: ticket.Return, Version: a.Version + 1, Department: a.Lead, Note: "n"}, now)
			case "resolve", "reopen", "close":
				action := map[string]ticket.Action{"resolve": ticket.Resolve, "reopen": ticket.Reopen, "close": ticket.Close}[op]
				_, err = s.follow(a, Transition{Action: action, Version: a.Version + 1}, now)
			case "dispatch":
				_, err = s.dispatchByHand(a, ManualDispatch{Lead: rapid.SampledFrom(depts).Draw(t, "dept"),
					AcceptWithin: calendar.Window{Time: time.Hour}, ResolveWithin: calendar.Window{Days: 1}, By: officer}, now)
			case "arbitrate":
				binder = rapid.SampledFrom(depts).Draw(t, "arbiter's choice")
				_, err = s.arbitrate(a, binder, "decided", officer, now)
			case "reject":
				_, err = reject(a, "not public", officer, now)
			}
			if err != nil {
				t.Fatalf("%s: %v", a.Status, err)
			}
			if !a.Status.Final() && a.Responsible() == "" {
				t.Fatalf("open ticket in %s without anyone responsible", a.Status)
			}
			switch {
			case before == "" && a.Owner != "" && a.Owner != a.Lead:
				t.Fatalf("first owner %s is not the department that received it (%s)", a.Owner, a.Lead)
			case before != "" && a.Owner != before && (acceptedBy == "" || a.Owner != acceptedBy):
				t.Fatalf("owner moved from %s to %s without %s accepting", before, a.Owner, a.Owner)
			}
			if first == "" {
				first = a.Owner
			}
			if binder != "" && a.Binding && !a.Status.Final() && a.Status != ticket.Resolved && a.Lead != binder {
				t.Fatalf("arbitrated to %s, but %s leads", binder, a.Lead)
			}
			if a.Status == ticket.Triage && a.TriageOrgUnit != street.ID && a.TriageOrgUnit != district.ID && a.TriageOrgUnit != "hh" {
				t.Fatalf("waits at %s, outside the ticket's area", a.TriageOrgUnit)
			}
		}
	})
}

// ops lists what may happen to a ticket in its current state.
func ops(a *Assignment) []string {
	switch a.Status {
	case ticket.Dispatched:
		if a.Binding {
			return []string{"accept"}
		}
		return []string{"accept", "return"}
	case ticket.Accepted:
		if a.Binding {
			return []string{"resolve"}
		}
		return []string{"resolve", "return"}
	case ticket.Triage:
		if a.Arbitration {
			return []string{"arbitrate"}
		}
		return []string{"dispatch", "reject"}
	case ticket.Resolved:
		return []string{"reopen", "close"}
	case ticket.Reopened:
		return []string{"resolve"}
	}
	return []string{"close"}
}
