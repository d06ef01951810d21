package route

import "fmt"

// NeedsWrite says whether the steward should write committed (the
// committed config of a cluster, Fleet set to ours) over stored (nil when the
// routing Redis has no entry), and why: the route is rewritten when it is
// absent (a wiped or replaced routing Redis), older than the committed
// config, or at the same epoch with other replicas or kind. It is pure.
//
// It never asks to write over a higher stored epoch: a newer config was
// committed elsewhere (this sentinel is behind and will learn it), or a
// stale fleet wrote it; either way overwriting would move the route
// backwards (DESIGN.md §6.7). Nor over a key another fleet owns, nor over a
// different primary at the same epoch (two configs at one epoch: a bug or a
// split fleet, for a person to look at). Write refuses those too; NeedsWrite
// only saves the round trip and explains.
func NeedsWrite(stored *Entry, committed Entry) (bool, string) {
	switch {
	case stored == nil:
		return true, "route absent"
	case stored.Fleet != "" && committed.Fleet != "" && stored.Fleet != committed.Fleet:
		return false, fmt.Sprintf("owned by fleet %s, not %s", stored.Fleet, committed.Fleet)
	case stored.Epoch > committed.Epoch:
		return false, fmt.Sprintf("stored epoch %d > committed %d: a newer config was committed elsewhere, or a stale fleet wrote it",
			stored.Epoch, committed.Epoch)
	case stored.Epoch < committed.Epoch:
		return true, fmt.Sprintf("stored epoch %d < committed %d", stored.Epoch, committed.Epoch)
	case stored.Primary != committed.Primary:
		return false, fmt.Sprintf("epoch %d: stored names primary %s, committed names %s",
			stored.Epoch, stored.Primary, committed.Primary)
	case !sameReplicas(stored.Replicas, committed.Replicas):
		return true, fmt.Sprintf("epoch %d: stored replicas [%s] differ from committed", stored.Epoch, join(stored.Replicas))
	case stored.Kind != committed.Kind:
		return true, fmt.Sprintf("epoch %d: stored kind %s differs from committed %s", stored.Epoch, stored.Kind, committed.Kind)
	case stored.Fleet == "" && committed.Fleet != "":
		return true, fmt.Sprintf("epoch %d: stored entry names no fleet", stored.Epoch)
	default:
		return false, fmt.Sprintf("up to date at epoch %d", stored.Epoch)
	}
}

// sameRoute says whether two entries route the same way: epoch, primary,
// kind, replicas and fleet (the fields the script compares).
func sameRoute(a, b Entry) bool {
	return a.Epoch == b.Epoch && a.Primary == b.Primary && a.Kind == b.Kind &&
		sameReplicas(a.Replicas, b.Replicas) && a.Fleet == b.Fleet
}
