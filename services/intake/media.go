package intake

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"time"

	"github.com/whistle-civic/whistle/pkg/apperr"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/media"
	"github.com/whistle-civic/whistle/pkg/objstore"
)

// MediaConfig says where photos and videos are kept and what is accepted.
type MediaConfig struct {
	// Store keeps the files. Default (nil): uploads are refused with
	// ErrNoMediaStore.
	Store objstore.Store
	// Limits bound what is accepted (see media.Limits; zero values: its
	// defaults, 10 MB a photo, 50 MB a video, 40 megapixels).
	Limits media.Limits
	// OrphanAfter is how long an upload may wait to be attached to a ticket
	// before the sweep removes it. Default 1 hour.
	OrphanAfter time.Duration
	// MaxConcurrent bounds the uploads handled at once (each holds up to a
	// video's limit in memory, twice). Default 4.
	MaxConcurrent int
}

func (c MediaConfig) withDefaults() MediaConfig {
	if c.OrphanAfter <= 0 {
		c.OrphanAfter = time.Hour
	}
	if c.MaxConcurrent <= 0 {
		c.MaxConcurrent = 4
	}
	return c
}

// MediaFile is a photo or video as Whistle keeps it.
type MediaFile struct {
	ID, Name, ContentType, Kind, SHA256 string
	Size                                int64
	Width, Height, Orientation          int
	Stripped                            []string
	// TicketID is the ticket it is attached to ("" until attached); Role
	// says how: "report" (a report's photo) or "evidence".
	TicketID, Role string
	UploadedBy     string
	UploadedAt     time.Time
}

// key is where a file's bytes are kept in the store.
func (m MediaFile) key() string { return "media/" + m.ID }

// Upload is a file about to be stored: what the uploader says of it.
type Upload struct {
	Name   string
	Size   int64
	SHA256 string
	// By is the org unit uploading it; only it may attach the file.
	By string
}

// mediaStore is what the media use cases need from storage.
type mediaStore interface {
	// CreateMedia records a file being stored (not attached); StoredMedia
	// records what was stored; DeleteMedia forgets it.
	CreateMedia(ctx context.Context, m MediaFile) error
	StoredMedia(ctx context.Context, m MediaFile) error
	DeleteMedia(ctx context.Context, id string) error
	GetMedia(ctx context.Context, id string) (MediaFile, error)
	ListMedia(ctx context.Context, ticketID string) ([]MediaFile, error)
	// Orphans returns up to limit files not attached to a ticket and
	// uploaded before cutoff.
	Orphans(ctx context.Context, cutoff time.Time, limit int) ([]MediaFile, error)
}

// UploadMedia checks a file read from r against what u says of it and
// against the limits, strips its metadata and keeps it, unattached: it must
// be attached within MediaConfig.OrphanAfter (a report's PhotoIDs, or an
// attachment's media id) or the sweep removes it. A refused or failed
// upload leaves nothing behind.
func (s *Service) UploadMedia(ctx context.Context, u Upload, r io.Reader) (MediaFile, error) {
	st := s.media.Store
	if st == nil {
		return MediaFile{}, ErrNoMediaStore
	}
	select {
	case s.uploads <- struct{}{}:
		defer func() { <-s.uploads }()
	case <-ctx.Done():
		return MediaFile{}, ctx.Err()
	}
	raw := &counting{r: r, h: sha256.New()}
	var cleaned bytes.Buffer
	info, err := media.Clean(&cleaned, raw, s.media.Limits)
	if err != nil {
		return MediaFile{}, refusal(err)
	}
	if _, err := io.Copy(io.Discard, raw); err != nil { // the rest, to compare with what was declared
		return MediaFile{}, fmt.Errorf("upload %s: %w", u.Name, err)
	}
	if raw.n != u.Size || hex.EncodeToString(raw.h.Sum(nil)) != u.SHA256 {
		return MediaFile{}, fmt.Errorf("upload %s: %d bytes received: %w", u.Name, raw.n, ErrUploadMismatch)
	}
	m := MediaFile{ID: ids.New(), Name: u.Name, ContentType: info.ContentType, Kind: string(info.Kind), SHA256: info.SHA256,
		Size: info.Size, Width: info.Width, Height: info.Height, Orientation: info.Orientation, Stripped: info.Stripped,
		UploadedBy: u.By, UploadedAt: s.clock.Now()}
	if err := s.store.CreateMedia(ctx, m); err != nil {
		return MediaFile{}, fmt.Errorf("upload %s: %w", u.Name, err)
	}
	if err := st.Put(ctx, m.key(), &cleaned, m.Size, m.ContentType); err != nil {
		s.forget(m)
		return MediaFile{}, fmt.Errorf("upload %s: store the file: %w", u.Name, err)
	}
	if err := s.store.StoredMedia(ctx, m); err != nil {
		s.forget(m)
		return MediaFile{}, fmt.Errorf("upload %s: %w", u.Name, err)
	}
	s.log.InfoContext(ctx, "media stored", "media", m.ID, "type", m.ContentType, "bytes", m.Size, "by", u.By,
		"stripped", m.Stripped)
	return m, nil
}

// forget removes a file whose upload failed, object and row; what it cannot
// remove now the sweep removes later.
func (s *Service) forget(m MediaFile) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.media.Store.Delete(ctx, m.key()); err != nil {
		s.log.Warn("a failed upload's file stays until the sweep", "media", m.ID, "error", err)
		return
	}
	if err := s.store.DeleteMedia(ctx, m.ID); err != nil {
		s.log.Warn("a failed upload's row stays until the sweep", "media", m.ID, "error", err)
	}
}

// refusal turns a file media refused into an error of the API's kinds.
func refusal(err error) error {
	var r *media.RefusedError
	if !errors.As(err, &r) {
		return fmt.Errorf("upload: %w", err)
	}
	kind := apperr.InvalidArgument
	if r.LimitExceeded() {
		kind = apperr.ResourceExhausted
	}
	return apperr.New(kind, r.Message).WithReason("MEDIA_" + strings.ToUpper(r.Reason))
}

// counting counts and hashes what is read through it.
type counting struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (c *counting) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.h.Write(p[:n])
	return n, err
}

// SweepMedia removes up to limit files uploaded before cutoff and never
// attached to a ticket, object first, and returns how many it removed.
func (s *Service) SweepMedia(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	if s.media.Store == nil {
		return 0, nil
	}
	orphans, err := s.store.Orphans(ctx, cutoff, limit)
	if err != nil {
		return 0, fmt.Errorf("sweep media: %w", err)
	}
	for i, m := range orphans {
		if err := s.media.Store.Delete(ctx, m.key()); err != nil {
			return i, fmt.Errorf("sweep media %s: %w", m.ID, err)
		}
		if err := s.store.DeleteMedia(ctx, m.ID); err != nil {
			return i, fmt.Errorf("sweep media %s: %w", m.ID, err)
		}
	}
	return len(orphans), nil
}
