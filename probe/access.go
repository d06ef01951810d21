package probe

import (
	"strings"
	"time"
)

// Account purposes: which of a cluster's accounts an AccountAccess is about.
const (
	// PurposeAdmin is the account the sentinel probes and administers the
	// nodes with (credentials.username).
	PurposeAdmin = "admin"
	// PurposeReplication is the account replicas connect to their primary
	// with (credentials.replication.username, CHANGE MASTER TO).
	PurposeReplication = "replication"
)

// Access is what a MySQL or MariaDB server said of the accounts this
// sentinel uses on it: whether it accepted each login, and which required
// privileges each lacks (docs/grants.md). It is a plain value, carried by
// every Observation once checked, so a condition derived from it lasts
// while the instance is silent.
type Access struct {
	// CheckedAt is when the server was last asked.
	CheckedAt time.Time       `json:"checked_at"`
	Accounts  []AccountAccess `json:"accounts"`
}

// AccountAccess is one account's standing on one server.
type AccountAccess struct {
	// Purpose is PurposeAdmin or PurposeReplication.
	Purpose string `json:"purpose"`
	User    string `json:"user"`
	// Refused is the server's refusal of the login (MySQL error 1045 and
	// kin), empty when it accepted it.
	Refused string `json:"refused,omitempty"`
	// Missing are the required privileges the account lacks.
	Missing []MissingPrivilege `json:"missing,omitempty"`
	// Error says why the privileges could not be read (Missing is then
	// unknown); empty when they were.
	Error string `json:"error,omitempty"`
}

// MissingPrivilege is one requirement an account does not meet.
type MissingPrivilege struct {
	// Privilege is what to grant, as the server spells it
	// ("REPLICATION SLAVE ADMIN", "SELECT ON performance_schema.*").
	Privilege string `json:"privilege"`
	// AlsoSatisfiedBy are other privileges that would do instead (SUPER).
	AlsoSatisfiedBy []string `json:"also_satisfied_by,omitempty"`
	// For says which statements need it.
	For string `json:"for"`
}

// Account returns the entry for purpose, if the server was asked about it.
func (a *Access) Account(purpose string) (AccountAccess, bool) {
	if a == nil {
		return AccountAccess{}, false
	}
	for _, acc := range a.Accounts {
		if acc.Purpose == purpose {
			return acc, true
		}
	}
	return AccountAccess{}, false
}

// Administrable says whether the sentinel can administer the server with
// its admin account, as far as known: false when the server refused the
// login or the account lacks a required privilege (why says which), true
// when it was not checked yet or passed.
func (a *Access) Administrable() (ok bool, why string) {
	acc, checked := a.Account(PurposeAdmin)
	switch {
	case !checked:
		return true, ""
	case acc.Refused != "":
		return false, "it refuses the admin user " + quoteUser(acc.User) + ": " + acc.Refused
	case len(acc.Missing) > 0:
		return false, "the admin user " + quoteUser(acc.User) + " lacks " + PrivilegeList(acc.Missing)
	}
	return true, ""
}

// PrivilegeList names missing privileges for a person: "RELOAD, PROCESS".
func PrivilegeList(m []MissingPrivilege) string {
	names := make([]string, len(m))
	for i, p := range m {
		names[i] = p.Privilege
	}
	return strings.Join(names, ", ")
}

func quoteUser(u string) string { return "'" + u + "'" }
