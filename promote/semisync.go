package promote

import (
	"fmt"
	"strings"
	"time"

	"github.com/imsentinel/imsentinel/probe"
)

// MinSemiSyncTimeout is the shortest rpl_semi_sync_master_timeout that
// keeps a cut-off primary stalled through a failover rather than falling
// back to asynchronous commits (DESIGN.md §6.2: "a very long timeout").
const MinSemiSyncTimeout = time.Hour

// SemiSyncDrift lists how a semi-sync MySQL primary's settings fall short
// of DESIGN.md §6.2, each a sentence for a person; nil when they hold, or
// when the primary does not run semi-sync (an asynchronous cluster makes
// no zero-loss claim to drift from). replicas is how many replicas this
// sentinel sees replicating the primary.
func SemiSyncDrift(f *probe.MySQLFacts, replicas int) []string {
	if f == nil || !f.SemiSync.PrimaryEnabled {
		return nil
	}
	s := f.SemiSync
	var out []string
	if !strings.EqualFold(s.WaitPoint, "AFTER_SYNC") {
		out = append(out, fmt.Sprintf("wait point %s, want AFTER_SYNC (with AFTER_COMMIT other sessions see a commit no replica has)", orNone(s.WaitPoint)))
	}
	if !s.WaitNoReplica {
		out = append(out, "wait_no_slave OFF, want ON (a primary left without replicas commits asynchronously)")
	}
	if s.Timeout < MinSemiSyncTimeout {
		out = append(out, fmt.Sprintf("timeout %v, want at least %v (a cut-off primary falls back to asynchronous commits after it)", s.Timeout, MinSemiSyncTimeout))
	}
	if !s.PrimaryActive {
		out = append(out, fmt.Sprintf("semi-sync is not active (it fell back to asynchronous replication; %d commits went without an acknowledgement)", s.NoTx))
	}
	if s.Clients < replicas {
		out = append(out, fmt.Sprintf("%d semi-sync replicas registered, %d replicate: the others never acknowledge", s.Clients, replicas))
	}
	return out
}
