package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/pgserver"

	"github.com/whistle-civic/whistle/cmd/internal/bench"
	"github.com/whistle-civic/whistle/cmd/internal/console"
	"github.com/whistle-civic/whistle/cmd/internal/loop"
)

// syncBuffer is a bytes.Buffer safe to read while `whistle dev` writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestDevOnEmbeddedDefaults runs `whistle dev` as a newcomer would, with no
// WHISTLE_* variables: a private PostgreSQL and an in-process NATS in the
// data folder. It pushes tickets through, stops it as Ctrl-C would, and
// checks that no PostgreSQL process is left behind; then starts it again on
// the same folder, where the tickets must still be.
func TestDevOnEmbeddedDefaults(t *testing.T) {
	if _, err := pgserver.FindBinaries(); err != nil {
		t.Fatalf("whistle dev needs PostgreSQL's binaries here: %v", err)
	}
	t.Setenv("WHISTLE_DATABASE_URL", "")
	t.Setenv("WHISTLE_NATS_URL", "")
	data := filepath.Join(t.TempDir(), "data")
	var firstRun []string
	for round := 1; round <= 2; round++ {
		addr, metrics := freeAddr(t), freeAddr(t)
		t.Setenv("WHISTLE_METRICS_ADDR", metrics)
		t.Setenv("WHISTLE_OPEN311_ADDR", freeAddr(t)) // not the default ports: other whistle devs may run
		t.Setenv("WHISTLE_CONSOLE_ADDR", freeAddr(t))
		ctx, cancel := context.WithCancel(context.Background())
		out := &syncBuffer{}
		done := make(chan error, 1)
		go func() { done <- runDev(ctx, mustConfig(t), devOptions{addr: addr, data: data}, out) }()
		deadline := time.Now().Add(60 * time.Second)
		for !strings.Contains(out.String(), "ready on "+addr) {
			select {
			case err := <-done:
				t.Fatalf("whistle dev exited: %v", err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatal("whistle dev not ready within 60 s")
			}
			time.Sleep(20 * time.Millisecond)
		}
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		if ctl := filepath.Join(data, "whistlectl.yaml"); !strings.Contains(out.String(), ctl) {
			t.Fatalf("whistle dev does not say where its whistlectl config is (%s):\n%s", ctl, out.String())
		}
		if toks, _ := filepath.Glob(filepath.Join(data, "auth", "tokens", "*.jwt")); len(toks) != 8 {
			t.Fatalf("tokens for the sample users: %v, want one for each of 8 roles", toks)
		}
		c, as := loop.NewClients(conn), devAs(t, data)
		res, err := loop.Run(context.Background(), c, loop.Options{Tickets: 5, Synthetic: true,
			RunID: fmt.Sprint("dev-", round), Timeout: time.Minute, As: as, City: "hh"})
		if err != nil || res.Closed != 5 {
			t.Fatalf("round %d: %s, %v %v", round, res.Summary(), err, res.Failures)
		}
		for _, id := range firstRun { // kept across the restart
			tl, err := c.Monitoring.GetTimeline(as(context.Background(), auth.RoleMonitor, "hh"), &whistlev1.GetTimelineRequest{TicketId: id})
			if err != nil || tl.GetState().GetStatus() != whistlev1.TicketStatus_TICKET_STATUS_CLOSED {
				t.Fatalf("ticket %s of the first run after a restart: %v, %v", id, tl.GetState(), err)
			}
		}
		firstRun = res.TicketIDs
		checkMetrics(t, metrics)
		checkDevTokenRules(t, c, data)
		checkDevNATS(t, data)
		if round == 1 {
			checkDevOpen311(t, c, data, as)
		}
		_ = conn.Close()
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("whistle dev stopped with %v", err)
		}
		if pid := postmasterPID(data); pid != 0 && syscall.Kill(pid, 0) == nil {
			t.Fatalf("PostgreSQL (pid %d) still runs after whistle dev stopped", pid)
		}
	}
}

// checkDevTokenRules checks that whistle dev accepts only tokens of its own
// issuer that live at most a day, however well they are signed.
func checkDevTokenRules(t *testing.T, c loop.Clients, data string) {
	t.Helper()
	keys, _ := filepath.Glob(filepath.Join(data, "auth", "signer-*.json"))
	signer, err := auth.LoadSigner(keys[0])
	if err != nil {
		t.Fatal(err)
	}
	ok := auth.Claims{Subject: "dev-test", OrgUnit: "hh", Roles: []auth.Role{auth.RoleMonitor}, Audience: "whistle", Issuer: devIssuer}
	noIssuer, otherIssuer, month := ok, ok, ok
	noIssuer.Issuer, otherIssuer.Issuer, month.TTL = "", "someone-else", 30*24*time.Hour
	for name, claims := range map[string]auth.Claims{"dev's own": ok, "no issuer": noIssuer, "another issuer": otherIssuer,
		"valid for a month": month} {
		tok, err := signer.Mint(claims)
		if err != nil {
			t.Fatal(err)
		}
		ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
		_, err = c.Monitoring.GetCounts(ctx, &whistlev1.GetCountsRequest{})
		if want := map[bool]codes.Code{true: codes.OK, false: codes.Unauthenticated}[name == "dev's own"]; status.Code(err) != want {
			t.Errorf("a token of %s: %v, want %s", name, err, want)
		}
	}
}

func mustConfig(t *testing.T) config {
	t.Helper()
	cfg, err := loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg.ShutdownTimeout = 5 * time.Second
	return cfg
}

// postmasterPID returns the pid PostgreSQL recorded, or 0 when it left no pid file.
func postmasterPID(data string) int {
	b, err := os.ReadFile(filepath.Join(data, "postgres", "pgdata", "postmaster.pid"))
	if err != nil {
		return 0
	}
	var pid int
	_, _ = fmt.Sscanf(string(b), "%d", &pid)
	return pid
}

// checkMetrics scrapes /metrics and looks for what ops watch: tickets by
// status and overdue, outbox lag, consumer lag and dead letters, per service.
func checkMetrics(t *testing.T, addr string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	for _, want := range []string{
		`whistle_tickets_overdue{service_name="whistle-monitoring",stage="accept"`,
		`whistle_outbox_pending{schema="intake",service_name="whistle-intake"`,
		`whistle_outbox_oldest_age_seconds{schema="dispatch",service_name="whistle-dispatch"`,
		`whistle_consumer_lag{consumer="monitoring",service_name="whistle-monitoring"`,
		`whistle_consumer_dead_letters_pending{consumer="dispatch",service_name="whistle-dispatch"`,
		"go_goroutines ",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s:\n%s", want, body)
		}
	}
}

// devAs mints tokens with the signing key `whistle dev` made in its data
// folder, as loop.Options.As.
func devAs(t *testing.T, data string) func(context.Context, auth.Role, string) context.Context {
	t.Helper()
	keys, _ := filepath.Glob(filepath.Join(data, "auth", "signer-*.json"))
	if len(keys) != 1 {
		t.Fatalf("signing keys in %s/auth: %v, want the one whistle dev made", data, keys)
	}
	signer, err := auth.LoadSigner(keys[0])
	if err != nil {
		t.Fatal(err)
	}
	return func(ctx context.Context, role auth.Role, org string) context.Context {
		tok, err := signer.Mint(auth.Claims{Subject: "dev-test", OrgUnit: org, Roles: []auth.Role{role}, Audience: "whistle",
			Issuer: devIssuer})
		if err != nil {
			t.Fatal(err)
		}
		return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
	}
}

// TestDevSummary: what whistle dev tells a person at a terminal names the
// console, the sample users, Open311, the gRPC address and the log file.
func TestDevSummary(t *testing.T) {
	t.Parallel()
	got := devSummary(bench.Endpoints{GRPC: "127.0.0.1:7000", Console: "http://127.0.0.1:7320/", Open311: "http://127.0.0.1:7311"},
		"127.0.0.1:9100", ".whistle/whistlectl.yaml", ".whistle/dev.log",
		[]console.User{{Name: "monitor", OrgUnit: "hh"}, {Name: "handler", OrgUnit: "xc-urban"}})
	for _, want := range []string{"web console  http://127.0.0.1:7320/", "sign in as monitor (hh), handler (xc-urban)",
		"Open311      http://127.0.0.1:7311/open311/v2/", "gRPC APIs    127.0.0.1:7000", "whistlectl --config .whistle/whistlectl.yaml smoke",
		"logs         .whistle/dev.log"} {
		if !strings.Contains(got, want) {
			t.Errorf("the summary lacks %q:\n%s", want, got)
		}
	}
}
