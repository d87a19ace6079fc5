// Package pgserver runs a private PostgreSQL server from the machine's own
// PostgreSQL binaries: its data in a folder of ours, reachable only on a unix
// socket (no TCP port), started and stopped with our process. `whistle dev`
// uses it when WHISTLE_DATABASE_URL is unset, and so do the tests when no
// PostgreSQL answers on 127.0.0.1:5432.
//
// PostgreSQL refuses to run as root. When we are root, the server runs as the
// "postgres" user (or "nobody" when there is none), which owns the data folder.
package pgserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Options configure a server.
type Options struct {
	// Dir is the folder that holds the server's data (Dir/pgdata), its socket
	// (Dir/run, or a short folder under the system temp folder when Dir's path
	// is too long for a unix socket) and its log (Dir/postgres.log). Required.
	Dir string
	// BinDir holds initdb and postgres. Default: found on PATH (following
	// symlinks such as /usr/local/bin/pg_ctl) or under /usr/lib/postgresql/*/bin,
	// newest version first.
	BinDir string
	// Ephemeral trades durability for speed (fsync off), for tests.
	Ephemeral bool
	// Log receives progress lines. Default: discard.
	Log *slog.Logger
}

// Server is a running private PostgreSQL server.
type Server struct {
	sockDir   string
	ownSock   bool
	cmd       *exec.Cmd
	exited    chan struct{}
	exitErr   error
	logPath   string
	stopDelay time.Duration
}

// ErrNoBinaries is returned when no PostgreSQL server binaries can be found.
var ErrNoBinaries = errors.New("PostgreSQL server binaries (initdb, postgres) not found on PATH or under /usr/lib/postgresql/*/bin: " +
	"install them (Debian/Ubuntu: apt-get install postgresql; Fedora: dnf install postgresql-server; macOS: brew install postgresql) " +
	"or set WHISTLE_DATABASE_URL to a PostgreSQL server you already run")

// Start initialises the data folder on first use, starts the server and waits
// until it accepts connections. Stop it with Stop.
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	bin := o.BinDir
	if bin == "" {
		var err error
		if bin, err = FindBinaries(); err != nil {
			return nil, err
		}
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	run, err := newRunAs(dir)
	if err != nil {
		return nil, err
	}
	dataDir := filepath.Join(dir, "pgdata")
	if err := initData(ctx, bin, dataDir, run, o); err != nil {
		return nil, err
	}
	s := &Server{logPath: filepath.Join(dir, "postgres.log"), exited: make(chan struct{}), stopDelay: 15 * time.Second}
	if s.sockDir, s.ownSock, err = socketDir(dir, run); err != nil {
		return nil, err
	}
	if err := refuseIfRunning(dataDir); err != nil {
		return nil, err
	}
	if err := s.start(bin, dataDir, run, o); err != nil {
		return nil, err
	}
	o.Log.Info("private PostgreSQL starting", "data", dataDir, "socket", s.sockDir, "binaries", bin)
	if err := s.waitReady(ctx); err != nil {
		_ = s.Stop(context.WithoutCancel(ctx))
		return nil, err
	}
	return s, nil
}

// FindBinaries returns the folder holding initdb and postgres, or ErrNoBinaries.
func FindBinaries() (string, error) {
	var candidates []string
	for _, name := range []string{"postgres", "pg_ctl", "initdb"} {
		if p, err := exec.LookPath(name); err == nil {
			if real, err := filepath.EvalSymlinks(p); err == nil {
				candidates = append(candidates, filepath.Dir(real))
			}
		}
	}
	versions, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(versions, func(i, j int) bool { return pgMajor(versions[i]) > pgMajor(versions[j]) })
	candidates = append(candidates, versions...)
	candidates = append(candidates, "/usr/local/pgsql/bin", "/opt/homebrew/bin")
	for _, d := range candidates {
		if isExec(filepath.Join(d, "postgres")) && isExec(filepath.Join(d, "initdb")) {
			return d, nil
		}
	}
	return "", ErrNoBinaries
}

func pgMajor(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// URL returns a connection string for database dbname as user postgres.
func (s *Server) URL(dbname string) string {
	return fmt.Sprintf("host=%s port=5432 user=postgres dbname=%s sslmode=disable", s.sockDir, dbname)
}

// Stop shuts the server down (fast shutdown: open sessions are ended), waiting
// up to 15 s before escalating to an immediate shutdown and then a kill.
func (s *Server) Stop(ctx context.Context) error {
	defer func() {
		if s.ownSock {
			_ = os.RemoveAll(s.sockDir)
		}
	}()
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGQUIT, syscall.SIGKILL} {
		_ = s.cmd.Process.Signal(sig)
		select {
		case <-s.exited:
			return nil
		case <-time.After(s.stopDelay):
		case <-ctx.Done():
		}
	}
	<-s.exited
	return fmt.Errorf("PostgreSQL did not stop in time and was killed; see %s", s.logPath)
}

// Exited is closed when the server process ends.
func (s *Server) Exited() <-chan struct{} { return s.exited }

func (s *Server) start(bin, dataDir string, run *runAs, o Options) error {
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open PostgreSQL log: %w", err)
	}
	defer logf.Close()
	args := []string{"-D", dataDir, "-k", s.sockDir, "-c", "listen_addresses=", "-p", "5432",
		"-c", "max_connections=200", "-c", "unix_socket_permissions=0700"}
	if run.cred != nil {
		args[len(args)-1] = "unix_socket_permissions=0777"
	}
	if o.Ephemeral {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	s.cmd = exec.Command(filepath.Join(bin, "postgres"), args...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.Dir = "/" // the child changes folder before it gains its capabilities
	s.cmd.Env = []string{"LC_ALL=C", "PATH=" + os.Getenv("PATH")}
	s.cmd.SysProcAttr = run.attr()
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start PostgreSQL (%s): %w", bin, err)
	}
	go func() {
		s.exitErr = s.cmd.Wait()
		close(s.exited)
	}()
	return nil
}

func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("PostgreSQL exited while starting (%v); last lines of %s:\n%s", s.exitErr, s.logPath, tail(s.logPath, 10))
		case <-ctx.Done():
			return fmt.Errorf("PostgreSQL not ready within 60 s; see %s:\n%s", s.logPath, tail(s.logPath, 10))
		case <-time.After(50 * time.Millisecond):
		}
		conn, err := pgx.Connect(ctx, s.URL("postgres"))
		if err == nil {
			_ = conn.Close(ctx)
			return nil
		}
	}
}

func initData(ctx context.Context, bin, dataDir string, run *runAs, o Options) error {
	if _, err := os.Stat(filepath.Join(dataDir, "PG_VERSION")); err == nil {
		return run.own(dataDir)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("create PostgreSQL data folder: %w", err)
	}
	if err := run.own(dataDir); err != nil {
		return err
	}
	o.Log.Info("initialising private PostgreSQL (first run)", "data", dataDir)
	args := []string{"-D", dataDir, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C"}
	if o.Ephemeral {
		args = append(args, "--no-sync")
	}
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), args...)
	cmd.Env = []string{"LC_ALL=C", "PATH=" + os.Getenv("PATH")}
	cmd.Dir = "/"
	cmd.SysProcAttr = run.attr()
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.RemoveAll(dataDir)
		return fmt.Errorf("initdb failed: %w\n%s", err, out)
	}
	return nil
}

func refuseIfRunning(dataDir string) error {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return nil
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil || pid <= 0 {
		return nil
	}
	if syscall.Kill(pid, 0) == nil {
		if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.HasPrefix(string(comm), "postgres") {
			return fmt.Errorf("a PostgreSQL server (pid %d) already runs on %s: stop the other `whistle dev` using this data folder, or pass another --data", pid, dataDir)
		}
	}
	return nil
}

func socketDir(dir string, run *runAs) (string, bool, error) {
	sock := filepath.Join(dir, "run")
	own := false
	// A unix socket path must fit in 107 bytes.
	if len(sock)+len("/.s.PGSQL.5432") > 100 {
		d, err := os.MkdirTemp("", "whistle-pg-")
		if err != nil {
			return "", false, err
		}
		sock, own = d, true
	} else if err := os.MkdirAll(sock, 0o700); err != nil {
		return "", false, fmt.Errorf("create PostgreSQL socket folder: %w", err)
	}
	return sock, own, run.own(sock)
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// lookupUser returns the uid and gid of the first existing user among names.
func lookupUser(names ...string) (uint32, uint32, string, error) {
	for _, name := range names {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return uint32(uid), uint32(gid), name, nil
	}
	return 0, 0, "", fmt.Errorf("running as root, and none of the users %v exists to run PostgreSQL as: create a postgres user, or set WHISTLE_DATABASE_URL", names)
}
