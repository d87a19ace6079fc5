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
	ID       string    `yaml:"id"`
	Name     string    `yaml:"name"`
	Level    string    `yaml:"level"`
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
	Assist             []string `yaml:"assist"`
	Alternatives       []string `yaml:"alternatives"`
	Urgency            string   `yaml:"urgency"`
	AcceptWithin       string   `yaml:"accept_within"`
	ResolveWithin      string   `yaml:"resolve_within"`
	CommunityMaySummon bool     `yaml:"community_may_summon"`
	Triage             bool     `yaml:"triage"`
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
	var problems []error
	var units []OrgUnit
	var walk func(parent string, nodes []orgFile)
	walk = func(parent string, nodes []orgFile) {
		for _, n := range nodes {
			l, ok := ParseLevel(n.Level)
			if !ok {
				problems = append(problems, fmt.Errorf("org unit %q: unknown level %q", n.ID, n.Level))
			}
			units = append(units, OrgUnit{ID: n.ID, Name: n.Name, Level: l, ParentID: parent})
			walk(n.ID, n.Children)
		}
	}
	walk("", f.Org)
	depts := make([]Department, 0, len(f.Departments))
	for _, d := range f.Departments {
		depts = append(depts, Department{ID: d.ID, Name: d.Name, Kind: d.Kind, OrgUnitID: d.OrgUnit})
	}
	matters := make([]Matter, 0, len(f.Matters))
	for _, m := range f.Matters {
		level, _ := ParseLevel(m.Lead.Level)
		accept, err1 := parseWindow(m.AcceptWithin)
		resolve, err2 := parseWindow(m.ResolveWithin)
		if err := errors.Join(err1, err2); err != nil {
			problems = append(problems, fmt.Errorf("matter %q: %v", m.Code, err))
		}
		matters = append(matters, Matter{Code: m.Code, Name: m.Name, LeadKind: m.Lead.Kind, LeadLevel: level,
			AssistKinds: m.Assist, Alternatives: m.Alternatives, Urgency: m.Urgency, AcceptWithin: accept,
			ResolveWithin: resolve, CommunityMaySummon: m.CommunityMaySummon, Triage: m.Triage})
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

func parseWindow(s string) (calendar.Window, error) {
	if s == "" {
		return calendar.Window{}, nil // reported as "no deadlines" by NewCatalog
	}
	return calendar.ParseWindow(s)
}
