package mysqlprobe

import (
	"fmt"
	"slices"
	"strings"

	"github.com/imsentinel/imsentinel/probe"
)

// Requirement is one privilege an account needs: granting Privilege, or
// any of AlsoSatisfiedBy, at Scope meets it. docs/grants.md lists them.
type Requirement struct {
	// Privilege is the one to grant, as the flavor spells it.
	Privilege string
	// AlsoSatisfiedBy are others that would do (SUPER, where the server
	// still accepts it).
	AlsoSatisfiedBy []string
	// Scope is the database the grant must cover: "" for global (*.*), or
	// a database name (performance_schema). A global grant always covers.
	Scope string
	// For says which statements need it.
	For string
}

// Name is how a person grants it: "RELOAD", "SELECT ON performance_schema.*".
func (r Requirement) Name() string {
	if r.Scope == "" {
		return r.Privilege
	}
	return r.Privilege + " ON " + r.Scope + ".*"
}

// The requirements, worked out from the statements imsentinel sends
// (package mysqlprobe's round, mysqlsql's failover statements) and, on
// MariaDB, measured on 10.11.19 statement by statement with an account
// that lacked one privilege at a time (docs/grants.md; the error each one
// gets is quoted there). MySQL's are from its 8.0 manual, not run here.
var (
	adminMariaDB = []Requirement{
		{Privilege: "SLAVE MONITOR", AlsoSatisfiedBy: []string{"SUPER"},
			For: "SHOW ALL SLAVES STATUS (every probe and failover step)"},
		{Privilege: "REPLICATION MASTER ADMIN",
			For: "SHOW SLAVE HOSTS (discovery) and SET GLOBAL rpl_semi_sync_master_* (promotion)"},
		{Privilege: "REPLICATION SLAVE ADMIN", AlsoSatisfiedBy: []string{"SUPER"},
			For: "STOP SLAVE, CHANGE MASTER TO, START SLAVE (failover, repoint, heartbeat)"},
		{Privilege: "RELOAD", For: "RESET SLAVE ALL (promotion)"},
		{Privilege: "READ_ONLY ADMIN", For: "SET GLOBAL read_only (fence, promotion)"},
		{Privilege: "PROCESS",
			For: "seeing other accounts' sessions in information_schema.PROCESSLIST (without it the fence finds none to kill, silently)"},
		{Privilege: "CONNECTION ADMIN", AlsoSatisfiedBy: []string{"SUPER"},
			For: "KILL CONNECTION of other accounts' sessions (fence)"},
	}
	adminMySQL = []Requirement{
		{Privilege: "REPLICATION CLIENT", AlsoSatisfiedBy: []string{"SUPER"},
			For: "SHOW REPLICA STATUS, SHOW BINARY LOG STATUS (every probe and failover step)"},
		{Privilege: "REPLICATION SLAVE", For: "SHOW REPLICAS (discovery)"},
		{Privilege: "SELECT", Scope: "performance_schema",
			For: "the replication heartbeats in performance_schema (replica vantage)"},
		{Privilege: "REPLICATION_SLAVE_ADMIN", AlsoSatisfiedBy: []string{"SUPER"},
			For: "STOP REPLICA, CHANGE REPLICATION SOURCE TO, START REPLICA (failover, repoint, heartbeat)"},
		{Privilege: "RELOAD", For: "RESET REPLICA ALL (promotion)"},
		{Privilege: "SYSTEM_VARIABLES_ADMIN", AlsoSatisfiedBy: []string{"SUPER"},
			For: "SET GLOBAL read_only, super_read_only and rpl_semi_sync_* (fence, promotion)"},
		{Privilege: "PROCESS",
			For: "seeing other accounts' sessions in information_schema.PROCESSLIST (without it the fence finds none to kill, silently)"},
		{Privilege: "CONNECTION_ADMIN", AlsoSatisfiedBy: []string{"SUPER"},
			For: "KILL CONNECTION of other accounts' sessions (fence)"},
	}
	// Measured on MariaDB 10.11.19: REPLICATION SLAVE alone replicates;
	// without it the replica's IO thread fails with 1597 (COM_REGISTER_SLAVE
	// ... Access denied).
	replicationAny = []Requirement{
		{Privilege: "REPLICATION SLAVE", For: "replicas reading the binary log (CHANGE MASTER TO ... MASTER_USER)"},
	}
)

// Requirements lists what an account of purpose (probe.PurposeAdmin or
// probe.PurposeReplication) needs on a server of flavor f; nil for an
// unknown flavor or purpose.
func Requirements(f probe.Flavor, purpose string) []Requirement {
	switch {
	case purpose == probe.PurposeReplication && f != probe.FlavorUnknown:
		return replicationAny
	case purpose == probe.PurposeAdmin && f == probe.FlavorMariaDB:
		return adminMariaDB
	case purpose == probe.PurposeAdmin && f == probe.FlavorMySQL:
		return adminMySQL
	}
	return nil
}

// Grants are the privileges SHOW GRANTS lists for the current account,
// including those of the roles whose grants it shows (MariaDB shows the
// active default role's; MySQL shows a role's only with USING, so grant
// MySQL accounts directly).
type Grants struct {
	all    bool                       // ALL [PRIVILEGES] ON *.*
	global map[string]bool            // normalised name → granted on *.*
	db     map[string]map[string]bool // database → normalised name → granted
	// Roles are the roles granted to the account (GRANT role TO user).
	Roles []string
}

// ParseGrants reads the rows of SHOW GRANTS. Lines that grant no privilege
// on a database (a role, PROXY, SET DEFAULT ROLE) are skipped; a GRANT line
// it cannot read is an error naming it, with the password hash cut off.
// Table and column grants are skipped: no requirement is on a table.
func ParseGrants(lines []string) (Grants, error) {
	g := Grants{global: map[string]bool{}, db: map[string]map[string]bool{}}
	var errs []string
	for _, line := range lines {
		line = strings.TrimSpace(line)
		rest, ok := cutPrefixFold(line, "GRANT ")
		if !ok {
			continue // SET DEFAULT ROLE, REVOKE (MySQL partial revokes)
		}
		privs, obj, ok := cutFold(rest, " ON ")
		if !ok {
			if role, _, ok := cutFold(rest, " TO "); ok { // GRANT role TO user
				g.Roles = append(g.Roles, strings.TrimSpace(role))
			}
			continue
		}
		obj, _, ok = cutFold(obj, " TO ")
		if !ok {
			errs = append(errs, fmt.Sprintf("%q: no TO", redactGrant(line)))
			continue
		}
		names := splitPrivileges(privs)
		if len(names) == 0 {
			errs = append(errs, fmt.Sprintf("%q: no privilege", redactGrant(line)))
			continue
		}
		if slices.Contains(names, "PROXY") {
			continue
		}
		dbName, table, ok := strings.Cut(strings.TrimSpace(obj), ".")
		if !ok {
			errs = append(errs, fmt.Sprintf("%q: object %q is not db.table", redactGrant(line), obj))
			continue
		}
		dbName, table = unquoteIdent(dbName), unquoteIdent(table)
		switch {
		case dbName == "*" && table == "*":
			for _, n := range names {
				if n == "ALL" || n == "ALL PRIVILEGES" {
					g.all = true
				}
				g.global[n] = true
			}
		case table == "*":
			key := strings.ToLower(dbName)
			if g.db[key] == nil {
				g.db[key] = map[string]bool{}
			}
			for _, n := range names {
				g.db[key][n] = true
			}
		}
	}
	if len(errs) > 0 {
		return g, fmt.Errorf("read show grants: %s", strings.Join(errs, "; "))
	}
	return g, nil
}

// Has says whether the grants meet r.
func (g Grants) Has(r Requirement) bool {
	if g.all {
		return true
	}
	for _, p := range append([]string{r.Privilege}, r.AlsoSatisfiedBy...) {
		n := normPrivilege(p)
		if g.global[n] {
			return true
		}
		if r.Scope != "" {
			d := g.db[strings.ToLower(r.Scope)]
			if d[n] || d["ALL"] || d["ALL PRIVILEGES"] {
				return true
			}
		}
	}
	return false
}

// Missing returns the requirements the grants do not meet, in order, as
// the observation reports them. Pure.
func (g Grants) Missing(reqs []Requirement) []probe.MissingPrivilege {
	var out []probe.MissingPrivilege
	for _, r := range reqs {
		if !g.Has(r) {
			out = append(out, probe.MissingPrivilege{Privilege: r.Name(), AlsoSatisfiedBy: r.AlsoSatisfiedBy, For: r.For})
		}
	}
	return out
}

// splitPrivileges splits "SELECT (a, b), RELOAD,REPLICATION_SLAVE_ADMIN"
// on the commas outside parentheses and normalises each name; column
// lists are dropped.
func splitPrivileges(s string) []string {
	var out []string
	depth, start := 0, 0
	flush := func(end int) {
		p := s[start:end]
		if i := strings.IndexByte(p, '('); i >= 0 {
			p = p[:i]
		}
		if n := normPrivilege(p); n != "" {
			out = append(out, n)
		}
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				flush(i)
				start = i + 1
			}
		}
	}
	flush(len(s))
	return out
}

// normPrivilege makes one spelling of a privilege: upper case, single
// spaces, underscores as spaces (MariaDB writes READ_ONLY ADMIN, MySQL
// REPLICATION_SLAVE_ADMIN for what MariaDB calls REPLICATION SLAVE ADMIN).
func normPrivilege(p string) string {
	p = strings.ToUpper(strings.ReplaceAll(p, "_", " "))
	return strings.Join(strings.Fields(p), " ")
}

func unquoteIdent(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && (s[0] == '`' || s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		s = s[1 : len(s)-1]
	}
	return s
}

// redactGrant cuts a GRANT line before IDENTIFIED, so an error never
// carries a password hash.
func redactGrant(line string) string {
	if i := strings.Index(strings.ToUpper(line), " IDENTIFIED "); i >= 0 {
		return line[:i] + " …"
	}
	return line
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// cutFold is strings.Cut ignoring case, outside backquoted identifiers.
func cutFold(s, sep string) (before, after string, found bool) {
	quoted := false
	for i := 0; i+len(sep) <= len(s); i++ {
		if s[i] == '`' {
			quoted = !quoted
			continue
		}
		if !quoted && strings.EqualFold(s[i:i+len(sep)], sep) {
			return s[:i], s[i+len(sep):], true
		}
	}
	return s, "", false
}
