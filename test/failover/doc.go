// Package failover tests Redis failovers end to end (issue 4): real
// redis-server processes, a routing Redis, three real imsentinel processes,
// and a writer that judges every write by its own sequence numbers
// (acknowledged, failed, or unknown). Invariants (the route never goes
// backwards, one primary per epoch) are checked continuously while the
// faults happen; the tests assert order and invariants, never durations.
package failover
