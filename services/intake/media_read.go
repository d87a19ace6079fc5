package intake

import (
	"context"
	"fmt"
	"io"
)

// GetMediaFile returns a stored file's record.
func (s *Service) GetMediaFile(ctx context.Context, id string) (MediaFile, error) {
	m, err := s.store.GetMedia(ctx, id)
	if err != nil {
		return MediaFile{}, fmt.Errorf("media %s: %w", id, err)
	}
	return m, nil
}

// OpenMedia opens a stored file's bytes; the caller closes them.
func (s *Service) OpenMedia(ctx context.Context, m MediaFile) (io.ReadCloser, error) {
	if s.media.Store == nil {
		return nil, ErrNoMediaStore
	}
	body, _, err := s.media.Store.Get(ctx, m.key())
	if err != nil {
		return nil, fmt.Errorf("media %s: %w", m.ID, err)
	}
	return body, nil
}

// ListMedia returns the files attached to a ticket, oldest first.
func (s *Service) ListMedia(ctx context.Context, ticketID string) ([]MediaFile, error) {
	ms, err := s.store.ListMedia(ctx, ticketID)
	if err != nil {
		return nil, fmt.Errorf("media of %s: %w", ticketID, err)
	}
	return ms, nil
}
