package intake

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/postgres"
)

// The roles a file plays in its ticket.
const (
	roleReport   = "report"
	roleEvidence = "evidence"
)

// The states of a file: being stored, stored, being swept.
const (
	mediaStoring  = 0
	mediaStored   = 1
	mediaSweeping = 2
)

const mediaColumns = `id, name, content_type, kind, sha256, size_bytes, width, height, orientation, stripped,
	coalesce(ticket_id::text, ''), role, uploaded_by, uploaded_at`

func fromMediaRow(row pgx.CollectableRow) (MediaFile, error) {
	var m MediaFile
	err := row.Scan(&m.ID, &m.Name, &m.ContentType, &m.Kind, &m.SHA256, &m.Size, &m.Width, &m.Height, &m.Orientation,
		&m.Stripped, &m.TicketID, &m.Role, &m.UploadedBy, &m.UploadedAt)
	return m, err
}

// CreateMedia records a file being stored.
func (s *store) CreateMedia(ctx context.Context, m MediaFile) error {
	_, err := s.db.Q(ctx).Exec(ctx, `INSERT INTO media (id, name, uploaded_by, uploaded_at, state) VALUES ($1, $2, $3, $4, $5)`,
		m.ID, m.Name, m.UploadedBy, m.UploadedAt, mediaStoring)
	if err != nil {
		return fmt.Errorf("record media %s: %w", m.ID, err)
	}
	return nil
}

// StoredMedia records what was stored of a file.
func (s *store) StoredMedia(ctx context.Context, m MediaFile) error {
	_, err := s.db.Q(ctx).Exec(ctx, `UPDATE media SET state = $2, content_type = $3, kind = $4, sha256 = $5, size_bytes = $6,
		width = $7, height = $8, orientation = $9, stripped = $10 WHERE id = $1`,
		m.ID, mediaStored, m.ContentType, m.Kind, m.SHA256, m.Size, m.Width, m.Height, m.Orientation, postgres.Texts(m.Stripped))
	if err != nil {
		return fmt.Errorf("record media %s as stored: %w", m.ID, err)
	}
	return nil
}

// DeleteMedia forgets a file that is attached to no ticket.
func (s *store) DeleteMedia(ctx context.Context, id string) error {
	_, err := s.db.Q(ctx).Exec(ctx, `DELETE FROM media WHERE id = $1 AND ticket_id IS NULL`, id)
	return err
}

// GetMedia returns a stored file's record.
func (s *store) GetMedia(ctx context.Context, id string) (MediaFile, error) {
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT `+mediaColumns+` FROM media WHERE id = $1 AND state = $2`, id, mediaStored)
	if err != nil {
		return MediaFile{}, err
	}
	m, err := pgx.CollectExactlyOneRow(rows, fromMediaRow)
	if errors.Is(err, pgx.ErrNoRows) {
		return MediaFile{}, ErrMediaNotFound
	}
	return m, err
}

// ListMedia returns the files attached to a ticket, oldest first.
func (s *store) ListMedia(ctx context.Context, ticketID string) ([]MediaFile, error) {
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT `+mediaColumns+` FROM media WHERE ticket_id = $1 AND state = $2
		ORDER BY uploaded_at, id`, ticketID, mediaStored)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, fromMediaRow)
}

// Orphans marks up to limit files uploaded before cutoff and attached to no
// ticket as being swept (so that nothing attaches them any more) and returns them.
func (s *store) Orphans(ctx context.Context, cutoff time.Time, limit int) ([]MediaFile, error) {
	rows, err := s.db.Q(ctx).Query(ctx, `UPDATE media SET state = $3 WHERE id IN (
			SELECT id FROM media WHERE ticket_id IS NULL AND uploaded_at < $1 ORDER BY uploaded_at LIMIT $2 FOR UPDATE SKIP LOCKED)
		RETURNING `+mediaColumns, cutoff, limit, mediaSweeping)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, fromMediaRow)
}

// attachMedia attaches files to a ticket in the transaction q is, each only
// if stored, attached to nothing yet and uploaded by unit; it returns how
// many it attached.
func attachMedia(ctx context.Context, q postgres.Querier, ticketID, role, unit string, mediaIDs []string) (int, error) {
	if len(mediaIDs) == 0 {
		return 0, nil
	}
	tag, err := q.Exec(ctx, `UPDATE media SET ticket_id = $1, role = $2 WHERE id = ANY($3::uuid[]) AND uploaded_by = $4
		AND state = $5 AND ticket_id IS NULL`, ticketID, role, mediaIDs, unit, mediaStored)
	if err != nil {
		return 0, fmt.Errorf("attach media to %s: %w", ticketID, err)
	}
	return int(tag.RowsAffected()), nil
}
