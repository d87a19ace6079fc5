package grpcserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestLoggedLevels checks that a database outage is logged as a warning (it
// passes by itself and the caller is told to retry), a fault of ours as an
// error, and a caller's mistake as information.
func TestLoggedLevels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		err   error
		code  codes.Code
		level string
	}{
		{"database down", fmt.Errorf("report: %w", &pgconn.PgError{Code: "57P01"}), codes.Unavailable, "WARN"},
		{"fault", errors.New("boom"), codes.Internal, "ERROR"},
		{"mistake", status.Error(codes.InvalidArgument, "bad"), codes.InvalidArgument, "INFO"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
			err := logged(context.Background(), log, "/whistle.v1.IntakeService/Report", tt.err)
			if status.Code(err) != tt.code {
				t.Fatalf("code %s, want %s", status.Code(err), tt.code)
			}
			if !strings.Contains(buf.String(), "level="+tt.level+" ") {
				t.Fatalf("logged %q, want level %s", buf.String(), tt.level)
			}
		})
	}
}
