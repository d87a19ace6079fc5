package grpcserver_test

import (
	"context"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/grpcserver"
	"github.com/whistle-civic/whistle/pkg/grpcserver/grpctest"
)

// listServices asks the server's reflection service what it carries.
func listServices(ctx context.Context, c reflectionpb.ServerReflectionClient) ([]string, error) {
	stream, err := c.ServerReflectionInfo(ctx)
	if err != nil {
		return nil, err
	}
	// A refused stream ends the Send with io.EOF; Recv tells why.
	_ = stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}})
	resp, err := stream.Recv()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	return names, nil
}

// Reflection is off unless asked for; when on behind authentication, it
// needs credentials, and any authenticated caller may use it.
func TestReflectionIsOptInAndAuthenticated(t *testing.T) {
	t.Parallel()
	keys := grpctest.NewKeys(t)
	withToken := keys.As(context.Background(), "r-1", auth.RoleReporter, "hh-g1")
	authn := keys.Authenticator
	for _, c := range []struct {
		name string
		opts grpcserver.Options
		ctx  context.Context
		want codes.Code
	}{
		{"off by default", grpcserver.Options{}, context.Background(), codes.Unimplemented},
		{"off by default, with credentials", grpcserver.Options{Auth: authn}, withToken, codes.Unimplemented},
		{"on without authentication", grpcserver.Options{Reflection: true}, context.Background(), codes.OK},
		{"on, no credentials", grpcserver.Options{Reflection: true, Auth: authn}, context.Background(), codes.Unauthenticated},
		{"on, any role's token", grpcserver.Options{Reflection: true, Auth: authn}, withToken, codes.OK},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			conn, _ := serveIntake(t, c.opts)
			names, err := listServices(c.ctx, reflectionpb.NewServerReflectionClient(conn))
			if status.Code(err) != c.want {
				t.Fatalf("reflection: %v, want %s", err, c.want)
			}
			if c.want == codes.OK && !slices.Contains(names, "whistle.v1.IntakeService") {
				t.Fatalf("reflection lists %v", names)
			}
		})
	}
}
