package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// printJSON writes m as protojson, indented with stable spacing.
func printJSON(w io.Writer, m proto.Message) error {
	b, err := protojson.Marshal(m)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, out.String())
	return err
}

// table writes aligned columns.
func table(w io.Writer, header string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

func durationUntil(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return "-"
	}
	d := time.Until(ts.AsTime()).Round(time.Minute)
	if d < 0 {
		return "overdue " + (-d).String()
	}
	return "in " + d.String()
}

// enumName turns an enum value into its flag spelling: SOURCE_HOTLINE_12345 → hotline-12345.
func enumName(v protoreflect.Enum) string {
	d := v.Descriptor()
	name := string(d.Values().ByNumber(v.Number()).Name())
	return flagSpelling(string(d.Values().Get(0).Name()), name)
}

func flagSpelling(zeroName, name string) string {
	prefix := strings.TrimSuffix(zeroName, "UNSPECIFIED")
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(name, prefix)), "_", "-")
}

// parseEnum reads a flag spelling of an enum value of d, listing the choices when it is wrong.
func parseEnum(d protoreflect.EnumDescriptor, flag, value string) (protoreflect.EnumNumber, error) {
	zero := string(d.Values().Get(0).Name())
	var choices []string
	for i := 1; i < d.Values().Len(); i++ {
		v := d.Values().Get(i)
		s := flagSpelling(zero, string(v.Name()))
		if s == value {
			return v.Number(), nil
		}
		choices = append(choices, s)
	}
	sort.Strings(choices)
	return 0, fmt.Errorf("--%s %q: choose one of %s", flag, value, strings.Join(choices, ", "))
}
