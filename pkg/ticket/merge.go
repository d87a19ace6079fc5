package ticket

import "github.com/whistle-civic/whistle/pkg/apperr"

// The refusals of a merge that concern the original.
var (
	// ErrMergeSelf: a ticket cannot duplicate itself.
	ErrMergeSelf = apperr.New(apperr.InvalidArgument, "a ticket cannot be merged into itself: name the original")
	// ErrOriginalEnded: the original is closed, cancelled or merged itself.
	ErrOriginalEnded = apperr.New(apperr.FailedPrecondition,
		"the original is closed, cancelled or merged: merge into an open ticket (whistlectl duplicates lists them), "+
			"or let the duplicate be handled on its own")
	// ErrOtherMatter: the two tickets are of different matter types.
	ErrOtherMatter = apperr.New(apperr.FailedPrecondition,
		"the tickets are of different matter types: check that they are the same matter, and if one was filed "+
			"under the wrong type, merge with across_matters (whistlectl merge --across-matters)")
)

// Side is one ticket of a merge, as the service deciding it knows it.
type Side struct {
	ID, Category string
	Status       Status
}

// MayMerge is the rule for linking a duplicate to its original (同一事项):
// another ticket, still open, of the same matter type unless the officer
// says they differ (acrossMatters). Whether the duplicate itself may still be
// merged is the lifecycle's to say (Next with Merge).
func MayMerge(dup, original Side, acrossMatters bool) error {
	switch {
	case dup.ID == original.ID:
		return ErrMergeSelf
	case original.Status.Final():
		return ErrOriginalEnded
	case dup.Category != original.Category && !acrossMatters:
		return ErrOtherMatter
	}
	return nil
}
