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
// Access: when an instance first answers, and every AccessRecheck, the
// prober reads SHOW GRANTS as the admin user and logs in as the
// replication user, and reports what each account lacks against
// Requirements (ParseGrants, Grants.Missing: pure, tested against SHOW
// GRANTS captured from MariaDB 10.11 and written from the MySQL 8 manual).
// A refused login (error 1045 and kin, LoginRefused) is an answer: the
// observation is Reachable, with Access saying so, so the detector never
// counts a rotated password as a dead server. docs/grants.md lists the
// privileges per flavor, measured on MariaDB 10.11.
package mysqlprobe
