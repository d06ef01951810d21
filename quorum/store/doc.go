// Package store is the durable state one imsentinel daemon keeps in its
// data_dir: the votes it granted, the highest epoch it has seen per cluster,
// the latest failover intent per cluster, the committed cluster configs and
// the journal. Everything lives in one bbolt file, <data_dir>/state.db.
//
// Inputs are records built by the daemon, with their times already filled
// in (the store never reads the clock). Every write is one bbolt transaction,
// fsynced before the call returns, so a record that was acknowledged survives
// a crash and a crash never leaves half a write behind.
//
// The store enforces the storage-level safety floors and nothing more:
//
//   - one vote per epoch: a vote whose epoch is not above the vote already
//     granted for the cluster, or is below the highest epoch seen, is refused
//     (DESIGN.md §5.5);
//   - the highest epoch seen per cluster never decreases;
//   - intents and committed configs never go backwards, and two configs with
//     the same epoch must name the same primary;
//   - one process per data_dir (a file lock), and a data_dir belongs to one
//     sentinel of one fleet;
//   - the file's schema version is checked, and older files are migrated in
//     place (a newer file is refused, never downgraded).
//
// It does not decide anything: whether to grant a vote, whether a lease is
// live, whether a config is committed on a majority or whether a fresh
// data_dir has learned enough from the fleet (DESIGN.md §5.2) belong to the
// quorum and sentinel packages; the store only records the outcome. It does
// not log, talk to the network, or replicate state to other sentinels.
//
// docs/state.md describes the file for operators: layout, versioning,
// locking, backups and what deleting the data_dir means.
package store
