package auth_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/grpcserver"
)

// TestToStatus: the server's one error mapper turns authentication failures,
// wrapped or not, into Unauthenticated with their own message.
func TestToStatus(t *testing.T) {
	t.Parallel()
	m, err := auth.ParseCertMap([]byte("clients: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, unmapped := m.Principal(&x509.Certificate{Subject: pkix.Name{CommonName: "x"}})
	tests := []struct {
		name    string
		err     error
		wantMsg string
	}{
		{"sentinel", auth.ErrUnauthenticated, auth.ErrUnauthenticated.Error()},
		{"wrapped sentinel", fmt.Errorf("intake: %w", auth.ErrUnauthenticated), "intake: unauthenticated"},
		{"check failure", unmapped, "not in the client certificate map"},
		{"wrapped check failure", fmt.Errorf("intake: %w", unmapped), "not in the client certificate map"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := grpcserver.ToStatus(t.Context(), tt.err)
			if st.Code() != codes.Unauthenticated || !strings.Contains(st.Message(), tt.wantMsg) {
				t.Errorf("status %v %q, want Unauthenticated with %q", st.Code(), st.Message(), tt.wantMsg)
			}
		})
	}
}
