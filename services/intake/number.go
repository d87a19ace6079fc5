package intake

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// numberBlock is how many ticket numbers a process reserves at a time.
const numberBlock = 20

// numberSource reserves ranges of a day's ticket numbers.
type numberSource interface {
	// ReserveNumbers reserves n numbers of day (YYYYMMDD) and returns the last
	// one reserved; the range is (last-n, last].
	ReserveNumbers(ctx context.Context, day string, n int64) (int64, error)
}

// numbers hands out human-readable ticket numbers, "<city>-<YYYYMMDD>-<nnnnn>",
// counted per day in the city's time zone. It reserves numbers in blocks
// (one short transaction per block, not a lock held by every report), so
// numbers are unique but not gap-free: a restart forfeits the rest of its
// block, and replicas interleave.
type numbers struct {
	city  string
	loc   *time.Location
	src   numberSource
	mu    sync.Mutex
	day   string
	next  int64
	limit int64
}

// dayOf is the day (YYYYMMDD, in the city's time zone) whose numbers a
// ticket reported at t takes.
func (n *numbers) dayOf(t time.Time) string { return t.In(n.loc).Format("20060102") }

// format writes number num of day.
func (n *numbers) format(day string, num int64) string {
	return fmt.Sprintf("%s-%s-%05d", n.city, day, num)
}

// Next returns the next number for the day of now.
func (n *numbers) Next(ctx context.Context, now time.Time) (string, error) {
	day := n.dayOf(now)
	n.mu.Lock()
	defer n.mu.Unlock()
	if day != n.day || n.next > n.limit {
		last, err := n.src.ReserveNumbers(ctx, day, numberBlock)
		if err != nil {
			return "", fmt.Errorf("reserve ticket numbers: %w", err)
		}
		n.day, n.next, n.limit = day, last-numberBlock+1, last
	}
	num := n.next
	n.next++
	return n.format(day, num), nil
}
