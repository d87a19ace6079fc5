package dispatch

import (
	"bytes"
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/whistle-civic/whistle/pkg/calendar"
)

// withCalendar returns a catalog's YAML source under a new version with its
// calendar's holidays, make-up days and covers_until replaced by spec's;
// everything else, comments included, stays as written.
func withCalendar(source []byte, version string, spec calendar.Spec) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(source, &doc); err != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%w: the catalog's source is not a YAML mapping", ErrBadCatalog)
	}
	root := doc.Content[0]
	setScalar(root, "version", version)
	cal := mappingValue(root, "calendar")
	if cal == nil {
		cal = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		root.Content = append(root.Content, scalar("calendar"), cal)
		setScalar(cal, "time_zone", spec.TimeZone)
		setList(cal, "working_hours", spec.WorkingHours)
		setList(cal, "working_days", spec.WorkingDays)
	}
	setList(cal, "holidays", spec.Holidays)
	setList(cal, "make_up_days", spec.MakeUpDays)
	if spec.CoversUntil != "" {
		setScalar(cal, "covers_until", spec.CoversUntil)
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("write the revised catalog: %w", err)
	}
	return b.Bytes(), nil
}

// mappingValue returns the value of key in mapping m, or nil.
func mappingValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func setScalar(m *yaml.Node, key, value string) {
	if v := mappingValue(m, key); v != nil {
		v.Kind, v.Tag, v.Value, v.Style, v.Content = yaml.ScalarNode, "!!str", value, yaml.DoubleQuotedStyle, nil
		return
	}
	v := scalar(value)
	v.Style = yaml.DoubleQuotedStyle
	m.Content = append(m.Content, scalar(key), v)
}

// setList sets key to a flow list of quoted strings, as the sample catalog writes dates.
func setList(m *yaml.Node, key string, values []string) {
	list := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
	for _, s := range values {
		v := scalar(s)
		v.Style = yaml.DoubleQuotedStyle
		list.Content = append(list.Content, v)
	}
	if v := mappingValue(m, key); v != nil {
		*v = *list
		return
	}
	m.Content = append(m.Content, scalar(key), list)
}

func scalar(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }
