package grpcserver_test

import (
	"fmt"
	"testing"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// TestEveryRequestFieldIsBounded walks the request of every method of every
// whistle.v1 service, and every message it contains, and requires a bound on
// each field: strings a maximum length, lists a maximum number of items (and
// their items a bound), numbers a range, enums defined values, timestamps
// the window (whistle.v1.within_window) and durations a maximum. Booleans
// need none. A new field without a bound fails here, not in production.
func TestEveryRequestFieldIsBounded(t *testing.T) {
	t.Parallel()
	seen := map[protoreflect.FullName]bool{}
	var check func(md protoreflect.MessageDescriptor)
	check = func(md protoreflect.MessageDescriptor) {
		if seen[md.FullName()] {
			return
		}
		seen[md.FullName()] = true
		fields := md.Fields()
		for i := 0; i < fields.Len(); i++ {
			fd := fields.Get(i)
			if why := unbounded(fd); why != "" {
				t.Errorf("%s: %s", fd.FullName(), why)
			}
			if m := fd.Message(); m != nil && m.ParentFile().Package() == "whistle.v1" {
				check(m)
			}
		}
	}
	services := 0
	protoregistry.GlobalFiles.RangeFilesByPackage("whistle.v1", func(f protoreflect.FileDescriptor) bool {
		for i := 0; i < f.Services().Len(); i++ {
			services++
			methods := f.Services().Get(i).Methods()
			for j := 0; j < methods.Len(); j++ {
				check(methods.Get(j).Input())
			}
		}
		return true
	})
	if services != 9 {
		t.Fatalf("found %d whistle.v1 services, want 9 (is every generated file linked in?)", services)
	}
}

// unbounded says why fd has no bound, or returns "".
func unbounded(fd protoreflect.FieldDescriptor) string {
	rules, _ := proto.GetExtension(fd.Options(), validate.E_Field).(*validate.FieldRules)
	switch {
	case fd.IsMap():
		return "maps are not bounded by these checks; bound it and teach this test"
	case fd.IsList():
		if rules.GetRepeated().GetMaxItems() == 0 {
			return "a list without repeated.max_items"
		}
		if fd.Message() != nil {
			return "" // its fields are checked as a message's
		}
		if why := singular(fd, rules.GetRepeated().GetItems()); why != "" {
			return "items: " + why
		}
		return ""
	}
	return singular(fd, rules)
}

// singular says why a value of fd's kind under rules has no bound.
func singular(fd protoreflect.FieldDescriptor, rules *validate.FieldRules) string {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return ""
	case protoreflect.EnumKind:
		if !rules.GetEnum().GetDefinedOnly() {
			return "an enum without enum.defined_only"
		}
		return ""
	case protoreflect.StringKind:
		s := rules.GetString()
		if s.GetMaxLen() == 0 && s.GetLen() == 0 && s.GetMaxBytes() == 0 && !s.GetUuid() {
			return "a string without max_len, len, max_bytes or uuid"
		}
		return ""
	case protoreflect.BytesKind:
		if b := rules.GetBytes(); b.GetMaxLen() == 0 && b.GetLen() == 0 {
			return "a bytes without max_len or len"
		}
		return ""
	case protoreflect.MessageKind:
		return message(fd, rules)
	}
	return ranged(fd, rules)
}

// message says why a message field has no bound: whistle.v1 messages are
// bounded by their own fields; timestamps need the window, durations a maximum.
func message(fd protoreflect.FieldDescriptor, rules *validate.FieldRules) string {
	switch name := fd.Message().FullName(); {
	case fd.Message().ParentFile().Package() == "whistle.v1":
		return ""
	case name == "google.protobuf.Timestamp":
		if on, _ := proto.GetExtension(rules.GetTimestamp(), whistlev1.E_WithinWindow).(bool); !on {
			return "a timestamp without timestamp.(whistle.v1.within_window)"
		}
		return ""
	case name == "google.protobuf.Duration":
		if rules.GetDuration().GetLte() == nil && rules.GetDuration().GetLt() == nil {
			return "a duration without duration.lte or lt"
		}
		return ""
	default:
		return fmt.Sprintf("a %s, which these checks do not know", name)
	}
}

// ranged says why a number has no range: it needs an upper bound (lt or lte)
// and, when signed or floating, a lower one (gt or gte).
func ranged(fd protoreflect.FieldDescriptor, rules *validate.FieldRules) string {
	r := rules.ProtoReflect()
	typ := r.WhichOneof(r.Descriptor().Oneofs().ByName("type"))
	if typ == nil {
		return fmt.Sprintf("a %s without a range", fd.Kind())
	}
	m := r.Get(typ).Message()
	has := func(names ...protoreflect.Name) bool {
		for _, n := range names {
			if f := m.Descriptor().Fields().ByName(n); f != nil && m.Has(f) {
				return true
			}
		}
		return false
	}
	unsigned := fd.Kind() == protoreflect.Uint32Kind || fd.Kind() == protoreflect.Uint64Kind || fd.Kind() == protoreflect.Fixed32Kind ||
		fd.Kind() == protoreflect.Fixed64Kind
	if !has("lt", "lte") || (!unsigned && !has("gt", "gte")) {
		return fmt.Sprintf("a %s without both ends of a range", fd.Kind())
	}
	return ""
}
