package main

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/bus"
	"github.com/whistle-civic/whistle/pkg/natsserver"
	"github.com/whistle-civic/whistle/pkg/pgtest"
)

// TestServeRefusesPlaintextUnlessTold: without a certificate, serve starts
// only when WHISTLE_INSECURE says something else encrypts the traffic, and
// its error says what to set.
func TestServeRefusesPlaintextUnlessTold(t *testing.T) {
	t.Parallel()
	cfg := config{DatabaseURL: "postgres://db/whistle", NATSURL: "nats://nats:4222", MetricsAddr: "off"}
	err := runServe(context.Background(), cfg, "intake", "127.0.0.1:0", &syncBuffer{})
	if !errors.Is(err, errPlaintext) || !strings.Contains(err.Error(), "WHISTLE_TLS_CERT and WHISTLE_TLS_KEY") ||
		!strings.Contains(err.Error(), "WHISTLE_INSECURE=true") {
		t.Fatalf("serve without TLS: %v, want the error naming WHISTLE_TLS_CERT, WHISTLE_TLS_KEY and WHISTLE_INSECURE", err)
	}
}

func TestServeDefaultsAreLoopbackAndQuiet(t *testing.T) {
	t.Parallel()
	cfg := config{HealthDetails: false}
	for addr, want := range map[string]bool{"127.0.0.1:9001": true, "localhost:9001": true, "[::1]:9001": true,
		":9001": false, "0.0.0.0:9001": false, "10.0.0.7:9001": false, "off": false} {
		cfg.MetricsAddr = addr
		if got := cfg.healthDetails(); got != want {
			t.Errorf("health details on %s: %v, want %v", addr, got, want)
		}
	}
	cfg.MetricsAddr, cfg.HealthDetails = ":9001", true
	if !cfg.healthDetails() {
		t.Error("WHISTLE_HEALTH_DETAILS=true shows no details on :9001")
	}
	if (config{}).public("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo") {
		t.Error("serve lets reflection through without credentials")
	}
	if !(config{dev: true}).public("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo") ||
		!(config{}).public("/grpc.health.v1.Health/Check") {
		t.Error("dev's reflection or anyone's health checks need credentials")
	}
}

// securedNATS is a NATS server on loopback that admits only a user per
// service, as every deployment's.
func securedNATS(t *testing.T) (*natsserver.Server, map[string]natsserver.User) {
	t.Helper()
	users, err := natsserver.ServiceUsers(bus.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ns, err := natsserver.Start(natsserver.Options{StoreDir: t.TempDir(), Listen: true, Users: natsserver.Sorted(users)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	return ns, users
}

// servedDispatch is a `whistle serve dispatch` of a test's own, on its own
// PostgreSQL database and NATS server (dispatch's user, its password in a
// file), in plain text (WHISTLE_INSECURE).
type servedDispatch struct {
	addr, metrics string
	log           *syncBuffer
	token         string
	password      string
}

func serveDispatch(t *testing.T, reflection, healthDetails bool) *servedDispatch {
	t.Helper()
	dir := t.TempDir()
	ns, users := securedNATS(t)
	pwFile := filepath.Join(dir, "nats-password")
	if err := os.WriteFile(pwFile, []byte(users["dispatch"].Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keyFile, jwks, err := auth.NewDevKey(filepath.Join(dir, "auth"))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := auth.LoadSigner(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := signer.Mint(auth.Claims{Subject: "ops", OrgUnit: "hh", Roles: []auth.Role{auth.RoleMonitor}, Audience: "whistle"})
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(freeAddr(t))
	s := &servedDispatch{addr: freeAddr(t), metrics: "127.0.0.1:" + port, log: &syncBuffer{}, token: tok,
		password: users["dispatch"].Password}
	cfg := mustConfig(t)
	cfg.DatabaseURL, cfg.NATSURL, cfg.NATSUser, cfg.NATSPasswordFile = pgtest.NewDatabase(t), ns.URL(), "dispatch", pwFile
	cfg.JWKS, cfg.JWTAudience, cfg.JWTIssuer, cfg.Insecure, cfg.logTo = jwks, "whistle", "", true, s.log
	cfg.MetricsAddr, cfg.Reflection, cfg.HealthDetails = ":"+port, reflection, healthDetails // all interfaces
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, cfg, "dispatch", s.addr, out) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve stopped with %v", err)
		}
	})
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(out.String(), "ready on"); time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("serve exited: %v\n%s", err, s.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not ready within 60 s:\n%s", s.log.String())
		}
	}
	return s
}

// reflect lists the services by reflection, with the token when withToken.
func (s *servedDispatch) reflect(t *testing.T, withToken bool) error {
	t.Helper()
	conn, err := grpc.NewClient(s.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := context.Background()
	if withToken {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+s.token)
	}
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		return err
	}
	// A refused stream ends the Send with io.EOF; Recv tells why.
	_ = stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}})
	_, err = stream.Recv()
	return err
}

// TestServeChoosesSafely runs `whistle serve dispatch` as a deployment
// would: it logs in to NATS as dispatch, says in one line what it chose,
// warns that tokens of any issuer pass, and by default keeps reflection off
// and /readyz on all interfaces to the status alone; with
// WHISTLE_REFLECTION and WHISTLE_HEALTH_DETAILS, reflection needs a token
// and /readyz shows its checks.
func TestServeChoosesSafely(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name             string
		reflection, info bool
	}{{"defaults", false, false}, {"reflection and health details", true, true}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := serveDispatch(t, c.reflection, c.info)
			log := s.log.String()
			for _, want := range []string{`"msg":"serving with"`, `"tls":"off (WHISTLE_INSECURE=true`, `"nats_auth":"user"`,
				`"jwt_issuer":"any"`, `"metrics_addr":":`, "WHISTLE_JWT_ISSUER is not set: tokens from any issuer"} {
				if !strings.Contains(log, want) {
					t.Errorf("the log lacks %s:\n%s", want, log)
				}
			}
			if strings.Contains(log, s.password) {
				t.Error("the log shows the NATS password")
			}
			withoutToken, withToken := s.reflect(t, false), s.reflect(t, true)
			if c.reflection && (status.Code(withoutToken) != codes.Unauthenticated || withToken != nil) {
				t.Errorf("reflection on: without a token %v (want Unauthenticated), with one %v (want OK)", withoutToken, withToken)
			}
			if !c.reflection && (status.Code(withoutToken) != codes.Unimplemented || status.Code(withToken) != codes.Unimplemented) {
				t.Errorf("reflection off: %v, %v; want Unimplemented", withoutToken, withToken)
			}
			body := get(t, s.metrics, "/readyz")
			if hasChecks := strings.Contains(body, `"checks"`); hasChecks != c.info || !strings.Contains(body, `"status"`) {
				t.Errorf("/readyz on all interfaces, details %v: %s", c.info, body)
			}
		})
	}
}

// TestServeWithAnotherUsersPasswordIsRefused: a wrong NATS password stops
// serve at once, saying what to check.
func TestServeWithAnotherUsersPasswordIsRefused(t *testing.T) {
	t.Parallel()
	ns, users := securedNATS(t)
	_, jwks, err := auth.NewDevKey(filepath.Join(t.TempDir(), "auth"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := mustConfig(t)
	cfg.DatabaseURL, cfg.NATSURL, cfg.NATSUser, cfg.NATSPassword = pgtest.NewDatabase(t), ns.URL(), "dispatch", users["intake"].Password
	cfg.JWKS, cfg.Insecure, cfg.MetricsAddr, cfg.logTo = jwks, true, "off", &syncBuffer{}
	start := time.Now()
	err = runServe(context.Background(), cfg, "dispatch", freeAddr(t), &syncBuffer{})
	if !errors.Is(err, bus.ErrNotAuthorized) || !strings.Contains(err.Error(), "WHISTLE_NATS_USER") {
		t.Fatalf("serve with intake's password for dispatch: %v", err)
	}
	if time.Since(start) > 15*time.Second {
		t.Errorf("refused after %s", time.Since(start))
	}
}
