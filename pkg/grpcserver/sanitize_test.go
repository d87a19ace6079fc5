package grpcserver_test

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/grpcserver"
)

func TestCheckStrings(t *testing.T) {
	t.Parallel()
	report := func(change func(r *whistlev1.ReportRequest)) *whistlev1.ReportRequest {
		r := validReport()
		change(r)
		return r
	}
	tests := []struct {
		name string
		msg  proto.Message
		want string // the InvalidArgument message, or "" to accept
	}{
		{name: "text with tab, line feed and carriage return", msg: validReport()},
		{name: "nil message"},
		{name: "any script, NBSP, replacement character", msg: report(func(r *whistlev1.ReportRequest) {
			r.Description = "路面塌陷 🚧 ça\u00a0va \ufffd Ωmega"
		})},
		{name: "bell", msg: report(func(r *whistlev1.ReportRequest) { r.Description = "Pothole near the\a school" }),
			want: "description: control character U+0007 at byte 16: remove it"},
		{name: "NUL in a nested message", msg: report(func(r *whistlev1.ReportRequest) { r.Location.Address = "x\x00" }),
			want: "location.address: control character U+0000 at byte 1: remove it"},
		{name: "DEL", msg: report(func(r *whistlev1.ReportRequest) { r.Reporter.Name = "a\x7f" }),
			want: "reporter.name: control character U+007F at byte 1: remove it"},
		{name: "C1 next line after a two-byte letter", msg: report(func(r *whistlev1.ReportRequest) { r.Title = "é\u0085" }),
			want: "title: control character U+0085 at byte 2: remove it"},
		{name: "invalid UTF-8", msg: report(func(r *whistlev1.ReportRequest) { r.Category = "ab\xffc" }),
			want: "category: invalid UTF-8 at byte 2: send text encoded as UTF-8"},
		{name: "truncated UTF-8 sequence", msg: report(func(r *whistlev1.ReportRequest) { r.Title = "路"[:2] }),
			want: "title: invalid UTF-8 at byte 0: send text encoded as UTF-8"},
		{name: "first bad field in field-number order", msg: report(func(r *whistlev1.ReportRequest) {
			r.Title, r.Category = "\x01", "\x02"
		}), want: "category: control character U+0002 at byte 0: remove it"},
		{name: "repeated field", msg: &whistlev1.Ticket{RelatedTicketIds: []string{"ok", "b\x1b"}},
			want: "related_ticket_ids[1]: control character U+001B at byte 1: remove it"},
		{name: "map key", msg: &structpb.Struct{Fields: map[string]*structpb.Value{"a\x01": structpb.NewNullValue()}},
			want: `fields key "a\x01": control character U+0001 at byte 1: remove it`},
		{name: "map value", msg: &structpb.Struct{Fields: map[string]*structpb.Value{
			"k": structpb.NewStringValue("v\x02"), "a": structpb.NewStringValue("fine")}},
			want: `fields["k"].string_value: control character U+0002 at byte 1: remove it`},
		{name: "bytes are not text", msg: wrapperspb.Bytes([]byte{0, 7, 0xff})},
		{name: "right-to-left override in a description", msg: report(func(r *whistlev1.ReportRequest) {
			r.Description = "pay \u202e0001\u202c yuan"
		}), want: "description: bidirectional control character U+202E at byte 4: remove it " +
			"(embeddings, overrides and isolates make text read otherwise than it is stored)"},
		{name: "left-to-right embedding", msg: report(func(r *whistlev1.ReportRequest) { r.Title = "\u202aa" }),
			want: "title: bidirectional control character U+202A at byte 0: remove it " +
				"(embeddings, overrides and isolates make text read otherwise than it is stored)"},
		{name: "first strong isolate in a nested name", msg: report(func(r *whistlev1.ReportRequest) { r.Reporter.Name = "李\u2068四" }),
			want: "reporter.name: bidirectional control character U+2068 at byte 3: remove it " +
				"(embeddings, overrides and isolates make text read otherwise than it is stored)"},
		{name: "pop directional isolate in a repeated field", msg: &whistlev1.Ticket{RelatedTicketIds: []string{"\u2069"}},
			want: "related_ticket_ids[0]: bidirectional control character U+2069 at byte 0: remove it " +
				"(embeddings, overrides and isolates make text read otherwise than it is stored)"},
		{name: "direction marks stay allowed in text", msg: report(func(r *whistlev1.ReportRequest) {
			r.Location.Address = "شارع\u200f 12 \u200e\u061cרחוב"
		})},
		{name: "the characters around the bidi controls stay allowed", msg: report(func(r *whistlev1.ReportRequest) {
			r.Description = "\u2029\u2070\u2065\u2029\u202f"
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := grpcserver.CheckStrings(tt.msg)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("CheckStrings = %v, want nil", err)
				}
				return
			}
			if st := status.Convert(err); err == nil || st.Code() != codes.InvalidArgument || st.Message() != tt.want {
				t.Fatalf("CheckStrings = %v, want InvalidArgument %q", err, tt.want)
			}
		})
	}
}

// reportWith returns a valid report's encoding with field number field set
// again to the raw bytes value; the last occurrence of a field wins.
func reportWith(t *testing.T, field protowire.Number, value string) []byte {
	t.Helper()
	b, err := proto.Marshal(validReport())
	if err != nil {
		t.Fatal(err)
	}
	b = protowire.AppendTag(b, field, protowire.BytesType)
	return protowire.AppendBytes(b, []byte(value))
}

// TestRequestChecksOverGRPC sends requests through a real server: the layers,
// not the service, are under test.
func TestRequestChecksOverGRPC(t *testing.T) {
	t.Parallel()
	typed := func(r *whistlev1.ReportRequest) func(*grpc.ClientConn) error {
		return func(conn *grpc.ClientConn) error {
			resp, err := whistlev1.NewIntakeServiceClient(conn).Report(context.Background(), r)
			if err == nil && resp.GetTicket().GetDescription() != r.GetDescription() {
				t.Errorf("echoed description %q, sent %q", resp.GetTicket().GetDescription(), r.GetDescription())
			}
			return err
		}
	}
	raw := func(b []byte) func(*grpc.ClientConn) error {
		return func(conn *grpc.ClientConn) error {
			var out []byte
			return conn.Invoke(context.Background(), whistlev1.IntakeService_Report_FullMethodName, b, &out, grpc.ForceCodec(rawCodec{}))
		}
	}
	bell := validReport()
	bell.Description = "Pothole near the\a school"
	nowhere := validReport()
	nowhere.Location = nil
	badKey := validReport() // fails protovalidate's pattern too; the checks answer first
	badKey.IdempotencyKey = "k\a"
	tests := []struct {
		name string
		call func(*grpc.ClientConn) error
		code codes.Code
		msg  string // substring of the status message
	}{
		{name: "valid report reaches the service", call: typed(validReport()), code: codes.OK},
		{name: "valid report sent raw", call: raw(reportWith(t, 5, "Pothole")), code: codes.OK},
		{name: "control character", call: typed(bell), code: codes.InvalidArgument,
			msg: "description: control character U+0007 at byte 16: remove it"},
		{name: "control character sent raw", call: raw(reportWith(t, 7, string(protowire.AppendBytes(protowire.AppendTag(nil, 3, protowire.BytesType), []byte("Main St\x0c"))))),
			code: codes.InvalidArgument, msg: "location.address: control character U+000C at byte 7: remove it"},
		{name: "checks run before protovalidate", call: typed(badKey), code: codes.InvalidArgument,
			msg: "idempotency_key: control character U+0007 at byte 1: remove it"},
		{name: "protovalidate still runs after the checks", call: typed(nowhere), code: codes.InvalidArgument, msg: "location"},
		{name: "invalid UTF-8 in a proto3 string does not decode", call: raw(reportWith(t, 6, "bad \xff")), code: codes.InvalidArgument,
			msg: "request does not decode as whistle.v1.ReportRequest: string field contains invalid UTF-8"},
		{name: "broken wire format does not decode", call: raw([]byte{0xff, 0xff}), code: codes.InvalidArgument,
			msg: "request does not decode as whistle.v1.ReportRequest"},
		{name: "truncated message does not decode", call: raw(reportWith(t, 6, "cut")[:10]), code: codes.InvalidArgument,
			msg: "request does not decode as whistle.v1.ReportRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			conn, svc := serveIntake(t, grpcserver.Options{})
			err := tt.call(conn)
			st := status.Convert(err)
			if st.Code() != tt.code || !strings.Contains(st.Message(), tt.msg) {
				t.Fatalf("status %s %q, want %s containing %q", st.Code(), st.Message(), tt.code, tt.msg)
			}
			if reached := svc.calls.Load() > 0; reached != (tt.code == codes.OK) {
				t.Fatalf("service reached: %v, want %v", reached, tt.code == codes.OK)
			}
		})
	}
}

// TestRequestChecksOnStreams checks the messages a streaming call receives,
// through the health service's Watch.
func TestRequestChecksOnStreams(t *testing.T) {
	t.Parallel()
	raw := func(service string) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), []byte(service))
	}
	tests := []struct {
		name string
		req  []byte
		code codes.Code
		msg  string
	}{
		{name: "valid", req: raw(""), code: codes.OK},
		{name: "control character", req: raw("whistle\a"), code: codes.InvalidArgument,
			msg: "service: control character U+0007 at byte 7: remove it"},
		{name: "does not decode", req: raw("\xff"), code: codes.InvalidArgument,
			msg: "request does not decode as grpc.health.v1.HealthCheckRequest: string field contains invalid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			conn, _ := serveIntake(t, grpcserver.Options{})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			stream, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, healthpb.Health_Watch_FullMethodName,
				grpc.ForceCodec(rawCodec{}))
			if err != nil {
				t.Fatal(err)
			}
			if err := stream.SendMsg(tt.req); err != nil {
				t.Fatal(err)
			}
			if err := stream.CloseSend(); err != nil {
				t.Fatal(err)
			}
			var out []byte
			err = stream.RecvMsg(&out)
			st := status.Convert(err)
			if st.Code() != tt.code || !strings.Contains(st.Message(), tt.msg) {
				t.Fatalf("status %s %q, want %s containing %q", st.Code(), st.Message(), tt.code, tt.msg)
			}
			if tt.code == codes.OK {
				var resp healthpb.HealthCheckResponse
				if err := proto.Unmarshal(out, &resp); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
					t.Fatalf("watch answered %v (%v), want SERVING", &resp, err)
				}
			}
		})
	}
}
