package dispatch

import (
	"fmt"
	"github.com/whistle-civic/whistle/pkg/calendar"
	"strings"
	"time"
)

// The whistle kinds that change deadlines; values equal whistle.v1.WhistleKind.
const (
	kindTough     = 2
	kindEmergency = 3
)

// Emergency whistles must be accepted within EmergencyAcceptWithin and
// resolved within EmergencyResolveWithin at the latest, in wall-clock time,
// whatever the matter says; tough whistles get ToughResolveFactor times the
// matter's resolve window.
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

// Route is where the catalog sends a ticket, and why.
type Route struct {
	// Triage is set when a person must dispatch the ticket; TriageOrgUnit is
	// where it waits.
	Triage        bool
	TriageOrgUnit string
	// Lead and Assisting are the departments.
	Lead      string
	Assisting []string
	// Clock counts the windows; AcceptDue and ResolveDue are their ends.
	Clock                       calendar.Clock
	AcceptWithin, ResolveWithin calendar.Window
	AcceptDue, ResolveDue       time.Time
	// Rule is the decision in one line; Steps explain it.
	Rule  string
	Steps []string
}

// Route decides where a ticket goes at time now, and explains why: from its
// grid up to the district (or city) whose department of the matter's lead
// kind leads, with the matter's windows adjusted for the whistle's kind and
// counted by the calendar. An unknown or missing grid waits in triage at the
// city; an off-catalog matter, or one decided case by case, at the grid's street.
func (c *Catalog) Route(f Facts, now time.Time) Route {
	var r Route
	step := func(format string, args ...any) { r.Steps = append(r.Steps, fmt.Sprintf(format, args...)) }
	step("catalog %s", c.Version)
	grid, ok := c.units[f.GridID]
	if !ok || grid.Level != LevelGrid {
		why := "no grid given"
		if f.GridID != "" {
			why = fmt.Sprintf("grid %q is not a grid of catalog %s", f.GridID, c.Version)
		}
		step("%s: the city must decide", why)
		return c.triage(r, c.city(), why+": triage at the city")
	}
	street, _ := c.ancestor(grid.ID, LevelStreet)
	district, _ := c.ancestor(grid.ID, LevelDistrict)
	step("grid %s (%s) lies in street %s (%s), district %s (%s)", grid.ID, grid.Name, street.ID, street.Name, district.ID, district.Name)
	m, ok := c.matters[f.Category]
	if !ok {
		step("matter %q is not in the catalog (清单外事项)", f.Category)
		return c.triage(r, street.ID, fmt.Sprintf("matter %q is not in catalog %s (清单外事项): triage at street %s", f.Category, c.Version, street.ID))
	}
	step("matter %s (%s): led by %s at %s level, urgency %s", m.Code, m.Name, m.LeadKind, m.LeadLevel, m.Urgency)
	if m.Triage {
		step("the catalog marks %s as decided case by case", m.Code)
		return c.triage(r, street.ID, fmt.Sprintf("matter %s is decided case by case: triage at street %s", m.Code, street.ID))
	}
	lead, where, ok := c.find(m.LeadKind, m.LeadLevel, grid.ID)
	if !ok {
		step("no %s department serves grid %s", m.LeadKind, grid.ID)
		return c.triage(r, street.ID, fmt.Sprintf("matter %s: no %s department serves grid %s: triage at street %s", m.Code, m.LeadKind, grid.ID, street.ID))
	}
	step("%s %s's %s department is %s (%s)", where.Level, where.ID, m.LeadKind, lead.ID, lead.Name)
	r.Lead = lead.ID
	for _, k := range m.AssistKinds {
		if d, _, ok := c.find(k, LevelDistrict, grid.ID); ok && d.ID != lead.ID {
			r.Assisting = append(r.Assisting, d.ID)
			step("assisting %s: %s (%s)", k, d.ID, d.Name)
		}
	}
	var note string
	r.Clock, r.AcceptWithin, r.ResolveWithin, note = c.windows(m, f.Kind)
	step("%s: accept within %s, resolve within %s", note, r.AcceptWithin, r.ResolveWithin)
	r.AcceptDue = r.Clock.Due(now, r.AcceptWithin)
	r.ResolveDue = r.Clock.Due(now, r.ResolveWithin)
	r.Rule = fmt.Sprintf("matter %s (%s) is led by %s at %s %s: %s", m.Code, m.Name, m.LeadKind, where.Level, where.ID, lead.ID)
	if len(r.Assisting) > 0 {
		r.Rule += ", assisted by " + strings.Join(r.Assisting, ", ")
	}
	r.Rule += fmt.Sprintf("; accept within %s, resolve within %s (%s)", r.AcceptWithin, r.ResolveWithin, note)
	return r
}

func (c *Catalog) triage(r Route, at, rule string) Route {
	r.Triage, r.TriageOrgUnit, r.Rule = true, at, rule
	r.Steps = append(r.Steps, "waits for a person at "+at)
	return r
}

// windows returns how a matter's deadlines count for a whistle kind, and a note saying so.
func (c *Catalog) windows(m Matter, kind int32) (calendar.Clock, calendar.Window, calendar.Window, string) {
	accept, resolve := m.AcceptWithin, m.ResolveWithin
	switch {
	case kind == kindEmergency:
		return calendar.Clock{Cal: c.Calendar, Wall: true}, accept.Min(EmergencyAcceptWithin), resolve.Min(EmergencyResolveWithin),
			"emergency whistle, wall-clock time"
	case m.Urgency == "critical":
		return calendar.Clock{Cal: c.Calendar, Wall: true}, accept, resolve, "critical matter, wall-clock time"
	case kind == kindTough:
		return calendar.Clock{Cal: c.Calendar}, accept, resolve.Scale(ToughResolveFactor), "tough whistle, working time, resolve window doubled"
	}
	return calendar.Clock{Cal: c.Calendar}, accept, resolve, "working time"
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

// Within reports whether org unit id is unit or lies below it.
func (c *Catalog) Within(id, unit string) bool {
	for u, ok := c.units[id]; ok; u, ok = c.units[u.ParentID] {
		if u.ID == unit {
			return true
		}
	}
	return false
}

// Serves reports whether department dept may handle tickets of grid: it
// belongs to the grid's district or to the city.
func (c *Catalog) Serves(dept, grid string) bool {
	d, ok := c.departments[dept]
	return ok && c.Within(grid, d.OrgUnitID)
}

// Path lists the org units from id up to the city (empty for an unknown id).
func (c *Catalog) Path(id string) []string {
	var out []string
	for u, ok := c.units[id]; ok; u, ok = c.units[u.ParentID] {
		out = append(out, u.ID)
	}
	return out
}

// Below lists unit and every org unit under it.
func (c *Catalog) Below(unit string) []string {
	var out []string
	for _, id := range c.unitOrder {
		if c.Within(id, unit) {
			out = append(out, id)
		}
	}
	return out
}

// supervisor returns the org unit that supervises a ticket of grid at an
// escalation level: 1 the street, 2 the district, 3 the city.
func (c *Catalog) supervisor(grid string, level int32) string {
	want := map[int32]Level{1: LevelStreet, 2: LevelDistrict}[level]
	if u, ok := c.ancestor(grid, want); ok && want != 0 {
		return u.ID
	}
	return c.city()
}

// arbiter returns where a dispute over a department's ticket is decided: the
// grid's street for a district department, the district for a city one.
func (c *Catalog) arbiter(grid, dept string) string {
	level := LevelStreet
	if d, ok := c.departments[dept]; ok {
		if u, ok := c.units[d.OrgUnitID]; ok && u.Level == LevelCity {
			level = LevelDistrict
		}
	}
	if u, ok := c.ancestor(grid, level); ok {
		return u.ID
	}
	return c.city()
}

// alternative returns the first department of one of the matter's
// alternative kinds that serves grid and is not excluded.
func (c *Catalog) alternative(category, grid string, exclude []string) (Department, bool) {
	m, ok := c.matters[category]
	if !ok {
		return Department{}, false
	}
	for _, k := range m.Alternatives {
		d, _, ok := c.find(k, LevelDistrict, grid)
		if ok && !contains(exclude, d.ID) {
			return d, true
		}
	}
	return Department{}, false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
