package bus

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
)

// ErrNotAuthorized: the NATS servers refused the connection's credentials
// (or it sent none to servers that require them).
var ErrNotAuthorized = errors.New("NATS refused the credentials")

// ErrTLS: the TLS settings of the connection and the servers' do not fit
// (a certificate the CA does not verify, TLS wanted on one side only).
var ErrTLS = errors.New("TLS with NATS failed: check WHISTLE_NATS_TLS_CA (the CA that signed the servers' certificates), " +
	"WHISTLE_NATS_TLS_CERT and WHISTLE_NATS_TLS_KEY, and whether the servers require TLS (tls:// in WHISTLE_NATS_URL)")

// errAuthHint says what to check when the servers refuse the credentials.
var errAuthHint = errors.New("check WHISTLE_NATS_USER and WHISTLE_NATS_PASSWORD (or WHISTLE_NATS_NKEY_SEED_FILE, WHISTLE_NATS_CREDS) " +
	"against the users the NATS servers define")

// ConnectOptions are the connect options that present c's credentials and
// set up its TLS, for a connection made without Connect (a tool's); they
// fail when a setting cannot work (see Auth.Validate, TLS.Validate).
func (c Config) ConnectOptions() ([]nats.Option, error) {
	auth, err := c.Auth.options()
	if err != nil {
		return nil, err
	}
	tls, err := c.TLS.options()
	if err != nil {
		return nil, err
	}
	return append(auth, tls...), nil
}

// dial connects once; if the servers cannot be reached it goes on trying in
// the background (the returned connection is reconnecting), but a refusal
// (refusal) fails at once.
func dial(url string, opts []nats.Option) (*nats.Conn, error) {
	nc, err := nats.Connect(url, append(opts, nats.RetryOnFailedConnect(false))...)
	if err == nil {
		return nc, nil
	}
	if r := refusal(err); r != nil {
		return nil, r
	}
	return nats.Connect(url, opts...)
}

// refusal tells a connect error the servers will give again whatever the
// wait: ErrNotAuthorized or ErrTLS wrapping it; nil for any other. An
// in-process server that refuses the credentials closes its pipe before
// saying why, so a closed pipe counts as a refusal: that server is always
// there.
func refusal(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, nats.ErrAuthorization), errors.Is(err, nats.ErrAuthExpired), errors.Is(err, nats.ErrAuthRevoked),
		errors.Is(err, io.ErrClosedPipe):
		return fmt.Errorf("%w (%v)", ErrNotAuthorized, err)
	case errors.As(err, new(*tls.CertificateVerificationError)), errors.Is(err, nats.ErrSecureConnRequired),
		errors.Is(err, nats.ErrSecureConnWanted):
		return fmt.Errorf("%w (%v)", ErrTLS, err)
	}
	return nil
}

// connectError says why connecting to url failed, and what to check.
func connectError(url string, cfg Config, err error) error {
	switch {
	case errors.Is(err, ErrNotAuthorized):
		return fmt.Errorf("connect to NATS at %s as %s (%s): %w: %w", MaskURL(url), cfg.Name, cfg.Auth.Method(), err, errAuthHint)
	case errors.Is(err, ErrTLS):
		return fmt.Errorf("connect to NATS at %s: %w", MaskURL(url), err)
	}
	return fmt.Errorf("connect to NATS at %s: %w (check WHISTLE_NATS_URL)", MaskURL(url), err)
}

// lastError keeps the latest error of the connection's (re)connect
// attempts, which go on in the background.
type lastError struct {
	mu  sync.Mutex
	err error
}

func (l *lastError) set(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.err = err
}

// refusal is refusal of the latest attempt's error.
func (l *lastError) refusal() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return refusal(l.err)
}

// Auth is how a connection proves who it is to the NATS servers. Set at
// most one way: a user and password, an nkey seed, or a credentials file.
// The zero value sends no credentials, which only a server without
// authorization accepts (the tests' external server); a server with users
// refuses the connection, and Connect fails with ErrNotAuthorized.
//
// In every deployment each service has a user of its own, which may
// publish only the events that service emits (PublishAllow).
type Auth struct {
	// User and Password log in with a user name and password
	// (nats.UserInfo). Default none; one without the other is refused by
	// Validate. The password is never logged (LogValue masks it).
	User, Password string
	// NKeySeedFile is a file holding an nkey seed ("SU…", made by `nk -gen
	// user`); the connection signs the server's challenge with it
	// (nats.Nkey). Default none. A file that cannot be read or holds no seed
	// fails Connect.
	NKeySeedFile string
	// CredsFile is a .creds file (a user JWT and its nkey seed, as `nsc
	// generate creds` writes) for a server in operator mode
	// (nats.UserCredentials). Default none. A file that cannot be read
	// fails the connection, which Connect reports as ErrNotAuthorized.
	CredsFile string
}

// Method names the way a connection authenticates: "user", "nkey",
// "creds", or "none".
func (a Auth) Method() string {
	switch {
	case a.CredsFile != "":
		return "creds"
	case a.NKeySeedFile != "":
		return "nkey"
	case a.User != "":
		return "user"
	}
	return "none"
}

// Validate reports a setting that cannot work: several ways to log in at
// once, or a user without a password (or the other way round).
func (a Auth) Validate() error {
	ways := 0
	for _, set := range []bool{a.User != "" || a.Password != "", a.NKeySeedFile != "", a.CredsFile != ""} {
		if set {
			ways++
		}
	}
	switch {
	case ways > 1:
		return errors.New("NATS credentials: set one way to log in: a user and password (WHISTLE_NATS_USER, WHISTLE_NATS_PASSWORD), " +
			"an nkey seed (WHISTLE_NATS_NKEY_SEED_FILE) or a .creds file (WHISTLE_NATS_CREDS), not several")
	case a.User != "" && a.Password == "":
		return fmt.Errorf("NATS user %q has no password: set WHISTLE_NATS_PASSWORD or WHISTLE_NATS_PASSWORD_FILE", a.User)
	case a.User == "" && a.Password != "":
		return errors.New("a NATS password without a user: set WHISTLE_NATS_USER too")
	}
	return nil
}

// options are the connect options that present the credentials.
func (a Auth) options() ([]nats.Option, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	switch a.Method() {
	case "creds":
		if _, err := os.Stat(a.CredsFile); err != nil {
			return nil, fmt.Errorf("NATS credentials file: %w (check WHISTLE_NATS_CREDS)", err)
		}
		return []nats.Option{nats.UserCredentials(a.CredsFile)}, nil
	case "nkey":
		opt, err := nats.NkeyOptionFromSeed(a.NKeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("NATS nkey seed %s: %w (check WHISTLE_NATS_NKEY_SEED_FILE: a file holding a user seed, SU…)", a.NKeySeedFile, err)
		}
		return []nats.Option{opt}, nil
	case "user":
		return []nats.Option{nats.UserInfo(a.User, a.Password)}, nil
	}
	return nil, nil
}

// LogValue shows how the connection logs in, never a secret.
func (a Auth) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("method", a.Method())}
	switch a.Method() {
	case "user":
		attrs = append(attrs, slog.String("user", a.User), slog.String("password", "***"))
	case "nkey":
		attrs = append(attrs, slog.String("nkey_seed_file", a.NKeySeedFile))
	case "creds":
		attrs = append(attrs, slog.String("creds", a.CredsFile))
	}
	return slog.GroupValue(attrs...)
}

// TLS secures the connection to the NATS servers. The zero value connects
// in plain text unless the URL says tls:// (then the system's roots verify
// the server).
type TLS struct {
	// CA is a PEM file of the certificates that verify the servers'
	// (nats.RootCAs); setting it turns TLS on. Default: the system's roots,
	// and only for tls:// URLs. A file that cannot be read fails Connect.
	CA string
	// Cert and Key are the client's certificate and key (PEM) for servers
	// that verify clients (mutual TLS, nats.ClientCert); setting them turns
	// TLS on. Default none; one without the other is refused by Validate.
	Cert, Key string
}

// Enabled reports whether the connection uses TLS (also true for a tls://
// URL, which Connect checks on its own).
func (t TLS) Enabled() bool { return t.CA != "" || t.Cert != "" }

// Validate reports a certificate without its key or the other way round.
func (t TLS) Validate() error {
	if (t.Cert == "") != (t.Key == "") {
		return errors.New("NATS client certificate: set both WHISTLE_NATS_TLS_CERT and WHISTLE_NATS_TLS_KEY, or neither")
	}
	return nil
}

// options are the connect options that set up TLS. nats.RootCAs and
// nats.ClientCert read their files at once, so a missing or broken file
// fails Connect before anything is sent; either one makes the client insist
// on TLS even for a nats:// URL (the server's greeting is plain text, the
// credentials never are).
func (t TLS) options() ([]nats.Option, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	var opts []nats.Option
	if t.CA != "" {
		opts = append(opts, nats.RootCAs(t.CA))
	}
	if t.Cert != "" {
		opts = append(opts, nats.ClientCert(t.Cert, t.Key))
	}
	return opts, nil
}

// MaskURL hides the passwords in a NATS URL list
// ("nats://u:p@h1:4222,nats://u:p@h2:4222"), for logs and errors.
func MaskURL(urls string) string {
	parts := strings.Split(urls, ",")
	for i, raw := range parts {
		u, err := url.Parse(strings.TrimSpace(raw))
		if err != nil {
			parts[i] = "(unparsable URL)"
			continue
		}
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		parts[i] = u.String()
	}
	return strings.Join(parts, ",")
}
