// Package promote decides how a cluster fails over: which replica becomes
// the primary (Rank) and which steps, in which order, with which deadlines,
// get it there (PlanRedisFailover). DESIGN.md §6.
//
// # What it decides
//
// Rank chooses among the replicas of a failed Redis primary (§6.5): data
// first. It excludes the replicas that are down (SDOWN, unreachable, stale
// observation), not in the old primary's data (reporting another primary,
// or a master_replid that is neither the old primary's replid nor its
// replid2: a replica that resynced from a primary restarted empty), not
// usable yet (loading, full sync in progress), disconnected longer than the
// bound (Limits: by default Redis Sentinel's (now − primary SDOWN since) +
// 10 × down_after), or with priority 0. Of the rest it takes the largest
// replication offset; priority (lower first), link freshness and the
// address break ties. Every replica gets a Verdict with a reason a person
// can read; with no candidate, Ranking.Why says what a person can do.
//
// PlanRedisFailover lists the steps of an unplanned Redis failover (§6.1):
// fence and demote the old primary in the background, kill other
// sentinels' sessions before the first write on each node (§5.6), promote,
// repoint, set the new primary's self-fence, commit, wait out the fence
// window under fence_wait strict (and wait, CRITICAL, when replicas that
// could acknowledge for the old primary are unreachable, §6.3), write the
// route, disconnect clients, release. Each step names its targets, its
// deadline and whether it is irreversible (its intent is persisted on a
// majority first, §5.7). Plan.Warnings name the risks for a person.
//
// # Inputs and outputs
//
// Both are pure: plain values in (observations from package probe, config
// values as plain durations and counts, now), a printable value out
// (String for people, JSON tags for `imctl -o json`). They read no clock,
// do no I/O and do not log; the daemon gathers the inputs, logs the
// explanations and journals the decision. The package does not import the
// daemon (sentinel).
//
// # What it does not do
//
// It does not execute a plan, reach a data node, take or check a lease,
// persist an intent, or write a route: the daemon's executors do, asking
// the agreement for authority before each step. It does not re-rank when a
// holder rolls forward another holder's intent (the intent names the
// target). MySQL ranking and plans, switchovers and forced failovers
// (`imctl failover --to`, which relaxes the ranking) are later stages.
package promote
