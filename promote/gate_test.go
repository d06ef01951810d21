package promote

import (
	"strings"
	"testing"
	"time"
)

func TestRouteGate(t *testing.T) {
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	sf := SelfFence{MinReplicas: 1, MaxLag: 2 * time.Second}
	detached := now.Add(-time.Second)
	for _, tc := range []struct {
		name string
		in   GateInput
		want Gate
		why  string // a substring of Why
	}{
		{"strict, refuses connections", GateInput{FenceWait: FenceWaitStrict, Old: OldRefuses, OldSelfFence: sf, LastDetach: detached},
			Gate{Open: true}, "refuses connections"},
		{"strict, demoted", GateInput{FenceWait: FenceWaitStrict, Old: OldDemoted, AtRisk: []string{"r9"}},
			Gate{Open: true}, "demoted"},
		{"strict, unreachable, inside the window", GateInput{FenceWait: FenceWaitStrict, Old: OldUnreachable, OldSelfFence: sf, LastDetach: detached},
			Gate{Until: detached.Add(3 * time.Second)}, "waiting until its self-fence"},
		{"strict, unreachable, window passed", GateInput{FenceWait: FenceWaitStrict, Old: OldUnreachable, OldSelfFence: sf, LastDetach: now.Add(-3 * time.Second)},
			Gate{Open: true}, "must have fenced itself"},
		{"strict, writable, window passed", GateInput{FenceWait: FenceWaitStrict, Old: OldWritable, OldSelfFence: sf, LastDetach: now.Add(-4 * time.Second)},
			Gate{Open: true}, "must have fenced itself"},
		{"strict, no self-fence", GateInput{FenceWait: FenceWaitStrict, Old: OldUnreachable, LastDetach: now.Add(-time.Hour)},
			Gate{Critical: true}, "no self-fence"},
		{"strict, a replica at risk", GateInput{FenceWait: FenceWaitStrict, Old: OldUnreachable, OldSelfFence: sf, LastDetach: now.Add(-time.Hour), AtRisk: []string{"r3"}},
			Gate{Critical: true}, "r3"},
		{"strict, fewer at risk than the self-fence needs", GateInput{FenceWait: FenceWaitStrict, Old: OldUnreachable,
			OldSelfFence: SelfFence{MinReplicas: 2, MaxLag: time.Second}, LastDetach: now.Add(-time.Hour), AtRisk: []string{"r3"}},
			Gate{Open: true}, "must have fenced itself"},
		{"fast, unreachable", GateInput{FenceWait: FenceWaitFast, Old: OldUnreachable, OldSelfFence: sf, LastDetach: detached},
			Gate{Open: true, SplitBrainRisk: true}, "fast"},
		{"fast, refuses", GateInput{FenceWait: FenceWaitFast, Old: OldRefuses},
			Gate{Open: true}, "refuses"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.OldPrimary = "p1"
			g := RouteGate(tc.in, now)
			if g.Open != tc.want.Open || g.Critical != tc.want.Critical || g.SplitBrainRisk != tc.want.SplitBrainRisk || !g.Until.Equal(tc.want.Until) {
				t.Errorf("RouteGate = %+v, want %+v", g, tc.want)
			}
			if !strings.Contains(g.Why, tc.why) {
				t.Errorf("Why = %q, want it to mention %q", g.Why, tc.why)
			}
		})
	}
}
