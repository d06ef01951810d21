package mysqlprobe

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/imsentinel/imsentinel/probe"
)

// AccessRecheck is how often a prober asks again which privileges its
// accounts have, besides whenever the instance answers after not
// answering (a restart, a start-up): grants change without the server
// restarting, and a condition must clear once they are fixed.
const AccessRecheck = 30 * time.Second

const queryGrants = "SHOW GRANTS"

// Server errors that refuse a login: the server is alive and answered.
const (
	erAccessDenied         = 1045 // wrong password or unknown user
	erHostNotPrivileged    = 1130 // no account for this host
	erHostBlocked          = 1129 // too many connection errors from this host
	erMustChangePassword   = 1862 // the password expired
	erAccountLockedMySQL   = 3118
	erAccountLockedMariaDB = 4151
)

// LoginRefused says whether err is the server refusing the login (wrong
// password, unknown user, host not allowed or blocked, account locked,
// password expired): the server answered, so it is alive.
func LoginRefused(err error) bool {
	var e *mysql.MySQLError
	if !errors.As(err, &e) {
		return false
	}
	switch e.Number {
	case erAccessDenied, erHostNotPrivileged, erHostBlocked, erMustChangePassword,
		erAccountLockedMySQL, erAccountLockedMariaDB:
		return true
	}
	return false
}

// checkAccess asks the server which privileges the admin account (through
// the prober's pool) and the replication account (one connection of its
// own, closed at once) have, and compares them with Requirements for
// flavor. Each account's outcome is in its entry: a refused login, the
// missing privileges, or why they could not be read. Reads only.
func (p *Prober) checkAccess(ctx context.Context, flavor probe.Flavor, now time.Time) *probe.Access {
	a := &probe.Access{CheckedAt: now}
	admin := probe.AccountAccess{Purpose: probe.PurposeAdmin, User: p.t.Username}
	rows, err := p.query(ctx, queryGrants)
	admin.Missing, admin.Error = p.missing(rows, err, flavor, probe.PurposeAdmin)
	a.Accounts = append(a.Accounts, admin)
	if p.t.ReplicationUser == "" {
		return a
	}
	repl := probe.AccountAccess{Purpose: probe.PurposeReplication, User: p.t.ReplicationUser}
	rows, err = p.queryAs(ctx, p.t.ReplicationUser, p.t.ReplicationPassword, queryGrants)
	switch {
	case LoginRefused(err):
		repl.Refused = err.Error()
	default:
		repl.Missing, repl.Error = p.missing(rows, err, flavor, probe.PurposeReplication)
	}
	return &probe.Access{CheckedAt: now, Accounts: append(a.Accounts, repl)}
}

// missing reads SHOW GRANTS rows (one column each) into what purpose lacks.
func (p *Prober) missing(rows []row, err error, flavor probe.Flavor, purpose string) ([]probe.MissingPrivilege, string) {
	if err != nil {
		return nil, p.t.Errorf("show grants", err)
	}
	lines := make([]string, 0, len(rows))
	for _, r := range rows {
		for _, v := range r {
			lines = append(lines, v)
		}
	}
	g, err := ParseGrants(lines)
	if err != nil {
		return nil, p.t.Errorf("show grants", err)
	}
	return missingOf(g, flavor, purpose)
}

// missingOf is what g lacks for purpose. On MySQL a role's privileges
// show in SHOW GRANTS only with USING: an account that holds roles and
// seems to lack something is reported as unread (a WARNING, no exclusion
// from ranking), not as missing.
func missingOf(g Grants, flavor probe.Flavor, purpose string) ([]probe.MissingPrivilege, string) {
	m := g.Missing(Requirements(flavor, purpose))
	if len(m) > 0 && flavor == probe.FlavorMySQL && len(g.Roles) > 0 {
		return nil, fmt.Sprintf("it holds roles (%s) whose privileges SHOW GRANTS does not show on MySQL; without them it lacks %s: "+
			"grant those to the account directly, or check by hand (docs/grants.md)", strings.Join(g.Roles, ", "), probe.PrivilegeList(m))
	}
	return m, ""
}

// queryAs runs one statement on a connection of its own as user, bounded
// by the target's timeout, and closes it.
func (p *Prober) queryAs(ctx context.Context, user, password, q string) ([]row, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	cfg := mysql.NewConfig()
	cfg.Net = "tcp"
	cfg.Addr = p.dial()
	cfg.User = user
	cfg.Passwd = password
	cfg.Timeout = p.timeout
	cfg.ReadTimeout = p.timeout
	cfg.WriteTimeout = p.timeout
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(c)
	defer db.Close()
	db.SetMaxIdleConns(0)
	return ReadRows[row](ctx, db, q)
}
