package grpctest

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// WantInvalidArgument fails the test unless err is an InvalidArgument status
// whose message names field, e.g. "evidence[0].url": a refusal at the edge,
// never Internal.
func WantInvalidArgument(tb testing.TB, err error, field string) {
	tb.Helper()
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), field) {
		tb.Fatalf("got %v, want InvalidArgument naming %q", err, field)
	}
}
