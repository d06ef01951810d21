package mysqlprobe

import (
	"errors"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/imsentinel/imsentinel/probe"
)

// The grants_mariadb_* fixtures are SHOW GRANTS as each account, captured
// from MariaDB 10.11.19 (testdata/README.md). The same server ran every
// statement imsentinel sends as an account lacking one privilege at a time;
// the missing lists below are what those runs showed (docs/grants.md quotes
// the errors). The grants_mysql8_* fixtures are written from the MySQL 8.0
// manual, not captured: no MySQL server here.
func TestGrantsMissing(t *testing.T) {
	mariaAdmin := []string{"SLAVE MONITOR", "REPLICATION MASTER ADMIN", "REPLICATION SLAVE ADMIN", "RELOAD",
		"READ_ONLY ADMIN", "PROCESS", "CONNECTION ADMIN"}
	mysqlAdmin := []string{"REPLICATION CLIENT", "REPLICATION SLAVE", "SELECT ON performance_schema.*",
		"REPLICATION_SLAVE_ADMIN", "RELOAD", "SYSTEM_VARIABLES_ADMIN", "PROCESS", "CONNECTION_ADMIN"}
	cases := []struct {
		file    string
		flavor  probe.Flavor
		purpose string
		want    []string
	}{
		{"grants_mariadb_all_privileges.json", probe.FlavorMariaDB, probe.PurposeAdmin, nil},
		{"grants_mariadb_minimal.json", probe.FlavorMariaDB, probe.PurposeAdmin, nil},
		// A default role's privileges show in SHOW GRANTS on MariaDB.
		{"grants_mariadb_minimal_via_role.json", probe.FlavorMariaDB, probe.PurposeAdmin, nil},
		// Measured: RESET SLAVE ALL fails with 1227 "you need (at least one
		// of) the RELOAD privilege(s)".
		{"grants_mariadb_no_reload.json", probe.FlavorMariaDB, probe.PurposeAdmin, []string{"RELOAD"}},
		// Measured: with SUPER alone, SHOW ALL SLAVES STATUS, STOP/START
		// SLAVE, CHANGE MASTER, the semi-sync SET GLOBALs and KILL work;
		// SHOW SLAVE HOSTS, read_only and RESET SLAVE ALL fail with 1227,
		// and PROCESSLIST shows no other account's session.
		{"grants_mariadb_super_only.json", probe.FlavorMariaDB, probe.PurposeAdmin,
			[]string{"REPLICATION MASTER ADMIN", "RELOAD", "READ_ONLY ADMIN", "PROCESS"}},
		// The probing grants docs/probing.md listed before: enough to
		// observe, not to fail over.
		{"grants_mariadb_probe_only.json", probe.FlavorMariaDB, probe.PurposeAdmin,
			[]string{"REPLICATION SLAVE ADMIN", "RELOAD", "READ_ONLY ADMIN", "PROCESS", "CONNECTION ADMIN"}},
		{"grants_mariadb_harness_repl.json", probe.FlavorMariaDB, probe.PurposeAdmin,
			[]string{"REPLICATION MASTER ADMIN", "RELOAD", "READ_ONLY ADMIN", "PROCESS", "CONNECTION ADMIN"}},
		{"grants_mariadb_db_only.json", probe.FlavorMariaDB, probe.PurposeAdmin, mariaAdmin},
		{"grants_mariadb_repl_only.json", probe.FlavorMariaDB, probe.PurposeAdmin, mariaAdmin},
		// Measured: REPLICATION SLAVE alone replicates.
		{"grants_mariadb_repl_only.json", probe.FlavorMariaDB, probe.PurposeReplication, nil},
		{"grants_mariadb_harness_repl.json", probe.FlavorMariaDB, probe.PurposeReplication, nil},
		// Measured: without it the IO thread fails with 1597 (COM_REGISTER_SLAVE ... Access denied).
		{"grants_mariadb_db_only.json", probe.FlavorMariaDB, probe.PurposeReplication, []string{"REPLICATION SLAVE"}},

		{"grants_mysql8_root.json", probe.FlavorMySQL, probe.PurposeAdmin, nil},
		{"grants_mysql8_minimal.json", probe.FlavorMySQL, probe.PurposeAdmin, nil},
		{"grants_mysql8_super.json", probe.FlavorMySQL, probe.PurposeAdmin, nil},
		{"grants_mysql8_static_only.json", probe.FlavorMySQL, probe.PurposeAdmin,
			[]string{"REPLICATION_SLAVE_ADMIN", "SYSTEM_VARIABLES_ADMIN", "CONNECTION_ADMIN"}},
		// A role's privileges show only with SHOW GRANTS ... USING on MySQL.
		{"grants_mysql8_role.json", probe.FlavorMySQL, probe.PurposeAdmin, mysqlAdmin},
		{"grants_mysql8_repl.json", probe.FlavorMySQL, probe.PurposeReplication, nil},
		{"grants_mysql8_minimal.json", probe.FlavorMySQL, probe.PurposeReplication, nil},
		{"grants_mysql8_role.json", probe.FlavorMySQL, probe.PurposeReplication, []string{"REPLICATION SLAVE"}},
	}
	for _, c := range cases {
		var lines []string
		for _, r := range readRows(t, c.file) {
			for _, v := range r {
				lines = append(lines, v)
			}
		}
		g, err := ParseGrants(lines)
		if err != nil {
			t.Errorf("ParseGrants(%s): %v", c.file, err)
			continue
		}
		var got []string
		for _, m := range g.Missing(Requirements(c.flavor, c.purpose)) {
			got = append(got, m.Privilege)
			if m.For == "" {
				t.Errorf("%s: %s has no For", c.file, m.Privilege)
			}
		}
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%s %s %s: missing %q, want %q\n%s", c.file, c.flavor, c.purpose, got, c.want, strings.Join(lines, "\n"))
		}
	}
}

// A MySQL account whose privileges come through a role looks as if it
// lacked them all (SHOW GRANTS without USING): reported as unread, a
// WARNING that keeps it a candidate, not as missing, which would exclude
// every replica and stop automatic failover.
func TestMySQLRoleGrantsAreUnreadNotMissing(t *testing.T) {
	var lines []string
	for _, r := range readRows(t, "grants_mysql8_role.json") {
		for _, v := range r {
			lines = append(lines, v)
		}
	}
	g, err := ParseGrants(lines)
	if err != nil || len(g.Roles) != 1 {
		t.Fatalf("ParseGrants: roles %v, %v; want the one role", g.Roles, err)
	}
	m, unread := missingOf(g, probe.FlavorMySQL, probe.PurposeAdmin)
	if len(m) != 0 || !strings.Contains(unread, "holds roles (`imsentinel_admin`@`%`)") || !strings.Contains(unread, "REPLICATION_SLAVE_ADMIN") {
		t.Errorf("missing %v, unread %q; want nothing missing and the roles named as the reason it cannot be read", m, unread)
	}
	root := Grants{all: true, Roles: []string{"r"}}
	if m, unread := missingOf(root, probe.FlavorMySQL, probe.PurposeAdmin); len(m) != 0 || unread != "" {
		t.Errorf("ALL PRIVILEGES with a role: missing %v, unread %q; want neither", m, unread)
	}
}

func TestParseGrantsForms(t *testing.T) {
	cases := []struct {
		name  string
		lines []string
		req   Requirement
		want  bool
	}{
		{"column list inside the privilege list",
			[]string{"GRANT SELECT (a, b), RELOAD ON *.* TO `u`@`%`"}, Requirement{Privilege: "RELOAD"}, true},
		{"database grant does not cover a global requirement",
			[]string{"GRANT ALL PRIVILEGES ON `app`.* TO `u`@`%`"}, Requirement{Privilege: "RELOAD"}, false},
		{"global SELECT covers a database requirement",
			[]string{"GRANT SELECT ON *.* TO `u`@`%`"}, Requirement{Privilege: "SELECT", Scope: "performance_schema"}, true},
		{"database ALL covers a database requirement",
			[]string{"GRANT ALL ON `performance_schema`.* TO `u`@`%`"}, Requirement{Privilege: "SELECT", Scope: "performance_schema"}, true},
		{"table grant covers nothing",
			[]string{"GRANT SELECT ON `performance_schema`.`threads` TO `u`@`%`"}, Requirement{Privilege: "SELECT", Scope: "performance_schema"}, false},
		{"alternative privilege",
			[]string{"GRANT SUPER ON *.* TO `u`@`%`"}, Requirement{Privilege: "CONNECTION ADMIN", AlsoSatisfiedBy: []string{"SUPER"}}, true},
		{"MariaDB and MySQL spellings meet", // READ_ONLY ADMIN vs READ ONLY ADMIN
			[]string{"GRANT read only admin ON *.* TO u@h"}, Requirement{Privilege: "READ_ONLY ADMIN"}, true},
		{"ALL without PRIVILEGES",
			[]string{"GRANT ALL ON *.* TO 'u'@'h'"}, Requirement{Privilege: "RELOAD"}, true},
		{"a role named like ON in backquotes",
			[]string{"GRANT `x ON y` TO `u`@`%`"}, Requirement{Privilege: "RELOAD"}, false},
	}
	for _, c := range cases {
		g, err := ParseGrants(c.lines)
		if err != nil {
			t.Errorf("%s: ParseGrants(%q): %v", c.name, c.lines, err)
			continue
		}
		if got := g.Has(c.req); got != c.want {
			t.Errorf("%s: Has(%s) on %q = %t, want %t", c.name, c.req.Name(), c.lines, got, c.want)
		}
	}
}

// An unreadable line is an error that names it without its password hash.
func TestParseGrantsErrorHidesHash(t *testing.T) {
	_, err := ParseGrants([]string{"GRANT RELOAD ON nodot TO `u`@`%` IDENTIFIED BY PASSWORD '*29BE20A48E141766A9F511506A4C05412D50DB1A'"})
	if err == nil || !strings.Contains(err.Error(), "nodot") || strings.Contains(err.Error(), "29BE20A4") {
		t.Fatalf("ParseGrants of a bad line: %v, want an error naming the line without the hash", err)
	}
}

func TestLoginRefused(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{&mysql.MySQLError{Number: 1045, Message: "Access denied for user 'x'@'127.0.0.1' (using password: YES)"}, true},
		{&mysql.MySQLError{Number: 1130}, true},
		{&mysql.MySQLError{Number: 4151}, true},
		{&mysql.MySQLError{Number: 1227}, false}, // a statement refused, not the login
		{errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), false},
		{nil, false},
	}
	for _, c := range cases {
		if got := LoginRefused(c.err); got != c.want {
			t.Errorf("LoginRefused(%v) = %t, want %t", c.err, got, c.want)
		}
	}
}
