package dispatch

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/outbox"
	"github.com/whistle-civic/whistle/pkg/postgres"
)

// LockSet reads and locks the assignments of ids, in ticket order, in the
// transaction ctx carries; tickets without one are absent from the map.
func (s *store) LockSet(ctx context.Context, ids []string) (map[string]*Assignment, error) {
	out := make(map[string]*Assignment, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT `+assignmentColumns+` FROM assignments
		WHERE ticket_id = ANY($1::uuid[]) ORDER BY ticket_id FOR UPDATE`, ids)
	if err != nil {
		return nil, fmt.Errorf("lock %d assignments: %w", len(ids), err)
	}
	list, err := pgx.CollectRows(rows, fromRow)
	if err != nil {
		return nil, fmt.Errorf("lock %d assignments: %w", len(ids), err)
	}
	for i := range list {
		out[list[i].TicketID] = &list[i]
	}
	return out, nil
}

// SaveSet writes assignments and the events announcing their changes, in the
// transaction ctx carries, with one statement for the assignments (in ticket
// order) and one for the events (see outbox.AppendSet).
func (s *store) SaveSet(ctx context.Context, list []*Assignment, evs []outbox.Entry) error {
	q := s.db.Q(ctx)
	if len(list) > 0 {
		rows := make([]assignmentRow, len(list))
		for i, a := range list {
			rows[i] = toAssignmentRow(*a)
		}
		doc, err := json.Marshal(rows)
		if err != nil {
			return err
		}
		_, err = q.Exec(ctx, `INSERT INTO assignments (`+assignmentColumns+`) SELECT `+assignmentColumns+`
			FROM jsonb_populate_recordset(NULL::assignments, $1) ORDER BY ticket_id
			ON CONFLICT (ticket_id) DO UPDATE SET status = EXCLUDED.status, version = EXCLUDED.version,
				lead_department_id = EXCLUDED.lead_department_id, assisting_department_ids = EXCLUDED.assisting_department_ids,
				accept_due = EXCLUDED.accept_due, resolve_due = EXCLUDED.resolve_due,
				catalog_version = EXCLUDED.catalog_version, rule = EXCLUDED.rule,
				triage_org_unit_id = EXCLUDED.triage_org_unit_id, updated_at = EXCLUDED.updated_at,
				owner_department_id = EXCLUDED.owner_department_id, wall_clock = EXCLUDED.wall_clock,
				accept_within = EXCLUDED.accept_within, resolve_within = EXCLUDED.resolve_within,
				paused_at = EXCLUDED.paused_at, escalation_level = EXCLUDED.escalation_level,
				next_check = EXCLUDED.next_check, return_count = EXCLUDED.return_count, returners = EXCLUDED.returners,
				binding = EXCLUDED.binding, arbitration = EXCLUDED.arbitration, extension_due = EXCLUDED.extension_due,
				extension_reason = EXCLUDED.extension_reason, area_ids = EXCLUDED.area_ids`, doc)
		if err != nil {
			return fmt.Errorf("save %d assignments: %w", len(list), err)
		}
	}
	return outbox.AppendSet(ctx, q, evs)
}

// assignmentRow is an assignment as a row of the assignments table, in the
// JSON jsonb_populate_recordset reads: absent times are null, the ticket
// snapshot is bytea's hex text.
type assignmentRow struct {
	TicketID        string     `json:"ticket_id"`
	Number          string     `json:"ticket_number"`
	Status          int16      `json:"status"`
	Version         int64      `json:"version"`
	Category        string     `json:"category"`
	GridID          string     `json:"grid_id"`
	Kind            int32      `json:"kind"`
	Synthetic       bool       `json:"synthetic"`
	Lead            string     `json:"lead_department_id"`
	Assisting       []string   `json:"assisting_department_ids"`
	AcceptDue       *time.Time `json:"accept_due"`
	ResolveDue      *time.Time `json:"resolve_due"`
	CatalogVersion  string     `json:"catalog_version"`
	Rule            string     `json:"rule"`
	TriageOrgUnit   string     `json:"triage_org_unit_id"`
	TraceParent     string     `json:"trace_parent"`
	Snapshot        *string    `json:"ticket"`
	UpdatedAt       time.Time  `json:"updated_at"`
	Owner           string     `json:"owner_department_id"`
	WallClock       bool       `json:"wall_clock"`
	AcceptWithin    string     `json:"accept_within"`
	ResolveWithin   string     `json:"resolve_within"`
	PausedAt        *time.Time `json:"paused_at"`
	EscalationLevel int32      `json:"escalation_level"`
	NextCheck       *time.Time `json:"next_check"`
	ReturnCount     int32      `json:"return_count"`
	Returners       []string   `json:"returners"`
	Binding         bool       `json:"binding"`
	Arbitration     bool       `json:"arbitration"`
	ExtensionDue    *time.Time `json:"extension_due"`
	ExtensionReason string     `json:"extension_reason"`
	Area            []string   `json:"area_ids"`
}

func toAssignmentRow(a Assignment) assignmentRow {
	r := assignmentRow{TicketID: a.TicketID, Number: a.Number, Status: int16(a.Status), Version: a.Version,
		Category: a.Facts.Category, GridID: a.Facts.GridID, Kind: a.Facts.Kind, Synthetic: a.Synthetic,
		Lead: a.Lead, Assisting: postgres.Texts(a.Assisting), AcceptDue: postgres.NullTime(a.AcceptDue), ResolveDue: postgres.NullTime(a.ResolveDue),
		CatalogVersion: a.CatalogVersion, Rule: a.Rule, TriageOrgUnit: a.TriageOrgUnit, TraceParent: a.TraceParent,
		UpdatedAt: a.UpdatedAt, Owner: a.Owner, WallClock: a.WallClock, AcceptWithin: windowText(a.AcceptWithin),
		ResolveWithin: windowText(a.ResolveWithin), PausedAt: postgres.NullTime(a.PausedAt), EscalationLevel: a.EscalationLevel,
		NextCheck: postgres.NullTime(a.NextCheck), ReturnCount: a.ReturnCount, Returners: postgres.Texts(a.Returners), Binding: a.Binding,
		Arbitration: a.Arbitration, ExtensionDue: postgres.NullTime(a.ExtensionDue), ExtensionReason: a.ExtensionReason,
		Area: postgres.Texts(a.Area)}
	if a.Snapshot != nil {
		hexText := `\x` + hex.EncodeToString(a.Snapshot)
		r.Snapshot = &hexText
	}
	return r
}
