package clock_test

import (
	"context"
	"testing"
	"time"

	"github.com/whistle-civic/whistle/pkg/clock"
)

func TestSleep(t *testing.T) {
	t.Parallel()
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		d    time.Duration
		want bool
	}{
		{"waits the whole time", context.Background(), time.Millisecond, true},
		{"stops when the context ends", ended, time.Hour, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := clock.Sleep(tt.ctx, tt.d); got != tt.want {
				t.Errorf("Sleep(%s) = %v, want %v", tt.d, got, tt.want)
			}
		})
	}
}
