package mysqlsql

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// maxLockWait is this package's bound on Fence's lockWait: a fence runs
// under a short deadline (DESIGN.md §6.1).
const maxLockWait = time.Minute

// Fence makes a node refuse writes (DESIGN.md §6.1, §6.4): read_only=ON,
// and on MySQL super_read_only=ON too. Kill the application's sessions
// after it (AppSessions, Kill): read_only stops new writes, not the
// transactions already past their checks.
//
// Who can still write: on MariaDB 10.11 users with READ ONLY ADMIN (part of
// ALL PRIVILEGES; SUPER alone no longer is, since 10.11) and the
// replication applier; MariaDB has no super_read_only. On MySQL,
// read_only lets SUPER (and CONNECTION_ADMIN) users write and
// super_read_only stops them too; setting super_read_only=ON also sets
// read_only=ON. read_only=ON goes first so ordinary users are stopped even
// if the second statement fails.
//
// Setting read_only=ON takes the global read lock, so it waits for a
// commit in progress, and for a commit waiting for a semi-sync ACK that
// will not come until the old primary's rpl_semi_sync timeout (measured on
// MariaDB 10.11: with lock_wait_timeout=1 it fails with error 1205 after
// 1 s; without, it waits the default lock_wait_timeout of a day on
// MariaDB, a year on MySQL). Fence therefore first sets the session's
// lock_wait_timeout to lockWait (whole seconds, 1 s to 1 min), so an
// attempt abandoned by its deadline does not stay queued on the server,
// where a pending global read lock also holds back other writers. Error
// 1205 from read_only=ON means commits are stalled waiting for
// acknowledgements: the semi-sync self-fence holds them (§6.2); killing
// those sessions lets read_only through, and their transactions commit
// locally without an acknowledgement (unknown outcome for their clients,
// errant on the old primary, §6.6).
func Fence(f Flavor, lockWait time.Duration) ([]Stmt, error) {
	c, err := begin("fence", f)
	if err != nil {
		return nil, err
	}
	c.add(checkUnit("lock wait", lockWait, time.Second, time.Second, maxLockWait))
	if err := c.err(); err != nil {
		return nil, err
	}
	s := []Stmt{
		stmt("SET SESSION lock_wait_timeout="+strconv.FormatInt(int64(lockWait/time.Second), 10),
			"give up on read_only after this long instead of queueing behind stalled commits"),
		stmt("SET GLOBAL read_only=ON", "refuse writes from ordinary users"),
	}
	if !f.mariadb() {
		s = append(s, stmt("SET GLOBAL super_read_only=ON", "refuse writes from SUPER and CONNECTION_ADMIN users too"))
	}
	return s, nil
}

// Unfence makes a new primary writable: read_only=OFF, and on MySQL
// super_read_only=OFF first (setting read_only=OFF would also turn
// super_read_only off; the explicit order reads as it works).
func Unfence(f Flavor) ([]Stmt, error) {
	if _, err := begin("unfence", f); err != nil {
		return nil, err
	}
	var s []Stmt
	if !f.mariadb() {
		s = append(s, stmt("SET GLOBAL super_read_only=OFF", "let SUPER users write again"))
	}
	return append(s, stmt("SET GLOBAL read_only=OFF", "accept writes: this node is the primary")), nil
}

// Sessions of the server's own threads, which no step kills: replication
// threads (MariaDB and MySQL name their user 'system user'), the event
// scheduler, background daemons, and the binlog dump threads that feed
// replicas (their user is the replication account).
const (
	systemUsers    = "'system user', 'event_scheduler'"
	systemCommands = "'Binlog Dump', 'Binlog Dump GTID', 'Daemon'"
)

// AppSessions lists the sessions to kill when fencing a node (DESIGN.md
// §6.1): every session but this one, the server's own threads
// (replication, event scheduler, daemons, binlog dumps to replicas) and the
// sessions of the spare users (the admin accounts that must keep working:
// this sentinel's, a DBA's). The query returns ID, USER, HOST and COMMAND;
// kill each ID with Kill.
//
// It reads information_schema.PROCESSLIST (still there in MySQL 8.4,
// where performance_schema.processlist is the recommended one): the
// account needs PROCESS to see other users' sessions.
func AppSessions(f Flavor, spare []string) (Stmt, error) {
	c, err := begin("list the application sessions", f)
	if err != nil {
		return Stmt{}, err
	}
	users := quoteUsers(c, spare)
	if err := c.err(); err != nil {
		return Stmt{}, err
	}
	excluded := systemUsers
	if len(users) > 0 {
		excluded += ", " + strings.Join(users, ", ")
	}
	why := "the sessions to kill: all but this one, the server's threads and binlog dumps"
	if len(spare) > 0 {
		why += ", and the spared users " + strings.Join(users, ", ")
	}
	return stmt("SELECT ID, USER, HOST, COMMAND FROM information_schema.PROCESSLIST"+
		" WHERE ID <> CONNECTION_ID() AND USER NOT IN ("+excluded+")"+
		" AND COMMAND NOT IN ("+systemCommands+") ORDER BY ID", why), nil
}

// UserSessions lists the sessions of the given accounts but this one: the
// other sentinels' admin sessions, which a new lease holder kills before
// its first write on the node (DESIGN.md §5.6), so that a delayed
// statement of an older holder cannot land after its own. users must not
// be empty. The query returns ID, USER, HOST and COMMAND.
func UserSessions(f Flavor, users []string) (Stmt, error) {
	c, err := begin("list the admin users' other sessions", f)
	if err != nil {
		return Stmt{}, err
	}
	if len(users) == 0 {
		c.add("no user named")
	}
	quoted := quoteUsers(c, users)
	if err := c.err(); err != nil {
		return Stmt{}, err
	}
	return stmt("SELECT ID, USER, HOST, COMMAND FROM information_schema.PROCESSLIST"+
		" WHERE ID <> CONNECTION_ID() AND USER IN ("+strings.Join(quoted, ", ")+") ORDER BY ID",
		"the other sessions of "+strings.Join(quoted, ", ")+": older lease holders' statements must not land after ours"), nil
}

// Kill ends a session (KILL CONNECTION id): its statement is aborted, its
// transaction rolled back (a commit already past the binlog, waiting for a
// semi-sync ACK, stays committed). A session already gone answers with
// error 1094 (unknown thread id): the kill is done. Killing another
// account's session needs CONNECTION_ADMIN (or SUPER); on MySQL, killing a
// session of an account with SYSTEM_USER needs SYSTEM_USER too.
func Kill(f Flavor, id uint64) (Stmt, error) {
	c, err := begin("kill a session", f)
	if err != nil {
		return Stmt{}, err
	}
	if id == 0 {
		c.add("session id 0 (no session has it)")
	}
	if err := c.err(); err != nil {
		return Stmt{}, err
	}
	return stmt("KILL CONNECTION "+strconv.FormatUint(id, 10), fmt.Sprintf("end session %d", id)), nil
}

// quoteUsers checks and quotes account names (the USER column: the name
// without the host part).
func quoteUsers(c *checks, users []string) []string {
	q := make([]string, 0, len(users))
	for _, u := range users {
		if p := checkText(fmt.Sprintf("user %q", u), u, false); p != "" {
			c.add(p)
			continue
		}
		q = append(q, mustQuote(u))
	}
	return q
}
