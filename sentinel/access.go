package sentinel

import (
	"fmt"
	"strings"
	"time"

	"github.com/imsentinel/imsentinel/probe"
)

// Conditions about the accounts the sentinel uses on an instance
// (docs/grants.md): both for MySQL/MariaDB, CredentialsRefused for Redis
// too (-WRONGPASS, -NOAUTH). The instance is alive either way: a refused login
// counts as an answer for the failure detector, so a rotated password
// never fails over a healthy primary.
const (
	// CondCredentialsRefused: the instance refuses the admin or the
	// replication login (wrong password, unknown user, host not allowed).
	CondCredentialsRefused = "CredentialsRefused"
	// CondGrantsMissing: an account logs in but lacks privileges a
	// failover needs (or its grants could not be read).
	CondGrantsMissing = "GrantsMissing"
)

// accessConditions derives the access conditions of one instance from
// what its server last said of the accounts (probe.Access): at most one
// CredentialsRefused and one GrantsMissing, each naming every account
// concerned. Pure.
func accessConditions(addr string, a *probe.Access, now time.Time) []Condition {
	if a == nil {
		return nil
	}
	var refused, missing, unread []string
	adminRefused := false
	for _, acc := range a.Accounts {
		who := fmt.Sprintf("the %s user '%s'", acc.Purpose, acc.User)
		switch {
		case acc.Refused != "":
			refused = append(refused, fmt.Sprintf("%s: %s", who, acc.Refused))
			adminRefused = adminRefused || acc.Purpose == probe.PurposeAdmin
		case len(acc.Missing) > 0:
			missing = append(missing, fmt.Sprintf("%s lacks %s", who, probe.PrivilegeList(acc.Missing)))
		case acc.Error != "":
			unread = append(unread, fmt.Sprintf("%s: grants not read: %s", who, acc.Error))
		}
	}
	var out []Condition
	if len(refused) > 0 {
		cost := "replicas repointed to it could not connect"
		if adminRefused {
			cost = "it cannot be probed, fenced, promoted or repointed with these credentials"
		}
		out = append(out, Condition{Name: CondCredentialsRefused, Severity: SeverityCritical, Instance: addr, Since: now,
			Detail: fmt.Sprintf("%s refuses %s; it is alive (not SDOWN) but %s: fix the password or the account (docs/grants.md)",
				addr, strings.Join(refused, "; "), cost)})
	}
	if len(missing) > 0 || len(unread) > 0 {
		sev := SeverityCritical
		if len(missing) == 0 {
			sev = SeverityWarning
		}
		out = append(out, Condition{Name: CondGrantsMissing, Severity: sev, Instance: addr, Since: now,
			Detail: fmt.Sprintf("on %s %s; a failover needing them would fail part-way: grant them (docs/grants.md)",
				addr, strings.Join(append(missing, unread...), "; "))})
	}
	return out
}

// logAccess writes the documented ERROR lines (docs/grants.md) for an
// access condition just raised: one per account concerned, naming the
// cluster, the instance, the user and what is wrong. No password, and no
// SHOW GRANTS text (it carries the password hash).
func (m *clusterMonitor) logAccess(c Condition) {
	in := m.instances[c.Instance]
	if in == nil || in.last == nil || in.last.Access == nil {
		return
	}
	for _, acc := range in.last.Access.Accounts {
		switch {
		case c.Name == CondCredentialsRefused && acc.Refused != "":
			m.log.Error(m.cfg.Kind+" login refused", "instance", c.Instance, "user", acc.User, "purpose", acc.Purpose,
				"condition", c.Name, "err", acc.Refused)
		case c.Name == CondGrantsMissing && len(acc.Missing) > 0:
			m.log.Error("mysql grants missing", "instance", c.Instance, "user", acc.User, "purpose", acc.Purpose,
				"condition", c.Name, "missing", probe.PrivilegeList(acc.Missing))
		case c.Name == CondGrantsMissing && acc.Error != "":
			m.log.Warn("mysql grants not read", "instance", c.Instance, "user", acc.User, "purpose", acc.Purpose,
				"condition", c.Name, "err", acc.Error)
		}
	}
}
