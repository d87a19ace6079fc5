package evaluation

import (
	"math/rand/v2"

	"github.com/whistle-civic/whistle/pkg/ticket"
)

// drawCallBack draws a closing ticket for a hotline call-back with
// probability CallBackShare (from the runtime's cryptographically seeded
// generator, so no department can tell which of its tickets will be called);
// it is false for any other action.
func (s *Service) drawCallBack(action ticket.Action) bool {
	return action == ticket.Close && rand.Float64() < s.cfg.CallBackShare
}
