package notify_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/whistle-civic/whistle/pkg/notify"
)

const (
	phone  = "13812345678"
	code   = "K7Q2M9XR"
	number = "HH-20261126-00042"
)

func TestMaskPhone(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"13812345678", "138****5678"},
		{"+86 138-1234-5678", "861****5678"},
		{"12345678", "123****5678"},
		{"1234567", "****"},
		{"110", "****"},
		{"", "****"},
		{"not a number", "****"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			if got := notify.MaskPhone(tc.in); got != tc.want {
				t.Fatalf("MaskPhone(%q) = %q; want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestNoticesNeverShowTheNumberOrTheText(t *testing.T) {
	t.Parallel()
	n := notify.Notice{Phone: phone, Text: notify.Text(notify.KindResolved, number, code), TicketNumber: number, Kind: notify.KindResolved}
	for _, tc := range []struct {
		name string
		out  func() string
	}{
		{"slog JSON", func() string {
			var b bytes.Buffer
			slog.New(slog.NewJSONHandler(&b, nil)).Info("sent", "notice", n)
			return b.String()
		}},
		{"slog text", func() string {
			var b bytes.Buffer
			slog.New(slog.NewTextHandler(&b, nil)).Info("sent", slog.Any("notice", n))
			return b.String()
		}},
		{"Log notifier", func() string {
			var b bytes.Buffer
			if err := (notify.Log{Logger: slog.New(slog.NewJSONHandler(&b, nil))}).Notify(context.Background(), n); err != nil {
				t.Error(err)
			}
			return b.String()
		}},
		{"%v", func() string { return fmt.Sprintf("%v", n) }},
		{"%+v", func() string { return fmt.Sprintf("%+v", n) }},
		{"%#v", func() string { return fmt.Sprintf("%#v", n) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out := tc.out()
			if strings.Contains(out, phone) || strings.Contains(out, code) || strings.Contains(out, "请评价") {
				t.Fatalf("output shows the number, the code or the text: %s", out)
			}
			if !strings.Contains(out, "138****5678") || !strings.Contains(out, number) {
				t.Fatalf("output lacks the masked number or the ticket: %s", out)
			}
		})
	}
}

func TestLogRefusesAnEmptyNotice(t *testing.T) {
	t.Parallel()
	for _, n := range []notify.Notice{{Text: "x"}, {Phone: phone}, {Phone: " ", Text: "x"}} {
		if err := (notify.Log{}).Notify(context.Background(), n); !errors.Is(err, notify.ErrInvalid) {
			t.Fatalf("Notify(%v) = %v; want ErrInvalid", n, err)
		}
	}
}

func TestTextFitsOneSegment(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		kind, want string
	}{
		{notify.KindResolved, "【吹哨】您反映的问题（工单 HH-20261126-00042）已办结，请评价：回复评价码 K7Q2M9XR。"},
		{notify.KindClosed, "【吹哨】您反映的问题（工单 HH-20261126-00042）已办结归档，感谢您的监督。"},
		{"reopened", ""},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			t.Parallel()
			got := notify.Text(tc.kind, number, code)
			if got != tc.want {
				t.Fatalf("Text(%s) = %q; want %q", tc.kind, got, tc.want)
			}
			if n := utf8.RuneCountInString(got); n > notify.SegmentChars {
				t.Fatalf("Text(%s) has %d characters, more than one segment (%d)", tc.kind, n, notify.SegmentChars)
			}
		})
	}
}
