package main

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/whistle-civic/whistle/pkg/evalcode"
	"github.com/whistle-civic/whistle/pkg/postgres"
	"github.com/whistle-civic/whistle/pkg/telemetry"
	"github.com/whistle-civic/whistle/services/dispatch"
	"github.com/whistle-civic/whistle/services/intake"
)

// config is read from WHISTLE_* variables; flags override it.
type config struct {
	// DatabaseURL is PostgreSQL. Empty in dev: a private server in the data folder.
	DatabaseURL string `env:"WHISTLE_DATABASE_URL"`
	// NATSURL is NATS with JetStream. Empty in dev: an in-process server.
	NATSURL string `env:"WHISTLE_NATS_URL"`
	// StreamReplicas of the WHISTLE stream: 1 in dev, 3 on a production cluster.
	StreamReplicas int `env:"WHISTLE_STREAM_REPLICAS" envDefault:"1"`
	// City prefixes ticket numbers.
	City string `env:"WHISTLE_CITY" envDefault:"HH"`
	// CatalogFile is a catalog YAML to route by. Empty: the sample catalog.
	CatalogFile string `env:"WHISTLE_CATALOG"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `env:"WHISTLE_LOG_LEVEL" envDefault:"info"`
	// ShutdownTimeout bounds each shutdown step.
	ShutdownTimeout time.Duration `env:"WHISTLE_SHUTDOWN_TIMEOUT" envDefault:"10s"`
	// PoolSize caps each service's database pool.
	PoolSize int32 `env:"WHISTLE_DB_POOL_SIZE" envDefault:"8"`
	// MetricsAddr is where Prometheus scrapes /metrics; "off" serves none.
	// Empty: 127.0.0.1:9100 in dev, and in serve the service's own port
	// plus 2000 (intake :9001 … monitoring :9005).
	MetricsAddr string `env:"WHISTLE_METRICS_ADDR"`
	// Pprof serves the Go profiler at /debug/pprof/ on the metrics address
	// (for performance work; the address must stay private). Default off.
	Pprof bool `env:"WHISTLE_PPROF"`
	// JWKS is the file or URL of the keys bearer tokens are signed with.
	// Required by serve; dev makes one in its data folder.
	JWKS string `env:"WHISTLE_JWKS"`
	// JWTAudience and JWTIssuer are what tokens must say they are for and from.
	JWTAudience string `env:"WHISTLE_JWT_AUDIENCE" envDefault:"whistle"`
	JWTIssuer   string `env:"WHISTLE_JWT_ISSUER"`
	// EvaluationCodeKeys is the key file intake derives residents'
	// evaluation codes with and evaluation checks them with (pkg/evalcode;
	// `whistle keys evaluation-code FILE` makes one). Required by serve for
	// intake and evaluation, the same file for both; dev makes one in
	// <data>/auth.
	EvaluationCodeKeys string `env:"WHISTLE_EVALUATION_CODE_KEYS"`
	// JWTMaxLifetime is the longest a token may be valid (exp − iat).
	JWTMaxLifetime time.Duration `env:"WHISTLE_JWT_MAX_LIFETIME" envDefault:"24h"`
	// TLSCert and TLSKey serve gRPC over TLS; TLSClientCA verifies client
	// certificates, which ClientCerts (YAML) maps to principals (mTLS).
	TLSCert     string `env:"WHISTLE_TLS_CERT"`
	TLSKey      string `env:"WHISTLE_TLS_KEY"`
	TLSClientCA string `env:"WHISTLE_TLS_CLIENT_CA"`
	ClientCerts string `env:"WHISTLE_CLIENT_CERTS"`
	// RateLimit is how many mutating calls a second each caller may make
	// (bursts of twice as many); 0 turns the limit off.
	RateLimit float64 `env:"WHISTLE_RATE_LIMIT" envDefault:"50"`
	// MaxOutbox, MaxOutboxAge and MaxLag are intake's backpressure: new
	// whistles are refused (ResourceExhausted, retry in 5 s) while more
	// events than MaxOutbox wait unsent in intake's outbox, the oldest has
	// waited longer than MaxOutboxAge, or dispatch's consumer has more than
	// MaxLag reported events not yet delivered or acknowledged (not applied
	// while NATS cannot be asked). A negative value turns a limit off.
	MaxOutbox    int           `env:"WHISTLE_MAX_OUTBOX" envDefault:"10000"`
	MaxOutboxAge time.Duration `env:"WHISTLE_MAX_OUTBOX_AGE" envDefault:"30m"`
	// HealthOutboxAge is how old a service's oldest unpublished event may be
	// before /readyz reports its outbox as lagging.
	HealthOutboxAge time.Duration `env:"WHISTLE_HEALTH_OUTBOX_AGE" envDefault:"60s"`
	MaxLag          int64         `env:"WHISTLE_MAX_LAG" envDefault:"20000"`
}

func loadConfig() (config, error) {
	var c config
	if err := env.Parse(&c); err != nil {
		return c, fmt.Errorf("read WHISTLE_* variables: %w", err)
	}
	return c, nil
}

// LogValue shows the configuration with the database password masked.
func (c config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("database_url", postgres.MaskURL(c.DatabaseURL)),
		slog.String("nats_url", postgres.MaskURL(c.NATSURL)),
		slog.Int("stream_replicas", c.StreamReplicas),
		slog.String("city", c.City),
		slog.String("catalog", c.CatalogFile),
		slog.String("log_level", c.LogLevel),
		slog.Duration("shutdown_timeout", c.ShutdownTimeout),
		slog.Int("db_pool_size", int(c.PoolSize)),
		slog.String("metrics_addr", c.MetricsAddr),
		slog.Bool("pprof", c.Pprof),
		slog.String("jwks", c.JWKS),
		slog.String("evaluation_code_keys", c.EvaluationCodeKeys),
		slog.String("jwt_audience", c.JWTAudience),
		slog.String("jwt_issuer", c.JWTIssuer),
		slog.Duration("jwt_max_lifetime", c.JWTMaxLifetime),
		slog.Bool("tls", c.TLSCert != ""),
		slog.String("client_certs", c.ClientCerts),
		slog.Float64("rate_limit", c.RateLimit),
		slog.Int("max_outbox", c.MaxOutbox),
		slog.Duration("max_outbox_age", c.MaxOutboxAge),
		slog.Int64("max_lag", c.MaxLag),
	)
}

// backpressure is intake's backpressure from WHISTLE_MAX_OUTBOX,
// WHISTLE_MAX_OUTBOX_AGE and WHISTLE_MAX_LAG.
func (c config) backpressure() intake.Backpressure {
	return intake.Backpressure{MaxOutbox: c.MaxOutbox, MaxOutboxAge: c.MaxOutboxAge, MaxLag: c.MaxLag}
}

func (c config) logger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return nil, fmt.Errorf("WHISTLE_LOG_LEVEL %q: use debug, info, warn or error", c.LogLevel)
	}
	return telemetry.NewLogger(os.Stderr, level), nil
}

// evaluationCodes reads WHISTLE_EVALUATION_CODE_KEYS; nil when unset.
func (c config) evaluationCodes() (*evalcode.Keys, error) {
	if c.EvaluationCodeKeys == "" {
		return nil, nil
	}
	keys, err := evalcode.Load(c.EvaluationCodeKeys)
	if err != nil {
		return nil, fmt.Errorf("WHISTLE_EVALUATION_CODE_KEYS: %w", err)
	}
	return keys, nil
}

func (c config) catalog() (*dispatch.Catalog, error) {
	if c.CatalogFile == "" {
		return nil, nil // the sample
	}
	data, err := os.ReadFile(c.CatalogFile)
	if err != nil {
		return nil, fmt.Errorf("read WHISTLE_CATALOG: %w", err)
	}
	cat, err := dispatch.ParseCatalog(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.CatalogFile, err)
	}
	return cat, nil
}
