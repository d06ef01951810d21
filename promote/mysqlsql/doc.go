// Package mysqlsql writes the statements of a MySQL or MariaDB failover, as
// data: for each step of DESIGN.md §6.1 (stop the IO threads, fence the old
// primary and kill its sessions, wait for the relay log, stop and reset the
// candidate's replication, enable the semi-sync primary side, unfence,
// repoint the other replicas, set heartbeats) it returns the statements the
// server's flavor and version accept, each with what it is for.
//
// # Inputs and outputs
//
// A Flavor (ParseFlavor of @@version, or FlavorOf probe facts) and the
// step's inputs, checked first: a bad host, port 0, a negative or zero
// timeout, a heartbeat over 1 s (DESIGN.md §5.4, unless allowed), a
// duration the server cannot hold exactly, a character that has no place in
// the value. Every problem is reported at once, wrapping ErrInvalid; a
// server too old, or lacking what was asked, wraps ErrUnsupported.
//
// Out come Stmt values. Values are literals inside the text, quoted by
// Quote, not placeholders: CHANGE MASTER TO and KILL take none, a
// server-side prepared statement costs two more round trips on a promotion
// that takes 13 ms (notes/mariadb.md §2), and the text logged is the text
// run. A Stmt holding the replication password shows it as '<redacted>'
// when printed, logged or marshalled; only SQL() returns it. Quote's
// backslash escapes need the session that SessionSetup prepares.
//
// # What it does not do
//
// No I/O, no database/sql, no clock, no logging. It does not order the
// steps, choose the candidate, read results (except ReadWait, which reads
// the one integer of a GTID wait), retry, or check a lease: package promote
// decides, the executor runs the statements on the nodes.
//
// # Servers
//
// MariaDB 10.6 and later, MySQL 8.0 and later (8.4 LTS and 9.x included).
// Older servers are refused: MySQL 5.7 reached its end of life in October
// 2023 and MariaDB 10.5 in June 2025, and the project runs neither (its
// statements would be those of MySQL 8.0.21 and MariaDB 10.6).
//
// The MariaDB statements are the ones measured on MariaDB 10.11.19
// (notes/mariadb.md §5), with the SLAVE/MASTER keywords, which every
// supported MariaDB accepts. The MySQL statements are generated from the
// MySQL manual and tested by unit tests only: no MySQL server has run them
// here.
//
// # Version facts (sources)
//
//   - MySQL 8.0.22: START/STOP/RESET REPLICA and SHOW REPLICA STATUS
//     replace the SLAVE forms, which are deprecated (MySQL 8.0 manual,
//     "STOP SLAVE Statement", "RESET SLAVE Statement", "SHOW SLAVE STATUS
//     Statement": "From MySQL 8.0.22, STOP SLAVE is deprecated and the
//     alias STOP REPLICA should be used instead";
//     https://dev.mysql.com/doc/refman/8.0/en/stop-slave.html).
//   - MySQL 8.0.23: CHANGE REPLICATION SOURCE TO with SOURCE_* options
//     replaces CHANGE MASTER TO (MySQL 8.0 manual, "Setting the Source
//     Configuration on the Replica": "CHANGE REPLICATION SOURCE TO
//     statement (from MySQL 8.0.23) or CHANGE MASTER TO statement (before
//     MySQL 8.0.23)"; .../8.0/en/replication-howto-slaveinit.html).
//   - MySQL: CHANGE REPLICATION SOURCE TO ... SOURCE_AUTO_POSITION=1 needs
//     both threads stopped; with the receiver stopped any other option but
//     the relay log and delay ones can change while the applier runs
//     (.../8.0/en/change-replication-source-to.html). Hence Repoint stops
//     both and SetHeartbeat only the IO thread.
//   - MySQL 8.0.26: new semi-sync plugins rpl_semi_sync_source /
//     rpl_semi_sync_replica (semisync_source.so) with
//     rpl_semi_sync_source_* variables; the old rpl_semi_sync_master
//     plugin still works, its variables keep the old names, and only one
//     can be installed (.../8.0/en/replication-semisync-interface.html). The
//     version cannot tell which one runs: SemiSync.Names says.
//   - MySQL 8.2.0 added SHOW BINARY LOG STATUS in place of SHOW MASTER
//     STATUS (MySQL manual, "SHOW BINARY LOG STATUS Statement"); MySQL 8.4.0
//     removed START/STOP/RESET SLAVE, SHOW SLAVE STATUS, CHANGE MASTER TO,
//     SHOW MASTER STATUS and the MASTER_* options (MySQL 8.4.0 release
//     notes, "SQL statements removed";
//     https://dev.mysql.com/doc/relnotes/mysql/8.4/en/news-8-4-0.html).
//   - MySQL super_read_only (5.7.8, WL#6799): ON also blocks SUPER users;
//     setting it ON sets read_only ON, setting read_only OFF sets it OFF
//     (https://dev.mysql.com/worklog/task/?id=6799).
//   - MySQL WAIT_FOR_EXECUTED_GTID_SET(set, timeout): 0 when applied, 1 on
//     timeout, an error otherwise (WL#7796); timeout 0 means no timeout and
//     a negative one is an error (MySQL manual, "Functions Used with GTIDs");
//     8.0 reads it as a real number (sql/item_gtid_func.cc, val_real).
//   - MariaDB MASTER_GTID_WAIT(list, timeout): 0 when reached, -1 on
//     timeout; NULL or negative timeout waits forever; an empty list returns at once
//     (https://mariadb.com/kb/en/master_gtid_wait/).
//   - MariaDB 10.5.2 added the READ ONLY ADMIN privilege and SHOW BINLOG
//     STATUS (a synonym of SHOW MASTER STATUS); 10.11 separated SUPER from
//     READ ONLY ADMIN, so SUPER alone no longer bypasses read_only
//     (MDEV-29596, https://github.com/MariaDB/server/commit/47dccace13;
//     notes/mariadb.md §6.8). MariaDB has no super_read_only: a fenced
//     MariaDB still takes writes from accounts with READ ONLY ADMIN (ALL
//     PRIVILEGES has it), which the audit must flag (DESIGN.md §6.4).
//   - MariaDB 10.10 added CHANGE MASTER ... MASTER_DEMOTE_TO_SLAVE=1 and
//     deprecated MASTER_USE_GTID=current_pos (MDEV-20122, MariaDB 10.10
//     release notes).
//   - lock_wait_timeout defaults to 86400 s on MariaDB 10.2.4+
//     (https://mariadb.com/kb/en/metadata-locking/) and 31536000 s on
//     MySQL.
//
// Measured on MariaDB 10.11.19 while writing this package: CHANGE MASTER
// with either thread running fails with error 1198; MASTER_HEARTBEAT_PERIOD
// under 1 ms becomes 0 (heartbeats off) with warning 1703 and over 4294967
// fails with error 1624; SET GLOBAL read_only=ON waits behind a commit that
// waits for a semi-sync ACK, and with SET SESSION lock_wait_timeout=1 fails
// with error 1205 after 1 s (see Fence); STOP SLAVE [IO_THREAD] on a node
// that replicates from no one gives note 1255, not an error; KILL
// CONNECTION of a gone session fails with error 1094; MASTER_GTID_WAIT
// returns -1 on timeout with a fractional timeout (0.2). Every MariaDB
// statement this package generates was also run once, through
// go-sql-driver, against that server (a throwaway program, not a test
// here): Quote's literals, 2,014 strings with NUL, quotes, backslashes,
// Ctrl-Z, % and _, read back byte for byte after SessionSetup (1,382 did
// not under NO_BACKSLASH_ESCAPES), and a password with a quote and a
// backslash reached master.info intact.
//
// # Privileges
//
// Measured on MariaDB 10.11 by running every statement with one privilege
// taken away at a time (docs/grants.md; probe/mysqlprobe checks them at
// start-up): REPLICATION SLAVE ADMIN (STOP, CHANGE MASTER, START), RELOAD
// (RESET SLAVE ALL: error 1227 without it), READ_ONLY ADMIN (read_only),
// REPLICATION MASTER ADMIN (the semi-sync primary variables), PROCESS (the
// process list silently hides other accounts' sessions without it),
// CONNECTION ADMIN (kill them) and SLAVE MONITOR (replica status); SUPER
// stands for some of these, not all. On MySQL 8, from the manual:
// REPLICATION_SLAVE_ADMIN, SYSTEM_VARIABLES_ADMIN, CONNECTION_ADMIN,
// PROCESS, REPLICATION CLIENT, and SYSTEM_USER to kill sessions of
// accounts that have it.
package mysqlsql
