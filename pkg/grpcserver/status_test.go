package grpcserver_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/whistle-civic/whistle/pkg/apperr"
	"github.com/whistle-civic/whistle/pkg/grpcserver"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

func TestToStatus(t *testing.T) {
	t.Parallel()
	notFound := apperr.New(apperr.NotFound, "ticket not found")
	notAccepted := apperr.New(apperr.FailedPrecondition, "ticket is not accepted")
	_, transition := ticket.Next(ticket.Dispatched, ticket.Resolve)
	tests := []struct {
		name     string
		err      error
		code     codes.Code
		contains string
	}{
		{"wrapped kind", fmt.Errorf("resolve x: %w", notAccepted), codes.FailedPrecondition, "resolve x: ticket is not accepted"},
		{"wrapped not found", fmt.Errorf("accept x: %w", notFound), codes.NotFound, "ticket not found"},
		{"status passes", status.Error(codes.InvalidArgument, "bad field"), codes.InvalidArgument, "bad field"},
		{"transition", fmt.Errorf("resolve x: %w", transition), codes.FailedPrecondition, "cannot resolve a DISPATCHED ticket"},
		{"database starting", &pgconn.PgError{Code: "57P03"}, codes.Unavailable,
			"the database is unavailable (the server is starting up): retry in a moment; Whistle reconnects by itself"},
		{"database shut down", fmt.Errorf("accept x: %w", &pgconn.PgError{Code: "57P01"}), codes.Unavailable, "(the server is shutting down)"},
		{"connection exception", &pgconn.PgError{Code: "08006"}, codes.Unavailable, "database is unavailable"},
		{"deadlock", fmt.Errorf("accept x: %w", &pgconn.PgError{Code: "40P01"}), codes.Aborted, "retry it"},
		{"serialization failure", &pgconn.PgError{Code: "40001"}, codes.Aborted, "retry it"},
		{"connection lost", fmt.Errorf("claim: %w", io.ErrUnexpectedEOF), codes.Unavailable, "(connection lost)"},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)},
			codes.Unavailable, "(connection refused)"},
		{"bad SQL", &pgconn.PgError{Code: "42P01"}, codes.Internal, "internal error"},
		{"missing file", fmt.Errorf("catalog: %w", os.ErrNotExist), codes.Internal, "internal error"},
		{"cancelled", fmt.Errorf("q: %w", context.Canceled), codes.Canceled, "cancelled"},
		{"deadline", fmt.Errorf("q: %w", context.DeadlineExceeded), codes.DeadlineExceeded, "ran out of time"},
		{"unknown", errors.New("secret detail"), codes.Internal, "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := grpcserver.ToStatus(context.Background(), tt.err)
			if st.Code() != tt.code || !strings.Contains(st.Message(), tt.contains) {
				t.Fatalf("ToStatus = %s %q, want %s containing %q", st.Code(), st.Message(), tt.code, tt.contains)
			}
			if tt.code == codes.NotFound && st.Message() != "ticket not found" {
				t.Fatalf("a missing thing reads %q: a NotFound must read alike whatever it was wrapped in", st.Message())
			}
			if tt.code == codes.Internal && strings.Contains(st.Message(), "secret") {
				t.Fatalf("internal details leaked: %q", st.Message())
			}
		})
	}
}

func TestToStatusNamesTheReason(t *testing.T) {
	t.Parallel()
	held := apperr.New(apperr.FailedPrecondition, "in an inbox").WithReason(apperr.ReasonHeldByResponse)
	st := grpcserver.ToStatus(context.Background(), fmt.Errorf("withdraw x: %w", held))
	var got []string
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			got = append(got, info.GetDomain()+"/"+info.GetReason())
		}
	}
	if st.Code() != codes.FailedPrecondition || len(got) != 1 || got[0] != apperr.Domain+"/"+apperr.ReasonHeldByResponse {
		t.Fatalf("ToStatus = %s %q, ErrorInfo %v; want FailedPrecondition with %s/%s", st.Code(), st.Message(), got,
			apperr.Domain, apperr.ReasonHeldByResponse)
	}
	if plain := grpcserver.ToStatus(context.Background(), apperr.New(apperr.FailedPrecondition, "in an inbox")); len(plain.Details()) != 0 {
		t.Fatalf("an error without a reason got details %v", plain.Details())
	}
	if errors.Is(held, apperr.New(apperr.FailedPrecondition, "in an inbox")) || apperr.ReasonOf(held) != apperr.ReasonHeldByResponse {
		t.Fatal("WithReason's copy is not its own sentinel with its reason")
	}
}
