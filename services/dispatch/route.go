package dispatch

import (
	"fmt"
	"strings"
	"time"
)

// The whistle kinds that change deadlines; values equal whistle.v1.WhistleKind.
const (
	kindTough     = 2
	kindEmergency = 3
)

// Emergency whistles must be accepted within EmergencyAcceptWithin and
// resolved within EmergencyResolveWithin at the latest, whatever the matter
// says; tough whistles get ToughResolveFactor times the matter's resolve time.
const (
	EmergencyAcceptWithin  = 15 * time.Minute
	EmergencyResolveWithin = 24 * time.Hour
	ToughResolveFactor     = 2
)

// Facts are what routing looks at.
type Facts struct {
	Category string
	GridID   string
	Kind     int32
}

// Route is where the catalog sends a ticket.
type Route struct {
	// Triage is set when a person must dispatch the ticket; TriageOrgUnit is
	// where it waits and Rule says why.
	Triage        bool
	TriageOrgUnit string
	// Lead and Assisting are the departments, and the deadlines theirs.
	Lead                  string
	Assisting             []string
	AcceptDue, ResolveDue time.Time
	// Rule explains the decision in words.
	Rule string
}

// Route decides where a ticket goes at time now: from its grid up to the
// district (or city) whose department of the matter's lead kind leads, with
// the matter's deadlines adjusted for the whistle's kind. An unknown or
// missing grid waits in triage at the city; an off-catalog matter at the
// grid's street.
func (c *Catalog) Route(f Facts, now time.Time) Route {
	grid, ok := c.units[f.GridID]
	if !ok || grid.Level != LevelGrid {
		why := "no grid given"
		if f.GridID != "" {
			why = fmt.Sprintf("grid %q is not in catalog %s", f.GridID, c.Version)
		}
		return Route{Triage: true, TriageOrgUnit: c.city(), Rule: why + ": triage at the city"}
	}
	street, _ := c.ancestor(grid.ID, LevelStreet)
	m, ok := c.matters[f.Category]
	if !ok {
		return Route{Triage: true, TriageOrgUnit: street.ID,
			Rule: fmt.Sprintf("matter %q is not in catalog %s (清单外事项): triage at street %s", f.Category, c.Version, street.ID)}
	}
	lead, where, ok := c.find(m.LeadKind, m.LeadLevel, grid.ID)
	if !ok {
		return Route{Triage: true, TriageOrgUnit: street.ID,
			Rule: fmt.Sprintf("matter %q: no %s department serves grid %s: triage at street %s", m.Code, m.LeadKind, grid.ID, street.ID)}
	}
	r := Route{Lead: lead.ID}
	for _, k := range m.AssistKinds {
		if d, _, ok := c.find(k, LevelDistrict, grid.ID); ok && d.ID != lead.ID {
			r.Assisting = append(r.Assisting, d.ID)
		}
	}
	accept, resolve, adj := deadlines(m, f.Kind)
	r.AcceptDue, r.ResolveDue = now.Add(accept), now.Add(resolve)
	r.Rule = fmt.Sprintf("matter %s (%s) is led by %s at %s %s: %s", m.Code, m.Name, m.LeadKind, where.Level, where.ID, lead.ID)
	if len(r.Assisting) > 0 {
		r.Rule += ", assisted by " + strings.Join(r.Assisting, ", ")
	}
	r.Rule += fmt.Sprintf("; accept within %s, resolve within %s%s", accept, resolve, adj)
	return r
}

// find returns the department of kind serving grid at level (district or
// city); a district without one falls back to the city's.
func (c *Catalog) find(kind string, level Level, grid string) (Department, OrgUnit, bool) {
	if level == LevelDistrict {
		if district, ok := c.ancestor(grid, LevelDistrict); ok {
			if d, ok := c.departmentOf(kind, district.ID); ok {
				return d, district, true
			}
		}
	}
	city, _ := c.ancestor(grid, LevelCity)
	d, ok := c.departmentOf(kind, city.ID)
	return d, city, ok
}

func (c *Catalog) city() string {
	for _, id := range c.unitOrder {
		if c.units[id].Level == LevelCity {
			return id
		}
	}
	return ""
}

// deadlines returns the matter's deadlines for a whistle kind, and a note on
// any adjustment.
func deadlines(m Matter, kind int32) (accept, resolve time.Duration, note string) {
	accept, resolve = m.AcceptWithin, m.ResolveWithin
	switch kind {
	case kindEmergency:
		accept, resolve = min(accept, EmergencyAcceptWithin), min(resolve, EmergencyResolveWithin)
		note = " (emergency whistle)"
	case kindTough:
		resolve *= ToughResolveFactor
		note = " (tough whistle: resolve time doubled)"
	}
	return accept, resolve, note
}
