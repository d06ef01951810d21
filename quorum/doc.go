// Package quorum is the fleet's agreement (DESIGN.md §5).
//
// The rules are pure functions of their inputs and now, with their
// explanation:
//
//   - Voters: the configured voter set, its fingerprint and majority, and
//     whether another voter set differs by at most one member (§5.1).
//   - CountODOWN: fresh SDOWN opinions about the same (cluster, config
//     epoch, primary) from a quorum, stronger in a cooldown (§5.3, §5.10).
//   - CheckVantage: a replica that sees the primary alive blocks an
//     automatic failover (§5.4).
//   - DecideVote, DecideRenew, Release: a voter's grant rules and bindings;
//     Lease: the holder's authority from the send time, minus a drift
//     margin, and whether it covers a step's deadline (§5.5, §5.6).
//
// They never read the clock, log or do I/O. The transport sub-package
// carries messages between sentinels, and the store sub-package persists
// votes, intents, committed configs and the journal. The election driver,
// intents on a majority, TILT and the start-up view build on these.
package quorum
