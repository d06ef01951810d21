// Package promote will rank replicas, build failover and switchover plans
// (pure: read-only state and now in, a printable plan out), run them with
// the per-kind executors, fence old primaries and write routes
// (DESIGN.md §6).
//
// Nothing is here yet: the observe-only daemon of this stage never writes to
// a data node. The Redis and MySQL failover stages fill it in.
package promote
