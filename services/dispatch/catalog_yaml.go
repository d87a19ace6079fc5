package dispatch

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"github.com/whistle-civic/whistle/pkg/calendar"
	"io"

	"gopkg.in/yaml.v3"
)

// SampleCatalog is deploy/seed/catalog.yaml, the sample city that `whistle
// dev` and the tests load (copied here by `make generate`, because embedded
// files must live in the module).
//
//go:embed seed/catalog.yaml
var SampleCatalog []byte

// catalogFile is the YAML form of a catalog (see deploy/seed/catalog.yaml).
// The org tree nests through children, so it cannot hold a cycle.
type catalogFile struct {
	Version     string       `yaml:"version"`
	CityCode    string       `yaml:"city_code"`
	Calendar    calendarFile `yaml:"calendar"`
	Org         []orgFile    `yaml:"org"`
	Departments []deptFile   `yaml:"departments"`
	Matters     []matterFile `yaml:"matters"`
}

type calendarFile struct {
	TimeZone     string   `yaml:"time_zone"`
	WorkingHours []string `yaml:"working_hours"`
	WorkingDays  []string `yaml:"working_days"`
	Holidays     []string `yaml:"holidays"`
	MakeUpDays   []string `yaml:"make_up_days"`
	CoversUntil  string   `yaml:"covers_until"`
}

type orgFile struct {
	ID    string `yaml:"id"`
	Name  string `yaml:"name"`
	Level string `yaml:"level"`
	// Centre is [latitude, longitude], decoded by parseCentre so that a
	// malformed one is a problem naming the unit.
	Centre   yaml.Node `yaml:"centre"`
	Children []orgFile `yaml:"children"`
}

type deptFile struct {
	ID      string `yaml:"id"`
	Name    string `yaml:"name"`
	Kind    string `yaml:"kind"`
	OrgUnit string `yaml:"org_unit"`
}

type matterFile struct {
	Code string `yaml:"code"`
	Name string `yaml:"name"`
	Lead struct {
		Kind  string `yaml:"kind"`
		Level string `yaml:"level"`
	} `yaml:"lead"`
	Assist             []string        `yaml:"assist"`
	Alternatives       []string        `yaml:"alternatives"`
	Urgency            string          `yaml:"urgency"`
	AcceptWithin       string          `yaml:"accept_within"`
	ResolveWithin      string          `yaml:"resolve_within"`
	CommunityMaySummon bool            `yaml:"community_may_summon"`
	Triage             bool            `yaml:"triage"`
	Description        string          `yaml:"description"`
	Keywords           []string        `yaml:"keywords"`
	Group              string          `yaml:"group"`
	Attributes         []attributeFile `yaml:"attributes"`
}

type attributeFile struct {
	Code            string      `yaml:"code"`
	Description     string      `yaml:"description"`
	Type            string      `yaml:"type"`
	Required        bool        `yaml:"required"`
	TypeDescription string      `yaml:"type_description"`
	Values          []valueFile `yaml:"values"`
}

type valueFile struct {
	Key  string `yaml:"key"`
	Name string `yaml:"name"`
}

// ParseCatalog reads a catalog from YAML. Unknown keys are errors, and every
// problem is listed at once.
func ParseCatalog(data []byte) (*Catalog, error) {
	var f catalogFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: not a catalog file: %v", ErrBadCatalog, err)
	}
	units, problems := parseUnits(f.Org)
	depts := make([]Department, 0, len(f.Departments))
	for _, d := range f.Departments {
		depts = append(depts, Department{ID: d.ID, Name: d.Name, Kind: d.Kind, OrgUnitID: d.OrgUnit})
	}
	matters := make([]Matter, 0, len(f.Matters))
	for _, mf := range f.Matters {
		m, err := mf.matter()
		if err != nil {
			problems = append(problems, err)
		}
		matters = append(matters, m)
	}
	c, err := NewCatalog(CatalogInput{Version: f.Version, CityCode: f.CityCode, Units: units, Departments: depts,
		Matters: matters, Source: data, Calendar: calendar.Spec{TimeZone: f.Calendar.TimeZone,
			WorkingHours: f.Calendar.WorkingHours, WorkingDays: f.Calendar.WorkingDays,
			Holidays: f.Calendar.Holidays, MakeUpDays: f.Calendar.MakeUpDays, CoversUntil: f.Calendar.CoversUntil}})
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %v", ErrBadCatalog, errors.Join(append(problems, err)...))
	}
	return c, err
}

// parseUnits flattens the org tree, parent before children.
func parseUnits(nodes []orgFile) ([]OrgUnit, []error) {
	var units []OrgUnit
	var problems []error
	var walk func(parent string, nodes []orgFile)
	walk = func(parent string, nodes []orgFile) {
		for _, n := range nodes {
			l, ok := ParseLevel(n.Level)
			if !ok {
				problems = append(problems, fmt.Errorf("org unit %q: unknown level %q", n.ID, n.Level))
			}
			centre, err := parseCentre(n.ID, &n.Centre)
			if err != nil {
				problems = append(problems, err)
			}
			units = append(units, OrgUnit{ID: n.ID, Name: n.Name, Level: l, ParentID: parent, Centre: centre})
			walk(n.ID, n.Children)
		}
	}
	walk("", nodes)
	return units, problems
}

// parseCentre reads a unit's centre, [latitude, longitude]; nil when absent
// or null. NewCatalog checks the range.
func parseCentre(unit string, n *yaml.Node) (*Point, error) {
	if n.Kind == 0 || n.ShortTag() == "!!null" {
		return nil, nil
	}
	var ll []float64
	if err := n.Decode(&ll); err != nil || len(ll) != 2 {
		return nil, fmt.Errorf("org unit %q: centre (line %d) must be two numbers, [latitude, longitude]", unit, n.Line)
	}
	return &Point{Lat: ll[0], Lng: ll[1]}, nil
}

// matter reads a matter; the error lists its unreadable windows.
func (m matterFile) matter() (Matter, error) {
	level, _ := ParseLevel(m.Lead.Level)
	accept, err1 := parseWindow(m.AcceptWithin)
	resolve, err2 := parseWindow(m.ResolveWithin)
	err := errors.Join(err1, err2)
	if err != nil {
		err = fmt.Errorf("matter %q: %v", m.Code, err)
	}
	var attrs []MatterAttribute
	for _, a := range m.Attributes {
		attrs = append(attrs, a.attribute())
	}
	return Matter{Code: m.Code, Name: m.Name, LeadKind: m.Lead.Kind, LeadLevel: level,
		AssistKinds: m.Assist, Alternatives: m.Alternatives, Urgency: m.Urgency, AcceptWithin: accept,
		ResolveWithin: resolve, CommunityMaySummon: m.CommunityMaySummon, Triage: m.Triage,
		Description: m.Description, Keywords: m.Keywords, Group: m.Group, Attributes: attrs}, err
}

func (a attributeFile) attribute() MatterAttribute {
	var values []AttributeValue
	for _, v := range a.Values {
		values = append(values, AttributeValue(v))
	}
	return MatterAttribute{Code: a.Code, Description: a.Description, Type: AttributeType(a.Type), Required: a.Required,
		TypeDescription: a.TypeDescription, Values: values}
}

func parseWindow(s string) (calendar.Window, error) {
	if s == "" {
		return calendar.Window{}, nil // reported as "no deadlines" by NewCatalog
	}
	return calendar.ParseWindow(s)
}
