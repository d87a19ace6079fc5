package apperr_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/whistle-civic/whistle/pkg/apperr"
)

func TestWithRetryAfter(t *testing.T) {
	t.Parallel()
	busy := apperr.New(apperr.ResourceExhausted, "busy")
	err := fmt.Errorf("report: %w", apperr.WithRetryAfter(fmt.Errorf("%w: outbox full", busy), 5*time.Second))
	if d, ok := apperr.RetryAfterOf(err); !ok || d != 5*time.Second {
		t.Fatalf("RetryAfterOf = %v, %v; want 5s", d, ok)
	}
	if apperr.KindOf(err) != apperr.ResourceExhausted || !errors.Is(err, busy) || err.Error() != "report: busy: outbox full" {
		t.Fatalf("the hint changed the error: kind %v, message %q", apperr.KindOf(err), err)
	}
	if _, ok := apperr.RetryAfterOf(busy); ok {
		t.Fatal("an error without a hint has one")
	}
	if apperr.WithRetryAfter(nil, time.Second) != nil {
		t.Fatal("WithRetryAfter(nil) is not nil")
	}
	if err := apperr.WithRetryAfter(busy, 0); err != error(busy) {
		t.Fatalf("a zero hint wrapped the error: %v", err)
	}
}
