package mysqlprobe

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/imsentinel/imsentinel/probe"
)

// DefaultTimeout bounds dialing and each call of a round when the target has
// no Timeout.
const DefaultTimeout = time.Second

// connMaxLifetime recycles the prober's connections now and then, so a
// connection that a proxy or firewall silently dropped does not linger.
const connMaxLifetime = 5 * time.Minute

// The statements of a round. Variables are aliased to their names so the
// pure readers see the same columns from the server and from fixtures.
const (
	queryPing    = "SELECT 1"
	queryVersion = "SELECT @@version AS version"

	queryVarsMariaDB = "SELECT @@version AS version, @@version_comment AS version_comment, " +
		"@@server_id AS server_id, @@read_only AS read_only, @@log_bin AS log_bin, " +
		"@@gtid_binlog_pos AS gtid_binlog_pos, @@gtid_binlog_state AS gtid_binlog_state, " +
		"@@gtid_slave_pos AS gtid_slave_pos, @@gtid_current_pos AS gtid_current_pos, " +
		"@@gtid_strict_mode AS gtid_strict_mode, @@gtid_domain_id AS gtid_domain_id"
	queryVarsMySQL = "SELECT @@version AS version, @@version_comment AS version_comment, " +
		"@@server_id AS server_id, @@server_uuid AS server_uuid, @@read_only AS read_only, " +
		"@@super_read_only AS super_read_only, @@log_bin AS log_bin, " +
		"@@gtid_mode AS gtid_mode, @@gtid_executed AS gtid_executed"

	queryChannelsMariaDB  = "SHOW ALL SLAVES STATUS"
	queryChannelsMySQL    = "SHOW REPLICA STATUS" // 8.0.22+
	queryChannelsMySQLOld = "SHOW SLAVE STATUS"

	queryHostsMariaDB  = "SHOW SLAVE HOSTS"
	queryHostsMySQL    = "SHOW REPLICAS" // 8.0.22+
	queryHostsMySQLOld = "SHOW SLAVE HOSTS"

	// MySQL shows heartbeats only in performance_schema.
	queryHeartbeatMySQL = "SELECT c.CHANNEL_NAME, c.HEARTBEAT_INTERVAL, s.COUNT_RECEIVED_HEARTBEATS " +
		"FROM performance_schema.replication_connection_configuration c " +
		"LEFT JOIN performance_schema.replication_connection_status s USING (CHANNEL_NAME)"

	querySemiSyncVars   = "SHOW GLOBAL VARIABLES LIKE 'rpl_semi_sync%'"
	querySemiSyncStatus = "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync%'"
)

// Prober probes one MySQL or MariaDB instance through one small *sql.DB (at
// most two connections) for its whole life.
type Prober struct {
	t       probe.Target
	timeout time.Duration
	db      *sql.DB
	// version is @@version as last seen; it picks the flavor's statements.
	// A round that fails to read the variables forgets it.
	version string
	// access is what the server last said of the accounts (checkAccess),
	// carried by every observation; rechecked when the version is read
	// anew and every AccessRecheck.
	access *probe.Access
}

var _ probe.Prober = (*Prober)(nil)

// New returns a prober for t. It does not connect: the first Probe does.
// Dialing, each read and each write are bounded by t.Timeout
// (DefaultTimeout when zero). The password goes only into the driver's
// config, never into an error or a DSN string.
//
// go-sql-driver/mysql logs dropped connections through a process-wide
// logger; main silences it with mysql.SetLogger.
func New(t probe.Target) *Prober {
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	cfg := mysql.NewConfig()
	cfg.Net = "tcp"
	cfg.Addr = dialAddress(t)
	cfg.User = t.Username
	cfg.Passwd = t.Password
	cfg.Timeout = timeout
	cfg.ReadTimeout = timeout
	cfg.WriteTimeout = timeout
	// NewConnector only fails on an invalid config; the fields set above
	// cannot make it so. If it ever does, every Probe reports it.
	c, err := mysql.NewConnector(cfg)
	var db *sql.DB
	if err == nil {
		db = sql.OpenDB(c)
	} else {
		db = sql.OpenDB(failingConnector{err: err})
	}
	db.SetMaxOpenConns(2)
	db.SetMaxIdleConns(2)
	db.SetConnMaxLifetime(connMaxLifetime)
	return &Prober{t: t, timeout: timeout, db: db}
}

// Probe runs one round: SELECT 1 (its round trip is the RTT, which
// includes dialing when no pooled connection was open), the server
// variables, every replication channel's status, the registered replicas,
// and the semi-sync settings and status. It never writes. It returns by
// ctx's deadline, each statement bounded by the target's timeout.
//
// Reachable is true when SELECT 1 answered. A failure to read the variables
// or the channels leaves the role unknown; a failure to read the replicas,
// semi-sync or (MySQL) heartbeats only leaves those facts out. Each failure
// is recorded in Error. A statement that fails for want of the server (a
// timeout, a dropped connection) rather than with a server error ends the
// round, so a server that hangs mid-round costs one timeout, not several.
func (p *Prober) Probe(ctx context.Context) (obs probe.Observation) {
	obs = probe.Observation{Instance: p.t.Address, At: time.Now()}
	var errs []string
	fail := func(doing string, err error) {
		errs = append(errs, p.t.Errorf(doing, err))
	}
	var checkAccess bool
	var flavor probe.Flavor
	defer func() {
		// The access check runs last, on what is left of the round, so a
		// slow login (the replication user's, a reverse DNS lookup) never
		// costs the facts that detection and vantage read. One cut short
		// by the round's end is not kept: the next round asks again.
		if checkAccess && obs.MySQL != nil && ctx.Err() == nil {
			if a := p.checkAccess(ctx, flavor, obs.At); ctx.Err() == nil {
				p.access = a
			}
		}
		obs.Error = strings.Join(errs, "; ")
		obs.Access = p.access
	}()
	// lost is true after a statement failed for want of the server (a
	// timeout, a dropped connection, the round's deadline) rather than
	// with a server error: the rest of the round would only wait out more
	// timeouts, so it ends there.
	lost := func(err error) bool {
		var serverErr *mysql.MySQLError
		return err != nil && !errors.As(err, &serverErr)
	}

	start := time.Now()
	_, err := p.query(ctx, queryPing)
	obs.RTT = time.Since(start)
	if err != nil {
		fail("select 1", err)
		p.version = ""
		if LoginRefused(err) {
			// The server answered: alive, not down (docs/grants.md). Its
			// state is unknown; Access says why.
			obs.Reachable = true
			p.access = &probe.Access{CheckedAt: obs.At, Accounts: []probe.AccountAccess{
				{Purpose: probe.PurposeAdmin, User: p.t.Username, Refused: err.Error()}}}
		}
		return obs
	}
	obs.Reachable = true

	recheck := p.version == "" || p.access == nil || obs.At.Sub(p.access.CheckedAt) >= AccessRecheck
	if p.version == "" {
		rows, err := p.query(ctx, queryVersion)
		if err != nil {
			fail("select @@version", err)
			return obs
		}
		if len(rows) > 0 {
			p.version = rows[0]["version"]
		}
	}
	flavor = flavorOf(p.version)
	mysql8022 := flavor == probe.FlavorMySQL && atLeast(p.version, 8, 0, 22)
	checkAccess = recheck

	varsQuery := queryVarsMySQL
	if flavor == probe.FlavorMariaDB {
		varsQuery = queryVarsMariaDB
	}
	rows, err := p.query(ctx, varsQuery)
	if err == nil && len(rows) != 1 {
		err = fmt.Errorf("%d rows, want 1", len(rows))
	}
	if err != nil {
		fail("read server variables", err)
		p.version = "" // the server may have been replaced; ask again next round
		return obs
	}
	facts, err := varsFacts(rows[0])
	if err != nil {
		fail("read server variables", err)
	}
	obs.MySQL = &facts
	obs.ReadOnly = facts.ReadOnly || facts.SuperReadOnly
	if facts.Flavor != flavor {
		// Another server answers at this address now: its statements
		// next round.
		p.version = facts.Version
	}

	channelsQuery := queryChannelsMySQLOld
	switch {
	case flavor == probe.FlavorMariaDB:
		channelsQuery = queryChannelsMariaDB
	case mysql8022:
		channelsQuery = queryChannelsMySQL
	}
	rows, err = p.query(ctx, channelsQuery)
	if err != nil {
		fail(strings.ToLower(channelsQuery), err)
		if lost(err) {
			return obs
		}
	} else {
		for _, r := range rows {
			c, err := channelOf(r)
			if err != nil {
				fail("read "+strings.ToLower(channelsQuery), err)
			}
			facts.Channels = append(facts.Channels, c)
		}
		obs.Role, obs.Primary = roleOf(facts.Channels)
		facts.LagSeconds = lagOf(facts.Channels)
		if flavor == probe.FlavorMySQL && len(facts.Channels) > 0 {
			rows, err := p.query(ctx, queryHeartbeatMySQL)
			if err != nil {
				fail("read heartbeats", err)
				if lost(err) {
					return obs
				}
			} else if err := addHeartbeats(facts.Channels, rows); err != nil {
				fail("read heartbeats", err)
			}
		}
	}

	hostsQuery := queryHostsMySQLOld
	switch {
	case flavor == probe.FlavorMariaDB:
		hostsQuery = queryHostsMariaDB
	case mysql8022:
		hostsQuery = queryHostsMySQL
	}
	rows, err = p.query(ctx, hostsQuery)
	if err != nil {
		fail(strings.ToLower(hostsQuery), err)
		if lost(err) {
			return obs
		}
	} else {
		obs.Replicas, facts.UnnamedReplicas, err = replicaHosts(rows)
		if err != nil {
			fail("read "+strings.ToLower(hostsQuery), err)
		}
	}

	varRows, err := p.query(ctx, querySemiSyncVars)
	if err != nil {
		fail("show semi-sync variables", err)
		return obs
	}
	statusRows, err := p.query(ctx, querySemiSyncStatus)
	if err != nil {
		// Settings without status would read as "no clients": leave
		// SemiSync unknown (Loaded false) instead.
		fail("show semi-sync status", err)
		return obs
	}
	facts.SemiSync, err = semiSyncOf(nameValues(varRows), nameValues(statusRows))
	if err != nil {
		fail("read semi-sync", err)
	}
	return obs
}

// query runs one statement under ctx bounded by the target's timeout and
// reads every row by column name (NULL columns left out).
func (p *Prober) query(ctx context.Context, q string) ([]row, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	return ReadRows[row](ctx, p.db, q)
}

// Querier runs a query: a *sql.DB, *sql.Conn or *sql.Tx.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// ReadRows runs query on q and reads every row by column name; a NULL
// column is left out. The one row reader of the MySQL prober and the
// failover's admin edge (promote/mysqlnode).
func ReadRows[R ~map[string]string](ctx context.Context, q Querier, query string) ([]R, error) {
	rs, err := q.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	cols, err := rs.Columns()
	if err != nil {
		return nil, err
	}
	var out []R
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rs.Next() {
		if err := rs.Scan(ptrs...); err != nil {
			return nil, err
		}
		r := make(R, len(cols))
		for i, c := range cols {
			if vals[i].Valid {
				r[c] = vals[i].String
			}
		}
		out = append(out, r)
	}
	return out, rs.Err()
}

// Close closes the prober's connections. Call it once, after the last Probe.
func (p *Prober) Close() error {
	if err := p.db.Close(); err != nil {
		return fmt.Errorf("close mysql prober %s: %w", p.t.Address, err)
	}
	return nil
}

// dialAddress is where to connect: the mapped address, else the name.
func dialAddress(t probe.Target) string {
	if t.Dial != "" {
		return t.Dial
	}
	return t.Address
}

func (p *Prober) dial() string { return dialAddress(p.t) }

// failingConnector stands in when the driver rejects the config, so that
// every Probe reports why instead of New failing.
type failingConnector struct{ err error }

func (f failingConnector) Connect(context.Context) (driver.Conn, error) {
	return nil, fmt.Errorf("mysql config: %w", f.err)
}

func (f failingConnector) Driver() driver.Driver { return mysql.MySQLDriver{} }
