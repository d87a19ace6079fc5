package auth

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// whoami is the health service, telling in response headers the principal
// the interceptors put in the call's context.
type whoami struct{ *health.Server }

func (w whoami) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if err := grpc.SetHeader(ctx, principalHeader(ctx)); err != nil {
		return nil, err
	}
	return w.Server.Check(ctx, req)
}

func (w whoami) List(ctx context.Context, req *healthpb.HealthListRequest) (*healthpb.HealthListResponse, error) {
	if err := grpc.SetHeader(ctx, principalHeader(ctx)); err != nil {
		return nil, err
	}
	return w.Server.List(ctx, req)
}

func (w whoami) Watch(req *healthpb.HealthCheckRequest, ss healthpb.Health_WatchServer) error {
	if err := ss.SetHeader(principalHeader(ss.Context())); err != nil {
		return err
	}
	return w.Server.Watch(req, ss)
}

func principalHeader(ctx context.Context) metadata.MD {
	p, ok := FromContext(ctx)
	if !ok {
		return metadata.Pairs("x-via", "none")
	}
	return metadata.Pairs("x-via", p.Via, "x-subject", p.Subject, "x-org", p.OrgUnit)
}

// testServer is a gRPC server over TLS (client certificates verified when
// sent) with the authentication interceptors, and clients of it.
type testServer struct {
	plain, mapped, unmapped *grpc.ClientConn // without, with a mapped, with an unmapped client certificate
	token                   string           // a valid bearer token
}

func startServer(t *testing.T) testServer {
	t.Helper()
	dir := t.TempDir()
	ca := newCA(t, "city CA")
	caFile, _ := writePEM(t, dir, "ca", ca.cert, nil)
	srvCert, srvKey := ca.issue(t, localhost())
	certFile, keyFile := writePEM(t, dir, "server", srvCert, srvKey)
	tlsCfg, err := ServerTLS(certFile, keyFile, caFile, false)
	if err != nil {
		t.Fatal(err)
	}
	signerPath, jwksPath, err := NewDevKey(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := LoadSigner(signerPath)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(t.Context(), VerifierConfig{JWKSFile: jwksPath, Audience: "whistle"})
	if err != nil {
		t.Fatal(err)
	}
	certs, err := ParseCertMap([]byte(testCertMap))
	if err != nil {
		t.Fatal(err)
	}
	a := &Authenticator{Verifier: v, Certs: certs,
		Public: func(m string) bool { return m == healthpb.Health_List_FullMethodName },
		Anonymous: func(_ context.Context, _ string, req any) (Principal, bool) {
			r, ok := req.(*healthpb.HealthCheckRequest)
			if !ok || r.GetService() != "code:ok" {
				return Principal{}, false
			}
			return Principal{Subject: "resident", OrgUnit: "community-12", Roles: []Role{RoleResident}, Via: "code"}, true
		}}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(tlsCfg)),
		grpc.ChainUnaryInterceptor(a.UnaryInterceptor()), grpc.ChainStreamInterceptor(a.StreamInterceptor()))
	hs := health.NewServer()
	hs.SetServingStatus("code:ok", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, whoami{hs})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)

	mapped, mappedKey := ca.issue(t, &x509.Certificate{URIs: []*url.URL{spiffe(t, "spiffe://city/intake")}})
	mappedCert, mappedKeyFile := writePEM(t, dir, "mapped", mapped, mappedKey)
	unmapped, unmappedKey := ca.issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "stranger"}})
	unmappedCert, unmappedKeyFile := writePEM(t, dir, "unmapped", unmapped, unmappedKey)
	c := officer()
	c.Issuer = ""
	return testServer{
		plain:    dial(t, lis.Addr().String(), caFile, "", ""),
		mapped:   dial(t, lis.Addr().String(), caFile, mappedCert, mappedKeyFile),
		unmapped: dial(t, lis.Addr().String(), caFile, unmappedCert, unmappedKeyFile),
		token:    mustMint(t, signer, c),
	}
}

func dial(t *testing.T, addr, caFile, certFile, keyFile string) *grpc.ClientConn {
	t.Helper()
	cfg, err := ClientTLS(caFile, certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// call makes one call of kind "check", "list" or "watch" (a stream: the
// first message) and returns the response headers.
func call(ctx context.Context, conn *grpc.ClientConn, kind, service string) (metadata.MD, error) {
	c := healthpb.NewHealthClient(conn)
	var md metadata.MD
	switch kind {
	case "list":
		_, err := c.List(ctx, &healthpb.HealthListRequest{}, grpc.Header(&md))
		return md, err
	case "watch":
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stream, err := c.Watch(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			return nil, err
		}
		if _, err := stream.Recv(); err != nil {
			return nil, err
		}
		return stream.Header()
	}
	_, err := c.Check(ctx, &healthpb.HealthCheckRequest{Service: service}, grpc.Header(&md))
	return md, err
}

func TestAuthenticatorGRPC(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	tests := []struct {
		name        string
		conn        *grpc.ClientConn
		auth        string // the authorization metadata; "" for none
		kind        string
		service     string
		wantCode    codes.Code
		wantVia     string
		wantSubject string
		wantMsg     string // part of the error message
	}{
		{"bearer token", s.plain, "Bearer " + s.token, "check", "", codes.OK, "jwt", "u-4711", ""},
		{"bearer token, scheme in any case", s.plain, "bEARER " + s.token, "check", "", codes.OK, "jwt", "u-4711", ""},
		{"bearer token wins over a certificate", s.mapped, "Bearer " + s.token, "check", "", codes.OK, "jwt", "u-4711", ""},
		{"bearer token on a stream", s.plain, "Bearer " + s.token, "watch", "", codes.OK, "jwt", "u-4711", ""},
		{"bad token", s.plain, "Bearer not.a.token", "check", "", codes.Unauthenticated, "", "", "malformed token"},
		{"bad token on a public method", s.plain, "Bearer x", "list", "", codes.Unauthenticated, "", "", "malformed token"},
		{"other scheme", s.plain, "Basic dTpw", "check", "", codes.Unauthenticated, "", "", `not "Bearer <token>"`},
		{"no credentials", s.plain, "", "check", "", codes.Unauthenticated, "", "", "no credentials: send a bearer token"},
		{"no credentials on a stream", s.plain, "", "watch", "", codes.Unauthenticated, "", "", "no credentials"},
		{"mapped client certificate", s.mapped, "", "check", "", codes.OK, "mtls", "uri:spiffe://city/intake", ""},
		{"mapped client certificate on a stream", s.mapped, "", "watch", "", codes.OK, "mtls", "uri:spiffe://city/intake", ""},
		{"unmapped client certificate", s.unmapped, "", "check", "", codes.Unauthenticated, "", "", "not in the client certificate map"},
		{"public method", s.plain, "", "list", "", codes.OK, "none", "", ""},
		{"public method with a token", s.plain, "Bearer " + s.token, "list", "", codes.OK, "jwt", "u-4711", ""},
		{"anonymous with a code", s.plain, "", "check", "code:ok", codes.OK, "code", "resident", ""},
		{"anonymous refused", s.plain, "", "check", "code:bad", codes.Unauthenticated, "", "", "no credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			if tt.auth != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, "authorization", tt.auth)
			}
			md, err := call(ctx, tt.conn, tt.kind, tt.service)
			if code := status.Code(err); code != tt.wantCode {
				t.Fatalf("code %v (%v), want %v", code, err, tt.wantCode)
			}
			if err != nil {
				if msg := status.Convert(err).Message(); !strings.Contains(msg, tt.wantMsg) || strings.Contains(msg, s.token) {
					t.Errorf("message %q, want it to contain %q (and not the token)", msg, tt.wantMsg)
				}
				return
			}
			if via, sub := first(md, "x-via"), first(md, "x-subject"); via != tt.wantVia || sub != tt.wantSubject {
				t.Errorf("principal via %q subject %q, want %q %q", via, sub, tt.wantVia, tt.wantSubject)
			}
		})
	}
}

func first(md metadata.MD, key string) string {
	if v := md.Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

func TestBearerToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		values  []string
		want    string
		wantOK  bool
		wantErr string
	}{
		{"none", nil, "", false, ""},
		{"bearer", []string{"Bearer abc"}, "abc", true, ""},
		{"lower case, extra spaces", []string{"  bearer   abc "}, "abc", true, ""},
		{"no token", []string{"Bearer"}, "", false, `not "Bearer <token>"`},
		{"basic", []string{"Basic abc"}, "", false, `not "Bearer <token>"`},
		{"two values", []string{"Bearer a", "Bearer b"}, "", false, "send exactly one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			md := metadata.MD{}
			for _, v := range tt.values {
				md.Append("authorization", v)
			}
			tok, ok, err := bearerToken(metadata.NewIncomingContext(t.Context(), md))
			if tt.wantErr != "" {
				wantUnauthenticated(t, err, tt.wantErr, "")
				return
			}
			if err != nil || tok != tt.want || ok != tt.wantOK {
				t.Errorf("bearerToken = %q, %v, %v; want %q, %v", tok, ok, err, tt.want, tt.wantOK)
			}
		})
	}
}

// TestAuthenticatorWithoutVerifier: a server without a verifier refuses
// tokens with a message saying what to use instead.
func TestAuthenticatorWithoutVerifier(t *testing.T) {
	t.Parallel()
	a := &Authenticator{}
	ctx := metadata.NewIncomingContext(t.Context(), metadata.Pairs("authorization", "Bearer abc"))
	_, err := a.UnaryInterceptor()(ctx, nil, &grpc.UnaryServerInfo{FullMethod: "/x.Y/Z"},
		func(context.Context, any) (any, error) { return nil, nil })
	wantUnauthenticated(t, err, "does not accept bearer tokens", "")
}

// TestAuthenticatorAPIKeys: an API key is checked by APIKeys and its
// principal marked as established by a key; a server without APIKeys, two
// keys, an empty key or a key with a token beside it are refused.
func TestAuthenticatorAPIKeys(t *testing.T) {
	t.Parallel()
	keys := func(_ context.Context, method, key string) (Principal, error) {
		if key != "o311_good" || method != "/x.Y/Z" {
			return Principal{}, Unauthenticated("unknown API key: ask for a new one")
		}
		return Principal{Subject: "open311-key:1", OrgUnit: "xc", Roles: []Role{RoleSystem}}, nil
	}
	tests := []struct {
		name    string
		keys    func(context.Context, string, string) (Principal, error)
		md      metadata.MD
		wantErr string
	}{
		{"good key", keys, metadata.Pairs(APIKeyHeader, "o311_good"), ""},
		{"unknown key", keys, metadata.Pairs(APIKeyHeader, "o311_bad"), "unknown API key"},
		{"no APIKeys", nil, metadata.Pairs(APIKeyHeader, "o311_good"), "does not accept API keys"},
		{"two keys", keys, metadata.Pairs(APIKeyHeader, "o311_good", APIKeyHeader, "o311_good"), "send exactly one"},
		{"empty key", keys, metadata.Pairs(APIKeyHeader, " "), "an empty"},
		{"key and token", keys, metadata.Pairs(APIKeyHeader, "o311_good", "authorization", "Bearer abc"), "send one credential"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := &Authenticator{APIKeys: tt.keys}
			var got Principal
			_, err := a.UnaryInterceptor()(metadata.NewIncomingContext(t.Context(), tt.md), nil,
				&grpc.UnaryServerInfo{FullMethod: "/x.Y/Z"}, func(ctx context.Context, _ any) (any, error) {
					got, _ = FromContext(ctx)
					return nil, nil
				})
			if tt.wantErr != "" {
				wantUnauthenticated(t, err, tt.wantErr, "")
				return
			}
			if err != nil || got.Subject != "open311-key:1" || got.OrgUnit != "xc" || got.Via != "api-key" {
				t.Fatalf("principal %+v, err %v; want open311-key:1 for xc via api-key", got, err)
			}
		})
	}
}
