package postgres_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/whistle-civic/whistle/pkg/pgtest"
	"github.com/whistle-civic/whistle/pkg/postgres"
	"github.com/whistle-civic/whistle/pkg/telemetry"
)

// TestQueriesAreSpansOfTheCallersTrace checks the database spans: every
// statement made within a span is a client span beneath it, in its trace,
// with the semantic conventions' attributes and without the statement's
// arguments; work outside any span makes none.
func TestQueriesAreSpansOfTheCallersTrace(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tel, err := telemetry.Setup(context.Background(), telemetry.Options{ServiceName: "whistle-test", SpanExporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	dbURL := pgtest.NewDatabase(t)
	db, err := postgres.Open(context.Background(), postgres.Config{URL: dbURL, Schema: "traced", Tracer: tel.Tracer, ConnectWait: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if err := postgres.Migrate(context.Background(), db, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(context.Background(), `SELECT 1`); err != nil {
		t.Fatal(err)
	}
	if n := len(exp.GetSpans()); n != 0 {
		t.Fatalf("work outside any span made %d spans: %v", n, names(exp.GetSpans()))
	}

	const secret = "13800000000" // a resident's phone number must not reach the traces
	ctx, parent := tel.Tracer.Tracer("test").Start(context.Background(), "use case")
	err = db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO requests (scope, request_id, method) VALUES ($1, $2, 'test')`, "s", secret); err != nil {
			return err
		}
		var n int
		return tx.QueryRow(ctx, `SELECT count(*) FROM requests WHERE request_id = $1`, secret).Scan(&n)
	})
	parent.End()
	if err != nil {
		t.Fatal(err)
	}

	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	// A statement's span is the caller's child; pgx prepares a statement the
	// first time it runs it, in a span beneath the statement's.
	byID := map[trace.SpanID]tracetest.SpanStub{}
	for _, s := range exp.GetSpans() {
		byID[s.SpanContext.SpanID()] = s
	}
	var statements []string
	for _, s := range exp.GetSpans() {
		if s.SpanContext.SpanID() == parent.SpanContext().SpanID() {
			continue
		}
		attrs := attrMap(s)
		up := s.Parent.SpanID()
		if _, prepare := attrs["pgx.prepare_stmt.name"]; prepare {
			up = byID[up].Parent.SpanID() // past the statement's span
		}
		if s.SpanContext.TraceID() != parent.SpanContext().TraceID() || up != parent.SpanContext().SpanID() {
			t.Errorf("span %q is not beneath the caller's span", s.Name)
		}
		if s.SpanKind != trace.SpanKindClient {
			t.Errorf("span %q is a %s span, want client", s.Name, s.SpanKind)
		}
		for key, want := range map[string]string{
			"db.system.name": "postgresql",
			"db.namespace":   strings.TrimPrefix(u.Path, "/"),
			"server.address": u.Hostname(),
		} {
			if attrs[key] != want {
				t.Errorf("span %q: %s = %q, want %q", s.Name, key, attrs[key], want)
			}
		}
		for key, v := range attrs {
			if strings.Contains(v, secret) {
				t.Errorf("span %q carries an argument in %s: %q", s.Name, key, v)
			}
		}
		statements = append(statements, attrs["db.query.text"])
	}
	joined := strings.Join(statements, "\n")
	for _, want := range []string{"INSERT INTO requests", "SELECT count(*) FROM requests", "commit"} {
		if !strings.Contains(joined, want) {
			t.Errorf("no span with db.query.text %q; statements traced:\n%s", want, joined)
		}
	}
}

func attrMap(s tracetest.SpanStub) map[string]string {
	m := map[string]string{}
	for _, kv := range s.Attributes {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}

func names(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}
