package promote

import (
	"strings"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/probe"
)

func TestSemiSyncDrift(t *testing.T) {
	good := probe.SemiSync{Loaded: true, PrimaryEnabled: true, WaitPoint: "AFTER_SYNC", WaitNoReplica: true,
		Timeout: 24 * time.Hour, PrimaryActive: true, Clients: 2}
	for _, tc := range []struct {
		name string
		mod  func(*probe.SemiSync)
		reps int
		want []string
	}{
		{"as §6.2 wants", func(*probe.SemiSync) {}, 2, nil},
		{"async cluster: nothing to drift from", func(s *probe.SemiSync) { s.PrimaryEnabled = false; s.Timeout = 0 }, 2, nil},
		{"after commit", func(s *probe.SemiSync) { s.WaitPoint = "AFTER_COMMIT" }, 2, []string{"AFTER_SYNC"}},
		{"no wait without replicas", func(s *probe.SemiSync) { s.WaitNoReplica = false }, 2, []string{"wait_no_slave OFF"}},
		{"short timeout", func(s *probe.SemiSync) { s.Timeout = 10 * time.Second }, 2, []string{"timeout 10s"}},
		{"fell back to async", func(s *probe.SemiSync) { s.PrimaryActive = false; s.NoTx = 7 }, 2, []string{"not active", "7 commits"}},
		{"a replica not registered", func(s *probe.SemiSync) { s.Clients = 1 }, 2, []string{"1 semi-sync replicas registered, 2 replicate"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := good
			tc.mod(&s)
			got := strings.Join(SemiSyncDrift(&probe.MySQLFacts{SemiSync: s}, tc.reps), "\n")
			if len(tc.want) == 0 && got != "" {
				t.Errorf("drift %q, want none", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("drift %q, want it to mention %q", got, w)
				}
			}
		})
	}
}
