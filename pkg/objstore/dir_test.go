package objstore_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/whistle-civic/whistle/pkg/objstore"
)

func openDir(t *testing.T) (*objstore.Dir, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "objects")
	d, err := objstore.OpenDir(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d, path
}

// files lists the regular files under root, relative to it.
func files(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDirCannotEscapeRoot(t *testing.T) {
	t.Parallel()
	d, root := openDir(t)
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, make([]byte, 400), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(root, "file~obj")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.Get(t.Context(), "file"); err == nil {
		t.Fatal("Get followed a link out of the folder")
	}
	ctx := t.Context()
	for _, tc := range []struct {
		key     string
		invalid bool // refused by ValidKey, else by the folder
	}{
		{"../escape", true},
		{"a/../../escape", true},
		{"/etc/passwd", true},
		{"..", true},
		{"link/escape", false},
		{"link/deeper/escape", false},
	} {
		t.Run(tc.key, func(t *testing.T) {
			err := d.Put(ctx, tc.key, strings.NewReader("x"), 1, "text/plain")
			if err == nil {
				t.Fatal("Put succeeded")
			}
			if got := errors.Is(err, objstore.ErrInvalidKey); got != tc.invalid {
				t.Fatalf("Put: %v (invalid key: %v, want %v)", err, got, tc.invalid)
			}
			if _, _, err := d.Get(ctx, tc.key); err == nil {
				t.Fatal("Get succeeded")
			}
			if _, err := d.Stat(ctx, tc.key); err == nil {
				t.Fatal("Stat succeeded")
			}
			_ = d.Delete(ctx, tc.key)
		})
	}
	put(t, d, "file", []byte("replaces the link, not its target"), "text/plain")
	if got := files(t, outside); len(got) != 1 || got[0] != "secret" {
		t.Fatalf("files outside the folder: %q, want only secret", got)
	}
	if b, _ := os.ReadFile(secret); len(b) != 400 {
		t.Fatalf("the file outside was changed: %d bytes", len(b))
	}
	_ = d.List(ctx, "link/", func(i objstore.Info) error { t.Errorf("listed %s through the link", i.Key); return nil })
}

func TestDirFailedPutLeavesNothing(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	for _, tc := range []struct {
		name string
		put  func(ctx context.Context, cancel func(), d *objstore.Dir) error
	}{
		{"reader fails midway", func(ctx context.Context, _ func(), d *objstore.Dir) error {
			return d.Put(ctx, "a/b/c", failAfter(300_000, boom), -1, "image/jpeg")
		}},
		{"reader fails midway, known size", func(ctx context.Context, _ func(), d *objstore.Dir) error {
			return d.Put(ctx, "a/b/c", failAfter(300_000, boom), 400_000, "image/jpeg")
		}},
		{"reader too short", func(ctx context.Context, _ func(), d *objstore.Dir) error {
			return d.Put(ctx, "a/b/c", bytes.NewReader(make([]byte, 300_000)), 300_001, "image/jpeg")
		}},
		{"abandoned: context cancelled midway", func(ctx context.Context, cancel func(), d *objstore.Dir) error {
			return d.Put(ctx, "a/b/c", cancelAfter(300_000, cancel), -1, "image/jpeg")
		}},
		{"context cancelled before", func(ctx context.Context, cancel func(), d *objstore.Dir) error {
			cancel()
			return d.Put(ctx, "a/b/c", bytes.NewReader(nil), 0, "image/jpeg")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, root := openDir(t)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			err := tc.put(ctx, cancel, d)
			if err == nil {
				t.Fatal("Put succeeded")
			}
			if tc.name == "reader fails midway" && !errors.Is(err, boom) {
				t.Fatalf("Put: %v, want the reader's error", err)
			}
			if got := files(t, root); len(got) != 0 {
				t.Fatalf("files left behind: %q", got)
			}
		})
	}
}

func TestDirLayout(t *testing.T) {
	t.Parallel()
	d, root := openDir(t)
	ctx := t.Context()
	put(t, d, "a/b", []byte("22"), "text/plain")
	put(t, d, "c.jpg", []byte("1"), "text/plain")
	want := []string{"a/b~obj", "c.jpg~obj"}
	if got := files(t, root); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("files %q, want %q", got, want)
	}
	if err := d.Delete(ctx, "a/b"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "a")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the emptied folder a is still there: %v", err)
	}
	put(t, d, "a", []byte("a is an object now"), "text/plain")
	if got, _ := get(t, d, "c.jpg"); string(got) != "1" {
		t.Fatalf("c.jpg = %q", got)
	}
}

func TestDirRemovesStaleTemporaryFiles(t *testing.T) {
	t.Parallel()
	d, root := openDir(t)
	put(t, d, "x/y", []byte("kept"), "text/plain")
	stale := filepath.Join(root, "x", "z~tmp-0123456789abcdef")
	fresh := filepath.Join(root, "x", "z~tmp-fedcba9876543210")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("partial"), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	var keys []string
	_ = d.List(t.Context(), "", func(i objstore.Info) error { keys = append(keys, i.Key); return nil })
	if strings.Join(keys, ",") != "x/y" {
		t.Fatalf("List = %q, want only x/y", keys)
	}
	d2, err := objstore.OpenDir(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	got := files(t, root)
	if strings.Join(got, ",") != "x/y~obj,x/z~tmp-fedcba9876543210" {
		t.Fatalf("files after reopening: %q, want the object and the fresh temporary file", got)
	}
}

func TestDirRefusesForeignFiles(t *testing.T) {
	t.Parallel()
	d, root := openDir(t)
	if err := os.WriteFile(filepath.Join(root, "junk~obj"), []byte("not an object"), 0o640); err != nil {
		t.Fatal(err)
	}
	_, err := d.Stat(t.Context(), "junk")
	if err == nil || errors.Is(err, objstore.ErrNotFound) || !strings.Contains(err.Error(), "remove it") {
		t.Fatalf("Stat of a foreign file: %v", err)
	}
}
