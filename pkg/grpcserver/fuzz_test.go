package grpcserver

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"buf.build/go/protovalidate"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protopath"
	"google.golang.org/protobuf/reflect/protorange"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// fuzzRequestTypes are the requests FuzzRequestValidation decodes its bytes
// into, chosen by the kind argument modulo their number.
var fuzzRequestTypes = []func() proto.Message{
	func() proto.Message { return &whistlev1.ReportRequest{} },
	func() proto.Message { return &whistlev1.AcceptRequest{} },
	func() proto.Message { return &whistlev1.GetScorecardRequest{} },
	func() proto.Message { return &whistlev1.ImportCatalogRequest{} },
	func() proto.Message { return &whistlev1.ResolveRequest{} },
	func() proto.Message { return &whistlev1.RequestExtensionRequest{} },
	func() proto.Message { return &whistlev1.ListTicketsRequest{} },
}

// FuzzRequestValidation runs bytes through the server's validation layer as
// a request of one of fuzzRequestTypes: the codec, the request checks and
// protovalidate. It must never panic; it refuses with InvalidArgument
// whatever does not decode and whatever protovalidate refuses (a rule that
// fails to evaluate would answer Internal); and what it accepts holds no
// control character (other than \t, \n, \r), no bidirectional embedding,
// override or isolate and no invalid UTF-8 in any string, and no timestamp
// outside 2000 to 5 years from now, checked independently of CheckStrings and
// the rules. Seeds: testdata/fuzz/FuzzRequestValidation.
func FuzzRequestValidation(f *testing.F) {
	validator, err := protovalidate.New()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		newMsg := fuzzRequestTypes[int(kind)%len(fuzzRequestTypes)]
		codec, err := newRequestCodec()
		if err != nil {
			t.Fatal(err)
		}
		msg := newMsg()
		if err := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(data)}, msg); err != nil {
			t.Fatalf("codec refused a %T itself (%v): gRPC would report Internal", msg, err)
		}
		err = checkRequest(codec, msg)
		if err != nil {
			if st := status.Convert(err); st.Code() != codes.InvalidArgument {
				t.Fatalf("request checks answered %s %q, want InvalidArgument", st.Code(), st.Message())
			}
		} else if err = validator.Validate(msg); err != nil {
			var verr *protovalidate.ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("protovalidate failed to evaluate a %T (%v): the interceptor would answer Internal", msg, err)
			}
		}
		decodeErr := proto.Unmarshal(data, newMsg())
		if err != nil {
			return // refused; protovalidate's errors become InvalidArgument in its interceptor
		}
		if decodeErr != nil {
			t.Fatalf("accepted a %T that does not decode: %v", msg, decodeErr)
		}
		if bad := firstBadText(msg); bad != "" {
			t.Fatalf("accepted a %T with bad text %s: %v", msg, bad, msg)
		}
		if bad := firstTimeOutOfWindow(msg); bad != "" {
			t.Fatalf("accepted a %T with a time out of the window at %s: %v", msg, bad, msg)
		}
	})
}

// firstTimeOutOfWindow names the first google.protobuf.Timestamp in m before
// 2000-01-01 or more than 5 years (and a minute, for the clock's progress
// since validation) from now, or returns "".
func firstTimeOutOfWindow(m proto.Message) string {
	var bad string
	first := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	last := time.Now().Add(43830*time.Hour + time.Minute)
	_ = protorange.Range(m.ProtoReflect(), func(p protopath.Values) error {
		ts, ok := p.Index(-1).Value.Interface().(protoreflect.Message)
		if !ok || ts.Descriptor().FullName() != "google.protobuf.Timestamp" {
			return nil
		}
		if at := ts.Interface().(*timestamppb.Timestamp).AsTime(); at.Before(first) || at.After(last) {
			bad = p.Path.String()
			return protorange.Terminate
		}
		return nil
	})
	return bad
}

// firstBadText names the first string in m holding invalid UTF-8 or a
// control character other than \t, \n and \r, or returns "".
func firstBadText(m proto.Message) string {
	var bad string
	isBad := func(s string) bool {
		if !utf8.ValidString(s) {
			return true
		}
		for _, r := range s {
			if (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || (r >= 0x7f && r <= 0x9f) ||
				strings.ContainsRune("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069", r) {
				return true
			}
		}
		return false
	}
	_ = protorange.Range(m.ProtoReflect(), func(p protopath.Values) error {
		last := p.Index(-1)
		if last.Step.Kind() == protopath.MapIndexStep {
			if k, ok := last.Step.MapIndex().Interface().(string); ok && isBad(k) {
				bad = p.Path.String()
				return protorange.Terminate
			}
		}
		if s, ok := last.Value.Interface().(string); ok && isBad(s) { // bytes values are []byte
			bad = p.Path.String()
			return protorange.Terminate
		}
		return nil
	})
	return bad
}
