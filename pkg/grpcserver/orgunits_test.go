package grpcserver_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/grpcserver"
	"github.com/whistle-civic/whistle/pkg/orgtree"
)

// units is an org tree held in memory: the units it knows, or none yet.
type units struct {
	mu    sync.Mutex
	known map[string]bool // nil: no tree yet
}

func (u *units) Known(_ context.Context, id string) (bool, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.known == nil {
		return false, orgtree.ErrNotYetKnown
	}
	return u.known[id], nil
}

// A caller whose credentials act for an org unit the active tree does not
// hold sees nothing, whatever its roles: the call is refused before it runs.
func TestCallersOfUnknownOrgUnitsAreRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	signerPath, jwks, err := auth.NewDevKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := auth.LoadSigner(signerPath)
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(context.Background(), auth.VerifierConfig{JWKSFile: filepath.Clean(jwks), Audience: "whistle"})
	if err != nil {
		t.Fatal(err)
	}
	tree := &units{}
	conn, svc := serveIntake(t, grpcserver.Options{Auth: &auth.Authenticator{Verifier: v}, OrgUnits: tree})
	client := whistlev1.NewIntakeServiceClient(conn)
	call := func(role auth.Role, org string) error {
		tok, err := signer.Mint(auth.Claims{Subject: "u-1", OrgUnit: org, Roles: []auth.Role{role}, Audience: "whistle"})
		if err != nil {
			t.Fatal(err)
		}
		ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
		_, err = client.GetTicket(ctx, &whistlev1.GetTicketRequest{Ticket: "HH-20261201-00001"})
		return err
	}
	if err := call(auth.RoleAdmin, "hh"); status.Code(err) != codes.Unavailable {
		t.Fatalf("before any tree arrived: %v, want Unavailable", err)
	}
	tree.mu.Lock()
	tree.known = map[string]bool{"hh": true, "xc-hd": true}
	tree.mu.Unlock()
	tests := []struct {
		role auth.Role
		org  string
		want codes.Code
	}{
		{auth.RoleReporter, "xc-hd", codes.OK},
		{auth.RoleAdmin, "hh", codes.OK},
		{auth.RoleReporter, "ghost", codes.PermissionDenied},
		{auth.RoleMonitor, "ghost", codes.PermissionDenied},
		{auth.RoleAdmin, "ghost", codes.PermissionDenied},
		{auth.RoleSystem, "xc-hd-removed", codes.PermissionDenied},
	}
	for _, tt := range tests {
		before := svc.calls.Load()
		err := call(tt.role, tt.org)
		if status.Code(err) != tt.want {
			t.Errorf("%s of %s: %v, want %s", tt.role, tt.org, err, tt.want)
		}
		if tt.want != codes.OK {
			if svc.calls.Load() != before {
				t.Errorf("%s of %s reached the service", tt.role, tt.org)
			}
			if msg := status.Convert(err).Message(); !strings.Contains(msg, "not in the active org tree") || !strings.Contains(msg, tt.org) {
				t.Errorf("%s of %s: message %q does not say which unit is unknown", tt.role, tt.org, msg)
			}
		}
	}
}
