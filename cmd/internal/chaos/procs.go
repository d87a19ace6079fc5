package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// proc is a real process the suite runs, kills and restarts: a Whistle
// service or a NATS server.
type proc struct {
	name  string
	bin   string
	args  []string
	env   []string
	log   string
	ready func(line string) bool // nil: ready once the port answers
	port  int
	cmd   *exec.Cmd
	done  chan struct{}
}

// start runs the process and waits until it is ready (at most 60 s).
func (p *proc) start(ctx context.Context) error {
	logf, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	p.cmd = exec.Command(p.bin, p.args...)
	p.cmd.Env = append(os.Environ(), p.env...)
	p.cmd.Stderr = logf
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	p.done = make(chan struct{})
	ready := make(chan struct{})
	go func() {
		defer logf.Close()
		sc := bufio.NewScanner(out)
		signalled := false
		for sc.Scan() {
			fmt.Fprintln(logf, sc.Text())
			if !signalled && p.ready != nil && p.ready(sc.Text()) {
				close(ready)
				signalled = true
			}
		}
		_, _ = io.Copy(logf, out)
		_ = p.cmd.Wait()
		close(p.done)
	}()
	return p.waitReady(ctx, ready)
}

func (p *proc) waitReady(ctx context.Context, ready chan struct{}) error {
	deadline := time.After(60 * time.Second)
	for {
		if p.ready == nil && p.port != 0 {
			if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p.port), 200*time.Millisecond); err == nil {
				_ = c.Close()
				return nil
			}
		}
		select {
		case <-ready:
			return nil
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready; see %s:\n%s", p.name, p.log, tailOf(p.log, 15))
		case <-deadline:
			return fmt.Errorf("%s not ready within 60 s; see %s", p.name, p.log)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// kill ends the process at once (SIGKILL), as a crash or an OOM kill would.
func (p *proc) kill() { p.signal(syscall.SIGKILL, time.Minute) }

// stop asks the process to end (SIGTERM), then kills it after 15 s.
func (p *proc) stop() {
	if !p.signal(syscall.SIGTERM, 15*time.Second) {
		p.kill()
	}
}

// signal sends sig and waits up to wait for the process to end.
func (p *proc) signal(sig syscall.Signal, wait time.Duration) bool {
	if p.cmd == nil || p.cmd.Process == nil {
		return true
	}
	select {
	case <-p.done:
		return true
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return true
	case <-time.After(wait):
		return false
	}
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

// build compiles the binaries the suite runs into dir: whistle from this
// repository and nats-server at the version go.mod pins.
func build(ctx context.Context, dir string) (whistle, natsServer string, err error) {
	whistle, natsServer = filepath.Join(dir, "whistle"), filepath.Join(dir, "nats-server")
	for _, b := range []struct{ out, pkg string }{
		{whistle, "./cmd/whistle"},
		{natsServer, "github.com/nats-io/nats-server/v2"},
	} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", b.out, b.pkg)
		cmd.Dir = repoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("build %s: %v\n%s", b.pkg, err, out)
		}
	}
	return whistle, natsServer, nil
}

// repoRoot finds the repository from the working folder (make runs the
// suite from the root; go run from anywhere inside it).
func repoRoot() string {
	dir, _ := os.Getwd()
	for d := dir; d != "/"; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.work")); err == nil {
			return d
		}
	}
	return dir
}

func tailOf(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
