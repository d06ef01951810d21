// Package redisnode makes the admin changes of a Redis failover on one node:
// kill other sentinels' admin sessions, pause writes, promote, repoint,
// set the self-fence and the replication heartbeat, disconnect clients, and
// wait for replicas (DESIGN.md §5.6, §6.1, §6.2). It is the effects edge of
// package promote: promote decides what to do and in which order, the
// daemon's executor calls this package to do it, one step at a time.
//
// # Who may call it
//
// Only the current lease holder of the cluster, after the agreement has
// authorized the step (sentinel.Daemon.Authorize), and only with a deadline (ctx) that its
// remaining authority covers. Nothing here checks a lease: a call is a
// write to a data node, made at once. Before its first write on a node, a
// new holder calls KillOtherSessions, so that a command of an older holder
// still in flight on its admin connection cannot land after the new
// holder's (§5.6). Connections use no retries (MaxRetries -1), so a command
// on a killed connection is never sent again on a new one.
//
// # Inputs and outputs
//
// Options say where the node is (after the address map) and name this
// sentinel's admin connections (AdminName). Each method sends one or a few
// commands and returns what the server said, parsed (Role), or an error
// that says what was being done on which node. Classify tells a refused
// connection (the process is gone) from a node that is cut off or hangs
// and from an error reply, which a strict fence wait needs (§6.3).
//
// Promote and ReplicaOf persist the change with a best-effort CONFIG
// REWRITE. A server without a config file is not an error; any other
// rewrite failure is returned wrapping ErrRewrite, after the change took
// effect: callers treat it as a warning, not as a failed step.
//
// # What it does not do
//
// It decides nothing: no ranking, no ordering of steps, no choice of
// deadlines, no retries of a failed step, no reading of the clock other
// than to poll. It does not log (errors carry the explanation) and does not
// apply the address map. It is not for probing: package probe/redisprobe
// observes; this package writes.
//
// # Permissions
//
// With ACLs, the admin user needs `+client|setname +client|id +client|list
// +client|kill +client|pause +client|unpause +replicaof +role +info
// +config|set +config|rewrite` (CONFIG REWRITE may be denied: Promote and
// ReplicaOf then return an ErrRewrite warning).
package redisnode
