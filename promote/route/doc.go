// Package route writes and reads the routing entries gateways follow
// (DESIGN.md §6.7, §7 "Routing entry"; the contract is docs/gateway.md).
//
// One entry per cluster lives in the routing Redis as the hash
// <prefix>route:<cluster> (fields primary, epoch, kind, replicas, fleet,
// updated_at, updated_by). Every change is announced as a JSON Change on the
// channel <prefix>routes.
//
// Writer.Write is a compare-and-set done by one Lua script, so the read, the
// check, the write and the announcement are one atomic step in the routing
// Redis: it writes when the stored epoch is lower, or equal with the same
// primary (a replica-list update); it refuses a key another fleet owns, a
// lower epoch, and a different primary at the same epoch. A change is
// published if and only if it was written. Refusals are results, not errors:
// errors mean the routing Redis could not be asked.
//
// NeedsWrite is pure: it says whether the steward should rewrite a stored
// entry (absent, older, or with other replicas) from the committed config,
// and why not otherwise.
//
// The package decides nothing about failover: only the steward writes, and
// only a committed config (the caller's job). It does not log; results and
// errors carry the explanation. It never reads the wall clock outside
// Options.Now. A failing routing Redis only makes Write and Read return
// errors (DESIGN.md §6.9: it never demotes a healthy primary).
//
// The routing user needs HGETALL, HSET, EXISTS, HMGET, PUBLISH, EVALSHA and
// EVAL on the keys <prefix>route:* and the channel <prefix>routes: for an
// ACL user, `~<prefix>route:* &<prefix>routes +hgetall +hmget +hset +exists
// +publish +evalsha +eval`.
package route
