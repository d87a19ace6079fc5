package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// devChild is a `whistle dev` the bench started on a folder of its own.
type devChild struct {
	data string
	keep bool
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

// devReadyTimeout bounds the dev child's start (a first start initialises
// PostgreSQL's data folder).
const devReadyTimeout = 2 * time.Minute

// devEnv is the environment of the dev child: the bench's, without any
// external PostgreSQL, NATS or keys (the child makes its own), with no
// rate limit (the bench's callers would hit it) and no metrics port.
func devEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "WHISTLE_DATABASE_URL", "WHISTLE_NATS_URL", "WHISTLE_JWKS", "WHISTLE_EVALUATION_CODE_KEYS", "WHISTLE_RATE_LIMIT",
			"WHISTLE_METRICS_ADDR":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "WHISTLE_RATE_LIMIT=0", "WHISTLE_METRICS_ADDR=off")
}

// startDev starts `whistle dev` on a new temporary folder and waits until it
// is ready and has written its endpoints.
func startDev(ctx context.Context, t Target) (*devChild, error) {
	exe := t.Executable
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("find the whistle binary to start `whistle dev` with: %w (pass --addr to use a running one)", err)
		}
	}
	data, err := os.MkdirTemp("", "whistle-bench-")
	if err != nil {
		return nil, err
	}
	c := &devChild{data: data, keep: t.KeepData, done: make(chan struct{}), log: first(t.DevLog, filepath.Join(data, "dev.log"))}
	if err := c.start(exe); err != nil {
		_ = os.RemoveAll(data)
		return nil, err
	}
	if err := c.waitReady(ctx); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

func (c *devChild) start(exe string) error {
	logf, err := os.OpenFile(c.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	c.cmd = exec.Command(exe, "dev", "--data", c.data, "--addr", "127.0.0.1:0")
	c.cmd.Env = devEnv()
	dieWithParent(c.cmd)
	c.cmd.Stderr = logf
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		_ = logf.Close()
		return err
	}
	if err := c.cmd.Start(); err != nil {
		_ = logf.Close()
		return fmt.Errorf("start %s dev: %w", exe, err)
	}
	go func() {
		defer close(c.done)
		defer logf.Close()
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			fmt.Fprintln(logf, sc.Text())
		}
		_, _ = io.Copy(logf, out)
		_ = c.cmd.Wait()
	}()
	return nil
}

// waitReady waits until endpoints.json appears (written once the stack serves).
func (c *devChild) waitReady(ctx context.Context) error {
	deadline := time.After(devReadyTimeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := ReadEndpoints(c.data); err == nil {
			return nil
		}
		select {
		case <-c.done:
			return fmt.Errorf("whistle dev exited before it was ready; its log %s ends:\n%s", c.log, tail(c.log, 15))
		case <-deadline:
			return fmt.Errorf("whistle dev not ready within %s; see its log %s", devReadyTimeout, c.log)
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// stop asks the child to stop (SIGINT, as Ctrl-C), kills it after a minute,
// and removes its folder unless it is to be kept.
func (c *devChild) stop() {
	if c.cmd.Process != nil {
		_ = c.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-c.done:
		case <-time.After(time.Minute):
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	}
	if !c.keep {
		_ = os.RemoveAll(c.data)
	}
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
