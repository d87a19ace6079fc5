package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"gopkg.in/yaml.v3"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/bus"

	"github.com/whistle-civic/whistle/cmd/internal/loop"
)

// Deployment is the Whistle a run drives and what the run may measure of it.
type Deployment struct {
	// Describe names it in the report, e.g. "whistle dev on 127.0.0.1:7000".
	Describe string
	// Clients talk to its five APIs.
	Clients loop.Clients
	// As returns ctx carrying the credentials of a principal with the role,
	// acting for the org unit.
	As func(ctx context.Context, role auth.Role, orgUnit string) context.Context
	// City is the root org unit (the city's monitor reads for it).
	City string
	// DatabaseURL is the PostgreSQL every service's schema lives in; empty:
	// the work per ticket is not counted and the floor cannot run.
	DatabaseURL string
	// NATSURL and NATSOptions reach its JetStream (for the floor); Stream is
	// the events stream whose storage the floor's stream copies. Default "WHISTLE".
	NATSURL     string
	NATSOptions []nats.Option
	Stream      string
	// Processes are measured (CPU, RSS) along with the bench itself.
	Processes []Process

	close func()
}

// Close releases the connection and stops what the deployment started.
func (d *Deployment) Close() {
	if d.close != nil {
		d.close()
	}
}

// Target says where to find the deployment: a fresh `whistle dev` the bench
// starts (Dev), an existing one by its data folder (Data), or any one by its
// address and credentials.
type Target struct {
	// Dev starts Executable (default: this program) as `whistle dev` on a
	// new temporary data folder, and stops it at the end (KeepData keeps
	// the folder: logs, data).
	Dev        bool
	Executable string
	KeepData   bool
	// Data is the data folder of a running `whistle dev`: its endpoints.json
	// and whistlectl.yaml give the address, credentials, PostgreSQL and NATS.
	Data string
	// Addr, Config (a whistlectl config file), SigningKey and City say where
	// the deployment is and how to mint tokens for it; flags win over Config.
	Addr, Config, SigningKey, City string
	// DatabaseURL and NATSURL reach its PostgreSQL and NATS (for counting the
	// work per ticket and the floor); optional. NATS logs the floor in to
	// NATSURL (a user allowed FloorPublishAllow); a `whistle dev` data
	// folder's endpoints.json gives its own floor user instead.
	DatabaseURL, NATSURL string
	NATS                 bus.Config
	// DevLog receives the dev child's log lines (default: <data>/dev.log).
	DevLog string
}

// ctlConfig is the part of whistlectl's config file the bench reads.
type ctlConfig struct {
	Addr       string `yaml:"addr"`
	TLS        bool   `yaml:"tls"`
	CAFile     string `yaml:"ca_file"`
	ServerName string `yaml:"server_name"`
	SigningKey string `yaml:"signing_key"`
	Issuer     string `yaml:"issuer"`
	City       string `yaml:"city"`
}

// Endpoints is what `whistle dev` writes to <data>/endpoints.json (0600)
// once ready.
type Endpoints struct {
	GRPC     string `json:"grpc"`
	Postgres string `json:"postgres"`
	NATS     string `json:"nats"`
	PID      int    `json:"pid"`
	// NATSUsers are the passwords of the tools' users of the in-process
	// NATS, by user: FloorUser, and "operator" for the nats CLI.
	NATSUsers map[string]string `json:"nats_users,omitempty"`
	// Open311 is the Open311 gateway's base URL, and Console the web
	// console's, when they run.
	Open311 string `json:"open311,omitempty"`
	Console string `json:"console,omitempty"`
}

// ReadEndpoints reads <data>/endpoints.json.
func ReadEndpoints(data string) (Endpoints, error) {
	var e Endpoints
	b, err := os.ReadFile(filepath.Join(data, "endpoints.json"))
	if err != nil {
		return e, fmt.Errorf("%w (is `whistle dev --data %s` running? it writes the file once ready)", err, data)
	}
	if err := json.Unmarshal(b, &e); err != nil {
		return e, fmt.Errorf("%s: %w (restart `whistle dev` to write it again)", filepath.Join(data, "endpoints.json"), err)
	}
	return e, nil
}

// Open connects to the target's deployment, starting a `whistle dev` first
// when t.Dev is set.
func Open(ctx context.Context, t Target) (*Deployment, error) {
	if !t.Dev {
		return open(t, nil)
	}
	if t.Addr != "" || t.Data != "" || t.Config != "" {
		return nil, errors.New("--dev starts a whistle dev of its own: leave out --addr, --data and --config (or drop --dev to drive theirs)")
	}
	dev, err := startDev(ctx, t)
	if err != nil {
		return nil, err
	}
	t.Data = dev.data
	d, err := open(t, dev)
	if err != nil {
		dev.stop()
		return nil, err
	}
	return d, nil
}

// open connects to a running deployment; dev, when set, is stopped on Close.
func open(t Target, dev *devChild) (*Deployment, error) {
	var ends Endpoints
	if t.Data != "" {
		var err error
		if ends, err = ReadEndpoints(t.Data); err != nil {
			return nil, err
		}
		if t.Config == "" {
			t.Config = filepath.Join(t.Data, "whistlectl.yaml")
		}
	}
	cfg, err := readConfig(t.Config)
	if err != nil {
		return nil, err
	}
	addr, key, city := first(t.Addr, ends.GRPC, cfg.Addr, "127.0.0.1:7000"), first(t.SigningKey, cfg.SigningKey), first(t.City, cfg.City)
	if key == "" || city == "" {
		return nil, errors.New("the bench acts as reporters, departments, communities and the city's monitor, so it needs the signing key " +
			"and the city's org unit: pass --signing-key and --city, or --config with a whistlectl config holding signing_key and city " +
			"(`whistle dev` writes one: <data>/whistlectl.yaml), or --data <whistle dev data folder>")
	}
	signer, err := auth.LoadSigner(key)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w (check --signing-key or signing_key in the config)", err)
	}
	conn, err := dial(addr, cfg)
	if err != nil {
		return nil, err
	}
	m := &minter{signer: signer, issuer: cfg.Issuer}
	d := &Deployment{Describe: "Whistle on " + addr, Clients: loop.NewClients(conn), As: m.as, City: city,
		DatabaseURL: first(t.DatabaseURL, ends.Postgres), NATSURL: first(t.NATSURL, ends.NATS)}
	if d.NATSOptions, err = floorNATS(t, ends); err != nil {
		_ = conn.Close()
		return nil, err
	}
	d.close = func() { _ = conn.Close() }
	if t.Data != "" {
		d.Processes = devProcesses(t.Data, ends.PID)
		d.Describe = "whistle dev on " + addr
	}
	if dev != nil {
		d.close = func() { _ = conn.Close(); dev.stop() }
		d.Describe = "a fresh whistle dev on " + addr
	}
	return d, nil
}

// floorNATS are the options that log the floor in: the floor user of a
// `whistle dev`, else t.NATS's credentials and TLS.
func floorNATS(t Target, ends Endpoints) ([]nats.Option, error) {
	if pw, ok := ends.NATSUsers[FloorUser]; ok && t.NATSURL == "" {
		return []nats.Option{nats.UserInfo(FloorUser, pw)}, nil
	}
	opts, err := t.NATS.ConnectOptions()
	if err != nil {
		return nil, fmt.Errorf("the floor's NATS credentials: %w", err)
	}
	return opts, nil
}

// readConfig reads a whistlectl config file; "" reads none. Paths in it are
// relative to the file.
func readConfig(path string) (ctlConfig, error) {
	var c ctlConfig
	if path == "" {
		return c, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("config: %w (check --config)", err)
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("config %s: %w (it is whistlectl's YAML: addr, signing_key, issuer, city, tls, ca_file)", path, err)
	}
	for _, p := range []*string{&c.SigningKey, &c.CAFile} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(filepath.Dir(path), *p)
		}
	}
	return c, nil
}

// dial makes one connection for every call; the calls carry their own tokens.
func dial(addr string, c ctlConfig) (*grpc.ClientConn, error) {
	creds := insecure.NewCredentials()
	if c.TLS {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
		if c.CAFile != "" {
			pem, err := os.ReadFile(c.CAFile)
			if err != nil {
				return nil, fmt.Errorf("ca_file: %w", err)
			}
			tc.RootCAs = x509.NewCertPool()
			tc.RootCAs.AppendCertsFromPEM(pem)
		}
		creds = credentials.NewTLS(tc)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, fmt.Errorf("--addr %q: %w", addr, err)
	}
	return conn, nil
}

// minter mints a token per principal with the deployment's signing key and
// reuses it (the run is shorter than the tokens live).
type minter struct {
	signer *auth.Signer
	issuer string // the tokens' "iss", from the config ("" for none)
	tokens sync.Map
}

// tokenTTL is how long the bench's tokens live.
const tokenTTL = 12 * time.Hour

func (m *minter) as(ctx context.Context, role auth.Role, org string) context.Context {
	key := string(role) + "@" + org
	tok, ok := m.tokens.Load(key)
	if !ok {
		t, err := m.signer.Mint(auth.Claims{Subject: "bench:" + key, OrgUnit: org, Roles: []auth.Role{role},
			Audience: "whistle", Issuer: m.issuer, TTL: tokenTTL})
		if err != nil {
			return ctx // the server refuses the call, and the error is counted
		}
		tok, _ = m.tokens.LoadOrStore(key, t)
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok.(string))
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
