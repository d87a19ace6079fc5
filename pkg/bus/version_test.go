package bus

import "testing"

func TestVersionAtLeast(t *testing.T) {
	for _, tc := range []struct {
		version string
		want    bool
	}{
		{"2.9.10", false}, {"2.10.0", true}, {"2.10.0-RC.3", true}, {"2.15.3", true}, {"3.0.0", true},
		{"v2.11.1", true}, {"1.99.0", false}, {"2", false}, {"", false}, {"x.y", false},
	} {
		if got := versionAtLeast(tc.version, 2, 10); got != tc.want {
			t.Errorf("versionAtLeast(%q, 2, 10) = %v, want %v", tc.version, got, tc.want)
		}
	}
}
