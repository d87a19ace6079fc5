package objstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/whistle-civic/whistle/pkg/objstore"
	"github.com/whistle-civic/whistle/pkg/objstore/objstoretest"
)

// backends are the Stores every conformance case runs against.
var backends = []struct {
	name string
	open func(t *testing.T) objstore.Store
}{
	{"dir", func(t *testing.T) objstore.Store {
		d, err := objstore.OpenDir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = d.Close() })
		return d
	}},
	{"s3", func(t *testing.T) objstore.Store {
		s, err := objstore.Open(objstoretest.StartS3(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.(io.Closer).Close() })
		return s
	}},
}

// conformance is what every Store must do. Each case works under its own
// key prefix p (ending in "/"), so the cases share one store in parallel.
var conformance = []struct {
	name string
	run  func(t *testing.T, s objstore.Store, p string)
}{
	{"put then get byte for byte", func(t *testing.T, s objstore.Store, p string) {
		data := randomBytes(100_000, 1)
		put(t, s, p+"photo.jpg", data, "image/jpeg")
		got, info := get(t, s, p+"photo.jpg")
		if !bytes.Equal(got, data) {
			t.Fatalf("got %d bytes that differ from the %d put", len(got), len(data))
		}
		checkInfo(t, info, p+"photo.jpg", int64(len(data)), "image/jpeg")
		st, err := s.Stat(t.Context(), p+"photo.jpg")
		if err != nil {
			t.Fatal(err)
		}
		checkInfo(t, st, p+"photo.jpg", int64(len(data)), "image/jpeg")
	}},
	{"empty object", func(t *testing.T, s objstore.Store, p string) {
		put(t, s, p+"empty", nil, "text/plain")
		got, info := get(t, s, p+"empty")
		if len(got) != 0 {
			t.Fatalf("got %d bytes", len(got))
		}
		checkInfo(t, info, p+"empty", 0, "text/plain")
	}},
	{"overwrite replaces bytes and content type", func(t *testing.T, s objstore.Store, p string) {
		put(t, s, p+"k", []byte("the first version, longer"), "text/plain")
		put(t, s, p+"k", []byte("two!"), "image/png")
		got, info := get(t, s, p+"k")
		if string(got) != "two!" {
			t.Fatalf("got %q", got)
		}
		checkInfo(t, info, p+"k", 4, "image/png")
	}},
	{"empty content type is octet-stream", func(t *testing.T, s objstore.Store, p string) {
		put(t, s, p+"bin", []byte{1, 2, 3}, "")
		st, err := s.Stat(t.Context(), p+"bin")
		if err != nil {
			t.Fatal(err)
		}
		checkInfo(t, st, p+"bin", 3, objstore.DefaultContentType)
	}},
	{"bad content type refused", func(t *testing.T, s objstore.Store, p string) {
		for _, ct := range []string{"jpeg", "image/jpeg\r\nX-Evil: 1", strings.Repeat("a", 300) + "/b"} {
			if err := s.Put(t.Context(), p+"ct", strings.NewReader("x"), 1, ct); err == nil {
				t.Errorf("content type %q: no error", ct)
			}
		}
		if _, err := s.Stat(t.Context(), p+"ct"); !errors.Is(err, objstore.ErrNotFound) {
			t.Fatalf("Stat after refused Puts: %v, want ErrNotFound", err)
		}
	}},
	{"list by prefix in key order", func(t *testing.T, s objstore.Store, p string) {
		keys := []string{"a.b", "a/b", "a/c/d", "ab", "b", "a-z/q", "z/a", "a0"}
		for i, k := range keys {
			put(t, s, p+k, bytes.Repeat([]byte{'x'}, i+1), "text/plain")
		}
		size := func(k string) int64 { return int64(slices.Index(keys, k) + 1) }
		for _, tc := range []struct {
			prefix string
			want   []string
		}{
			{"", []string{"a-z/q", "a.b", "a/b", "a/c/d", "a0", "ab", "b", "z/a"}},
			{"a", []string{"a-z/q", "a.b", "a/b", "a/c/d", "a0", "ab"}},
			{"a/", []string{"a/b", "a/c/d"}},
			{"a/c", []string{"a/c/d"}},
			{"a/c/", []string{"a/c/d"}},
			{"a.", []string{"a.b"}},
			{"b", []string{"b"}},
			{"c", nil},
			{"q/r/", nil},
		} {
			var got []string
			err := s.List(t.Context(), p+tc.prefix, func(i objstore.Info) error {
				k := strings.TrimPrefix(i.Key, p)
				if i.Size != size(k) || i.ContentType != "" || i.ModTime.IsZero() {
					t.Errorf("List(%q) gave %+v: want size %d, no content type, a mod time", tc.prefix, i, size(k))
				}
				got = append(got, k)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("List(%q) = %q, want %q", tc.prefix, got, tc.want)
			}
		}
		stop := errors.New("stop")
		n := 0
		err := s.List(t.Context(), p, func(objstore.Info) error { n++; return stop })
		if err != stop || n != 1 {
			t.Fatalf("List with fn failing: %v after %d calls, want stop after 1", err, n)
		}
	}},
	{"delete", func(t *testing.T, s objstore.Store, p string) {
		put(t, s, p+"d", []byte("x"), "text/plain")
		put(t, s, p+"e/under", []byte("y"), "text/plain")
		for range 2 {
			if err := s.Delete(t.Context(), p+"d"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Stat(t.Context(), p+"d"); !errors.Is(err, objstore.ErrNotFound) {
			t.Fatalf("Stat after Delete: %v, want ErrNotFound", err)
		}
		if got, _ := get(t, s, p+"e/under"); string(got) != "y" {
			t.Fatalf("e/under = %q after deleting d", got)
		}
		if err := s.Delete(t.Context(), p+"never/was"); err != nil {
			t.Fatalf("Delete of a missing key: %v", err)
		}
		if err := s.Delete(t.Context(), p+"e/under"); err != nil {
			t.Fatal(err)
		}
		put(t, s, p+"e", []byte("e is no folder now"), "text/plain")
		if err := s.Delete(t.Context(), p+"e"); err != nil {
			t.Fatal(err)
		}
		var left []string
		_ = s.List(t.Context(), p, func(i objstore.Info) error { left = append(left, i.Key); return nil })
		if len(left) != 0 {
			t.Fatalf("left after deleting all: %q", left)
		}
	}},
	{"nested keys conflict", func(t *testing.T, s objstore.Store, p string) {
		put(t, s, p+"n/x", []byte("x"), "text/plain")
		for _, k := range []string{"n", "n/x/y", "n/x/y/z"} {
			if err := s.Put(t.Context(), p+k, strings.NewReader("y"), 1, "text/plain"); !errors.Is(err, objstore.ErrKeyConflict) {
				t.Errorf("Put(%q) with n/x stored: %v, want ErrKeyConflict", k, err)
			}
		}
		put(t, s, p+"n/x2", []byte("x"), "text/plain")
		put(t, s, p+"n.x", []byte("x"), "text/plain")
	}},
	{"missing key is ErrNotFound", func(t *testing.T, s objstore.Store, p string) {
		put(t, s, p+"dir/obj", []byte("x"), "text/plain")
		for _, k := range []string{"nothing", "dir", "dir/obj/more", "dir/ob"} {
			if _, err := s.Stat(t.Context(), p+k); !errors.Is(err, objstore.ErrNotFound) {
				t.Errorf("Stat(%q) = %v, want ErrNotFound", k, err)
			}
			if r, _, err := s.Get(t.Context(), p+k); !errors.Is(err, objstore.ErrNotFound) {
				if r != nil {
					_ = r.Close()
				}
				t.Errorf("Get(%q) = %v, want ErrNotFound", k, err)
			}
		}
	}},
	{"bad keys refused", func(t *testing.T, s objstore.Store, p string) {
		ctx := t.Context()
		for _, k := range badKeys {
			errs := map[string]error{
				"Put":    s.Put(ctx, k, strings.NewReader("x"), 1, "text/plain"),
				"Delete": s.Delete(ctx, k),
			}
			_, errs["Stat"] = s.Stat(ctx, k)
			_, _, errs["Get"] = s.Get(ctx, k)
			for op, err := range errs {
				var ke *objstore.KeyError
				if !errors.Is(err, objstore.ErrInvalidKey) || !errors.As(err, &ke) {
					t.Errorf("%s(%q) = %v, want a *KeyError", op, k, err)
				}
			}
		}
		for _, prefix := range []string{"/a", "a//", "A", "../", "a/../b", strings.Repeat("a", 513)} {
			err := s.List(ctx, prefix, func(objstore.Info) error { return nil })
			if !errors.Is(err, objstore.ErrInvalidKey) {
				t.Errorf("List(%q) = %v, want ErrInvalidKey", prefix, err)
			}
		}
	}},
	{"unknown size", func(t *testing.T, s objstore.Store, p string) {
		data := randomBytes(300_000, 2)
		r := io.MultiReader(iotest.HalfReader(bytes.NewReader(data[:1000])), bytes.NewReader(data[1000:]))
		if err := s.Put(t.Context(), p+"u", r, -1, "video/mp4"); err != nil {
			t.Fatal(err)
		}
		got, info := get(t, s, p+"u")
		if !bytes.Equal(got, data) {
			t.Fatalf("got %d bytes that differ from the %d put", len(got), len(data))
		}
		checkInfo(t, info, p+"u", int64(len(data)), "video/mp4")
	}},
	{"20 MB object", func(t *testing.T, s objstore.Store, p string) {
		const n = 20 << 20
		want := sha256.Sum256(randomBytes(n, 3))
		for _, size := range []int64{n, -1} {
			key := fmt.Sprintf("%sbig%d", p, size)
			if err := s.Put(t.Context(), key, bytes.NewReader(randomBytes(n, 3)), size, "video/mp4"); err != nil {
				t.Fatalf("size %d: %v", size, err)
			}
			r, info, err := s.Get(t.Context(), key)
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.New()
			m, err := io.Copy(h, r)
			_ = r.Close()
			if err != nil || m != n || !bytes.Equal(h.Sum(nil), want[:]) || info.Size != n {
				t.Fatalf("size %d: read %d bytes (Info.Size %d), err %v, same sha256 %v", size, m, info.Size, err, bytes.Equal(h.Sum(nil), want[:]))
			}
		}
	}},
	{"failed put changes nothing", func(t *testing.T, s objstore.Store, p string) {
		put(t, s, p+"old", []byte("the old bytes"), "text/plain")
		boom := errors.New("boom")
		for _, tc := range []struct {
			name string
			r    func(cancel func()) io.Reader
			size int64
		}{
			{"reader fails midway", func(func()) io.Reader { return failAfter(50_000, boom) }, -1},
			{"reader fails midway, known size", func(func()) io.Reader { return failAfter(50_000, boom) }, 100_000},
			{"reader too short", func(func()) io.Reader { return bytes.NewReader(make([]byte, 10)) }, 20},
			{"context cancelled midway", func(cancel func()) io.Reader { return cancelAfter(50_000, cancel) }, -1},
		} {
			for _, key := range []string{"old", "new"} {
				ctx, cancel := context.WithCancel(t.Context())
				err := s.Put(ctx, p+key, tc.r(cancel), tc.size, "text/plain")
				cancel()
				if err == nil {
					t.Errorf("%s: Put(%s) succeeded", tc.name, key)
				}
			}
		}
		if got, _ := get(t, s, p+"old"); string(got) != "the old bytes" {
			t.Fatalf("old object is now %q", got)
		}
		if _, err := s.Stat(t.Context(), p+"new"); !errors.Is(err, objstore.ErrNotFound) {
			t.Fatalf("Stat(new) after failed Puts: %v, want ErrNotFound", err)
		}
	}},
}

var badKeys = []string{
	"", "/abs", "..", "../x", "a/../b", "a/..", ".", "./a", "a/./b", "a//b", "a/", "A", "photo.JPG", "a b",
	"a\\b", "a~obj", "a\x00b", "é", "a?b", "a%2f..", strings.Repeat("a", 513),
}

func TestConformance(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			s := b.open(t)
			for i, c := range conformance {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					c.run(t, s, fmt.Sprintf("case%02d/", i))
				})
			}
		})
	}
}

func TestValidKey(t *testing.T) {
	t.Parallel()
	for _, k := range []string{"a", "tickets/0192f7c4-aa/photo-1.jpg", "a.b_c-d", "..a", "a/.hidden", "x/y/z", strings.Repeat("a", 512)} {
		if err := objstore.ValidKey(k); err != nil {
			t.Errorf("ValidKey(%q) = %v", k, err)
		}
	}
	for _, k := range badKeys {
		err := objstore.ValidKey(k)
		var ke *objstore.KeyError
		if !errors.As(err, &ke) || !errors.Is(err, objstore.ErrInvalidKey) || ke.Reason == "" {
			t.Errorf("ValidKey(%q) = %v, want a *KeyError", k, err)
			continue
		}
		if !strings.Contains(err.Error(), "a key is 1 to 512 characters") {
			t.Errorf("ValidKey(%q): %q does not say what a key is", k, err)
		}
	}
}

func TestS3Errors(t *testing.T) {
	t.Parallel()
	cfg := objstoretest.StartS3(t)
	for _, tc := range []struct {
		name   string
		change func(*objstore.S3Config)
		want   string
		is     error
	}{
		{"wrong secret", func(c *objstore.S3Config) { c.SecretKey += "x" }, "check S3.AccessKey and S3.SecretKey", nil},
		{"unknown access key", func(c *objstore.S3Config) { c.AccessKey = "nobody" }, "check S3.AccessKey and S3.SecretKey", nil},
		{"wrong region", func(c *objstore.S3Config) { c.Region = "cn-north-1" }, "check S3.Region", nil},
		{"missing bucket", func(c *objstore.S3Config) { c.Bucket = "no-such-bucket" }, "create it with EnsureBucket", objstore.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := cfg.S3
			tc.change(&c)
			s, err := objstore.NewS3(c)
			if err != nil {
				t.Fatal(err)
			}
			err = s.Put(t.Context(), "k", strings.NewReader("x"), 1, "text/plain")
			if err == nil || !strings.Contains(err.Error(), tc.want) || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Fatalf("Put: %v, want an error saying %q", err, tc.want)
			}
			if strings.Contains(err.Error(), cfg.S3.SecretKey) {
				t.Fatalf("the error shows the secret key: %v", err)
			}
		})
	}
	t.Run("EnsureBucket creates and keeps", func(t *testing.T) {
		t.Parallel()
		c := cfg.S3
		c.Bucket = "made-by-ensure"
		s, err := objstore.NewS3(c)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := s.EnsureBucket(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		put(t, s, "k", []byte("x"), "text/plain")
	})
}

func TestOpenAndConfig(t *testing.T) {
	t.Parallel()
	const secret = "very-secret-key-123"
	s3 := objstore.S3Config{Endpoint: "127.0.0.1:1", AccessKey: "ak", SecretKey: secret, DisableTLS: true}
	for _, tc := range []struct {
		name string
		cfg  objstore.Config
		want string // part of the error; "" for none
		typ  string
	}{
		{"zero config", objstore.Config{}, "Config.Dir is empty", ""},
		{"dir", objstore.Config{Dir: t.TempDir() + "/objects"}, "", "*objstore.Dir"},
		{"s3 by endpoint", objstore.Config{S3: s3}, "", "*objstore.S3"},
		{"unknown backend", objstore.Config{Backend: "ftp"}, `set it to "dir" or "s3"`, ""},
		{"s3 without endpoint", objstore.Config{Backend: "s3"}, "S3.Endpoint is empty", ""},
		{"s3 without secret", objstore.Config{S3: objstore.S3Config{Endpoint: "h:1", AccessKey: "a"}}, "S3.SecretKey is empty", ""},
		{"s3 endpoint with path", objstore.Config{S3: objstore.S3Config{Endpoint: "h:1/bucket", AccessKey: "a", SecretKey: "s"}}, "without a path", ""},
		{"s3 bad bucket", objstore.Config{S3: objstore.S3Config{Endpoint: "h:1", Bucket: "Bad_Bucket", AccessKey: "a", SecretKey: "s"}}, "S3.Bucket", ""},
		{"s3 https and DisableTLS", objstore.Config{S3: objstore.S3Config{Endpoint: "https://h", DisableTLS: true, AccessKey: "a", SecretKey: "s"}}, "drop one of them", ""},
		{"s3 small parts", objstore.Config{S3: objstore.S3Config{Endpoint: "h", PartSize: 1 << 20, AccessKey: "a", SecretKey: "s"}}, "S3.PartSize", ""},
		{"s3 missing CA file", objstore.Config{S3: objstore.S3Config{Endpoint: "h", CAFile: "/nonexistent.pem", AccessKey: "a", SecretKey: "s"}}, "S3.CAFile", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := objstore.Open(tc.cfg)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("Open: %v, want an error saying %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprintf("%T", s); got != tc.typ {
				t.Fatalf("Open gave a %s, want %s", got, tc.typ)
			}
		})
	}
	cfg := objstore.Config{S3: s3}
	var logged bytes.Buffer
	slogJSON(&logged, cfg)
	for _, shown := range []string{cfg.String(), fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg.S3), logged.String()} {
		if strings.Contains(shown, secret) {
			t.Errorf("the secret key is shown: %s", shown)
		}
		if !strings.Contains(shown, "127.0.0.1:1") || !strings.Contains(shown, "whistle-media") {
			t.Errorf("the endpoint or the default bucket is missing: %s", shown)
		}
	}
}

func slogJSON(w io.Writer, v any) {
	slog.New(slog.NewJSONHandler(w, nil)).Info("config", "objstore", v)
}

func put(t *testing.T, s objstore.Store, key string, data []byte, ct string) {
	t.Helper()
	if err := s.Put(t.Context(), key, bytes.NewReader(data), int64(len(data)), ct); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, s objstore.Store, key string) ([]byte, objstore.Info) {
	t.Helper()
	r, info, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b, info
}

func checkInfo(t *testing.T, i objstore.Info, key string, size int64, ct string) {
	t.Helper()
	if i.Key != key || i.Size != size || i.ContentType != ct || i.ModTime.IsZero() {
		t.Fatalf("Info %+v, want key %q, size %d, content type %q and a mod time", i, key, size, ct)
	}
}

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed)})
	_, _ = r.Read(b)
	return b
}

// failAfter returns a reader of n bytes that then fails with err.
func failAfter(n int, err error) io.Reader {
	return io.MultiReader(bytes.NewReader(make([]byte, n)), iotest.ErrReader(err))
}

// cancelAfter returns an endless reader that calls cancel once n bytes were
// read.
func cancelAfter(n int, cancel func()) io.Reader {
	return &cancelling{left: n, cancel: cancel}
}

type cancelling struct {
	left   int
	cancel func()
}

func (c *cancelling) Read(p []byte) (int, error) {
	if c.left <= 0 {
		c.cancel()
	}
	c.left -= len(p)
	clear(p)
	return len(p), nil
}
