// Package probe detects failure.
//
// It holds the EWMA failure detector, a pure function of the probe rounds it
// is given and of now (no clock reads, no I/O), and the per-kind probers in
// sub-packages (redisprobe, mysqlprobe) that turn one round trip to a store
// into an Observation with its replication facts.
//
// It does not decide anything about clusters: whether a primary is down for
// the fleet (ODOWN), whether a replica sees it alive (vantage) and what to do
// about it belong to the quorum and sentinel packages.
package probe
