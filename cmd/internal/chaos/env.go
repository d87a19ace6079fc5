package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/evalcode"
	"github.com/whistle-civic/whistle/pkg/pgserver"

	"github.com/whistle-civic/whistle/cmd/internal/loop"
	"github.com/whistle-civic/whistle/cmd/internal/stack"
)

// env is one scenario's world: a private PostgreSQL, one NATS server or a
// cluster of three, and every Whistle service as its own process (one or two
// replicas each), with clients that balance over the replicas.
type env struct {
	dir, whistle, natsBin string
	pg                    *pgserver.Server
	db                    *pgxpool.Pool
	nats                  []*proc
	natsURL               string
	services              map[string][]*proc
	signer                *auth.Signer
	jwks                  string
	codeKeys              string // the evaluation code key file every intake and evaluation replica shares
	secrets               *secrets
	clients               loop.Clients
	conns                 []*grpc.ClientConn
	tokens                sync.Map
}

// envOptions shape an environment.
type envOptions struct {
	replicas int  // of every service
	cluster  bool // three NATS nodes, the stream at three replicas
}

// database is the database every service shares, each in its own schema.
const database = "whistle"

func newEnv(ctx context.Context, dir, whistle, natsBin string, o envOptions) (*env, error) {
	e := &env{dir: dir, whistle: whistle, natsBin: natsBin, services: map[string][]*proc{}}
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		return nil, err
	}
	var err error
	if e.secrets, err = newSecrets(dir); err != nil {
		return nil, err
	}
	if err := e.startPostgres(ctx); err != nil {
		return nil, err
	}
	if err := e.startNATS(ctx, o.cluster); err != nil {
		return e, err
	}
	keyFile, jwks, err := auth.NewDevKey(filepath.Join(dir, "auth"))
	if err != nil {
		return e, err
	}
	if e.signer, err = auth.LoadSigner(keyFile); err != nil {
		return e, err
	}
	e.jwks = jwks
	e.codeKeys = filepath.Join(dir, "auth", "evaluation-code.keys")
	if err := evalcode.Generate(e.codeKeys); err != nil {
		return e, err
	}
	replicas := "1"
	if o.cluster {
		replicas = "3"
	}
	for _, name := range stack.Names { // dispatch before intake and monitoring: it announces the org tree
		for r := 0; r < max(o.replicas, 1); r++ {
			p, err := e.serviceProc(name, r, replicas)
			if err != nil {
				return e, err
			}
			e.services[name] = append(e.services[name], p)
		}
	}
	for _, name := range []string{"dispatch", "intake", "response", "evaluation", "monitoring"} {
		for _, p := range e.services[name] {
			if err := p.start(ctx); err != nil {
				return e, err
			}
		}
	}
	return e, e.connect()
}

func (e *env) startPostgres(ctx context.Context) error {
	var err error
	if e.pg, err = pgserver.Start(ctx, pgserver.Options{Dir: filepath.Join(e.dir, "pg")}); err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, e.pg.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+database); err != nil {
		return err
	}
	e.db, err = pgxpool.New(ctx, e.pg.URL(database))
	return err
}

// startNATS runs one JetStream server, or a cluster of three.
func (e *env) startNATS(ctx context.Context, cluster bool) error {
	n := 1
	if cluster {
		n = 3
	}
	ports, routes := make([]int, n), make([]int, n)
	for i := range ports {
		var err error
		if ports[i], err = freePort(); err != nil {
			return err
		}
		if routes[i], err = freePort(); err != nil {
			return err
		}
	}
	secure, err := e.secrets.natsConfig()
	if err != nil {
		return err
	}
	var urls []string
	for i := range n {
		conf := filepath.Join(e.dir, fmt.Sprintf("nats-%d.conf", i+1))
		if err := os.WriteFile(conf, []byte(natsConfig(e.dir, i, ports, routes, cluster)+secure), 0o600); err != nil {
			return err
		}
		p := &proc{name: fmt.Sprintf("nats-%d", i+1), bin: e.natsBin, args: []string{"-c", conf}, port: ports[i],
			log: filepath.Join(e.dir, "logs", fmt.Sprintf("nats-%d.log", i+1))}
		e.nats = append(e.nats, p)
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", ports[i]))
	}
	for _, p := range e.nats {
		if err := p.start(ctx); err != nil {
			return err
		}
	}
	e.natsURL = strings.Join(urls, ",")
	return awaitJetStream(ctx, e.natsURL, e.secrets.natsOptions())
}

// awaitJetStream waits until JetStream answers (a cluster has elected its
// meta leader), at most 90 s.
func awaitJetStream(ctx context.Context, url string, opts []nats.Option) error {
	deadline := time.Now().Add(90 * time.Second)
	for {
		err := func() error {
			nc, err := nats.Connect(url, opts...)
			if err != nil {
				return err
			}
			defer nc.Close()
			js, err := jetstream.New(nc)
			if err != nil {
				return err
			}
			actx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			_, err = js.AccountInfo(actx)
			return err
		}()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("JetStream not ready within 90 s: %w", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// natsConfig is node i's configuration: JetStream on disk, and for a
// cluster its routes to the others.
func natsConfig(dir string, i int, ports, routes []int, cluster bool) string {
	c := fmt.Sprintf("server_name: n%d\nlisten: 127.0.0.1:%d\njetstream { store_dir: %q }\n", i+1, ports[i],
		filepath.Join(dir, fmt.Sprintf("js-%d", i+1)))
	if cluster {
		var rs []string
		for j, r := range routes {
			if j != i {
				rs = append(rs, fmt.Sprintf("nats-route://127.0.0.1:%d", r))
			}
		}
		c += fmt.Sprintf("cluster { name: whistle, listen: 127.0.0.1:%d, routes: [%s] }\n", routes[i], strings.Join(rs, ", "))
	}
	return c
}

func (e *env) serviceProc(name string, replica int, streamReplicas string) (*proc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	id := fmt.Sprintf("%s-%d", name, replica+1)
	return &proc{
		name: id, bin: e.whistle, args: []string{"serve", name, "--addr", fmt.Sprintf("127.0.0.1:%d", port)}, port: port,
		env: append([]string{"WHISTLE_DATABASE_URL=" + e.pg.URL(database), "WHISTLE_NATS_URL=" + e.natsURL, "WHISTLE_JWKS=" + e.jwks,
			"WHISTLE_EVALUATION_CODE_KEYS=" + e.codeKeys, "WHISTLE_STREAM_REPLICAS=" + streamReplicas, "WHISTLE_METRICS_ADDR=off", "WHISTLE_LOG_LEVEL=warn",
			"WHISTLE_RATE_LIMIT=0", "WHISTLE_SHUTDOWN_TIMEOUT=3s"}, e.secrets.serviceEnv(name)...),
		log:   filepath.Join(e.dir, "logs", id+".log"),
		ready: func(line string) bool { return strings.Contains(line, "ready on") },
	}, nil
}

// connect makes one client connection per service, balancing over its replicas.
func (e *env) connect() error {
	conns := map[string]*grpc.ClientConn{}
	for name, ps := range e.services {
		r := manual.NewBuilderWithScheme("chaos-" + name)
		var addrs []resolver.Address
		for _, p := range ps {
			addrs = append(addrs, resolver.Address{Addr: fmt.Sprintf("127.0.0.1:%d", p.port)})
		}
		r.InitialState(resolver.State{Addresses: addrs})
		conn, err := grpc.NewClient("chaos-"+name+":///"+name, grpc.WithResolvers(r),
			grpc.WithTransportCredentials(e.secrets.grpcCredentials()),
			grpc.WithDefaultServiceConfig(`{"loadBalancingConfig": [{"round_robin": {}}]}`))
		if err != nil {
			return err
		}
		conns[name] = conn
		e.conns = append(e.conns, conn)
	}
	e.clients = loop.NewClients(conns["intake"])
	e.clients.Dispatch = loop.NewClients(conns["dispatch"]).Dispatch
	e.clients.Response = loop.NewClients(conns["response"]).Response
	e.clients.Evaluation = loop.NewClients(conns["evaluation"]).Evaluation
	e.clients.Monitoring = loop.NewClients(conns["monitoring"]).Monitoring
	return nil
}

// as carries a token for a principal (loop.Options.As).
func (e *env) as(ctx context.Context, role auth.Role, org string) context.Context {
	key := string(role) + "@" + org
	tok, ok := e.tokens.Load(key)
	if !ok {
		t, err := e.signer.Mint(auth.Claims{Subject: "chaos-" + key, OrgUnit: org, Roles: []auth.Role{role},
			Audience: "whistle", TTL: 2 * time.Hour})
		if err != nil {
			panic(err) // a programming error: the claims are ours
		}
		tok, _ = e.tokens.LoadOrStore(key, t)
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok.(string))
}

// restartPostgres stops PostgreSQL (fast shutdown: every session ends) and
// starts it again on the same data.
func (e *env) restartPostgres(ctx context.Context, down time.Duration) error {
	if err := e.pg.Stop(ctx); err != nil {
		return err
	}
	time.Sleep(down)
	var err error
	e.pg, err = pgserver.Start(ctx, pgserver.Options{Dir: filepath.Join(e.dir, "pg")})
	return err
}

// close stops everything and removes the scenario's folder.
func (e *env) close() {
	for _, c := range e.conns {
		_ = c.Close()
	}
	for _, ps := range e.services {
		for _, p := range ps {
			p.stop()
		}
	}
	for _, p := range e.nats {
		p.stop()
	}
	if e.db != nil {
		e.db.Close()
	}
	if e.pg != nil {
		_ = e.pg.Stop(context.Background())
	}
}
