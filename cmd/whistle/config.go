package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/whistle-civic/whistle/pkg/bus"
	"github.com/whistle-civic/whistle/pkg/egress"
	"github.com/whistle-civic/whistle/pkg/evalcode"
	"github.com/whistle-civic/whistle/pkg/notify"
	"github.com/whistle-civic/whistle/pkg/postgres"
	"github.com/whistle-civic/whistle/pkg/telemetry"
	"github.com/whistle-civic/whistle/services/dispatch"
	"github.com/whistle-civic/whistle/services/intake"
)

// config is read from WHISTLE_* variables; flags override it.
type config struct {
	// DatabaseURL is PostgreSQL. Empty in dev: a private server in the data folder.
	DatabaseURL string `env:"WHISTLE_DATABASE_URL"`
	// NATSURL is NATS with JetStream (tls:// for TLS). Empty in dev: an
	// in-process server, whose users and passwords dev makes itself.
	NATSURL string `env:"WHISTLE_NATS_URL"`
	// NATSUser and NATSPassword (or NATSPasswordFile, whose content less a
	// final newline is the password) log in to NATS; NATSNKeySeedFile (an
	// nkey seed) and NATSCreds (a .creds file) are the other ways; set one.
	// In serve each service logs in as its own user. Default none.
	NATSUser         string `env:"WHISTLE_NATS_USER"`
	NATSPassword     string `env:"WHISTLE_NATS_PASSWORD"`
	NATSPasswordFile string `env:"WHISTLE_NATS_PASSWORD_FILE"`
	NATSNKeySeedFile string `env:"WHISTLE_NATS_NKEY_SEED_FILE"`
	NATSCreds        string `env:"WHISTLE_NATS_CREDS"`
	// NATSTLSCA verifies the NATS servers' certificates (and turns TLS on);
	// NATSTLSCert and NATSTLSKey are the client certificate for servers
	// that verify clients. Default none: plain text unless the URL is tls://.
	NATSTLSCA   string `env:"WHISTLE_NATS_TLS_CA"`
	NATSTLSCert string `env:"WHISTLE_NATS_TLS_CERT"`
	NATSTLSKey  string `env:"WHISTLE_NATS_TLS_KEY"`
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
	// Empty: 127.0.0.1:9100 in dev, and in serve the loopback address of the
	// service's own port plus 2000 (intake 127.0.0.1:9001 … monitoring
	// 127.0.0.1:9005); a deployment scraped from outside sets it, e.g. :9001.
	MetricsAddr string `env:"WHISTLE_METRICS_ADDR"`
	// HealthDetails shows each check's result (names, values, errors) at
	// /healthz and /readyz also on a metrics address other than loopback,
	// where by default they give the status alone. Default false.
	HealthDetails bool `env:"WHISTLE_HEALTH_DETAILS"`
	// Insecure lets serve take gRPC in plain text, without
	// WHISTLE_TLS_CERT: only where a service mesh or a private network
	// encrypts the traffic. Default false: serve refuses to start without
	// TLS. Dev, on loopback, always serves plain text.
	Insecure bool `env:"WHISTLE_INSECURE"`
	// Reflection serves gRPC reflection in serve, to callers with
	// credentials. Default false. Dev always serves it (to anyone: loopback).
	Reflection bool `env:"WHISTLE_REFLECTION"`
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

	// Photos and videos (intake's UploadMedia): kept in MediaDir, or in an
	// S3-compatible bucket when S3Endpoint is set (S3SecretKey, or the
	// content of S3SecretKeyFile, less a final newline). whistle dev keeps
	// them in <data>/media unless told otherwise; whistle serve keeps none
	// without one of the two (uploads then answer Unavailable).
	MediaDir        string `env:"WHISTLE_MEDIA_DIR"`
	S3Endpoint      string `env:"WHISTLE_S3_ENDPOINT"`
	S3Bucket        string `env:"WHISTLE_S3_BUCKET" envDefault:"whistle-media"`
	S3Region        string `env:"WHISTLE_S3_REGION" envDefault:"us-east-1"`
	S3AccessKey     string `env:"WHISTLE_S3_ACCESS_KEY"`
	S3SecretKey     string `env:"WHISTLE_S3_SECRET_KEY"`
	S3SecretKeyFile string `env:"WHISTLE_S3_SECRET_KEY_FILE"`
	// S3Insecure speaks plain HTTP to the store (inside a private network only).
	S3Insecure bool   `env:"WHISTLE_S3_INSECURE"`
	S3CAFile   string `env:"WHISTLE_S3_CA_FILE"`
	// MaxPhotoBytes and MaxVideoBytes bound an upload (10 MB, 50 MB).
	MaxPhotoBytes int64 `env:"WHISTLE_MAX_PHOTO_BYTES" envDefault:"10485760"`
	MaxVideoBytes int64 `env:"WHISTLE_MAX_VIDEO_BYTES" envDefault:"52428800"`

	// EgressAllow lists the private addresses (CIDR prefixes or single IPs,
	// comma-separated) that webhooks and the SMS gateway may still reach;
	// every other loopback, private, link-local or metadata address is
	// refused (pkg/egress). Default none.
	EgressAllow string `env:"WHISTLE_EGRESS_ALLOW"`
	// SMSGatewayURL is the HTTP SMS gateway residents' notices are POSTed to
	// (pkg/notify.HTTPGateway), with SMSGatewayToken (or the content of
	// SMSGatewayTokenFile) as its bearer token. Default none: notices are
	// logged, masked, and not sent.
	SMSGatewayURL       string `env:"WHISTLE_SMS_GATEWAY_URL"`
	SMSGatewayToken     string `env:"WHISTLE_SMS_GATEWAY_TOKEN"`
	SMSGatewayTokenFile string `env:"WHISTLE_SMS_GATEWAY_TOKEN_FILE"`

	// The Open311 GeoReport v2 gateway (cmd/internal/open311). Open311Addr
	// is where it serves HTTP: default 127.0.0.1:7311 in dev ("off": none),
	// :7311 for `whistle serve open311`. Open311URL is its public URL, for
	// the discovery document (default http://<addr>). Open311TokenFile holds
	// the gateway's own bearer token, a monitor of the city, for reading
	// (dev: the sample monitor's).
	Open311Addr      string `env:"WHISTLE_OPEN311_ADDR"`
	Open311URL       string `env:"WHISTLE_OPEN311_URL"`
	Open311TokenFile string `env:"WHISTLE_OPEN311_TOKEN_FILE"`
	// ConsoleAddr is where the web console serves HTTP: default
	// 127.0.0.1:7320 in dev ("off": none), :7320 for `whistle serve console`.
	ConsoleAddr string `env:"WHISTLE_CONSOLE_ADDR"`
	// APIAddr is the deployment's gRPC address the HTTP edges (`whistle
	// serve open311`, `whistle serve console`) call (default
	// 127.0.0.1:7000), in TLS verified by APICA unless it is empty (plain
	// text: a private network only). In dev they call the dev's own.
	APIAddr string `env:"WHISTLE_API_ADDR" envDefault:"127.0.0.1:7000"`
	APICA   string `env:"WHISTLE_API_CA"`

	// dev is set by `whistle dev` (never by a variable): it serves on
	// loopback, reflection to anyone.
	dev bool
	// logTo receives the logs. Default (nil): stderr.
	logTo io.Writer
}

func loadConfig() (config, error) {
	var c config
	if err := env.Parse(&c); err != nil {
		return c, fmt.Errorf("read WHISTLE_* variables: %w", err)
	}
	return c, nil
}

// LogValue shows the configuration with every secret masked: the passwords
// of the database and NATS URLs and the NATS password itself.
func (c config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("database_url", postgres.MaskURL(c.DatabaseURL)),
		slog.String("nats_url", bus.MaskURL(c.NATSURL)),
		slog.Any("nats_auth", c.natsAuth(c.NATSPassword)),
		slog.Bool("nats_tls", c.natsTLS().Enabled()),
		slog.Int("stream_replicas", c.StreamReplicas),
		slog.String("city", c.City),
		slog.String("catalog", c.CatalogFile),
		slog.String("log_level", c.LogLevel),
		slog.Duration("shutdown_timeout", c.ShutdownTimeout),
		slog.Int("db_pool_size", int(c.PoolSize)),
		slog.String("metrics_addr", c.MetricsAddr),
		slog.Bool("health_details", c.HealthDetails),
		slog.Bool("pprof", c.Pprof),
		slog.Bool("insecure", c.Insecure),
		slog.Bool("reflection", c.Reflection),
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
		slog.String("media", c.mediaStore().String()),
		slog.Int64("max_photo_bytes", c.MaxPhotoBytes),
		slog.Int64("max_video_bytes", c.MaxVideoBytes),
		slog.String("egress_allow", c.EgressAllow),
		slog.String("sms_gateway", notify.HTTPGateway{URL: c.SMSGatewayURL, Token: c.SMSGatewayToken}.String()),
		slog.String("open311_addr", c.Open311Addr),
		slog.String("open311_url", c.Open311URL),
		slog.String("open311_token_file", c.Open311TokenFile),
		slog.String("console_addr", c.ConsoleAddr),
		slog.String("api_addr", c.APIAddr),
	)
}

// outbound is intake's webhook and notice configuration from the
// WHISTLE_EGRESS_ALLOW and WHISTLE_SMS_GATEWAY_* variables.
func (c config) outbound() (intake.WebhookConfig, intake.NoticeConfig, error) {
	allow, err := egress.ParseAllow(c.EgressAllow)
	if err != nil {
		return intake.WebhookConfig{}, intake.NoticeConfig{}, fmt.Errorf("%s: %w", egress.EnvAllow, err)
	}
	policy := egress.Policy{Allow: allow}
	hooks, notices := intake.WebhookConfig{Egress: policy}, intake.NoticeConfig{}
	if c.SMSGatewayURL == "" {
		return hooks, notices, nil
	}
	if _, err := policy.CheckURL(c.SMSGatewayURL); err != nil {
		return hooks, notices, fmt.Errorf("WHISTLE_SMS_GATEWAY_URL: %w (a gateway on a private address must be in %s)", err, egress.EnvAllow)
	}
	token := c.SMSGatewayToken
	if c.SMSGatewayTokenFile != "" {
		if token, err = readSecretFile("WHISTLE_SMS_GATEWAY_TOKEN_FILE", c.SMSGatewayTokenFile, "the SMS gateway's token"); err != nil {
			return hooks, notices, err
		}
	}
	notices.Notifier = notify.HTTPGateway{URL: c.SMSGatewayURL, Token: token, Client: policy.Client(0)}
	return hooks, notices, nil
}

// readSecretFile reads a secret from the file a variable names (a mounted
// secret), less its final newline; an empty file is refused, naming what
// it must hold.
func readSecretFile(variable, path, what string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", variable, err)
	}
	secret := strings.TrimRight(string(b), "\r\n")
	if secret == "" {
		return "", fmt.Errorf("%s %s is empty: put %s in it", variable, path, what)
	}
	return secret, nil
}

// natsBus is the NATS configuration of the WHISTLE_NATS_* variables: the
// URL, the stream's replicas, the credentials (the password read from
// WHISTLE_NATS_PASSWORD_FILE when that is set) and TLS.
func (c config) natsBus() (bus.Config, error) {
	pw := c.NATSPassword
	if c.NATSPasswordFile != "" {
		if pw != "" {
			return bus.Config{}, errors.New("set WHISTLE_NATS_PASSWORD or WHISTLE_NATS_PASSWORD_FILE, not both")
		}
		var err error
		if pw, err = readSecretFile("WHISTLE_NATS_PASSWORD_FILE", c.NATSPasswordFile, "the NATS user's password"); err != nil {
			return bus.Config{}, err
		}
	}
	bc := bus.Config{URL: c.NATSURL, Replicas: c.StreamReplicas, Auth: c.natsAuth(pw), TLS: c.natsTLS()}
	if err := bc.Auth.Validate(); err != nil {
		return bc, err
	}
	return bc, bc.TLS.Validate()
}

// natsAuth is how the services log in to NATS, with password pw.
func (c config) natsAuth(pw string) bus.Auth {
	return bus.Auth{User: c.NATSUser, Password: pw, NKeySeedFile: c.NATSNKeySeedFile, CredsFile: c.NATSCreds}
}

// natsTLS is the TLS of the NATS connections.
func (c config) natsTLS() bus.TLS {
	return bus.TLS{CA: c.NATSTLSCA, Cert: c.NATSTLSCert, Key: c.NATSTLSKey}
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
	out := c.logTo
	if out == nil {
		out = os.Stderr
	}
	return telemetry.NewLogger(out, level), nil
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
