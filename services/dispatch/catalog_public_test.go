package dispatch_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/services/dispatch"
)

// publicCatalog is a one-grid catalog: the grid "g" gets centre (a YAML
// value, none if empty) and the matter "pothole" the YAML lines of matter
// (keys at the matter's indentation, e.g. "group: 道路").
func publicCatalog(centre string, matter ...string) string {
	grid := ""
	if centre != "" {
		grid = "                    centre: " + centre + "\n"
	}
	var extra strings.Builder
	for _, l := range matter {
		extra.WriteString("    " + l + "\n")
	}
	return `version: "public-1"
org:
  - id: c
    name: C
    level: city
    children:
      - id: d
        name: D
        level: district
        children:
          - id: s
            name: S
            level: street
            children:
              - id: m
                name: M
                level: community
                children:
                  - id: g
                    name: G
                    level: grid
` + grid + `departments:
  - {id: d-urban, name: U, kind: urban, org_unit: d}
matters:
  - code: pothole
    name: "坑洼"
    lead: {kind: urban, level: district}
    urgency: normal
    accept_within: 2h
    resolve_within: 3d
` + extra.String()
}

// attrs is the attributes key with the given flow-style attributes.
func attrs(a ...string) string { return "attributes: [" + strings.Join(a, ", ") + "]" }

// repeat is n comma-separated copies of format, each given its index.
func repeat(n int, format string) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(format, i)
	}
	return strings.Join(parts, ", ")
}

const yesNo = `values: [{key: "yes", name: "有"}, {key: "no", name: "没有"}]`

func TestCatalogPublicFieldsParse(t *testing.T) {
	t.Parallel()
	x := strings.Repeat
	tests := []struct {
		name   string
		src    string
		centre *dispatch.Point // of the grid
		check  func(m dispatch.Matter) string
	}{
		{name: "nothing new: the description is the name", src: publicCatalog(""),
			check: func(m dispatch.Matter) string {
				if m.Description != "坑洼" || m.Keywords != nil || m.Group != "" || m.Attributes != nil {
					return fmt.Sprintf("%+v", m)
				}
				return ""
			}},
		{name: "a blank description is the name too", src: publicCatalog("", `description: "  "`),
			check: func(m dispatch.Matter) string { return unless(m.Description == "坑洼", m.Description) }},
		{name: "centre", src: publicCatalog("[40.8469, 111.6659]"), centre: &dispatch.Point{Lat: 40.8469, Lng: 111.6659}},
		{name: "centre in whole degrees", src: publicCatalog("[-90, 180]"), centre: &dispatch.Point{Lat: -90, Lng: 180}},
		{name: "centre null is none", src: publicCatalog("~")},
		{name: "description, group and keywords",
			src: publicCatalog("", `description: "路面坑洼"`, `group: "道路与设施"`, `keywords: ["道路", "坑"]`),
			check: func(m dispatch.Matter) string {
				return unless(m.Description == "路面坑洼" && m.Group == "道路与设施" && reflect.DeepEqual(m.Keywords, []string{"道路", "坑"}),
					fmt.Sprintf("%+v", m))
			}},
		{name: "attributes in order, choices with their values",
			src: publicCatalog("", attrs(`{code: floor, description: "几楼？", type: number, required: true, type_description: "楼层数字"}`,
				`{code: hurt, description: "有人受伤吗？", type: single_choice, `+yesNo+`}`)),
			check: func(m dispatch.Matter) string {
				want := []dispatch.MatterAttribute{
					{Code: "floor", Description: "几楼？", Type: dispatch.AttributeNumber, Required: true, TypeDescription: "楼层数字"},
					{Code: "hurt", Description: "有人受伤吗？", Type: dispatch.AttributeSingleChoice,
						Values: []dispatch.AttributeValue{{Key: "yes", Name: "有"}, {Key: "no", Name: "没有"}}},
				}
				return unless(reflect.DeepEqual(m.Attributes, want), fmt.Sprintf("%+v", m.Attributes))
			}},
		{name: "every type", src: publicCatalog("", attrs(`{code: a, description: q, type: string}`, `{code: b, description: q, type: number}`,
			`{code: c, description: q, type: datetime}`, `{code: d, description: q, type: text}`,
			`{code: e, description: q, type: single_choice, `+yesNo+`}`, `{code: f, description: q, type: multi_choice, `+yesNo+`}`)),
			check: func(m dispatch.Matter) string {
				var got []dispatch.AttributeType
				for _, a := range m.Attributes {
					got = append(got, a.Type)
				}
				return unless(reflect.DeepEqual(got, dispatch.AttributeTypes), fmt.Sprint(got))
			}},
		{name: "every bound reached", src: publicCatalog("", `description: "`+x("述", 1000)+`"`, `group: "`+x("组", 100)+`"`,
			"keywords: ["+repeat(19, "k%d")+`, "`+x("词", 50)+`"]`,
			attrs(repeat(19, "{code: a%d, description: q, type: text}"),
				`{code: `+x("z", 64)+`, description: "`+x("问", 200)+`", type: multi_choice, type_description: "`+x("说", 200)+
					`", values: [`+repeat(49, "{key: v%d, name: n}")+`, {key: `+x("k", 64)+`, name: "`+x("名", 100)+`"}]}`)),
			check: func(m dispatch.Matter) string {
				return unless(len(m.Keywords) == 20 && len(m.Attributes) == 20 && len(m.Attributes[19].Values) == 50, "lost entries")
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := dispatch.ParseCatalog([]byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			if g, _ := c.Unit("g"); !reflect.DeepEqual(g.Centre, tt.centre) {
				t.Errorf("grid centre %v, want %v", g.Centre, tt.centre)
			}
			m, _ := c.Matter("pothole")
			if tt.check != nil {
				if msg := tt.check(m); msg != "" {
					t.Errorf("matter: %s", msg)
				}
			}
		})
	}
}

// unless is msg when ok is false, else "".
func unless(ok bool, msg string) string {
	if ok {
		return ""
	}
	return msg
}

func TestCatalogPublicFieldsRefused(t *testing.T) {
	t.Parallel()
	x := strings.Repeat
	one := func(a string) string { return publicCatalog("", attrs(a)) }
	const at = `matter "pothole": attribute `
	tests := []struct {
		name string
		src  string
		want string // the problem says it
	}{
		{"centre of one number", publicCatalog("[40.8]"), `org unit "g": centre (line 22) must be two numbers, [latitude, longitude]`},
		{"centre of three numbers", publicCatalog("[40.8, 111.7, 5]"), `org unit "g": centre`},
		{"centre not a list", publicCatalog("north"), `org unit "g": centre`},
		{"centre of text", publicCatalog(`["40.8", "111.7"]`), `org unit "g": centre`},
		{"centre of a map", publicCatalog("{lat: 40.8, lon: 111.7}"), `org unit "g": centre`},
		{"latitude beyond 90", publicCatalog("[90.5, 111.7]"), `org unit "g": centre [90.5, 111.7] must be a latitude from -90 to 90`},
		{"longitude beyond -180", publicCatalog("[40.8, -181]"), `org unit "g": centre [40.8, -181] must be`},
		{"latitude NaN", publicCatalog("[.nan, 111.7]"), `org unit "g": centre [NaN, 111.7] must be`},
		{"longitude infinite", publicCatalog("[40.8, .inf]"), `org unit "g": centre [40.8, +Inf] must be`},
		{"description too long", publicCatalog("", `description: "`+x("述", 1001)+`"`), `matter "pothole": description has 1001 characters, more than 1000`},
		{"group too long", publicCatalog("", `group: "`+x("组", 101)+`"`), `matter "pothole": group has 101 characters, more than 100`},
		{"too many keywords", publicCatalog("", "keywords: ["+repeat(21, "k%d")+"]"), `matter "pothole" has 21 keywords, more than 20`},
		{"empty keyword", publicCatalog("", `keywords: [a, ""]`), `matter "pothole": keyword 2 ("") must be 1 to 50 characters`},
		{"keyword too long", publicCatalog("", `keywords: ["`+x("词", 51)+`"]`), `matter "pothole": keyword 1`},
		{"too many attributes", publicCatalog("", attrs(repeat(21, "{code: a%d, description: q, type: text}"))),
			`matter "pothole" has 21 attributes, more than 20`},
		{"attribute code in capitals", one(`{code: Floor, description: q, type: number}`), at + `"Floor": code must be 1 to 64 of a-z, 0-9 and _`},
		{"attribute without a code", one(`{description: q, type: number}`), at + `"": code must be`},
		{"attribute code too long", one(`{code: ` + x("a", 65) + `, description: q, type: number}`), at + `"` + x("a", 65) + `": code must be`},
		{"attribute code twice", publicCatalog("", attrs(`{code: a, description: q, type: text}`, `{code: a, description: r, type: text}`)),
			at + `"a" appears twice`},
		{"attribute without a description", one(`{code: floor, type: number}`), at + `"floor": description (the question asked) must be 1 to 200 characters`},
		{"attribute description too long", one(`{code: floor, description: "` + x("问", 201) + `", type: number}`), at + `"floor": description`},
		{"type_description too long", one(`{code: floor, description: q, type: number, type_description: "` + x("说", 201) + `"}`),
			at + `"floor": type_description has 201 characters, more than 200`},
		{"unknown type", one(`{code: floor, description: q, type: float}`), at + `"floor": type "float" is not one of [string number datetime text single_choice multi_choice]`},
		{"no type", one(`{code: floor, description: q}`), at + `"floor": type "" is not one of`},
		{"values of a number", one(`{code: floor, description: q, type: number, ` + yesNo + `}`),
			at + `"floor": values are only for single_choice and multi_choice attributes; remove them or change the type`},
		{"single choice without values", one(`{code: hurt, description: q, type: single_choice}`), at + `"hurt": a single_choice attribute needs 1 to 50 values, has 0`},
		{"multi choice of 51 values", one(`{code: kinds, description: q, type: multi_choice, values: [` + repeat(51, "{key: v%d, name: n}") + `]}`),
			at + `"kinds": a multi_choice attribute needs 1 to 50 values, has 51`},
		{"value key twice", one(`{code: hurt, description: q, type: single_choice, values: [{key: "yes", name: 有}, {key: "yes", name: 是}]}`),
			at + `"hurt": value key "yes" appears twice`},
		{"value key in capitals", one(`{code: hurt, description: q, type: single_choice, values: [{key: "Yes", name: 有}]}`),
			at + `"hurt": value key "Yes" must be 1 to 64 of a-z, 0-9 and _`},
		{"value key too long", one(`{code: hurt, description: q, type: single_choice, values: [{key: ` + x("k", 65) + `, name: 有}]}`),
			at + `"hurt": value key "` + x("k", 65) + `" must be`},
		{"value without a name", one(`{code: hurt, description: q, type: single_choice, values: [{key: "yes"}]}`),
			at + `"hurt": value "yes" needs a name of 1 to 100 characters`},
		{"value name too long", one(`{code: hurt, description: q, type: single_choice, values: [{key: "yes", name: "` + x("名", 101) + `"}]}`),
			at + `"hurt": value "yes" needs a name`},
		{"unknown attribute key", one(`{code: floor, description: q, type: number, datatype: number}`), "field datatype not found"},
		{"unknown value key", one(`{code: hurt, description: q, type: single_choice, values: [{key: "yes", name: 有, label: 有}]}`),
			"field label not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := dispatch.ParseCatalog([]byte(tt.src))
			if c != nil || !errors.Is(err, dispatch.ErrBadCatalog) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v\nwant ErrBadCatalog saying %q", err, tt.want)
			}
		})
	}
}

// Problems with centres and attributes are listed with the others, all at once.
func TestCatalogPublicProblemsListedTogether(t *testing.T) {
	t.Parallel()
	src := strings.Replace(publicCatalog("[1]", `keywords: [""]`, attrs(`{code: floor, description: q, type: float}`)),
		"accept_within: 2h", "accept_within: soon", 1)
	_, err := dispatch.ParseCatalog([]byte(src))
	for _, want := range []string{`org unit "g": centre`, `keyword 1 ("")`, `type "float"`, `window "soon"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

// TestSampleCatalogIsPublic: every unit of the sample has a centre, distinct
// among the grids and near its community; every matter a description, group
// and 2–4 keywords; and the attributes the Open311 gateway shows are there.
func TestSampleCatalogIsPublic(t *testing.T) {
	t.Parallel()
	c := sample(t)
	grids := map[dispatch.Point]string{}
	for _, u := range c.Units() {
		if u.Centre == nil {
			t.Errorf("%s %s has no centre", u.Level, u.ID)
			continue
		}
		if u.Level != dispatch.LevelGrid {
			continue
		}
		if other, dup := grids[*u.Centre]; dup {
			t.Errorf("grids %s and %s share a centre", other, u.ID)
		}
		grids[*u.Centre] = u.ID
		if p, _ := c.Unit(u.ParentID); p.Centre != nil && (abs(p.Centre.Lat-u.Centre.Lat) > 0.003 || abs(p.Centre.Lng-u.Centre.Lng) > 0.004) {
			t.Errorf("grid %s is far from its community: %v, %v", u.ID, *u.Centre, *p.Centre)
		}
	}
	if len(grids) != 24 {
		t.Errorf("%d grids with a centre, want 24", len(grids))
	}
	for _, m := range c.Matters() {
		if m.Description == m.Name || m.Group == "" || len(m.Keywords) < 2 || len(m.Keywords) > 4 {
			t.Errorf("matter %s: description %q, group %q, keywords %q", m.Code, m.Description, m.Group, m.Keywords)
		}
	}
	yesNo := []dispatch.AttributeValue{{Key: "yes", Name: "有"}, {Key: "no", Name: "没有"}}
	tests := []struct {
		matter string
		want   dispatch.MatterAttribute
	}{
		{"water_leak", dispatch.MatterAttribute{Code: "floor", Description: "漏水在几楼？", Type: dispatch.AttributeNumber, Required: true,
			TypeDescription: "楼层数字，室外或地面填 0"}},
		{"water_leak", dispatch.MatterAttribute{Code: "affects_neighbours", Description: "有没有影响到邻居？",
			Type: dispatch.AttributeSingleChoice, Values: yesNo}},
		{"fallen_tree", dispatch.MatterAttribute{Code: "anyone_hurt", Description: "有没有人受伤？", Type: dispatch.AttributeSingleChoice,
			Required: true, Values: yesNo}},
		{"manhole_cover_missing", dispatch.MatterAttribute{Code: "anyone_hurt", Description: "有没有人受伤？",
			Type: dispatch.AttributeSingleChoice, Required: true, Values: yesNo}},
	}
	for _, tt := range tests {
		m, _ := c.Matter(tt.matter)
		if !hasAttribute(m, tt.want) {
			t.Errorf("matter %s lacks %+v; has %+v", tt.matter, tt.want, m.Attributes)
		}
	}
}

func hasAttribute(m dispatch.Matter, want dispatch.MatterAttribute) bool {
	for _, a := range m.Attributes {
		if reflect.DeepEqual(a, want) {
			return true
		}
	}
	return false
}

func abs(f float64) float64 { return max(f, -f) }

// TestGetCatalogCarriesPublicFields: GetCatalog returns the centres,
// descriptions, keywords, groups and attributes, every attribute type as its
// enum value; a matter without a description is described by its name.
func TestGetCatalogCarriesPublicFields(t *testing.T) {
	t.Parallel()
	f := newFixture(t, dispatch.Config{})
	ctx := context.Background()
	src := publicCatalog("[40.8469, 111.6659]", `group: "道路与设施"`, attrs(`{code: a, description: q, type: string}`,
		`{code: b, description: q, type: number}`, `{code: c, description: q, type: datetime}`, `{code: d, description: q, type: text}`,
		`{code: e, description: q, type: single_choice, required: true, `+yesNo+`}`, `{code: f, description: q, type: multi_choice, `+yesNo+`}`))
	if _, err := f.client.ImportCatalog(ctx, &whistlev1.ImportCatalogRequest{Source: src, Actor: admin}); err != nil {
		t.Fatal(err)
	}
	sampleResp, err := f.client.GetCatalog(ctx, &whistlev1.GetCatalogRequest{})
	if err != nil {
		t.Fatal(err)
	}
	publicResp, err := f.client.GetCatalog(ctx, &whistlev1.GetCatalogRequest{Version: "public-1"})
	if err != nil {
		t.Fatal(err)
	}
	values := []*whistlev1.AttributeValue{{Key: "yes", Name: "有"}, {Key: "no", Name: "没有"}}
	q := func(code string, typ whistlev1.AttributeType) *whistlev1.MatterAttribute {
		return &whistlev1.MatterAttribute{Code: code, Description: "q", Type: typ}
	}
	tests := []struct {
		name   string
		resp   *whistlev1.GetCatalogResponse
		unit   string
		centre *whistlev1.Coordinates
		matter string
		want   *whistlev1.MatterType // its public fields
	}{
		{name: "sample: a grid and the water leak", resp: sampleResp, unit: "xc-hd-dj-g01",
			centre: &whistlev1.Coordinates{Latitude: 40.8469, Longitude: 111.6659}, matter: "water_leak",
			want: &whistlev1.MatterType{Description: "供水管道、水表或阀门漏水、爆管。", Keywords: []string{"漏水", "水管", "爆管", "自来水"},
				Group: "供水与排水", Attributes: []*whistlev1.MatterAttribute{
					{Code: "floor", Description: "漏水在几楼？", Type: whistlev1.AttributeType_ATTRIBUTE_TYPE_NUMBER, Required: true,
						TypeDescription: "楼层数字，室外或地面填 0"},
					{Code: "affects_neighbours", Description: "有没有影响到邻居？", Type: whistlev1.AttributeType_ATTRIBUTE_TYPE_SINGLE_CHOICE,
						Values: values}}}},
		{name: "sample: the city", resp: sampleResp, unit: "hh", centre: &whistlev1.Coordinates{Latitude: 40.8, Longitude: 111.7}},
		{name: "imported: every type, the name as description", resp: publicResp, unit: "g",
			centre: &whistlev1.Coordinates{Latitude: 40.8469, Longitude: 111.6659}, matter: "pothole",
			want: &whistlev1.MatterType{Description: "坑洼", Group: "道路与设施", Attributes: []*whistlev1.MatterAttribute{
				q("a", whistlev1.AttributeType_ATTRIBUTE_TYPE_STRING), q("b", whistlev1.AttributeType_ATTRIBUTE_TYPE_NUMBER),
				q("c", whistlev1.AttributeType_ATTRIBUTE_TYPE_DATETIME), q("d", whistlev1.AttributeType_ATTRIBUTE_TYPE_TEXT),
				{Code: "e", Description: "q", Type: whistlev1.AttributeType_ATTRIBUTE_TYPE_SINGLE_CHOICE, Required: true, Values: values},
				{Code: "f", Description: "q", Type: whistlev1.AttributeType_ATTRIBUTE_TYPE_MULTI_CHOICE, Values: values}}}},
		{name: "imported: a unit without a centre", resp: publicResp, unit: "m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if u := findUnit(tt.resp, tt.unit); u == nil || !proto.Equal(u.GetCentre(), tt.centre) {
				t.Errorf("unit %s: %v, want centre %v", tt.unit, u, tt.centre)
			}
			if tt.matter == "" {
				return
			}
			m := findMatter(tt.resp, tt.matter)
			got := &whistlev1.MatterType{Description: m.GetDescription(), Keywords: m.GetKeywords(), Group: m.GetGroup(),
				Attributes: m.GetAttributes()}
			if !proto.Equal(got, tt.want) {
				t.Errorf("matter %s:\n got %v\nwant %v", tt.matter, got, tt.want)
			}
		})
	}
}

func findUnit(resp *whistlev1.GetCatalogResponse, id string) *whistlev1.OrgUnit {
	for _, u := range resp.GetOrgUnits() {
		if u.GetId() == id {
			return u
		}
	}
	return nil
}

func findMatter(resp *whistlev1.GetCatalogResponse, code string) *whistlev1.MatterType {
	for _, m := range resp.GetMatters() {
		if m.GetCode() == code {
			return m
		}
	}
	return nil
}
