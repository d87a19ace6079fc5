package dispatch

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/whistle-civic/whistle/pkg/apperr"
	"github.com/whistle-civic/whistle/pkg/calendar"
)

// versionPattern is what a catalog version must look like: the pattern the
// API's version fields check (GetCatalog, ActivateCatalog, DiffCatalogs), so
// every stored version can be named.
var versionPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// Level is a level of the org tree; values equal whistle.v1.OrgLevel.
type Level int32

// The org tree's levels, top down.
const (
	LevelCity      Level = 1
	LevelDistrict  Level = 2
	LevelStreet    Level = 3
	LevelCommunity Level = 4
	LevelGrid      Level = 5
)

var levelNames = map[string]Level{"city": LevelCity, "district": LevelDistrict, "street": LevelStreet,
	"community": LevelCommunity, "grid": LevelGrid}

// ParseLevel reads a level's name ("district").
func ParseLevel(s string) (Level, bool) {
	l, ok := levelNames[s]
	return l, ok
}

// String names the level.
func (l Level) String() string {
	for n, v := range levelNames {
		if v == l {
			return n
		}
	}
	return fmt.Sprintf("Level(%d)", int32(l))
}

// OrgUnit is a node of the org tree.
type OrgUnit struct {
	ID, Name string
	Level    Level
	ParentID string
	// Centre is a point inside the unit (a grid's centre), or nil when the
	// catalog gives none.
	Centre *Point
}

// Point is a place in degrees (WGS 84 latitude and longitude), as pkg/geo
// names it.
type Point struct {
	Lat, Lng float64
}

// Valid reports whether p is a finite latitude from -90 to 90 and longitude
// from -180 to 180.
func (p Point) Valid() bool {
	return p.Lat >= -90 && p.Lat <= 90 && p.Lng >= -180 && p.Lng <= 180 // false for NaN and infinities too
}

// Department is a functional department at city or district level.
type Department struct {
	ID, Name string
	// Kind says what it does, e.g. "urban-management"; matters name kinds.
	Kind string
	// OrgUnitID is the city or district it belongs to.
	OrgUnitID string
}

// Matter is an entry of the matter catalog (事项清单).
type Matter struct {
	Code, Name  string
	LeadKind    string
	LeadLevel   Level
	AssistKinds []string
	// Alternatives are kinds of departments that may own the matter instead
	// of the lead kind; a returned ticket is re-routed to the first one that
	// serves its grid and has not returned it yet.
	Alternatives []string
	// Urgency is low, normal, high or critical; critical matters count their
	// deadlines in wall-clock time.
	Urgency            string
	AcceptWithin       calendar.Window
	ResolveWithin      calendar.Window
	CommunityMaySummon bool
	// Triage sends every ticket of the matter to a person: its ownership is
	// decided case by case.
	Triage bool
	// Description tells the public what the matter is; NewCatalog makes it
	// the name when the catalog gives none (or a blank one).
	Description string
	// Keywords are words people may search the matter by.
	Keywords []string
	// Group is what the matter is listed under, e.g. "道路与设施"; may be empty.
	Group string
	// Attributes are the further facts a report of the matter asks for, in
	// order.
	Attributes []MatterAttribute
}

// MatterAttribute is a further fact a report of a matter asks for, e.g.
// which floor water leaks on.
type MatterAttribute struct {
	// Code names it, unique in the matter, e.g. "floor".
	Code string
	// Description is the question asked, e.g. "漏水在几楼？".
	Description string
	Type        AttributeType
	// Required is true when a report of the matter must give it.
	Required bool
	// TypeDescription explains the expected value, e.g. "楼层数字"; may be empty.
	TypeDescription string
	// Values are the choices of a choice attribute, in order; other types
	// have none.
	Values []AttributeValue
}

// AttributeValue is one choice of a choice attribute.
type AttributeValue struct {
	// Key is stored with the report, e.g. "yes"; Name is shown, e.g. "有".
	Key, Name string
}

// AttributeType is what kind of value an attribute takes, as the catalog
// names it; they are Open311's datatypes and whistle.v1.AttributeType's.
type AttributeType string

// The attribute types.
const (
	AttributeString       AttributeType = "string"
	AttributeNumber       AttributeType = "number"
	AttributeDateTime     AttributeType = "datetime"
	AttributeText         AttributeType = "text"
	AttributeSingleChoice AttributeType = "single_choice"
	AttributeMultiChoice  AttributeType = "multi_choice"
)

// AttributeTypes are the attribute types a catalog may name.
var AttributeTypes = []AttributeType{AttributeString, AttributeNumber, AttributeDateTime, AttributeText,
	AttributeSingleChoice, AttributeMultiChoice}

// IsChoice reports whether the type takes one or more of listed values.
func (t AttributeType) IsChoice() bool {
	return t == AttributeSingleChoice || t == AttributeMultiChoice
}

// Urgencies are the matter urgency classes.
var Urgencies = []string{"low", "normal", "high", "critical"}

// CatalogInput is everything a catalog is built from.
type CatalogInput struct {
	Version     string
	CityCode    string
	Units       []OrgUnit
	Departments []Department
	Matters     []Matter
	Calendar    calendar.Spec
	// Source is the text the catalog was read from, kept with the version.
	Source []byte
}

// Catalog is a version of the org tree, departments, matter catalog and
// business calendar. It is immutable once built by NewCatalog.
type Catalog struct {
	Version     string
	CityCode    string
	Calendar    *calendar.Calendar
	Source      []byte
	units       map[string]OrgUnit
	departments map[string]Department
	matters     map[string]Matter
	unitOrder   []string
	deptOrder   []string
	matterOrder []string
}

// NewCatalog checks units, departments, matters and calendar together and
// returns the catalog, or an error listing every problem found.
func NewCatalog(in CatalogInput) (*Catalog, error) {
	c := &Catalog{Version: in.Version, CityCode: in.CityCode, Source: in.Source, units: map[string]OrgUnit{},
		departments: map[string]Department{}, matters: map[string]Matter{}}
	units, depts, matters := in.Units, in.Departments, in.Matters
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if len(in.Version) > 64 || !versionPattern.MatchString(in.Version) {
		bad("version must be 1 to 64 ASCII letters, digits and \"._-\", starting with a letter or digit, e.g. \"2026.11\"")
	}
	spec := in.Calendar
	if spec.TimeZone == "" && len(spec.WorkingHours) == 0 {
		spec = calendar.Default
	}
	cal, err := calendar.New(spec)
	if err != nil {
		bad("%v", err)
	}
	c.Calendar = cal
	for _, u := range units {
		if _, dup := c.units[u.ID]; dup {
			bad("org unit %q appears twice", u.ID)
		}
		c.units[u.ID] = u
		c.unitOrder = append(c.unitOrder, u.ID)
	}
	for _, u := range units {
		c.checkUnit(u, bad)
	}
	for _, d := range depts {
		if _, dup := c.departments[d.ID]; dup {
			bad("department %q appears twice", d.ID)
		}
		if _, clash := c.units[d.ID]; clash {
			bad("department %q has the id of an org unit", d.ID)
		}
		if u, ok := c.units[d.OrgUnitID]; !ok || (u.Level != LevelCity && u.Level != LevelDistrict) {
			bad("department %q belongs to %q, which is not a city or district", d.ID, d.OrgUnitID)
		}
		c.departments[d.ID] = d
		c.deptOrder = append(c.deptOrder, d.ID)
	}
	for _, m := range matters {
		if _, dup := c.matters[m.Code]; dup {
			bad("matter %q appears twice", m.Code)
		}
		c.checkMatter(m, bad)
		checkPublic(m, bad)
		if strings.TrimSpace(m.Description) == "" {
			m.Description = m.Name
		}
		c.matters[m.Code] = m
		c.matterOrder = append(c.matterOrder, m.Code)
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, fmt.Errorf("%w (%d problems):\n- %s", ErrBadCatalog, len(problems), strings.Join(problems, "\n- "))
	}
	return c, nil
}

func (c *Catalog) checkUnit(u OrgUnit, bad func(string, ...any)) {
	if u.Centre != nil && !u.Centre.Valid() {
		bad("org unit %q: centre [%g, %g] must be a latitude from -90 to 90 and a longitude from -180 to 180",
			u.ID, u.Centre.Lat, u.Centre.Lng)
	}
	if u.Level < LevelCity || u.Level > LevelGrid {
		bad("org unit %q has no valid level", u.ID)
		return
	}
	if u.Level == LevelCity {
		if u.ParentID != "" {
			bad("city %q has a parent", u.ID)
		}
		return
	}
	p, ok := c.units[u.ParentID]
	if !ok {
		bad("%s %q has no parent %s (parent %q not found)", u.Level, u.ID, u.Level-1, u.ParentID)
		return
	}
	if p.Level != u.Level-1 {
		bad("%s %q sits under %s %q; it must sit under a %s", u.Level, u.ID, p.Level, p.ID, u.Level-1)
	}
	for seen, cur := map[string]bool{u.ID: true}, p; cur.ParentID != ""; cur = c.units[cur.ParentID] {
		if seen[cur.ID] {
			bad("org unit %q is in a cycle", u.ID)
			return
		}
		seen[cur.ID] = true
	}
}

func (c *Catalog) checkMatter(m Matter, bad func(string, ...any)) {
	if m.AcceptWithin.IsZero() || m.ResolveWithin.IsZero() {
		bad("matter %q has no deadlines (accept_within and resolve_within)", m.Code)
	} else if m.ResolveWithin.Wall() < m.AcceptWithin.Wall() {
		bad("matter %q must be resolved within %s, before it must be accepted (%s)", m.Code, m.ResolveWithin, m.AcceptWithin)
	}
	if !slices.Contains(Urgencies, m.Urgency) {
		bad("matter %q: urgency %q is not one of %v", m.Code, m.Urgency, Urgencies)
	}
	for _, k := range m.Alternatives {
		if k == m.LeadKind {
			bad("matter %q: alternative kind %q is its lead kind", m.Code, k)
		}
		if !c.hasKind(k) {
			bad("matter %q: no department of alternative kind %q", m.Code, k)
		}
	}
	if m.LeadLevel != LevelCity && m.LeadLevel != LevelDistrict {
		bad("matter %q: lead level must be city or district", m.Code)
	}
	if !c.hasKind(m.LeadKind) {
		bad("matter %q: no department of lead kind %q", m.Code, m.LeadKind)
	}
	for _, k := range m.AssistKinds {
		if !c.hasKind(k) {
			bad("matter %q: no department of assisting kind %q", m.Code, k)
		}
	}
}

func (c *Catalog) hasKind(kind string) bool {
	for _, d := range c.departments {
		if d.Kind == kind {
			return true
		}
	}
	return false
}

// ErrBadCatalog is wrapped by every catalog validation error.
var ErrBadCatalog = apperr.New(apperr.InvalidArgument, "catalog refused")

// Unit returns an org unit.
func (c *Catalog) Unit(id string) (OrgUnit, bool) { u, ok := c.units[id]; return u, ok }

// Matter returns a matter by code.
func (c *Catalog) Matter(code string) (Matter, bool) { m, ok := c.matters[code]; return m, ok }

// Department returns a department by id.
func (c *Catalog) Department(id string) (Department, bool) { d, ok := c.departments[id]; return d, ok }

// Units lists the org units in catalog order.
func (c *Catalog) Units() []OrgUnit { return ordered(c.unitOrder, c.units) }

// Departments lists the departments in catalog order.
func (c *Catalog) Departments() []Department { return ordered(c.deptOrder, c.departments) }

// Matters lists the matters in catalog order.
func (c *Catalog) Matters() []Matter { return ordered(c.matterOrder, c.matters) }

func ordered[T any](keys []string, m map[string]T) []T {
	out := make([]T, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}

// ancestor returns the unit at level above (or at) id, walking up the tree.
func (c *Catalog) ancestor(id string, level Level) (OrgUnit, bool) {
	for u, ok := c.units[id]; ok; u, ok = c.units[u.ParentID] {
		if u.Level == level {
			return u, true
		}
	}
	return OrgUnit{}, false
}

// departmentOf returns the department of kind that belongs to org unit at.
func (c *Catalog) departmentOf(kind, at string) (Department, bool) {
	for _, id := range c.deptOrder {
		if d := c.departments[id]; d.Kind == kind && d.OrgUnitID == at {
			return d, true
		}
	}
	return Department{}, false
}

// Bounds of a matter's public fields, in characters (runes) or entries.
const (
	maxDescription     = 1000
	maxGroup           = 100
	maxKeywords        = 20
	maxKeyword         = 50
	maxAttributes      = 20
	maxAttributeCode   = 64
	maxQuestion        = 200 // an attribute's description
	maxTypeDescription = 200
	maxValues          = 50
	maxValueName       = 100
)

// codePattern is what an attribute code or value key looks like.
var codePattern = regexp.MustCompile(`^[a-z0-9_]+$`)

// checkPublic checks what the matter tells the public: description,
// group, keywords and attributes.
func checkPublic(m Matter, bad func(string, ...any)) {
	if n := utf8.RuneCountInString(m.Description); n > maxDescription {
		bad("matter %q: description has %d characters, more than %d", m.Code, n, maxDescription)
	}
	if n := utf8.RuneCountInString(m.Group); n > maxGroup {
		bad("matter %q: group has %d characters, more than %d", m.Code, n, maxGroup)
	}
	if len(m.Keywords) > maxKeywords {
		bad("matter %q has %d keywords, more than %d", m.Code, len(m.Keywords), maxKeywords)
	}
	for i, k := range m.Keywords {
		if !textWithin(k, maxKeyword) {
			bad("matter %q: keyword %d (%q) must be 1 to %d characters", m.Code, i+1, k, maxKeyword)
		}
	}
	if len(m.Attributes) > maxAttributes {
		bad("matter %q has %d attributes, more than %d", m.Code, len(m.Attributes), maxAttributes)
	}
	seen := map[string]bool{}
	for _, a := range m.Attributes {
		if seen[a.Code] {
			bad("matter %q: attribute %q appears twice", m.Code, a.Code)
		}
		seen[a.Code] = true
		checkAttribute(fmt.Sprintf("matter %q: attribute %q", m.Code, a.Code), a, bad)
	}
}

// checkAttribute checks one attribute; at names it in the problems.
func checkAttribute(at string, a MatterAttribute, bad func(string, ...any)) {
	if !validCode(a.Code) {
		bad("%s: code must be 1 to %d of a-z, 0-9 and _", at, maxAttributeCode)
	}
	if !textWithin(a.Description, maxQuestion) {
		bad("%s: description (the question asked) must be 1 to %d characters", at, maxQuestion)
	}
	if n := utf8.RuneCountInString(a.TypeDescription); n > maxTypeDescription {
		bad("%s: type_description has %d characters, more than %d", at, n, maxTypeDescription)
	}
	switch {
	case !slices.Contains(AttributeTypes, a.Type):
		bad("%s: type %q is not one of %v", at, a.Type, AttributeTypes)
	case !a.Type.IsChoice() && len(a.Values) > 0:
		bad("%s: values are only for single_choice and multi_choice attributes; remove them or change the type", at)
	case a.Type.IsChoice():
		checkValues(at, a, bad)
	}
}

// checkValues checks a choice attribute's values.
func checkValues(at string, a MatterAttribute, bad func(string, ...any)) {
	if len(a.Values) == 0 || len(a.Values) > maxValues {
		bad("%s: a %s attribute needs 1 to %d values, has %d", at, a.Type, maxValues, len(a.Values))
	}
	seen := map[string]bool{}
	for _, v := range a.Values {
		if !validCode(v.Key) {
			bad("%s: value key %q must be 1 to %d of a-z, 0-9 and _", at, v.Key, maxAttributeCode)
		}
		if seen[v.Key] {
			bad("%s: value key %q appears twice", at, v.Key)
		}
		seen[v.Key] = true
		if !textWithin(v.Name, maxValueName) {
			bad("%s: value %q needs a name of 1 to %d characters", at, v.Key, maxValueName)
		}
	}
}

func validCode(s string) bool { return len(s) <= maxAttributeCode && codePattern.MatchString(s) }

// textWithin reports whether s is not blank and at most limit characters.
func textWithin(s string, limit int) bool {
	return strings.TrimSpace(s) != "" && utf8.RuneCountInString(s) <= limit
}
