package grpcserver_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/grpcserver"
	"github.com/whistle-civic/whistle/pkg/grpcserver/grpctest"
)

// echoIntake is an IntakeService test double: Report echoes the report as a
// ticket and GetTicket returns a ticket with the asked-for id. It counts the
// calls that reach it, past every server layer.
type echoIntake struct {
	whistlev1.UnimplementedIntakeServiceServer
	calls atomic.Int64
}

func (s *echoIntake) Report(_ context.Context, r *whistlev1.ReportRequest) (*whistlev1.ReportResponse, error) {
	s.calls.Add(1)
	return &whistlev1.ReportResponse{Created: true, Ticket: &whistlev1.Ticket{
		IdempotencyKey: r.GetIdempotencyKey(), Kind: r.GetKind(), Source: r.GetSource(), Category: r.GetCategory(),
		Title: r.GetTitle(), Description: r.GetDescription(), Location: r.GetLocation(), Reporter: r.GetReporter()}}, nil
}

func (s *echoIntake) GetTicket(_ context.Context, r *whistlev1.GetTicketRequest) (*whistlev1.GetTicketResponse, error) {
	s.calls.Add(1)
	return &whistlev1.GetTicketResponse{Ticket: &whistlev1.Ticket{Id: r.GetTicket()}}, nil
}

// serveIntake serves an echoIntake through a server built by grpcserver.New.
func serveIntake(t *testing.T, opts grpcserver.Options) (*grpc.ClientConn, *echoIntake) {
	t.Helper()
	svc := &echoIntake{}
	conn := grpctest.Serve(t, opts, func(r grpc.ServiceRegistrar) { whistlev1.RegisterIntakeServiceServer(r, svc) })
	return conn, svc
}

// validReport passes every request check.
func validReport() *whistlev1.ReportRequest {
	return &whistlev1.ReportRequest{
		IdempotencyKey: "k-1", Kind: whistlev1.WhistleKind_WHISTLE_KIND_DAILY, Source: whistlev1.Source_SOURCE_GRID_PATROL,
		Category: "road_damage", Title: "Pothole", Description: "A deep pothole\r\nnear the school,\tleft lane.",
		Location: &whistlev1.Location{GridId: "xc-hd-dj-g01", Address: "东街 12号"},
		Reporter: &whistlev1.Reporter{OrgUnitId: "xc-hd-dj-g01", Name: "李四"},
	}
}

// rawCodec sends and receives messages as the bytes given, so tests can send
// what no protobuf library would encode.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	b, ok := v.([]byte)
	if !ok {
		return nil, fmt.Errorf("rawCodec marshals []byte, not %T", v)
	}
	return b, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	p, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("rawCodec unmarshals into *[]byte, not %T", v)
	}
	*p = append([]byte(nil), data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }

// callerKey is the rate-limit key the tests use: the x-caller header.
func callerKey(ctx context.Context, _ any) []string {
	if v := metadata.ValueFromIncomingContext(ctx, "x-caller"); len(v) > 0 {
		return []string{v[0]}
	}
	return []string{""}
}

func asCaller(name string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "x-caller", name)
}
