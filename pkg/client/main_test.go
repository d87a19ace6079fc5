package client_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/whistle-civic/whistle/pkg/pgtest"
)

// The client is tested against the real thing: TestMain builds the whistle
// binary from this repository and runs `whistle dev` on a fresh database,
// with NATS in-process, and exports its address as WHISTLE_ADDR and the
// folder of its sample users' tokens as WHISTLE_TOKENS (which the examples read).
func TestMain(m *testing.M) {
	os.Exit(pgtest.Run(func() int {
		stop, err := startServer()
		if err != nil {
			fmt.Fprintln(os.Stderr, "client tests:", err)
			return 1
		}
		defer stop()
		return m.Run()
	}))
}

var dev *devServer

type devServer struct {
	bin, data, dbURL, addr string
	cmd                    *exec.Cmd
}

func startServer() (func(), error) {
	dir, err := os.MkdirTemp("", "whistle-client-test-")
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(dir, "whistle")
	build := exec.Command("go", "build", "-o", bin, "./cmd/whistle")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build whistle: %v\n%s", err, out)
	}
	dbURL, drop, err := pgtest.CreateDatabase()
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	_ = l.Close()
	dev = &devServer{bin: bin, data: filepath.Join(dir, "data"), dbURL: dbURL, addr: addr}
	if err := dev.start(); err != nil {
		return nil, err
	}
	os.Setenv("WHISTLE_ADDR", addr)
	os.Setenv("WHISTLE_TOKENS", filepath.Join(dev.data, "auth", "tokens"))
	return func() {
		dev.stop()
		drop()
		_ = os.RemoveAll(dir)
	}, nil
}

// start runs `whistle dev` and waits until it says it is ready.
func (d *devServer) start() error {
	d.cmd = exec.Command(d.bin, "dev", "--addr", d.addr, "--data", d.data)
	d.cmd.Env = append(os.Environ(), "WHISTLE_DATABASE_URL="+d.dbURL, "WHISTLE_NATS_URL=", "WHISTLE_LOG_LEVEL=warn",
		"WHISTLE_METRICS_ADDR=127.0.0.1:0")
	d.cmd.Stderr = os.Stderr
	out, err := d.cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := d.cmd.Start(); err != nil {
		return err
	}
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "ready") {
				ready <- nil
				_, _ = io.Copy(io.Discard, out)
				return
			}
		}
		ready <- fmt.Errorf("whistle dev exited before it was ready")
	}()
	select {
	case err := <-ready:
		return err
	case <-time.After(60 * time.Second):
		return fmt.Errorf("whistle dev not ready within 60 s")
	}
}

// stop interrupts the server as Ctrl-C would and waits for it.
func (d *devServer) stop() {
	_ = d.cmd.Process.Signal(syscall.SIGINT)
	_ = d.cmd.Wait()
}
