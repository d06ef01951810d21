package harness

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Users created in the MariaDB template datadir (all from 127.0.0.1 only).
// root@'127.0.0.1' has no password and ALL WITH GRANT OPTION.
const (
	// MariaDBReplUser has REPLICATION SLAVE, REPLICATION SLAVE ADMIN, BINLOG
	// MONITOR and SLAVE MONITOR: what CHANGE MASTER TO needs.
	MariaDBReplUser     = "repl"
	MariaDBReplPassword = "replpass"
	// MariaDBAdminUser has ALL PRIVILEGES: imsentinel's admin and probe user.
	MariaDBAdminUser     = "imsentinel"
	MariaDBAdminPassword = "imsentinelpass"
	// MariaDBAppUser is an application's account: data privileges only, so
	// read_only stops it (ALL PRIVILEGES would bypass it on 10.11 through
	// READ ONLY ADMIN) and a fence kills its sessions (it is not the
	// admin user, whose sessions a fence spares). Writers in tests use it.
	MariaDBAppUser     = "app"
	MariaDBAppPassword = "apppass"
)

// MariaDBMarkerTable is the table StartMariaDBTopology writes its marker row
// to (id 1) before waiting for every replica to apply it.
const MariaDBMarkerTable = "harness.marker"

// MariaDBOptions says how to start one mariadbd.
type MariaDBOptions struct {
	// SemiSync asks for semi-synchronous replication. It is the default
	// (StartMariaDBTopology enables it unless Async is set), so setting it is
	// only documentation; SemiSync together with Async is an error.
	SemiSync bool
	// Async turns semi-sync off: no rpl_semi_sync_* settings are written to
	// the cnf and the topology's primary does not enable the master side.
	Async bool
	// Config holds extra my.cnf lines for the [mariadbd] section, after the
	// harness's own, so they override them.
	Config []string
	// Args are extra mariadbd command-line arguments for every run.
	Args []string
}

// MariaDB is a running (or stopped) mariadbd child.
type MariaDB struct {
	Addr       string // 127.0.0.1:port
	Port       int
	Dir        string // my.cnf, error.log, socket, pid file, data/
	DataDir    string // Dir/data, copied from the template
	ConfigPath string // Dir/my.cnf
	LogPath    string // Dir/error.log (log-error)
	ServerID   int

	lifecycle
}

// StartMariaDB starts a mariadbd with server_id serverID from a copy of the
// process's template datadir and waits until SELECT 1 answers as root. The
// node is read_only=ON, with binlog and GTID settings ready to be a primary
// or a replica (see mariadbConf); it replicates from nobody.
func StartMariaDB(t testing.TB, serverID int, o MariaDBOptions) *MariaDB {
	t.Helper()
	Require(t, "mariadbd", "mariadb-install-db")
	if o.SemiSync && o.Async {
		t.Fatalf("StartMariaDB: MariaDBOptions.SemiSync and Async are both set")
	}
	m, err := startMariaDB(t, serverID, o)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return m
}

// startMariaDB is StartMariaDB without t.Fatal, so goroutines may call it.
func startMariaDB(t testing.TB, serverID int, o MariaDBOptions) (*MariaDB, error) {
	bin, err := lookBin("mariadbd")
	if err != nil {
		return nil, err
	}
	tmpl, err := process.template.get(buildMariaDBTemplate)
	if err != nil {
		return nil, err
	}
	dir := t.TempDir()
	m := &MariaDB{Dir: dir, DataDir: filepath.Join(dir, "data"), ConfigPath: filepath.Join(dir, "my.cnf"),
		LogPath: filepath.Join(dir, "error.log"), ServerID: serverID}
	if out, err := exec.Command("cp", "-a", "--reflink=auto", tmpl, m.DataDir).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("start mariadb %d: copy template datadir: %v: %s", serverID, err, out)
	}
	// --defaults-file must come first.
	args := append([]string{"--defaults-file=" + m.ConfigPath}, o.Args...)
	m.p = &proc{bin: bin, args: args, dir: dir, outPath: filepath.Join(dir, "stdout.log")}
	t.Cleanup(func() { m.cleanup(t) })
	for attempt := 1; ; attempt++ {
		if m.Port, err = freePort(); err != nil {
			return nil, err
		}
		m.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(m.Port))
		m.p.name = fmt.Sprintf("mariadb %d %s", serverID, m.Addr)
		if err := os.WriteFile(m.ConfigPath, []byte(mariadbConf(m, o)), 0o644); err != nil {
			return nil, fmt.Errorf("start %s: write my.cnf: %w", m.p.name, err)
		}
		if err := m.p.start(); err != nil {
			return nil, err
		}
		err = m.waitReady(StartTimeout)
		if err == nil {
			return m, nil
		}
		// Another process may have taken the port between FreePort and bind.
		if attempt == 3 || !m.p.exited() || !strings.Contains(tailFile(m.LogPath, 20), "Address already in use") {
			_ = m.p.kill()
			return nil, err
		}
	}
}

// mariadbConf is the my.cnf the harness writes (notes/mariadb.md §5, §6).
func mariadbConf(m *MariaDB, o MariaDBOptions) string {
	sock := filepath.Join(m.Dir, "mariadbd.sock")
	if len(sock) > 100 { // sun_path holds 108 bytes
		if tmp, err := processTemp(); err == nil {
			sock = filepath.Join(tmp, fmt.Sprintf("mariadbd-%d.sock", m.Port))
		}
	}
	lines := []string{
		"[mariadbd]",
		"datadir=" + m.DataDir,
		"port=" + strconv.Itoa(m.Port),
		"bind-address=127.0.0.1",
		"socket=" + sock,
		"pid-file=" + filepath.Join(m.Dir, "mariadbd.pid"),
		"log-error=" + m.LogPath,
		"tmpdir=" + m.Dir,
		"skip-name-resolve",
		"innodb_buffer_pool_size=64M",
		"innodb_log_file_size=32M",
		// Durable against a process crash (kill -9) without an fsync per
		// commit; only a machine crash would lose the tail.
		"innodb_flush_log_at_trx_commit=2",
		"server_id=" + strconv.Itoa(m.ServerID),
		"log_bin=mariadb-bin",
		"log_slave_updates=ON",
		"binlog_format=ROW",
		"gtid_strict_mode=ON",
		"relay_log=relay-bin",
		"relay_log_recovery=ON",
		"read_only=ON",
		"skip_slave_start",
		"report_host=127.0.0.1",
		"report_port=" + strconv.Itoa(m.Port),
	}
	if os.Geteuid() == 0 {
		lines = append(lines, "user=root") // mariadbd refuses root otherwise (gotcha 1)
	}
	if !o.Async {
		// Slave side everywhere; master side only on the current primary, at
		// runtime (gotcha 5b). A long timeout and wait_no_slave=ON: a primary
		// never silently falls back to async (gotcha 5a).
		lines = append(lines,
			"rpl_semi_sync_slave_enabled=ON",
			"rpl_semi_sync_master_enabled=OFF",
			"rpl_semi_sync_master_wait_point=AFTER_SYNC",
			"rpl_semi_sync_master_wait_no_slave=ON",
			"rpl_semi_sync_master_timeout=86400000",
		)
	}
	lines = append(lines, o.Config...)
	return strings.Join(lines, "\n") + "\n"
}

// buildMariaDBTemplate runs mariadb-install-db once per process into the
// process temp dir and returns the datadir (notes/mariadb.md §1, §5).
func buildMariaDBTemplate() (string, error) {
	bin, err := lookBin("mariadb-install-db")
	if err != nil {
		return "", err
	}
	tmp, err := processTemp()
	if err != nil {
		return "", fmt.Errorf("build mariadb template: %w", err)
	}
	datadir := filepath.Join(tmp, "mariadb-template")
	extra := filepath.Join(tmp, "mariadb-template.sql")
	// FLUSH PRIVILEGES first: --extra-file runs under skip-grant-tables (gotcha 2).
	sqlText := strings.Join([]string{
		"FLUSH PRIVILEGES;",
		"CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';",
		"GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;",
		fmt.Sprintf("CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s';", MariaDBReplUser, MariaDBReplPassword),
		fmt.Sprintf("GRANT REPLICATION SLAVE, REPLICATION SLAVE ADMIN, BINLOG MONITOR, SLAVE MONITOR ON *.* TO '%s'@'127.0.0.1';", MariaDBReplUser),
		fmt.Sprintf("CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s';", MariaDBAdminUser, MariaDBAdminPassword),
		fmt.Sprintf("GRANT ALL PRIVILEGES ON *.* TO '%s'@'127.0.0.1';", MariaDBAdminUser),
		fmt.Sprintf("CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s';", MariaDBAppUser, MariaDBAppPassword),
		fmt.Sprintf("GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP ON *.* TO '%s'@'127.0.0.1';", MariaDBAppUser),
	}, "\n") + "\n"
	if err := os.WriteFile(extra, []byte(sqlText), 0o644); err != nil {
		return "", fmt.Errorf("build mariadb template: %w", err)
	}
	cmd := exec.Command(bin, "--no-defaults", "--datadir="+datadir,
		"--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve",
		"--innodb-log-file-size=32M", "--innodb-buffer-pool-size=64M", "--extra-file="+extra)
	cmd.Dir = tmp
	cmd.SysProcAttr = pdeathsig()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build mariadb template: %s: %v\n%s", strings.Join(cmd.Args, " "), err, tailLines(out, logTailLines))
	}
	return datadir, nil
}

// cleanup kills the server and, when the test failed, logs its error log's
// tail.
func (m *MariaDB) cleanup(t testing.TB) {
	if err := m.p.kill(); err != nil {
		t.Errorf("cleanup: %v", err)
	}
	for _, e := range m.p.unexpectedExits() {
		t.Logf("harness: %s", e)
	}
	if t.Failed() {
		t.Logf("harness: %s (dir %s) error log tail:\n%s", m.p.name, m.Dir, tailFile(m.LogPath, serverLogTailLines))
	}
}

// DSN is a go-sql-driver DSN for user@127.0.0.1:port with a 10 s dial timeout.
func (m *MariaDB) DSN(user, password string) string {
	auth := user
	if password != "" {
		auth += ":" + password
	}
	return fmt.Sprintf("%s@tcp(%s)/?timeout=10s", auth, m.Addr)
}

// openRoot opens a small pool as root for harness-internal queries.
func (m *MariaDB) openRoot() *sql.DB {
	db, _ := sql.Open("mysql", m.DSN("root", "")) // Open only parses the DSN
	db.SetMaxOpenConns(2)
	return db
}

// waitReady polls SELECT 1 until it answers; it gives up at once if the
// process exits.
func (m *MariaDB) waitReady(timeout time.Duration) error {
	db := m.openRoot()
	defer db.Close()
	err := poll(timeout, func() error {
		if err := m.p.errIfExited(m.LogPath); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var one int
		return db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
	})
	if err != nil {
		return fmt.Errorf("wait for %s to answer SELECT 1: %w", m.p.name, err)
	}
	return nil
}

// Logs returns mariadbd's error log.
func (m *MariaDB) Logs() string {
	b, _ := os.ReadFile(m.LogPath)
	return string(b)
}

// DB returns a pool connected as root@127.0.0.1, closed when the test ends.
// Each call opens a new pool.
func (m *MariaDB) DB(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", m.DSN("root", ""))
	if err != nil {
		t.Fatalf("open %s: %v", m.Addr, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// Restart starts the server again (killing it first if it still runs) with
// the same port, dir and my.cnf, and waits until SELECT 1 answers. The cnf
// has read_only=ON and skip_slave_start: a restarted replica does not
// replicate until someone runs START SLAVE (see StartReplication).
func (m *MariaDB) Restart(t testing.TB) {
	t.Helper()
	m.RestartWith(t)
}

// RestartWith is Restart with extra mariadbd arguments for this run only,
// e.g. "--init-rpl-role=SLAVE" (notes/mariadb.md §4).
func (m *MariaDB) RestartWith(t testing.TB, args ...string) {
	t.Helper()
	if err := m.p.kill(); err != nil {
		t.Fatalf("%v", err)
	}
	if err := m.p.start(args...); err != nil {
		t.Fatalf("%v", err)
	}
	if err := m.waitReady(StartTimeout); err != nil {
		t.Fatalf("restart: %v", err)
	}
}

// Exec runs statements as root, failing the test on an error.
func (m *MariaDB) Exec(t testing.TB, query string, args ...any) {
	t.Helper()
	if err := m.exec(query, args...); err != nil {
		t.Fatalf("%v", err)
	}
}

func (m *MariaDB) exec(query string, args ...any) error {
	db := m.openRoot()
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), ReplicationTimeout)
	defer cancel()
	if _, err := db.ExecContext(ctx, query, args...); err != nil {
		return fmt.Errorf("on %s: %s: %w", m.p.name, query, err)
	}
	return nil
}

// QueryString runs a one-value query as root (NULL reads as "").
func (m *MariaDB) QueryString(t testing.TB, query string, args ...any) string {
	t.Helper()
	s, err := m.queryString(query, args...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return s
}

func (m *MariaDB) queryString(query string, args ...any) (string, error) {
	db := m.openRoot()
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), ReplicationTimeout)
	defer cancel()
	var s sql.NullString
	if err := db.QueryRowContext(ctx, query, args...).Scan(&s); err != nil {
		return "", fmt.Errorf("on %s: %s: %w", m.p.name, query, err)
	}
	return s.String, nil
}

// Status returns a global status variable ("" if it does not exist), e.g.
// Status(t, "Rpl_semi_sync_master_clients").
func (m *MariaDB) Status(t testing.TB, name string) string {
	t.Helper()
	s, err := m.status(name)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return s
}

func (m *MariaDB) status(name string) (string, error) {
	s, err := m.queryString("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = UPPER(?)", name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return s, err
}

// Variable returns a global system variable, e.g. Variable(t, "gtid_binlog_pos").
func (m *MariaDB) Variable(t testing.TB, name string) string {
	t.Helper()
	return m.QueryString(t, "SELECT @@GLOBAL."+name)
}

// ReplicaStatus returns SHOW SLAVE STATUS as a map (empty when the node
// replicates from nobody).
func (m *MariaDB) ReplicaStatus(t testing.TB) map[string]string {
	t.Helper()
	st, err := m.replicaStatus()
	if err != nil {
		t.Fatalf("%v", err)
	}
	return st
}

func (m *MariaDB) replicaStatus() (map[string]string, error) {
	db := m.openRoot()
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rows, err := db.QueryContext(ctx, "SHOW SLAVE STATUS")
	if err != nil {
		return nil, fmt.Errorf("on %s: SHOW SLAVE STATUS: %w", m.p.name, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	st := map[string]string{}
	if rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("on %s: SHOW SLAVE STATUS: %w", m.p.name, err)
		}
		for i, c := range cols {
			st[c] = vals[i].String
		}
	}
	return st, rows.Err()
}

// ReplicateFrom points this node at primary (CHANGE MASTER TO … GTID
// slave_pos, heartbeat 1 s, connect retry 1 s; START SLAVE) and waits until
// both replication threads run.
func (m *MariaDB) ReplicateFrom(t testing.TB, primary *MariaDB) {
	t.Helper()
	if err := m.replicateFrom(primary); err != nil {
		t.Fatalf("%v", err)
	}
	if err := m.waitReplicating(); err != nil {
		t.Fatalf("%v", err)
	}
}

func (m *MariaDB) replicateFrom(primary *MariaDB) error {
	if err := m.exec("STOP SLAVE"); err != nil {
		return err
	}
	q := fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, MASTER_USER='%s', MASTER_PASSWORD='%s', "+
		"MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1, MASTER_HEARTBEAT_PERIOD=1",
		primary.Port, MariaDBReplUser, MariaDBReplPassword)
	if err := m.exec(q); err != nil {
		return err
	}
	return m.exec("START SLAVE")
}

// StartReplication runs START SLAVE (with the stored CHANGE MASTER settings,
// e.g. after Restart) and waits until both replication threads run.
func (m *MariaDB) StartReplication(t testing.TB) {
	t.Helper()
	m.Exec(t, "START SLAVE")
	m.WaitReplicating(t)
}

// WaitReplicating waits until Slave_IO_Running and Slave_SQL_Running are Yes.
func (m *MariaDB) WaitReplicating(t testing.TB) {
	t.Helper()
	if err := m.waitReplicating(); err != nil {
		t.Fatalf("%v", err)
	}
}

func (m *MariaDB) waitReplicating() error {
	err := poll(ReplicationTimeout, func() error {
		if m.p.exited() {
			return stopPolling{fmt.Errorf("%s is not running (%s)", m.p.name, m.p.exitState())}
		}
		st, err := m.replicaStatus()
		if err != nil {
			return err
		}
		if st["Slave_IO_Running"] != "Yes" || st["Slave_SQL_Running"] != "Yes" {
			return fmt.Errorf("Slave_IO_Running=%q Slave_SQL_Running=%q Last_IO_Error=%q Last_SQL_Error=%q",
				st["Slave_IO_Running"], st["Slave_SQL_Running"], st["Last_IO_Error"], st["Last_SQL_Error"])
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("wait for %s to replicate: %w", m.p.name, err)
	}
	return nil
}

// WaitGTID waits (MASTER_GTID_WAIT) until this node has applied gtidPos.
func (m *MariaDB) WaitGTID(t testing.TB, gtidPos string) {
	t.Helper()
	if err := m.waitGTID(gtidPos); err != nil {
		t.Fatalf("%v", err)
	}
}

func (m *MariaDB) waitGTID(pos string) error {
	s, err := m.queryString("SELECT MASTER_GTID_WAIT(?, ?)", pos, int(ReplicationTimeout/time.Second))
	if err != nil {
		return err
	}
	if s != "0" {
		return fmt.Errorf("on %s: MASTER_GTID_WAIT(%q) = %s (timeout)", m.p.name, pos, s)
	}
	return nil
}

// WaitSemiSyncClients waits until Rpl_semi_sync_master_clients equals n.
func (m *MariaDB) WaitSemiSyncClients(t testing.TB, n int) {
	t.Helper()
	if err := m.waitSemiSyncClients(n); err != nil {
		t.Fatalf("%v", err)
	}
}

func (m *MariaDB) waitSemiSyncClients(n int) error {
	err := poll(ReplicationTimeout, func() error {
		s, err := m.status("Rpl_semi_sync_master_clients")
		if err != nil {
			return err
		}
		if s != strconv.Itoa(n) {
			return fmt.Errorf("Rpl_semi_sync_master_clients=%q, want %d", s, n)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("on %s: %w", m.p.name, err)
	}
	return nil
}

// MariaDBTopology is one primary and its replicas.
type MariaDBTopology struct {
	Primary  *MariaDB
	Replicas []*MariaDB
}

// All returns the primary followed by the replicas.
func (tp *MariaDBTopology) All() []*MariaDB {
	return append([]*MariaDB{tp.Primary}, tp.Replicas...)
}

// StartMariaDBTopology starts a primary (server_id 1) and n replicas
// (server_id 2…n+1) in parallel, enables the master side of semi-sync
// (unless o.Async; not with 0 replicas, where every commit would wait a day)
// and read_only=OFF on the primary, points the replicas at it with GTID
// slave_pos, waits for Rpl_semi_sync_master_clients = n before the first
// write, then writes a marker row into MariaDBMarkerTable and waits until
// every replica has applied it.
func StartMariaDBTopology(t testing.TB, replicas int, o MariaDBOptions) *MariaDBTopology {
	t.Helper()
	Require(t, "mariadbd", "mariadb-install-db")
	if o.SemiSync && o.Async {
		t.Fatalf("StartMariaDBTopology: MariaDBOptions.SemiSync and Async are both set")
	}
	tp, err := startMariaDBTopology(t, replicas, o)
	if err != nil {
		t.Fatalf("start mariadb topology: %v", err)
	}
	return tp
}

func startMariaDBTopology(t testing.TB, replicas int, o MariaDBOptions) (*MariaDBTopology, error) {
	nodes := make([]*MariaDB, replicas+1)
	errs := make([]error, replicas+1)
	// Build the template before starting nodes in parallel, so its error is
	// reported once.
	if _, err := process.template.get(buildMariaDBTemplate); err != nil {
		return nil, err
	}
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() { nodes[i], errs[i] = startMariaDB(t, i+1, o) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	tp := &MariaDBTopology{Primary: nodes[0], Replicas: nodes[1:]}
	p := tp.Primary
	semiSync := !o.Async && replicas > 0
	if semiSync {
		if err := p.exec("SET GLOBAL rpl_semi_sync_master_enabled=ON"); err != nil {
			return nil, err
		}
	}
	if err := p.exec("SET GLOBAL read_only=OFF"); err != nil {
		return nil, err
	}
	for _, r := range tp.Replicas {
		wg.Go(func() {
			if err := r.replicateFrom(p); err != nil {
				errs[r.ServerID-1] = err
				return
			}
			errs[r.ServerID-1] = r.waitReplicating()
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	// Before the first write (gotcha 5a).
	if semiSync {
		if err := p.waitSemiSyncClients(replicas); err != nil {
			return nil, err
		}
	}
	for _, q := range []string{
		"CREATE DATABASE IF NOT EXISTS harness",
		"CREATE TABLE " + MariaDBMarkerTable + " (id INT PRIMARY KEY, note VARCHAR(64)) ENGINE=InnoDB",
		"INSERT INTO " + MariaDBMarkerTable + " VALUES (1, 'topology up')",
	} {
		if err := p.exec(q); err != nil {
			return nil, err
		}
	}
	pos, err := p.queryString("SELECT @@GLOBAL.gtid_binlog_pos")
	if err != nil {
		return nil, err
	}
	for _, r := range tp.Replicas {
		wg.Go(func() { errs[r.ServerID-1] = r.waitGTID(pos) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return tp, nil
}
