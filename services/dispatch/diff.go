package dispatch

import (
	"fmt"
	"slices"
	"strings"
)

// Change is one difference between two catalogs.
type Change struct {
	// Kind is "added", "removed" or "changed".
	Kind string
	// Entity is "org_unit", "department", "matter" or "calendar".
	Entity string
	// ID is the org unit id, department id or matter code.
	ID string
	// Detail says what changed, e.g. "accept_within 2h → 1h".
	Detail string
}

// Diff lists what changed from catalog a to catalog b, by entity, then id.
func Diff(a, b *Catalog) []Change {
	var out []Change
	out = append(out, diffMaps("org_unit", a.units, b.units, func(x, y OrgUnit) []string {
		return fields(pair("name", x.Name, y.Name), pair("level", x.Level.String(), y.Level.String()), pair("parent", x.ParentID, y.ParentID))
	})...)
	out = append(out, diffMaps("department", a.departments, b.departments, func(x, y Department) []string {
		return fields(pair("name", x.Name, y.Name), pair("kind", x.Kind, y.Kind), pair("org_unit", x.OrgUnitID, y.OrgUnitID))
	})...)
	out = append(out, diffMaps("matter", a.matters, b.matters, func(x, y Matter) []string {
		return fields(pair("name", x.Name, y.Name), pair("lead", x.LeadKind+"@"+x.LeadLevel.String(), y.LeadKind+"@"+y.LeadLevel.String()),
			pair("assist", strings.Join(x.AssistKinds, ","), strings.Join(y.AssistKinds, ",")),
			pair("alternatives", strings.Join(x.Alternatives, ","), strings.Join(y.Alternatives, ",")),
			pair("urgency", x.Urgency, y.Urgency), pair("accept_within", x.AcceptWithin.String(), y.AcceptWithin.String()),
			pair("resolve_within", x.ResolveWithin.String(), y.ResolveWithin.String()),
			pair("community_may_summon", fmt.Sprint(x.CommunityMaySummon), fmt.Sprint(y.CommunityMaySummon)),
			pair("triage", fmt.Sprint(x.Triage), fmt.Sprint(y.Triage)))
	})...)
	x, y := a.Calendar.Spec(), b.Calendar.Spec()
	if d := fields(pair("time_zone", x.TimeZone, y.TimeZone),
		pair("working_hours", strings.Join(x.WorkingHours, ","), strings.Join(y.WorkingHours, ",")),
		pair("working_days", strings.Join(x.WorkingDays, ","), strings.Join(y.WorkingDays, ",")),
		days("holidays", x.Holidays, y.Holidays), days("make_up_days", x.MakeUpDays, y.MakeUpDays),
		pair("covers_until", x.CoversUntil, y.CoversUntil)); len(d) > 0 {
		out = append(out, Change{Kind: "changed", Entity: "calendar", ID: "calendar", Detail: strings.Join(d, "; ")})
	}
	return out
}

func diffMaps[T any](entity string, a, b map[string]T, changed func(x, y T) []string) []Change {
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var out []Change
	for _, k := range keys {
		x, inA := a[k]
		y, inB := b[k]
		switch {
		case !inA:
			out = append(out, Change{Kind: "added", Entity: entity, ID: k})
		case !inB:
			out = append(out, Change{Kind: "removed", Entity: entity, ID: k})
		default:
			if d := changed(x, y); len(d) > 0 {
				out = append(out, Change{Kind: "changed", Entity: entity, ID: k, Detail: strings.Join(d, "; ")})
			}
		}
	}
	return out
}

func pair(name, x, y string) string {
	if x == y {
		return ""
	}
	return fmt.Sprintf("%s %s → %s", name, dash(x), dash(y))
}

// days says which days a list gained (+) and lost (-).
func days(name string, x, y []string) string {
	var d []string
	for _, day := range y {
		if !slices.Contains(x, day) {
			d = append(d, "+"+day)
		}
	}
	for _, day := range x {
		if !slices.Contains(y, day) {
			d = append(d, "-"+day)
		}
	}
	if len(d) == 0 {
		return ""
	}
	return name + " " + strings.Join(d, " ")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func fields(fs ...string) []string {
	var out []string
	for _, f := range fs {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}
