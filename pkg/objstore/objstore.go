// Package objstore keeps the files attached to tickets (residents' snapshot
// photos, departments' before/after evidence) behind one small interface,
// Store, with two implementations:
//
//   - Dir, a folder on local disk: the embedded default of `whistle dev`,
//     which needs no server. Writes are atomic and keys can never reach
//     outside the folder.
//   - S3, any S3-compatible object store (AWS S3, MinIO, Ceph RGW,
//     versitygw, the clouds' S3 APIs) through minio-go.
//
// Both refuse the same keys (ValidKey), report a missing object with an
// error matching ErrNotFound, and list in the same order, so code written
// against `whistle dev` behaves the same against S3 in production.
//
// Open builds the Store a Config describes:
//
//	store, err := objstore.Open(objstore.Config{Dir: filepath.Join(data, "objects")})
//	err = store.Put(ctx, "tickets/0192f7c4/photo-1.jpg", r, size, "image/jpeg")
//
// objstore stores bytes as given: checking what an upload really is and
// stripping its metadata is package media's work, done before Put.
package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"time"
)

// Store is a flat namespace of objects named by keys (see ValidKey). All
// methods are safe for concurrent use. Each one validates its key first and
// returns a *KeyError (matching ErrInvalidKey) without touching the storage
// when it is not valid.
type Store interface {
	// Put stores size bytes read from r under key with the given content
	// type, replacing any object already there. size -1 means unknown: r is
	// read to EOF. With a known size, exactly size bytes are read and a
	// reader that ends sooner fails the Put. An empty contentType is stored
	// as "application/octet-stream"; one that is not a media type is refused.
	//
	// A key cannot name an object and also a folder of other objects' keys
	// ("a" while "a/b" exists, or the other way round): Put fails with an
	// error matching ErrKeyConflict, because the S3 servers that keep
	// objects as files (MinIO, versitygw's posix backend) refuse it too. Keys
	// of a fixed shape, such as "tickets/<id>/<n>.jpg", never meet it.
	//
	// A Put is all or nothing: when it fails (r errors, ctx is cancelled, the
	// disk or the server fails) no part of the new object is visible and the
	// previous one, if any, is left as it was.
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error

	// Get opens the object under key for reading. The caller must close the
	// reader. An object that does not exist gives an error matching
	// ErrNotFound.
	Get(ctx context.Context, key string) (io.ReadCloser, Info, error)

	// Stat describes the object under key without reading it; ErrNotFound
	// when it does not exist.
	Stat(ctx context.Context, key string) (Info, error)

	// Delete removes the object under key. Deleting an object that does not
	// exist is not an error.
	Delete(ctx context.Context, key string) error

	// List calls fn for each object whose key starts with prefix ("" for
	// all), in ascending byte order of the keys. The Info given to fn has
	// Key, Size and ModTime; ContentType is empty, because S3 listings do
	// not carry it (Stat the key when it is needed). When fn returns an
	// error, List stops and returns that error as it is. A prefix is
	// checked like a key, except that it may be empty, be a partial segment
	// and end with "/".
	List(ctx context.Context, prefix string, fn func(Info) error) error
}

// Info describes a stored object.
type Info struct {
	// Key is the object's key.
	Key string
	// Size is the object's length in bytes.
	Size int64
	// ContentType is the media type given to Put, e.g. "image/jpeg". Empty
	// in the Info that List gives.
	ContentType string
	// ModTime is when the object was last written. S3 servers report it to
	// the second.
	ModTime time.Time
}

// ErrNotFound is matched (errors.Is) by the error of Get and Stat for a key
// that holds no object, and by S3's errors for a bucket that does not exist.
var ErrNotFound = errors.New("objstore: object not found")

// ErrKeyConflict is matched (errors.Is) by the error of a Put whose key
// names a folder of existing objects' keys, or has an existing object's key
// as a folder (see Store.Put).
var ErrKeyConflict = errors.New("objstore: the key conflicts with an existing object's key")

// ErrInvalidKey is matched (errors.Is) by every *KeyError.
var ErrInvalidKey = errors.New("objstore: invalid key")

// MaxKeyLen is the longest key ValidKey accepts, in bytes.
const MaxKeyLen = 512

// DefaultContentType is stored for a Put with an empty content type.
const DefaultContentType = "application/octet-stream"

// KeyError reports a key (or a List prefix) that ValidKey refuses. It
// matches ErrInvalidKey.
type KeyError struct {
	// Key is the refused key, cut to 80 bytes.
	Key string
	// Reason says what is wrong with it, e.g. `has a ".." segment`.
	Reason string
}

// Error describes the refusal and the key rules.
func (e *KeyError) Error() string {
	return fmt.Sprintf("objstore: invalid key %q: %s; a key is 1 to %d characters of a-z, 0-9, '/', '.', '_' and '-', "+
		"made of '/'-separated segments that are not empty, '.' or '..'", e.Key, e.Reason, MaxKeyLen)
}

// Is makes errors.Is(err, ErrInvalidKey) true.
func (e *KeyError) Is(target error) bool { return target == ErrInvalidKey }

// ValidKey returns nil when key can name an object, else a *KeyError. A key
// is 1 to 512 bytes of lower-case ASCII letters, digits, '/', '.', '_' and
// '-', split by '/' into segments none of which is empty, "." or "..": so no
// leading or trailing '/', no "//". Such a key means the same in a folder
// and in an S3 bucket, needs no escaping in a URL, and cannot name a path
// outside a Dir's folder.
func ValidKey(key string) error {
	return checkKey(key, false)
}

// validPrefix checks a List prefix: "" or the start of some valid key.
func validPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	return checkKey(prefix, true)
}

func checkKey(key string, prefix bool) error {
	refuse := func(reason string) error {
		k := key
		if len(k) > 80 {
			k = k[:80]
		}
		return &KeyError{Key: k, Reason: reason}
	}
	switch {
	case key == "":
		return refuse("is empty")
	case len(key) > MaxKeyLen:
		return refuse(fmt.Sprintf("is %d bytes long", len(key)))
	case key[0] == '/':
		return refuse(`starts with "/"`)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '/' || c == '.' || c == '_' || c == '-') {
			return refuse(fmt.Sprintf("has %q at byte %d", c, i))
		}
	}
	segs := strings.Split(key, "/")
	for i, s := range segs {
		last := i == len(segs)-1
		switch {
		case s == "" && last && prefix:
			// "tickets/" lists everything under tickets.
		case s == "" && last:
			return refuse(`ends with "/"`)
		case s == "":
			return refuse(`has an empty segment ("//")`)
		case last && prefix:
			// A partial segment: "." and ".." start valid segments such as "..a".
		case s == "..":
			return refuse(`has a ".." segment`)
		case s == ".":
			return refuse(`has a "." segment`)
		}
	}
	return nil
}

// checkContentType returns the content type to store: ct, or
// DefaultContentType for "".
func checkContentType(ct string) (string, error) {
	if ct == "" {
		return DefaultContentType, nil
	}
	if len(ct) > 255 {
		return "", fmt.Errorf("objstore: content type is %d bytes long: give a media type such as \"image/jpeg\" of at most 255 bytes", len(ct))
	}
	if _, _, err := mime.ParseMediaType(ct); err != nil || !strings.Contains(ct, "/") || strings.ContainsAny(ct, "\r\n") {
		return "", fmt.Errorf("objstore: content type %q is not a media type: give one such as \"image/jpeg\"", ct)
	}
	return ct, nil
}

// Backends that Config.Backend names.
const (
	// BackendDir keeps objects in a local folder (Dir).
	BackendDir = "dir"
	// BackendS3 keeps objects in an S3-compatible bucket (S3).
	BackendS3 = "s3"
)

// Config says which Store Open builds. Its zero value is not usable: set
// Dir, or S3.Endpoint (and S3's credentials).
type Config struct {
	// Backend is BackendDir or BackendS3. Default: BackendS3 when
	// S3.Endpoint is set, else BackendDir.
	Backend string
	// Dir is the folder of the dir backend; it is created (0750) when
	// missing. No default: Open fails when it is empty.
	Dir string
	// S3 configures the s3 backend (see S3Config).
	S3 S3Config
}

func (c *Config) defaults() {
	if c.Backend == "" {
		c.Backend = BackendDir
		if c.S3.Endpoint != "" {
			c.Backend = BackendS3
		}
	}
}

// String describes the configuration without the S3 secret key.
func (c Config) String() string {
	c.defaults()
	if c.Backend == BackendDir {
		return fmt.Sprintf("objstore dir %q", c.Dir)
	}
	return "objstore s3 " + c.S3.String()
}

// GoString is String, so that %#v does not print the secret key either.
func (c Config) GoString() string { return c.String() }

// Open returns the Store that cfg describes: a *Dir or an *S3, both also
// io.Closers (close the Store when done with it). For the dir backend it
// creates the folder; for S3 it checks the configuration and builds the
// client but does not contact the server: call (*S3).EnsureBucket to create
// the bucket, or let the first request report what is wrong.
// Open fails when cfg is incomplete or contradictory, with an error that
// names the field to fix.
func Open(cfg Config) (Store, error) {
	cfg.defaults()
	switch cfg.Backend {
	case BackendDir:
		if cfg.Dir == "" {
			return nil, errors.New("objstore: Config.Dir is empty: set it to the folder to keep objects in, or set S3.Endpoint to use an S3 bucket")
		}
		return OpenDir(cfg.Dir)
	case BackendS3:
		return NewS3(cfg.S3)
	default:
		return nil, fmt.Errorf("objstore: Config.Backend is %q: set it to %q or %q", cfg.Backend, BackendDir, BackendS3)
	}
}

// ctxReader fails a read once its context is done, so that a Put of a
// never-ending or stalled reader can be cancelled between reads.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
