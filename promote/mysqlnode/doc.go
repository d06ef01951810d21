// Package mysqlnode makes the admin changes of a MySQL or MariaDB failover
// on one node: kill other sentinels' admin sessions, stop the IO thread,
// fence (read_only and kill the application's sessions), read the GTID
// position and the channels, wait for the relay log to apply, promote,
// repoint, and set the replication heartbeat (DESIGN.md §5.6, §6.1-§6.5).
// It is the effects edge of package promote: promote decides what to do and
// in which order, package mysqlsql writes the statements, the daemon's
// executor calls this package to run them, one step at a time. It is the
// MySQL counterpart of package promote/redisnode.
//
// # Who may call it
//
// Only the current lease holder of the cluster, after the agreement has
// authorized the step, and only with a deadline (ctx) that its remaining
// authority covers. Nothing here checks a lease: a call is a write to a
// data node, made at once. Before its first write on a node, a new holder
// calls KillOtherAdminSessions, which kills every other session of the
// admin account and waits until they are gone, so that a statement of an
// older holder still in flight cannot land after the new holder's (§5.6).
//
// # Inputs and outputs
//
// Options say where the node is (after the address map), the admin
// account, the timeout and the accounts Fence spares. A Node holds one
// session, opened by the first call: dial, SELECT @@version,
// mysqlsql.SessionSetup. Each call first looks whether the server closed
// the session (a kill, a restart: a non-blocking read of the socket, no
// round trip) and if so opens a new one. Within a call a session is never
// replaced: a statement that fails for any reason but the server's answer
// (a timeout, a reset, the ctx) drops the session and ends the call, since
// the rest of the call would otherwise run without the session settings
// its first statements made (Fence's lock_wait_timeout); database/sql never
// resends a statement on another connection. Each statement is bounded by
// the call's ctx and by Options.Timeout beyond its own server-side wait
// (Fence's lock wait, WaitApplied's slice, the seconds a semi-sync replica
// may take to stop): the driver has no read timeout, since those waits are
// longer than Timeout.
//
// Each method returns what the server said, parsed (Position,
// FenceResult), or an error that says what was being done on which node,
// with the statement (passwords redacted) and the server's error
// (*mysql.MySQLError). Classify tells a refused connection (the process is
// gone) from a node that is cut off or hangs and from a server that
// answered with an error, which a strict fence wait needs (§6.3).
//
// # What it does not do
//
// It decides nothing: no ranking, no ordering of steps, no choice of
// deadlines or slices, no retries of a failed step (Fence's one retry after
// killing the sessions that blocked it is part of the fence), no reading of
// the clock other than to poll and bound waits. It does not log, does not
// apply the address map, and writes no statement text of its own but the
// reads of Position (SELECT @@GLOBAL.…) and of the flavor: the steps'
// statements come from mysqlsql. It is not for probing: package
// probe/mysqlprobe observes; this package writes.
//
// # Measured on MariaDB 10.11.19 (test/mysqlnode)
//
//   - SET GLOBAL read_only=ON waits behind a commit that waits for a
//     semi-sync acknowledgement; with lock_wait_timeout=1 it fails with
//     error 1205 after 1 s. KILL CONNECTION of the waiting session ends the
//     wait: its transaction stays committed on the node (the row is there,
//     on no replica) while its client gets an error ("invalid
//     connection"), and read_only=ON then succeeds at once.
//   - A killed session, idle or waiting for a table lock, had left the
//     process list when the next statement looked; KillOtherAdminSessions
//     still checks, since MySQL's manual says a killed thread may take
//     time to notice.
//   - On a fenced node the harness's admin account (ALL PRIVILEGES, so READ
//     ONLY ADMIN) and root still write; an account with only SUPER, or an
//     application account, gets error 1290. MariaDB has no super_read_only:
//     the audit flags application accounts with READ ONLY ADMIN (DESIGN.md
//     §6.4).
//   - STOP SLAVE IO_THREAD on a semi-sync replica whose source is
//     SIGSTOPped takes 2.0 s (rpl_semi_sync_slave_kill_conn_timeout 5, the
//     default; 1.0 s with 1; without end with 0): the replica connects to
//     the source to kill its binlog dump thread. 1 ms on an asynchronous
//     replica. See StopIOThread.
//   - Right after START SLAVE, Slave_IO_Running reads "Preparing" before
//     "Connecting" and "Yes". A repoint clears the errors the channel had
//     from its earlier source.
//   - On a connected session, no relay-log backlog: Promote (STOP SLAVE,
//     RESET SLAVE ALL, semi-sync settings, read_only=OFF, read back)
//     1.5-3.9 ms; Repoint until both threads run 9-14 ms with 5 ms polls
//     (7-9 ms with 1 ms polls); Fence 0.6-3 ms; a blocked Fence the lock
//     wait plus 2-8 ms; KillOtherAdminSessions of 3 sessions 1.3-5 ms.
//
// # Privileges
//
// The admin account needs what mysqlsql's doc.go lists, measured on
// MariaDB 10.11 (docs/grants.md; the prober checks them at start-up and
// raises GrantsMissing): REPLICATION SLAVE ADMIN, RELOAD, READ_ONLY ADMIN,
// REPLICATION MASTER ADMIN, PROCESS, CONNECTION ADMIN and SLAVE MONITOR.
// READ_ONLY ADMIN lets it write through read_only; this package writes no
// data.
//
// # Servers
//
// The MariaDB paths run against MariaDB 10.11 in test/mysqlnode. On MySQL
// only the reading of its variables and SHOW REPLICA STATUS is tested
// (fixtures written from its manual); its statements are mysqlsql's,
// unit-tested there. No MySQL server runs here.
package mysqlnode
