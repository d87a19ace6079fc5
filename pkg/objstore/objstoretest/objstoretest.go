// Package objstoretest starts a real S3-compatible server for tests:
// versitygw (Apache-2.0) with its posix backend on a temporary folder, on a
// free loopback port, with random root credentials. The tests of the S3
// Store and of the services that keep files run against it, so what they
// check is what an S3 server answers, not what a fake assumes.
//
// The versitygw binary is, in order: the file $WHISTLE_VERSITYGW names,
// versitygw on $PATH, or <repository>/.bin/versitygw as `make tools`
// installs it (pinned in the Makefile). Without one the test fails, never
// skips.
package objstoretest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/whistle-civic/whistle/pkg/objstore"
)

// EnvBinary names the variable that may hold the versitygw binary's path.
const EnvBinary = "WHISTLE_VERSITYGW"

// StartS3 starts a versitygw server that lives until the test (or
// benchmark) ends, creates an empty bucket in it, and returns the Config of
// an S3 Store on that bucket (plain HTTP on 127.0.0.1). Each call starts
// its own server, so tests that call it can run in parallel. It calls
// t.Fatal when no versitygw binary is found, when the server does not
// start and answer within 30 s, or when the bucket cannot be created; the
// server's output is in the message.
func StartS3(t testing.TB) objstore.Config {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "s3")
	if err := os.Mkdir(data, 0o750); err != nil {
		t.Fatal(err)
	}
	access, secret := "whistle"+randomHex(6), randomHex(20)
	var srv *server
	for attempt := 0; ; attempt++ {
		srv, err = start(bin, data, access, secret)
		if err == nil {
			break
		}
		if !errors.Is(err, errPortTaken) || attempt == 4 {
			t.Fatalf("objstoretest: start versitygw (%s): %v", bin, err)
		}
	}
	t.Cleanup(srv.stop)
	cfg := objstore.Config{Backend: objstore.BackendS3, S3: objstore.S3Config{
		Endpoint:   srv.addr,
		Bucket:     "whistle-test-" + randomHex(4),
		AccessKey:  access,
		SecretKey:  secret,
		DisableTLS: true,
	}}
	store, err := objstore.NewS3(cfg.S3)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := store.EnsureBucket(ctx); err != nil {
		t.Fatalf("objstoretest: create the test bucket: %v\nversitygw's output:\n%s", err, srv.out.String())
	}
	return cfg
}

// Binary returns the path of the versitygw binary to run: $WHISTLE_VERSITYGW,
// else versitygw on $PATH, else <repository>/.bin/versitygw, where the
// repository is the nearest folder above the working directory that holds
// go.work. The error says how to install it.
func Binary() (string, error) {
	if p := os.Getenv(EnvBinary); p != "" {
		if st, err := os.Stat(p); err != nil || st.IsDir() {
			return "", fmt.Errorf("objstoretest: %s=%s is not a versitygw binary: fix the path, or unset it and run `make tools` to install versitygw", EnvBinary, p)
		}
		return p, nil
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	if root, ok := repoRoot(); ok {
		p := filepath.Join(root, ".bin", "versitygw")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", errors.New("objstoretest: no versitygw binary ($" + EnvBinary + ", PATH, .bin/versitygw): " +
		"run `make tools` to install versitygw")
}

func repoRoot() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

var errPortTaken = errors.New("port taken")

type server struct {
	cmd    *exec.Cmd
	addr   string
	out    *lockedBuffer
	exited chan struct{}
}

func start(bin, data, access, secret string) (*server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--port", addr, "--quiet", "posix", data)
	cmd.Env = append(cleanEnv(), "ROOT_ACCESS_KEY_ID="+access, "ROOT_SECRET_ACCESS_KEY="+secret)
	cmd.SysProcAttr = sysProcAttr()
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, addr: addr, out: out, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.exited) }()
	if err := s.waitReady(30 * time.Second); err != nil {
		s.stop()
		if strings.Contains(out.String(), "address already in use") {
			return nil, errPortTaken
		}
		return nil, fmt.Errorf("%w\nversitygw's output:\n%s", err, out.String())
	}
	return s, nil
}

// cleanEnv is the environment without the variables versitygw reads, so
// that a developer's own settings do not change the test server.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "VGW_") || strings.HasPrefix(kv, "ROOT_") || strings.HasPrefix(kv, "LOGFILE=") || strings.HasPrefix(kv, "WEBHOOK=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// waitReady polls the server until it answers an HTTP request (any status:
// an unsigned request is refused with 403 once it serves).
func (s *server) waitReady(limit time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(limit)
	for delay := 5 * time.Millisecond; ; delay = min(2*delay, 200*time.Millisecond) {
		resp, err := client.Get("http://" + s.addr + "/")
		if err == nil {
			_ = resp.Body.Close()
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("versitygw exited: %v", s.cmd.ProcessState)
		case <-time.After(delay):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("versitygw did not answer on %s within %v: %v", s.addr, limit, err)
		}
	}
}

// stop asks the server to stop, and kills it after 10 s.
func (s *server) stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(terminate)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// lockedBuffer keeps the last 64 KiB of the server's output.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - 64<<10; over > 0 {
		b.buf.Next(over)
	}
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
