package objstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"
)

// S3Config says how to reach an S3-compatible bucket.
type S3Config struct {
	// Endpoint is the server's host and optional port, e.g.
	// "s3.cn-north-1.amazonaws.com.cn" or "127.0.0.1:7070". A leading
	// "https://" is accepted; "http://" means DisableTLS. Required.
	Endpoint string
	// Bucket holds the objects. Default "whistle-media".
	Bucket string
	// Region is the bucket's region, used to sign requests and by
	// EnsureBucket to create the bucket. Default "us-east-1", which is what
	// most self-hosted servers (MinIO, versitygw, Ceph) expect.
	Region string
	// AccessKey and SecretKey are the credentials requests are signed with
	// (AWS Signature V4). Both are required. SecretKey is never logged:
	// String and LogValue mask it.
	AccessKey, SecretKey string
	// DisableTLS talks plain HTTP. Default false: HTTPS, with the server's
	// certificate checked against the system's CAs and CAFile. Use it only
	// for a server on loopback or inside a trusted network.
	DisableTLS bool
	// CAFile is a PEM file of CA certificates to trust besides the
	// system's, for a server with a private CA. Default: none.
	CAFile string
	// PartSize is the size of the parts a large or unknown-size Put is sent
	// in, and of the one buffer an unknown-size Put holds in memory.
	// Default 16 MiB; at least 5 MiB (S3's minimum), so an unknown-size Put
	// can store up to 10,000 × PartSize bytes.
	PartSize uint64
}

// Defaults of S3Config.
const (
	DefaultBucket   = "whistle-media"
	DefaultRegion   = "us-east-1"
	DefaultPartSize = 16 << 20
	minPartSize     = 5 << 20
)

func (c *S3Config) defaults() {
	if c.Bucket == "" {
		c.Bucket = DefaultBucket
	}
	if c.Region == "" {
		c.Region = DefaultRegion
	}
	if c.PartSize == 0 {
		c.PartSize = DefaultPartSize
	}
}

func maskSecret(s string) string {
	if s == "" {
		return ""
	}
	return "***"
}

// String describes the configuration with the secret key masked, e.g.
// `https://s3.example.org/whistle-media region=us-east-1 access_key=AK… secret_key=***`.
func (c S3Config) String() string {
	scheme := "https"
	if c.DisableTLS || strings.HasPrefix(c.Endpoint, "http://") {
		scheme = "http"
	}
	host := strings.TrimPrefix(strings.TrimPrefix(c.Endpoint, "https://"), "http://")
	c.defaults()
	s := fmt.Sprintf("%s://%s/%s region=%s access_key=%s secret_key=%s", scheme, host, c.Bucket, c.Region, c.AccessKey, maskSecret(c.SecretKey))
	if c.CAFile != "" {
		s += " ca_file=" + c.CAFile
	}
	return s
}

// GoString is String, so that %#v does not print the secret key either.
func (c S3Config) GoString() string { return c.String() }

// LogValue shows the configuration in slog records with the secret key
// masked.
func (c S3Config) LogValue() slog.Value {
	c.defaults()
	return slog.GroupValue(slog.String("endpoint", c.Endpoint), slog.String("bucket", c.Bucket),
		slog.String("region", c.Region), slog.Bool("tls", !c.DisableTLS && !strings.HasPrefix(c.Endpoint, "http://")),
		slog.String("access_key", c.AccessKey), slog.String("secret_key", maskSecret(c.SecretKey)),
		slog.String("ca_file", c.CAFile))
}

// LogValue shows the configuration in slog records with the S3 secret key
// masked.
func (c Config) LogValue() slog.Value {
	c.defaults()
	if c.Backend == BackendDir {
		return slog.GroupValue(slog.String("backend", c.Backend), slog.String("dir", c.Dir))
	}
	return slog.GroupValue(slog.String("backend", c.Backend), slog.Any("s3", c.S3))
}

// S3 is a Store in an S3-compatible bucket. Objects are stored under their
// keys as they are, with their content type as the object's Content-Type, so
// other S3 tools see them as they are. Each request is retried by minio-go
// on network errors and on the server's 5xx and throttling answers, until
// the context ends.
type S3 struct {
	client *minio.Client
	tr     *http.Transport
	cfg    S3Config
}

// NewS3 returns an S3 Store for cfg, with its defaults applied. It does not
// contact the server. It fails when a required field is missing, when
// Endpoint or Bucket is malformed, or when CAFile cannot be read or holds
// no certificate.
func NewS3(cfg S3Config) (*S3, error) {
	cfg.defaults()
	endpoint := cfg.Endpoint
	switch {
	case strings.HasPrefix(endpoint, "http://"):
		endpoint = strings.TrimPrefix(endpoint, "http://")
		cfg.DisableTLS = true
	case strings.HasPrefix(endpoint, "https://"):
		if cfg.DisableTLS {
			return nil, fmt.Errorf("objstore: S3.Endpoint %q says https but S3.DisableTLS is set: drop one of them", cfg.Endpoint)
		}
		endpoint = strings.TrimPrefix(endpoint, "https://")
	}
	endpoint = strings.TrimSuffix(endpoint, "/")
	switch {
	case endpoint == "":
		return nil, errors.New("objstore: S3.Endpoint is empty: set it to the server's host[:port], e.g. \"127.0.0.1:7070\"")
	case strings.ContainsAny(endpoint, "/?#@ "):
		return nil, fmt.Errorf("objstore: S3.Endpoint %q is not a host[:port]: give the server's address alone, without a path, "+
			"and the bucket in S3.Bucket", cfg.Endpoint)
	case cfg.AccessKey == "" || cfg.SecretKey == "":
		return nil, errors.New("objstore: S3.AccessKey or S3.SecretKey is empty: set both to the credentials of a user with access to the bucket")
	case cfg.PartSize < minPartSize:
		return nil, fmt.Errorf("objstore: S3.PartSize is %d: set at least %d (5 MiB), or 0 for the default of 16 MiB", cfg.PartSize, minPartSize)
	}
	if err := s3utils.CheckValidBucketNameStrict(cfg.Bucket); err != nil {
		return nil, fmt.Errorf("objstore: S3.Bucket %q: %v: give 3 to 63 characters of a-z, 0-9, '.' and '-'", cfg.Bucket, err)
	}
	tr, err := minio.DefaultTransport(!cfg.DisableTLS)
	if err != nil {
		return nil, fmt.Errorf("objstore: S3 transport: %w", err)
	}
	if cfg.CAFile != "" {
		if cfg.DisableTLS {
			return nil, errors.New("objstore: S3.CAFile is set but TLS is disabled: drop S3.CAFile or S3.DisableTLS")
		}
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("objstore: S3.CAFile: %w: give a readable PEM file of CA certificates", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("objstore: S3.CAFile %s holds no PEM certificate: give the CA that signed the server's certificate", cfg.CAFile)
		}
		if tr.TLSClientConfig == nil {
			tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	client, err := minio.New(endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:    !cfg.DisableTLS,
		Transport: tr,
		Region:    cfg.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("objstore: S3.Endpoint %q: %w", cfg.Endpoint, err)
	}
	return &S3{client: client, tr: tr, cfg: cfg}, nil
}

// Close closes the idle connections to the server. Requests made after it
// open new ones.
func (s *S3) Close() error {
	s.tr.CloseIdleConnections()
	return nil
}

// Bucket returns the bucket's name.
func (s *S3) Bucket() string { return s.cfg.Bucket }

// String describes the store with the secret key masked.
func (s *S3) String() string { return "objstore s3 " + s.cfg.String() }

// EnsureBucket creates the bucket in the configured region when it does not
// exist yet; a bucket that exists (or that a concurrent EnsureBucket just
// created) is left as it is. It fails when the server cannot be reached or
// refuses the credentials, or when the credentials may not create buckets
// (then create the bucket by hand, or give the user that right).
func (s *S3) EnsureBucket(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.cfg.Bucket)
	if err != nil {
		return s.fail("check bucket", "", err)
	}
	if ok {
		return nil
	}
	err = s.client.MakeBucket(ctx, s.cfg.Bucket, minio.MakeBucketOptions{Region: s.cfg.Region})
	if code := errCode(err); code == minio.BucketAlreadyOwnedByYou || code == minio.BucketAlreadyExists {
		if ok, e := s.client.BucketExists(ctx, s.cfg.Bucket); e == nil && ok {
			return nil
		}
	}
	if err != nil {
		return s.fail("create bucket", "", err)
	}
	return nil
}

func errCode(err error) string {
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		return er.Code
	}
	return ""
}

// fail turns a minio-go error into one that says what went wrong and what
// to do, keeping ErrNotFound for a missing object or bucket.
func (s *S3) fail(op, key string, err error) error {
	what := op
	if key != "" {
		what = fmt.Sprintf("%s %q", op, key)
	}
	var er minio.ErrorResponse
	if !errors.As(err, &er) {
		return fmt.Errorf("objstore: s3 %s: %w", what, err)
	}
	switch er.Code {
	case minio.NoSuchKey:
		return fmt.Errorf("objstore: s3 %s: %w", what, ErrNotFound)
	case minio.NoSuchBucket:
		return fmt.Errorf("objstore: s3 %s: bucket %q does not exist (%w): create it with EnsureBucket, or fix S3.Bucket", what, s.cfg.Bucket, ErrNotFound)
	case "ObjectParentIsFile", "ExistingObjectIsDirectory", "XMinioParentIsObject", "XMinioObjectExistsAsDirectory":
		return fmt.Errorf("objstore: s3 %s: %w (%s): choose keys of which none is a folder of another", what, ErrKeyConflict, er.Code)
	case minio.InvalidAccessKeyID, minio.SignatureDoesNotMatch, "XAdminUserNotFound":
		return fmt.Errorf("objstore: s3 %s: the server refuses the credentials (%s): check S3.AccessKey and S3.SecretKey: %w", what, er.Code, err)
	case minio.AccessDenied:
		return fmt.Errorf("objstore: s3 %s: access denied: give the user S3.AccessKey the right to %s in bucket %q: %w", what, op, s.cfg.Bucket, err)
	case "AuthorizationHeaderMalformed", "AuthorizationQueryParametersError":
		return fmt.Errorf("objstore: s3 %s: the server refuses the request's signature (%s): check S3.Region: %w", what, er.Code, err)
	}
	return fmt.Errorf("objstore: s3 %s: %s: %w", what, er.Code, err)
}

// Put implements Store.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
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
	if size >= 0 {
		r = &exactReader{r: io.LimitReader(r, size), want: size}
	}
	_, err = s.client.PutObject(ctx, s.cfg.Bucket, key, ctxReader{ctx, r}, size, minio.PutObjectOptions{
		ContentType: ct,
		PartSize:    s.cfg.PartSize,
	})
	if err != nil {
		return s.fail("put", key, err)
	}
	return nil
}

// exactReader fails with io.ErrUnexpectedEOF when r ends before want bytes.
type exactReader struct {
	r    io.Reader
	want int64
	got  int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.got += int64(n)
	if err == io.EOF && e.got < e.want {
		return n, fmt.Errorf("the reader ended after %d of the %d bytes announced: %w", e.got, e.want, io.ErrUnexpectedEOF)
	}
	return n, err
}

func toInfo(o minio.ObjectInfo) Info {
	return Info{Key: o.Key, Size: o.Size, ContentType: o.ContentType, ModTime: o.LastModified}
}

// Get implements Store.
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, Info, error) {
	if err := ValidKey(key); err != nil {
		return nil, Info{}, err
	}
	obj, err := s.client.GetObject(ctx, s.cfg.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, Info{}, s.fail("get", key, err)
	}
	st, err := obj.Stat()
	if err != nil {
		_ = obj.Close()
		return nil, Info{}, s.fail("get", key, err)
	}
	return obj, toInfo(st), nil
}

// Stat implements Store.
func (s *S3) Stat(ctx context.Context, key string) (Info, error) {
	if err := ValidKey(key); err != nil {
		return Info{}, err
	}
	st, err := s.client.StatObject(ctx, s.cfg.Bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return Info{}, s.fail("stat", key, err)
	}
	return toInfo(st), nil
}

// Delete implements Store.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	err := s.client.RemoveObject(ctx, s.cfg.Bucket, key, minio.RemoveObjectOptions{})
	if err != nil && errCode(err) != minio.NoSuchKey {
		return s.fail("delete", key, err)
	}
	return nil
}

// List implements Store. Keys in the bucket that ValidKey refuses (written
// by other tools) are skipped.
func (s *S3) List(ctx context.Context, prefix string, fn func(Info) error) error {
	if err := validPrefix(prefix); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for o := range s.client.ListObjectsIter(ctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			return s.fail("list", prefix, o.Err)
		}
		if ValidKey(o.Key) != nil {
			continue
		}
		info := toInfo(o)
		info.ContentType = ""
		if err := fn(info); err != nil {
			return err
		}
	}
	return ctx.Err()
}
