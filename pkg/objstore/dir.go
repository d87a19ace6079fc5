package objstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Dir is a Store in a local folder, for `whistle dev` and single-machine
// deployments. The object under key "a/b/c.jpg" is the file "a/b/c.jpg~obj"
// in the folder: a fixed 320-byte header holding the content type, then the
// object's bytes. The "~" that no key may contain keeps object files apart
// from the folders of longer keys ("a" and "a/b" can both be objects), and
// from the temporary files of Puts under way ("c.jpg~tmp-…").
//
// Every file operation goes through an os.Root opened on the folder, so no
// key and no symbolic link planted in the folder can reach a file outside
// it. A Put writes a temporary file in the object's folder, syncs it to
// disk, renames it over the object and syncs the folder: readers see the
// old object or the new one, never part of one, even across a crash. (When
// only that last folder sync fails, Put returns its error with the whole
// new object in place.)
// Temporary files a crash left behind are removed by the next OpenDir once
// they are an hour old.
//
// Several processes may share one folder. Dir keeps no state in memory
// besides the open folder.
type Dir struct {
	root *os.Root
	path string
}

const (
	objSuffix  = "~obj"
	tmpMark    = "~tmp-"
	headerLen  = 320
	headerTag  = "whistle-object/1\n"
	staleAfter = time.Hour
)

// OpenDir returns a Dir on the folder at path, created (0750, with its
// parents) when missing. It fails when the folder cannot be created or
// opened (permissions, a file in the way). Close releases the folder.
func OpenDir(path string) (*Dir, error) {
	if err := os.MkdirAll(path, 0o750); err != nil {
		return nil, fmt.Errorf("objstore: create the folder %s: %w: fix the path or its permissions", path, err)
	}
	root, err := os.OpenRoot(path)
	if err != nil {
		return nil, fmt.Errorf("objstore: open the folder %s: %w: fix the path or its permissions", path, err)
	}
	d := &Dir{root: root, path: path}
	d.removeStale(".", time.Now().Add(-staleAfter))
	return d, nil
}

// Path returns the folder's path as given to OpenDir.
func (d *Dir) Path() string { return d.path }

// Close releases the folder. The Dir must not be used afterwards.
func (d *Dir) Close() error { return d.root.Close() }

// String describes the Dir, e.g. `objstore dir "/var/lib/whistle/objects"`.
func (d *Dir) String() string { return fmt.Sprintf("objstore dir %q", d.path) }

// splitKey returns the folder (OS path, "." for the top) and the file name
// of key's object file.
func splitKey(key string) (dir, file string) {
	dir, name := path.Split(key)
	if dir == "" {
		return ".", name + objSuffix
	}
	return filepath.FromSlash(strings.TrimSuffix(dir, "/")), name + objSuffix
}

func objectPath(key string) string {
	dir, file := splitKey(key)
	return filepath.Join(dir, file)
}

// Put implements Store.
func (d *Dir) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	ct, err := checkContentType(contentType)
	if err != nil {
		return err
	}
	if size < -1 {
		return fmt.Errorf("objstore: put %q: size %d: give the length in bytes, or -1 when it is not known", key, size)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("objstore: put %q: %w", key, err)
	}
	if err := d.checkConflict(key); err != nil {
		return err
	}
	dir, file := splitKey(key)
	f, tmp, err := d.createTemp(dir, file)
	if err != nil {
		return fmt.Errorf("objstore: put %q: %w", key, err)
	}
	done := false
	defer func() {
		if !done {
			_ = f.Close()
			_ = d.root.Remove(tmp)
		}
	}()
	if _, err := f.Write(encodeHeader(ct)); err != nil {
		return fmt.Errorf("objstore: put %q: %w", key, err)
	}
	buf := make([]byte, 256<<10)
	src := io.Reader(ctxReader{ctx, r})
	if size >= 0 {
		src = io.LimitReader(src, size)
	}
	n, err := io.CopyBuffer(f, src, buf)
	if err != nil {
		return fmt.Errorf("objstore: put %q: %w", key, err)
	}
	if size >= 0 && n < size {
		return fmt.Errorf("objstore: put %q: the reader ended after %d of the %d bytes announced: %w", key, n, size, io.ErrUnexpectedEOF)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("objstore: put %q: sync: %w", key, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("objstore: put %q: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		_ = d.root.Remove(tmp)
		done = true
		return fmt.Errorf("objstore: put %q: %w", key, err)
	}
	if err := d.root.Rename(tmp, filepath.Join(dir, file)); err != nil {
		_ = d.root.Remove(tmp)
		done = true
		return fmt.Errorf("objstore: put %q: %w", key, err)
	}
	done = true
	if err := d.syncDir(dir); err != nil {
		return fmt.Errorf("objstore: put %q: sync the folder: %w", key, err)
	}
	return nil
}

// checkConflict fails when an object's key is a folder of key, or key is
// a folder of objects' keys.
func (d *Dir) checkConflict(key string) error {
	for i := strings.IndexByte(key, '/'); i >= 0; i = next(key, i) {
		if _, err := d.root.Lstat(objectPath(key[:i])); err == nil {
			return fmt.Errorf("objstore: put %q: %w: %q is an object: choose keys of which none is a folder of another", key, ErrKeyConflict, key[:i])
		}
	}
	if st, err := d.root.Lstat(filepath.FromSlash(key)); err == nil && st.IsDir() {
		return fmt.Errorf("objstore: put %q: %w: objects exist under %q: choose keys of which none is a folder of another", key, ErrKeyConflict, key+"/")
	}
	return nil
}

// next returns the index of the '/' after the one at i, or -1.
func next(key string, i int) int {
	j := strings.IndexByte(key[i+1:], '/')
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

// createTemp creates a new temporary file beside the object file, creating
// the folders on the way. It tries again when a concurrent Delete removed
// a folder it had just created.
func (d *Dir) createTemp(dir, file string) (*os.File, string, error) {
	var last error
	for range 5 {
		if dir != "." {
			if err := d.root.MkdirAll(dir, 0o750); err != nil {
				return nil, "", err
			}
		}
		var rnd [8]byte
		_, _ = rand.Read(rnd[:])
		name := filepath.Join(dir, file[:len(file)-len(objSuffix)]+tmpMark+hex.EncodeToString(rnd[:]))
		f, err := d.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
		if err == nil {
			return f, name, nil
		}
		last = err
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	return nil, "", last
}

func (d *Dir) syncDir(dir string) error {
	f, err := d.root.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func encodeHeader(ct string) []byte {
	h := make([]byte, headerLen)
	n := copy(h, headerTag)
	n += copy(h[n:], ct)
	h[n] = '\n'
	return h
}

// decodeHeader returns the content type an object file's header holds.
func decodeHeader(h []byte) (string, bool) {
	if len(h) != headerLen || !bytes.HasPrefix(h, []byte(headerTag)) {
		return "", false
	}
	rest := h[len(headerTag):]
	i := bytes.IndexByte(rest, '\n')
	if i <= 0 {
		return "", false
	}
	return string(rest[:i]), true
}

// open opens key's object file and reads its header.
func (d *Dir) open(ctx context.Context, op, key string) (*os.File, Info, error) {
	if err := ValidKey(key); err != nil {
		return nil, Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return nil, Info{}, fmt.Errorf("objstore: %s %q: %w", op, key, err)
	}
	f, err := d.root.Open(objectPath(key))
	if err != nil {
		if isMissing(err) {
			return nil, Info{}, fmt.Errorf("objstore: %s %q: %w", op, key, ErrNotFound)
		}
		return nil, Info{}, fmt.Errorf("objstore: %s %q: %w", op, key, err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, Info{}, fmt.Errorf("objstore: %s %q: %w", op, key, err)
	}
	h := make([]byte, headerLen)
	ct, ok := "", false
	if _, err := f.ReadAt(h, 0); err == nil {
		ct, ok = decodeHeader(h)
	}
	if !ok || !st.Mode().IsRegular() {
		_ = f.Close()
		return nil, Info{}, fmt.Errorf("objstore: %s %q: %s is not an object file written by objstore: remove it",
			op, key, filepath.Join(d.path, objectPath(key)))
	}
	return f, Info{Key: key, Size: st.Size() - headerLen, ContentType: ct, ModTime: st.ModTime()}, nil
}

func isMissing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// Get implements Store. The reader also implements io.ReaderAt and
// io.Seeker over the object's bytes.
func (d *Dir) Get(ctx context.Context, key string) (io.ReadCloser, Info, error) {
	f, info, err := d.open(ctx, "get", key)
	if err != nil {
		return nil, Info{}, err
	}
	return objectReader{io.NewSectionReader(f, headerLen, info.Size), f}, info, nil
}

// objectReader reads an object file's bytes after its header.
type objectReader struct {
	*io.SectionReader
	io.Closer
}

// Stat implements Store.
func (d *Dir) Stat(ctx context.Context, key string) (Info, error) {
	f, info, err := d.open(ctx, "stat", key)
	if err != nil {
		return Info{}, err
	}
	_ = f.Close()
	return info, nil
}

// Delete implements Store. It also removes the folders the deletion left
// empty.
func (d *Dir) Delete(ctx context.Context, key string) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("objstore: delete %q: %w", key, err)
	}
	if err := d.root.Remove(objectPath(key)); err != nil && !isMissing(err) {
		return fmt.Errorf("objstore: delete %q: %w", key, err)
	}
	for dir, _ := splitKey(key); dir != "."; dir = filepath.Dir(dir) {
		if d.root.Remove(dir) != nil {
			break
		}
	}
	return nil
}

// List implements Store.
func (d *Dir) List(ctx context.Context, prefix string, fn func(Info) error) error {
	if err := validPrefix(prefix); err != nil {
		return err
	}
	base := prefix[:strings.LastIndexByte(prefix, '/')+1]
	dir := "."
	if base != "" {
		dir = filepath.FromSlash(strings.TrimSuffix(base, "/"))
	}
	return d.walk(ctx, dir, base, prefix, fn)
}

// walk lists the objects in folder dir, whose keys start with base, in key
// order: a folder "a" sorts as "a/", so that "a.b" comes before "a/b" as
// it does in S3.
func (d *Dir) walk(ctx context.Context, dir, base, prefix string, fn func(Info) error) error {
	entries, err := fs.ReadDir(d.root.FS(), filepath.ToSlash(dir))
	if err != nil {
		if isMissing(err) {
			return nil
		}
		return fmt.Errorf("objstore: list %q: %w", prefix, err)
	}
	type item struct {
		name string // the key's segment, with "/" for a folder
		e    fs.DirEntry
	}
	items := make([]item, 0, len(entries))
	for _, e := range entries {
		n := e.Name()
		switch {
		case e.IsDir() && !strings.Contains(n, "~"):
			items = append(items, item{n + "/", e})
		case e.Type().IsRegular() && strings.HasSuffix(n, objSuffix) && !strings.Contains(n, tmpMark):
			items = append(items, item{strings.TrimSuffix(n, objSuffix), e})
		}
	}
	slices.SortFunc(items, func(a, b item) int { return strings.Compare(a.name, b.name) })
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("objstore: list %q: %w", prefix, err)
		}
		key := base + it.name
		if it.e.IsDir() {
			if strings.HasPrefix(key, prefix) || strings.HasPrefix(prefix, key) {
				if err := d.walk(ctx, filepath.Join(dir, it.e.Name()), key, prefix, fn); err != nil {
					return err
				}
			}
			continue
		}
		if !strings.HasPrefix(key, prefix) || ValidKey(key) != nil {
			continue
		}
		st, err := it.e.Info()
		if err != nil {
			if isMissing(err) {
				continue // deleted meanwhile
			}
			return fmt.Errorf("objstore: list %q: %w", prefix, err)
		}
		if st.Size() < headerLen {
			continue
		}
		if err := fn(Info{Key: key, Size: st.Size() - headerLen, ModTime: st.ModTime()}); err != nil {
			return err
		}
	}
	return nil
}

// removeStale removes the temporary files older than before that crashed
// Puts left behind, in dir and below. Errors are ignored: a file that
// cannot be removed now is tried again by the next OpenDir.
func (d *Dir) removeStale(dir string, before time.Time) {
	entries, err := fs.ReadDir(d.root.FS(), filepath.ToSlash(dir))
	if err != nil {
		return
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if e.IsDir() {
			d.removeStale(p, before)
			continue
		}
		if !strings.Contains(e.Name(), tmpMark) {
			continue
		}
		if st, err := e.Info(); err == nil && st.ModTime().Before(before) {
			_ = d.root.Remove(p)
		}
	}
}
