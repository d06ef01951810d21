// Package mysqlprobe probes one MySQL or MariaDB instance and reports what
// it says about itself: reachability and round-trip time, flavor and
// version, server id (and uuid), read_only, GTID positions, every
// replication channel (source, IO/SQL threads, errors, lag, received GTIDs,
// heartbeats), the replicas registered with it, and the semi-sync settings
// and status the self-fence depends on (DESIGN.md §5.4, §6.2).
//
// A Prober is observe-only: it sends SELECT and SHOW statements, never a
// write. Rows are read by column name, so one set of pure readers
// (varsFacts, channelOf, replicaHosts, semiSyncOf, roleOf) serves both
// naming schemes: MariaDB's and old MySQL's Slave_/Master_ columns, and
// MySQL ≥ 8.0.22's Replica_/Source_ ones. They are tested against output
// captured from MariaDB 10.11 and against MySQL 8 fixtures written from its
// documentation (testdata/README.md).
//
// Role: an instance with a replication channel that names a source is a
// replica, even when its threads are stopped; otherwise it is a primary.
// Observation.Primary is the default channel's source (else the first
// channel's); Observation.Replicas are the Host:Port of SHOW SLAVE HOSTS /
// SHOW REPLICAS, which replicas fill from their report_host/report_port. A
// replica without report_host is counted in MySQLFacts.UnnamedReplicas
// instead: it cannot be named, and that is a configuration to flag, not a
// failed probe.
//
// It decides nothing: down, vantage, errant transactions and ranking belong
// elsewhere. Addresses are reported as the server gives them; the daemon
// applies the address map (probe.MapAddress).
//
// Privileges the probing user needs: on MariaDB 10.11, SLAVE MONITOR (SHOW
// ALL SLAVES STATUS) and REPLICATION MASTER ADMIN (SHOW SLAVE HOSTS); on
// MySQL 8, REPLICATION CLIENT (SHOW REPLICA STATUS), REPLICATION SLAVE
// (SHOW REPLICAS) and SELECT on performance_schema (heartbeats).
package mysqlprobe
