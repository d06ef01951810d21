package mysqlnode_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/imsentinel/imsentinel/promote/mysqlnode"
	"github.com/imsentinel/imsentinel/promote/mysqlsql"
	"github.com/imsentinel/imsentinel/test/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }

// Deadlines, generous for a loaded 2-core CI machine (DESIGN.md §8). Polls
// end as soon as their condition holds; nothing sleeps for these.
const (
	// nodeTimeout is the nodes' dial and per-statement timeout.
	nodeTimeout = 5 * time.Second
	// callTimeout bounds one call of a test (ctx of a Node method).
	callTimeout = 30 * time.Second
	// waitTimeout bounds waiting for a server state to show.
	waitTimeout = 60 * time.Second
)

// The application account (the harness's template has it): no READ ONLY
// ADMIN, so read_only stops it.
const (
	appUser     = harness.MariaDBAppUser
	appPassword = harness.MariaDBAppPassword
)

// callCtx is a context bounded by callTimeout, cancelled when the test ends.
func callCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	t.Cleanup(cancel)
	return ctx
}

// open returns an admin node on m (the harness's admin account), closed
// when the test ends.
func open(t *testing.T, m *harness.MariaDB, spare ...string) *mysqlnode.Node {
	t.Helper()
	n := mysqlnode.Open(mysqlnode.Options{Address: m.Addr, Username: harness.MariaDBAdminUser,
		Password: harness.MariaDBAdminPassword, Timeout: nodeTimeout, SpareUsers: spare})
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("close node: %v", err)
		}
	})
	return n
}

// connect makes n open its session, so a timed call measures the step only.
func connect(t *testing.T, n *mysqlnode.Node) {
	t.Helper()
	if _, err := n.Flavor(callCtx(t)); err != nil {
		t.Fatalf("connect %s: %v", n.Address(), err)
	}
}

// source is where a replica repoints to m: the harness's replication
// account, heartbeat 1 s, connect retry 1 s.
func source(m *harness.MariaDB) mysqlsql.Source {
	return mysqlsql.Source{Host: "127.0.0.1", Port: m.Port, User: harness.MariaDBReplUser,
		Password: harness.MariaDBReplPassword, Heartbeat: time.Second, ConnectRetry: time.Second}
}

// createApp creates the table harness.t on m (a primary: it replicates)
// for the application account.
func createApp(t *testing.T, m *harness.MariaDB) {
	t.Helper()
	m.Exec(t, "CREATE TABLE IF NOT EXISTS harness.t (id INT PRIMARY KEY, v VARCHAR(64)) ENGINE=InnoDB")
}

// dbAs opens a pool on m as user, closed when the test ends.
func dbAs(t *testing.T, m *harness.MariaDB, user, password string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", m.DSN(user, password))
	if err != nil {
		t.Fatalf("open %s as %s: %v", m.Addr, user, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// connAs opens one session on m as user, closed when the test ends.
func connAs(t *testing.T, m *harness.MariaDB, user, password string) *sql.Conn {
	t.Helper()
	c, err := dbAs(t, m, user, password).Conn(callCtx(t))
	if err != nil {
		t.Fatalf("connect to %s as %s: %v", m.Addr, user, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// insert writes row id as user and returns the server's error.
func insert(t *testing.T, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, id int, v string) error {
	t.Helper()
	_, err := db.ExecContext(callCtx(t), "INSERT INTO harness.t VALUES (?, ?)", id, v)
	return err
}

// errno is the server error number of err, 0 when it is not a server error.
func errno(err error) uint16 {
	var e *mysql.MySQLError
	if errors.As(err, &e) {
		return e.Number
	}
	return 0
}

// count is SELECT COUNT(*) of a query's FROM/WHERE part, as root.
func count(t *testing.T, m *harness.MariaDB, from string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(m.QueryString(t, "SELECT COUNT(*) FROM "+from), &n); err != nil {
		t.Fatalf("count %s on %s: %v", from, m.Addr, err)
	}
	return n
}

// sessionIDs lists the process-list ids of user's sessions on m, as root,
// in id order.
func sessionIDs(t *testing.T, m *harness.MariaDB, user string) []uint64 {
	t.Helper()
	rows, err := m.DB(t).QueryContext(callCtx(t), "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ? ORDER BY ID", user)
	if err != nil {
		t.Fatalf("process list of %s on %s: %v", user, m.Addr, err)
	}
	defer rows.Close()
	var ids []uint64
	for rows.Next() {
		var id uint64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// timed runs f and returns how long it took.
func timed(f func()) time.Duration {
	start := time.Now()
	f()
	return time.Since(start)
}
