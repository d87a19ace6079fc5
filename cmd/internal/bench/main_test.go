package bench

import (
	"testing"

	"github.com/whistle-civic/whistle/pkg/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
