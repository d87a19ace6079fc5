// Package notify tells residents by SMS what became of the problem they
// reported: that it is resolved (with the code to evaluate it with) or closed.
// A notice's phone number is personal data and its text may hold an
// evaluation code, so neither appears in logs: a Notice logs its number
// masked and its text's length only.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"unicode/utf8"
)

// Kinds of notice.
const (
	// KindResolved: the ticket is resolved; the resident may evaluate it.
	KindResolved = "resolved"
	// KindClosed: the ticket is closed and archived.
	KindClosed = "closed"
)

// ErrInvalid is wrapped when a notice has no phone number or no text.
var ErrInvalid = errors.New("notify: a notice needs a phone number and a text")

// Notifier sends notices. Notify returns nil once the notice is handed over
// (to a gateway, to a log); implementations are safe for concurrent use.
type Notifier interface {
	Notify(ctx context.Context, n Notice) error
}

// Notice is one SMS to a resident.
type Notice struct {
	// Phone is the resident's number, as they gave it.
	Phone string
	// Text is the message, see Text; it may hold an evaluation code.
	Text string
	// TicketNumber is the ticket's human-readable number, for logs.
	TicketNumber string
	// Kind is KindResolved or KindClosed.
	Kind string
}

// validate returns an error wrapping ErrInvalid for a notice without a phone
// number or a text.
func (n Notice) validate() error {
	if strings.TrimSpace(n.Phone) == "" || strings.TrimSpace(n.Text) == "" {
		return fmt.Errorf("%w (ticket %s)", ErrInvalid, n.TicketNumber)
	}
	return nil
}

// LogValue logs the notice with its number masked (MaskPhone) and its text's
// length in characters only, so that slog never shows either.
func (n Notice) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("phone", MaskPhone(n.Phone)),
		slog.Int("text_chars", utf8.RuneCountInString(n.Text)),
		slog.String("ticket", n.TicketNumber),
		slog.String("kind", n.Kind),
	)
}

// String shows the notice as LogValue does, for fmt's %v and %+v.
func (n Notice) String() string {
	return fmt.Sprintf("Notice{Phone:%s Text:(%d chars) TicketNumber:%s Kind:%s}",
		MaskPhone(n.Phone), utf8.RuneCountInString(n.Text), n.TicketNumber, n.Kind)
}

// GoString is String, for fmt's %#v.
func (n Notice) GoString() string { return n.String() }

// MaskPhone hides most of a phone number: of a number with at least 8
// digits it keeps the first 3 and the last 4 digits around "****"
// ("13812345678" → "138****5678"); anything else (fewer digits, no digits,
// empty) becomes "****". Non-digits (+, spaces, dashes) are dropped first.
func MaskPhone(p string) string {
	digits := make([]byte, 0, len(p))
	for i := 0; i < len(p); i++ {
		if c := p[i]; c >= '0' && c <= '9' {
			digits = append(digits, c)
		}
	}
	if len(digits) < 8 {
		return "****"
	}
	return string(digits[:3]) + "****" + string(digits[len(digits)-4:])
}

// Log is a Notifier for development: it logs each notice (masked, see
// Notice.LogValue) at Info and sends nothing.
type Log struct {
	// Logger receives the notices; nil means slog.Default().
	Logger *slog.Logger
}

// Notify logs n. It fails (wrapping ErrInvalid) for a notice without a phone
// number or a text, as a gateway would.
func (l Log) Notify(ctx context.Context, n Notice) error {
	if err := n.validate(); err != nil {
		return err
	}
	logger := l.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger.InfoContext(ctx, "notice not sent (log only)", slog.Any("notice", n))
	return nil
}

// The notice texts, by kind: the ticket's number, then (resolved) the
// evaluation code.
const (
	textResolved = "【吹哨】您反映的问题（工单 %s）已办结，请评价：回复评价码 %s。"
	textClosed   = "【吹哨】您反映的问题（工单 %s）已办结归档，感谢您的监督。"
)

// SegmentChars is how many characters one SMS segment holds in UCS-2, which
// Chinese text needs. With a ticket number like "HH-20261126-00042" and an
// 8-character code, both texts fit in one.
const SegmentChars = 70

// Text returns the notice text of kind (KindResolved or KindClosed) for the
// ticket number and, when resolved, the evaluation code (ignored when
// closed). It returns "" for another kind, which every Notifier refuses.
func Text(kind, number, code string) string {
	switch kind {
	case KindResolved:
		return fmt.Sprintf(textResolved, number, code)
	case KindClosed:
		return fmt.Sprintf(textClosed, number)
	}
	return ""
}
