package main

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// outcome is what a call came back with.
type outcome struct {
	code codes.Code
	msg  string
	resp proto.Message // nil unless OK
}

func observe(resp proto.Message, err error) outcome {
	if err != nil {
		st := status.Convert(err)
		return outcome{code: st.Code(), msg: st.Message()}
	}
	return outcome{code: codes.OK, resp: resp}
}

func (o outcome) String() string {
	if o.code == codes.OK {
		return "OK"
	}
	return o.code.String() + ": " + o.msg
}

// expectation decides whether an outcome is right, and says what it wants.
type expectation struct {
	desc string
	ok   func(outcome) bool
}

// oneOf wants one of the codes.
func oneOf(cs ...codes.Code) expectation {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.String()
	}
	return expectation{desc: strings.Join(names, " or "), ok: func(o outcome) bool { return slices.Contains(cs, o.code) }}
}

// notLetThrough are the codes that say a call was not let through (or broke).
var notLetThrough = []codes.Code{codes.PermissionDenied, codes.Unauthenticated, codes.NotFound, codes.Internal,
	codes.Unknown, codes.Unimplemented}

// letThrough wants a call that authorization let through: it ran and answered
// (OK, or about the ticket's state), neither refused nor broken.
func letThrough() expectation {
	return expectation{desc: "let through (not PermissionDenied/Unauthenticated/NotFound/Internal)", ok: func(o outcome) bool {
		return !slices.Contains(notLetThrough, o.code)
	}}
}

// invalid wants InvalidArgument with a message.
func invalid() expectation {
	return expectation{desc: "InvalidArgument with a message", ok: func(o outcome) bool {
		return o.code == codes.InvalidArgument && strings.TrimSpace(o.msg) != ""
	}}
}

// leakOpts say what counts as a leak in an answer.
type leakOpts struct {
	secrets []string        // strings that must not appear (ticket ids, numbers, personal data)
	units   map[string]bool // org unit ids that must not appear as whole values
	numbers bool            // any count or figure above zero
}

// countFields are the fields of figures and counts whose being above zero
// shows data.
var countFields = map[protoreflect.Name]bool{"numerator": true, "denominator": true, "count": true, "total": true,
	"open": true, "overdue": true, "level_1": true, "level_2": true, "level_3": true, "previous_count": true}

// leaks lists what of o's data an answer shows; nil when it shows none.
func leaks(m proto.Message, o leakOpts) []string {
	if m == nil {
		return nil
	}
	var found []string
	walk(m.ProtoReflect(), func(fd protoreflect.FieldDescriptor, v protoreflect.Value) {
		switch fd.Kind() {
		case protoreflect.StringKind:
			s := v.String()
			for _, secret := range o.secrets {
				if secret != "" && strings.Contains(s, secret) {
					found = append(found, fmt.Sprintf("%s=%q", fd.Name(), clip(s, 60)))
				}
			}
			if o.units[s] {
				found = append(found, fmt.Sprintf("%s=%q", fd.Name(), s))
			}
		case protoreflect.Int64Kind, protoreflect.Int32Kind:
			if o.numbers && countFields[fd.Name()] && v.Int() > 0 {
				found = append(found, fmt.Sprintf("%s=%d", fd.Name(), v.Int()))
			}
		}
	})
	slices.SortFunc(found, func(a, b string) int { // ids and numbers first: they say most
		if ka, kb := idFirst(a), idFirst(b); ka != kb {
			return ka - kb
		}
		return strings.Compare(a, b)
	})
	return slices.Compact(found)
}

func idFirst(s string) int {
	for _, p := range []string{"id=", "ticket_id=", "number=", "ticket_number=", "org_unit_id="} {
		if strings.HasPrefix(s, p) {
			return 0
		}
	}
	return 1
}

// walk calls fn for every set scalar field of m, at any depth.
func walk(m protoreflect.Message, fn func(protoreflect.FieldDescriptor, protoreflect.Value)) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				if fd.Kind() == protoreflect.MessageKind {
					walk(l.Get(i).Message(), fn)
				} else {
					fn(fd, l.Get(i))
				}
			}
		case fd.IsMap():
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				if fd.MapValue().Kind() == protoreflect.MessageKind {
					walk(mv.Message(), fn)
				} else {
					fn(fd.MapValue(), mv)
				}
				return true
			})
		case fd.Kind() == protoreflect.MessageKind:
			walk(v.Message(), fn)
		default:
			fn(fd, v)
		}
		return true
	})
}

// shows reports whether an answer names the ticket.
func shows(m proto.Message, ticketID string) bool {
	return len(leaks(m, leakOpts{secrets: []string{ticketID}})) > 0
}

// showsFull lists the personal data an answer shows in full.
func showsFull(m proto.Message, personal ...string) []string {
	return leaks(m, leakOpts{secrets: personal})
}
