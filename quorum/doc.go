// Package quorum is the fleet's agreement (DESIGN.md §5): the opinion tally
// (SDOWN → ODOWN), the voter set, elections and leases, all pure, and the
// transport they travel on.
//
// Today it holds only the durable state in quorum/store (votes, intents,
// committed configs, journal). The agreement core stage adds the rest.
package quorum
