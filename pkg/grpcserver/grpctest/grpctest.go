// Package grpctest serves gRPC services over an in-memory connection
// (bufconn), through the same server construction as production
// (pkg/grpcserver), so tests see real validation, error mapping and statuses.
package grpctest

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/whistle-civic/whistle/pkg/grpcserver"
)

// Serve starts a server with the services register adds and returns a client
// connection to it; both close when the test ends.
func Serve(tb testing.TB, opts grpcserver.Options, register func(grpc.ServiceRegistrar)) *grpc.ClientConn {
	tb.Helper()
	srv, err := grpcserver.New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	register(srv.GRPC)
	srv.SetServing()
	lis := bufconn.Listen(1 << 20)
	go func() { _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = conn.Close()
		srv.Stop(5 * time.Second)
	})
	return conn
}
