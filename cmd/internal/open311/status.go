package open311

import (
	"strings"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// state is how the standard shows a Whistle status: open or closed, the
// extended state of the updates extension (mySociety's names, which
// FixMyStreet reads) and words for status_notes.
type state struct {
	open     bool
	extended string
	notes    string
}

// states is the mapping docs/open311.md shows as a table.
var states = map[whistlev1.TicketStatus]state{
	whistlev1.TicketStatus_TICKET_STATUS_REPORTED:   {true, "open", "已受理，正在派单 (reported)"},
	whistlev1.TicketStatus_TICKET_STATUS_TRIAGE:     {true, "investigating", "正在核实由哪个部门办理 (triage)"},
	whistlev1.TicketStatus_TICKET_STATUS_DISPATCHED: {true, "investigating", "已派给责任部门 (dispatched)"},
	whistlev1.TicketStatus_TICKET_STATUS_ACCEPTED:   {true, "in_progress", "责任部门正在办理 (accepted)"},
	whistlev1.TicketStatus_TICKET_STATUS_RETURNED:   {true, "not_councils_responsibility", "部门认为不属于本部门，正在重新派单 (returned)"},
	whistlev1.TicketStatus_TICKET_STATUS_REOPENED:   {true, "reopen", "评价不满意，正在重新办理 (reopened)"},
	whistlev1.TicketStatus_TICKET_STATUS_RESOLVED:   {false, "fixed", "已办结，等待评价 (resolved)"},
	whistlev1.TicketStatus_TICKET_STATUS_CLOSED:     {false, "closed", "已评价，工单关闭 (closed)"},
	whistlev1.TicketStatus_TICKET_STATUS_MERGED:     {false, "duplicate", "与已有工单重复，已合并 (merged)"},
	whistlev1.TicketStatus_TICKET_STATUS_CANCELLED:  {false, "no_further_action", "已撤销 (cancelled)"},
}

// openness is the standard's status of a Whistle status.
func openness(s whistlev1.TicketStatus) string {
	if states[s].open {
		return "open"
	}
	return "closed"
}

// statusesOf returns the Whistle statuses of a status parameter ("open",
// "closed" or both, comma separated), or a 400.
func statusesOf(param string) ([]whistlev1.TicketStatus, error) {
	if param == "" {
		return nil, nil
	}
	want := map[bool]bool{}
	for p := range strings.SplitSeq(param, ",") {
		switch strings.TrimSpace(p) {
		case "open":
			want[true] = true
		case "closed":
			want[false] = true
		default:
			return nil, badRequest("status %q is neither open nor closed: send open, closed or both (open,closed)", p)
		}
	}
	if len(want) == 2 {
		return nil, nil
	}
	var out []whistlev1.TicketStatus
	for s := whistlev1.TicketStatus_TICKET_STATUS_REPORTED; int(s) <= len(states); s++ {
		if st, ok := states[s]; ok && want[st.open] {
			out = append(out, s)
		}
	}
	return out, nil
}
