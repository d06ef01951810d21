package sentinel

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every condition the daemon can raise has a runbook, listed in the
// runbooks' index (issue 5: docs are part of the product).
func TestEveryConditionHasARunbook(t *testing.T) {
	index, err := os.ReadFile(filepath.Join("..", "docs", "runbooks", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{CondForeignInstance, CondPrimaryIsReplica, CondWritableNonPrimary, CondVantageBlocked,
		CondLineageBroken, CondRouteWaitsForFence, CondSelfFenceRelaxed, CondSemiSyncDrift, CondErrantReturningPrimary,
		CondCredentialsRefused, CondGrantsMissing, CondFailoverPending, CondPrimaryReadOnly} {
		page := filepath.Join("..", "docs", "runbooks", c+".md")
		b, err := os.ReadFile(page)
		if err != nil {
			t.Errorf("condition %s has no runbook: %v", c, err)
			continue
		}
		if !strings.HasPrefix(string(b), "# "+c) {
			t.Errorf("%s does not start with the heading # %s", page, c)
		}
		if !strings.Contains(string(index), "["+c+".md]("+c+".md)") {
			t.Errorf("docs/runbooks/README.md does not list %s", c)
		}
	}
}
