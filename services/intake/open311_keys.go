package intake

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/time/rate"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/whistle-civic/whistle/pkg/audit"
	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/ids"
)

// APIKey is a key of a system that reports through the Open311 gateway,
// without its secret. A call with the key acts as a system (auth.RoleSystem)
// for OrgUnitID, and every ticket it reports has OrgUnitID as its reporting
// unit and Source as its source.
type APIKey struct {
	ID, Name, OrgUnitID string
	Source              Source
	RatePerMinute       int
	// Prefix is the secret's first characters, to recognise it by.
	Prefix    string
	CreatedAt time.Time
	CreatedBy string
	// RevokedAt is zero while the key is valid.
	RevokedAt time.Time
}

// NewAPIKey describes a key to issue; zero Source means SourceResident and
// zero RatePerMinute DefaultKeyRate.
type NewAPIKey struct {
	Name, OrgUnitID string
	Source          Source
	RatePerMinute   int
	By              string
}

// The keys' limits and shape.
const (
	// MaxAPIKeys is how many keys, revoked ones included, may exist.
	MaxAPIKeys = 1000
	// DefaultKeyRate is a key's calls a minute unless it says otherwise.
	DefaultKeyRate = 60
	// SourceResident is a residents' app, a key's default source.
	SourceResident Source = 4
	// keyPrefix starts every secret, so that a leaked one is recognised.
	keyPrefix = "o311_"
	// shownPrefix is how much of a secret APIKey.Prefix keeps.
	shownPrefix = 12
)

// keyMethods are the calls a key may make: report, and upload the photos
// it reports with. Reading is the gateway's own business, as a monitor.
var keyMethods = map[string]bool{actReport: true, actUploadMedia: true}

// apiKeyStore is what the keys need from storage.
type apiKeyStore interface {
	// AddAPIKey stores a key and its secret's hash; ErrTooManyKeys when
	// MaxAPIKeys exist.
	AddAPIKey(ctx context.Context, k APIKey, hash []byte) error
	// APIKeys lists the keys, oldest first.
	APIKeys(ctx context.Context, includeRevoked bool) ([]APIKey, error)
	// RevokeAPIKey revokes a key (once: a revoked key keeps its first
	// revocation); ErrAPIKeyNotFound without one.
	RevokeAPIKey(ctx context.Context, id, by string, at time.Time) (APIKey, error)
	// APIKeyByHash returns the key of a secret's hash; ErrAPIKeyNotFound
	// without one.
	APIKeyByHash(ctx context.Context, hash []byte) (APIKey, error)
}

// AddAPIKey issues a key for a known org unit and returns it with its
// secret, which is not kept (only its SHA-256 hash is). It fails wrapping
// ErrBadAPIKey for an org unit the active tree does not hold, and with
// ErrTooManyKeys.
func (s *Service) AddAPIKey(ctx context.Context, in NewAPIKey) (APIKey, string, error) {
	known, err := s.deps.Tree().Known(ctx, in.OrgUnitID)
	if err != nil {
		return APIKey{}, "", err
	}
	if !known {
		return APIKey{}, "", fmt.Errorf("%w: org unit %q is not in the active org tree; name a unit the catalog holds", ErrBadAPIKey, in.OrgUnitID)
	}
	secret, err := newKeySecret()
	if err != nil {
		return APIKey{}, "", err
	}
	k := APIKey{ID: ids.New(), Name: in.Name, OrgUnitID: in.OrgUnitID, Source: in.Source, RatePerMinute: in.RatePerMinute,
		Prefix: secret[:shownPrefix], CreatedAt: s.clock.Now(), CreatedBy: in.By}
	if k.Source == 0 {
		k.Source = SourceResident
	}
	if k.RatePerMinute == 0 {
		k.RatePerMinute = DefaultKeyRate
	}
	err = s.deps.DB.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if err := s.store.AddAPIKey(ctx, k, hashKey(secret)); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "open311_key.add", Detail: keyDetail(k)})
	})
	if err != nil {
		return APIKey{}, "", fmt.Errorf("add API key for %s: %w", k.OrgUnitID, err)
	}
	s.log.InfoContext(ctx, "open311 key added", "key_id", k.ID, "org_unit", k.OrgUnitID, "name", k.Name, "by", k.CreatedBy)
	return k, secret, nil
}

// ListAPIKeys lists the keys, oldest first.
func (s *Service) ListAPIKeys(ctx context.Context, includeRevoked bool) ([]APIKey, error) {
	ks, err := s.store.APIKeys(ctx, includeRevoked)
	if err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	return ks, nil
}

// RevokeAPIKey revokes a key: its next call fails. ErrAPIKeyNotFound when
// no key has the id.
func (s *Service) RevokeAPIKey(ctx context.Context, id, by string) (APIKey, error) {
	var k APIKey
	err := s.deps.DB.InTx(ctx, func(ctx context.Context, tx pgx.Tx) (err error) {
		if k, err = s.store.RevokeAPIKey(ctx, id, by, s.clock.Now()); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "open311_key.revoke", Detail: keyDetail(k)})
	})
	if err != nil {
		return APIKey{}, fmt.Errorf("revoke API key %s: %w", id, err)
	}
	s.keys.forget(k.ID)
	s.log.InfoContext(ctx, "open311 key revoked", "key_id", k.ID, "by", by)
	return k, nil
}

// KeyPrincipal is auth.Authenticator.APIKeys for intake: the principal a
// key's secret stands for, on a method keys may call, within the key's rate.
// Its errors are gRPC statuses: Unauthenticated (unknown or revoked key),
// PermissionDenied (a method keys may not call), ResourceExhausted (over the
// rate, with when to retry) or Internal.
func (s *Service) KeyPrincipal(ctx context.Context, method, secret string) (auth.Principal, error) {
	if !strings.HasPrefix(secret, keyPrefix) {
		return auth.Principal{}, auth.Unauthenticated("an API key starts with %q: send the key you were given", keyPrefix)
	}
	k, err := s.store.APIKeyByHash(ctx, hashKey(secret))
	switch {
	case err == ErrAPIKeyNotFound:
		return auth.Principal{}, auth.Unauthenticated("unknown API key: ask the city's administrators for one (whistlectl open311 keys add)")
	case err != nil:
		return auth.Principal{}, status.Errorf(codes.Internal, "checking the API key failed: %v; retry", err)
	case !k.RevokedAt.IsZero():
		return auth.Principal{}, auth.Unauthenticated("API key %s was revoked: ask the city's administrators for a new one", k.Prefix)
	case !keyMethods[method]:
		return auth.Principal{}, status.Errorf(codes.PermissionDenied, "an API key may only report and upload photos, not call %s: use a bearer token", method)
	}
	if wait, ok := s.keys.take(k, s.clock.Now()); !ok {
		return auth.Principal{}, status.Errorf(codes.ResourceExhausted, "API key %s may make %d calls a minute: retry after %s",
			k.Prefix, k.RatePerMinute, wait.Round(time.Second)+time.Second)
	}
	return auth.Principal{Subject: keySubject + k.ID, OrgUnit: k.OrgUnitID, Roles: []auth.Role{auth.RoleSystem}}, nil
}

// keyDetail describes a key for the audit log (never its secret).
func keyDetail(k APIKey) string {
	return fmt.Sprintf("key %s (%s) %q for %s, %d a minute", k.ID, k.Prefix, k.Name, k.OrgUnitID, k.RatePerMinute)
}

// keySubject starts the subject of a key's principal; the key's id follows.
const keySubject = "open311-key:"

// callerKey returns the key the call was made with, if it was.
func (s *Service) callerKey(ctx context.Context) (APIKey, bool) {
	p, ok := auth.FromContext(ctx)
	if !ok || p.Via != "api-key" || !strings.HasPrefix(p.Subject, keySubject) {
		return APIKey{}, false
	}
	return s.keys.get(strings.TrimPrefix(p.Subject, keySubject))
}

// asKey makes a report made with an API key the key's: its reporting unit
// and source are the key's, whatever the request said. A key revoked
// since the call was authenticated fails it.
func (s *Service) asKey(ctx context.Context, in *ReportInput) error {
	p, ok := auth.FromContext(ctx)
	if !ok || p.Via != "api-key" {
		return nil
	}
	k, ok := s.callerKey(ctx)
	if !ok {
		return auth.Unauthenticated("the API key was revoked: ask the city's administrators for a new one")
	}
	in.Reporter.OrgUnitID, in.Source = actingUnit(ctx, ""), k.Source
	return nil
}

// actingUnit is the org unit a call acts for: the one it names or, made
// with an API key, the key's own.
func actingUnit(ctx context.Context, named string) string {
	if p, ok := auth.FromContext(ctx); ok && p.Via == "api-key" {
		return p.OrgUnit
	}
	return named
}

// newKeySecret makes a secret: the prefix and 32 random bytes.
func newKeySecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("make an API key: %w", err)
	}
	return keyPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// hashKey is what is stored of a secret. A secret holds 256 random bits, so
// a plain SHA-256 cannot be reversed by guessing.
func hashKey(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// keyLimits holds each key seen lately and its token bucket (a minute's
// calls, refilled evenly).
type keyLimits struct {
	mu   sync.Mutex
	seen map[string]*keyLimit
}

type keyLimit struct {
	key APIKey
	lim *rate.Limiter
}

// take takes a token of k's bucket at now, or says how long until one.
func (l *keyLimits) take(k APIKey, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen == nil || len(l.seen) > MaxAPIKeys {
		l.seen = map[string]*keyLimit{}
	}
	e, ok := l.seen[k.ID]
	if !ok || e.key.RatePerMinute != k.RatePerMinute {
		e = &keyLimit{lim: rate.NewLimiter(rate.Limit(float64(k.RatePerMinute)/60), max(1, k.RatePerMinute/6))}
		l.seen[k.ID] = e
	}
	e.key = k
	r := e.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, false
	}
	return 0, true
}

func (l *keyLimits) get(id string) (APIKey, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.seen[id]
	if !ok {
		return APIKey{}, false
	}
	return e.key, true
}

func (l *keyLimits) forget(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.seen, id)
}
