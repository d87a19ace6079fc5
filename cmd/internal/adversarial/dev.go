package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// dev is a `whistle dev` the suite plays against: a real process with a
// fresh database, and its in-process NATS unless its settings name another.
type dev struct {
	name      string // how progress lines call it
	data, log string
	cmd       *exec.Cmd
	done      chan struct{}
	db        *database // nil: dev's private PostgreSQL
	ends      endpoints
}

// endpoints is <data>/endpoints.json, written by `whistle dev` once it serves.
type endpoints struct {
	GRPC     string `json:"grpc"`
	Postgres string `json:"postgres"`
	NATS     string `json:"nats"`
	PID      int    `json:"pid"`
}

// devReadyTimeout bounds the start (a private PostgreSQL initialises its data folder first).
const devReadyTimeout = 2 * time.Minute

// buildWhistle compiles this repository's whistle into dir.
func buildWhistle(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "whistle")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/whistle")
	cmd.Dir = repoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/whistle: %v\n%s(fix the build, then run make adversarial again)", err, out)
	}
	return bin, nil
}

// repoRoot finds the repository (the folder holding go.work) from the working folder.
func repoRoot() string {
	dir, _ := os.Getwd()
	for d := dir; d != "/"; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.work")); err == nil {
			return d
		}
	}
	return dir
}

// launcher starts `whistle dev`s: the binary, the work folder they keep
// their data and logs in, and the PostgreSQL server (pgURL) each gets a fresh
// database on; when that does not answer, dev runs its private one.
type launcher struct {
	bin, work, pgURL string
	out              io.Writer
}

// start runs `whistle dev`, named name in progress lines, on the folder dir
// of the work folder ("" for the work folder itself), with env added to dev's
// defaults, and waits until it has written its endpoints. The dev returned
// is to be stopped even when start fails.
func (l launcher) start(ctx context.Context, name, dir string, env ...string) (*dev, error) {
	dir = filepath.Join(l.work, dir)
	d := &dev{name: name, data: filepath.Join(dir, "data"), log: filepath.Join(dir, "whistle-dev.log"), done: make(chan struct{})}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return d, err
	}
	env = append(devEnv(), env...)
	db, err := createDatabase(ctx, l.pgURL)
	if err != nil {
		progress(l.out, "no PostgreSQL at %s (%v): %s starts its private one (needs PostgreSQL's binaries)", redact(l.pgURL), err, name)
	} else {
		d.db = db
		env = append(env, "WHISTLE_DATABASE_URL="+db.url)
		progress(l.out, "fresh database %s on %s for %s", db.name, redact(l.pgURL), name)
	}
	metrics, err := freePort()
	if err != nil {
		return d, err
	}
	env = append(env, fmt.Sprintf("WHISTLE_METRICS_ADDR=127.0.0.1:%d", metrics))
	if err := d.start(l.bin, env); err != nil {
		return d, err
	}
	progress(l.out, "%s started (pid %d, data %s, log %s); waiting for %s", name, d.cmd.Process.Pid, d.data, d.log,
		filepath.Join(d.data, "endpoints.json"))
	return d, d.waitReady(ctx, l.out)
}

// devEnv is the suite's environment without any WHISTLE_* setting, so that
// dev runs on its defaults (its own keys, NATS and rate limit) but for those
// the launcher adds.
func devEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WHISTLE_") {
			env = append(env, kv)
		}
	}
	return append(env, "WHISTLE_LOG_LEVEL=warn", "WHISTLE_SHUTDOWN_TIMEOUT=5s")
}

func (d *dev) start(bin string, env []string) error {
	logf, err := os.OpenFile(d.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	d.cmd = exec.Command(bin, "dev", "--addr", "127.0.0.1:0", "--data", d.data)
	d.cmd.Env = env
	dieWithParent(d.cmd)
	d.cmd.Stderr = logf
	stdout, err := d.cmd.StdoutPipe()
	if err != nil {
		_ = logf.Close()
		return err
	}
	if err := d.cmd.Start(); err != nil {
		_ = logf.Close()
		return fmt.Errorf("start %s dev: %w", bin, err)
	}
	go func() {
		defer close(d.done)
		defer logf.Close()
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			fmt.Fprintln(logf, sc.Text())
		}
		_, _ = io.Copy(logf, stdout)
		_ = d.cmd.Wait()
	}()
	return nil
}

// waitReady polls for endpoints.json, printing a line every 5 s.
func (d *dev) waitReady(ctx context.Context, out io.Writer) error {
	start := time.Now()
	deadline := time.After(devReadyTimeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	said := time.Now()
	for {
		if e, err := readEndpoints(d.data); err == nil {
			d.ends = e
			progress(out, "%s ready after %s: gRPC %s, NATS %s", d.name, time.Since(start).Round(100*time.Millisecond), e.GRPC, redact(e.NATS))
			return nil
		}
		select {
		case <-d.done:
			return fmt.Errorf("%s exited before it was ready; its log %s ends:\n%s", d.name, d.log, tail(d.log, 20))
		case <-deadline:
			return fmt.Errorf("%s not ready within %s; see its log %s", d.name, devReadyTimeout, d.log)
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			if time.Since(said) > 5*time.Second {
				progress(out, "still waiting for %s (%s)", d.name, time.Since(start).Round(time.Second))
				said = time.Now()
			}
		}
	}
}

func readEndpoints(data string) (endpoints, error) {
	var e endpoints
	b, err := os.ReadFile(filepath.Join(data, "endpoints.json"))
	if err != nil {
		return e, err
	}
	if err := json.Unmarshal(b, &e); err != nil {
		return e, err
	}
	if e.GRPC == "" {
		return e, errors.New("endpoints.json names no gRPC address")
	}
	return e, nil
}

// stop asks dev to stop (SIGINT, as Ctrl-C does), kills it after 30 s, and
// drops its database.
func (d *dev) stop(out io.Writer) {
	if d.cmd != nil && d.cmd.Process != nil {
		_ = d.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-d.done:
			progress(out, "%s stopped", d.name)
		case <-time.After(30 * time.Second):
			_ = d.cmd.Process.Kill()
			<-d.done
			progress(out, "%s did not stop within 30 s of SIGINT and was killed; see %s", d.name, d.log)
		}
	}
	if d.db != nil {
		if err := d.db.drop(); err != nil {
			progress(out, "could not drop database %s: %v (drop it by hand)", d.db.name, err)
		}
	}
}

// database is the suite's own database on an existing PostgreSQL server.
type database struct {
	admin, name, url string
}

// createDatabase makes a uniquely named database on the server at adminURL.
func createDatabase(ctx context.Context, adminURL string) (*database, error) {
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, adminURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	name := fmt.Sprintf("whistle_adversarial_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9)
	if _, err := conn.Exec(cctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return nil, fmt.Errorf("create database: %w", err)
	}
	cfg, err := pgx.ParseConfig(adminURL)
	if err != nil {
		return nil, err
	}
	url := fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable", cfg.User, net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port)), name)
	if cfg.Password != "" {
		url = fmt.Sprintf("postgres://%s:%s@%s/%s?sslmode=disable", cfg.User, cfg.Password,
			net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port)), name)
	}
	return &database{admin: adminURL, name: name, url: url}, nil
}

func (db *database) drop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, db.admin)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{db.name}.Sanitize()+" WITH (FORCE)")
	return err
}

// freePort returns a TCP port nobody listens on.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// redact hides a URL's password.
func redact(u string) string {
	at := strings.LastIndex(u, "@")
	scheme := strings.Index(u, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return u
	}
	userinfo := u[scheme+3 : at]
	if user, _, ok := strings.Cut(userinfo, ":"); ok {
		return u[:scheme+3] + user + ":***" + u[at:]
	}
	return u
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
