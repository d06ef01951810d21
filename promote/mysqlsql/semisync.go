package mysqlsql

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SemiSyncNames says which names the semi-sync variables have on a server.
// The zero value is unknown: decided by the version where it can be.
type SemiSyncNames uint8

const (
	SemiSyncNamesUnknown SemiSyncNames = iota
	// SemiSyncMaster is rpl_semi_sync_master_* / _slave_*: MariaDB (built
	// in), MySQL before 8.0.26, and MySQL 8.0.26+ running the old
	// rpl_semi_sync_master plugin (semisync_master.so).
	SemiSyncMaster
	// SemiSyncSource is rpl_semi_sync_source_* / _replica_*: MySQL 8.0.26+
	// running the rpl_semi_sync_source plugin (semisync_source.so).
	SemiSyncSource
)

func (n SemiSyncNames) String() string {
	switch n {
	case SemiSyncMaster:
		return "rpl_semi_sync_master_*"
	case SemiSyncSource:
		return "rpl_semi_sync_source_*"
	}
	return "unknown"
}

// SemiSyncNamesOf tells the naming from the variable names a server shows
// (SemiSyncVariables' Variable_name column); unknown when it shows none,
// as a MySQL server without the plugin installed.
func SemiSyncNamesOf(variables []string) SemiSyncNames {
	for _, v := range variables {
		switch {
		case strings.HasPrefix(strings.ToLower(v), "rpl_semi_sync_source_"):
			return SemiSyncSource
		case strings.HasPrefix(strings.ToLower(v), "rpl_semi_sync_master_"):
			return SemiSyncMaster
		}
	}
	return SemiSyncNamesUnknown
}

// names resolves the naming: MariaDB and MySQL before 8.0.26 have only the
// master names; MySQL 8.0.26 and later may run either plugin (only one at a
// time), so the caller must say which.
func (c *checks) names(n SemiSyncNames) SemiSyncNames {
	switch {
	case c.f.mariadb() || !c.f.sourcePlugin():
		if n == SemiSyncSource {
			c.unsupported("the rpl_semi_sync_source plugin needs MySQL 8.0.26 or later")
		}
		return SemiSyncMaster
	case n == SemiSyncNamesUnknown:
		c.add("semi-sync naming unknown: MySQL 8.0.26+ runs either the rpl_semi_sync_source or the rpl_semi_sync_master plugin (SemiSyncVariables, SemiSyncNamesOf)")
	}
	return n
}

// semiSyncVar names a primary-side variable: suffix is given in the master
// naming ("enabled", "wait_no_slave", "wait_for_slave_count").
func semiSyncVar(n SemiSyncNames, suffix string) string {
	if n == SemiSyncSource {
		return "rpl_semi_sync_source_" + strings.ReplaceAll(suffix, "slave", "replica")
	}
	return "rpl_semi_sync_master_" + suffix
}

// SemiSync is the primary side of semi-synchronous replication that
// SemiSyncPrimary sets (DESIGN.md §6.2).
type SemiSync struct {
	// Names is which variable names the server has (SemiSyncNamesOf);
	// required on MySQL 8.0.26 and later, implied elsewhere.
	Names SemiSyncNames
	// Timeout is how long a commit waits for an acknowledgement before the
	// primary falls back to asynchronous replication
	// (rpl_semi_sync_*_timeout, milliseconds): whole milliseconds, at
	// least 1 ms. §6.2 wants it very long, so that a primary cut off from
	// its replicas stalls instead of acknowledging.
	Timeout time.Duration
	// Acks is how many replicas must acknowledge a commit: the self-fence's
	// strength. MariaDB waits for one (it has no count), so there Acks is 0
	// or 1; MySQL sets rpl_semi_sync_*_wait_for_*_count.
	//
	// With fewer live replicas than the cluster's setting, the caller passes
	// what they can meet (§6.2: relaxed, and journaled). 0 means no replica
	// can acknowledge now: wait_no_slave/wait_no_replica=OFF, so commits
	// do not wait while no semi-sync replica is connected and semi-sync
	// resumes by itself when one connects. The zero-loss claim is off then
	// (§6.8).
	Acks int
}

// SemiSyncPrimary turns on the primary side of semi-sync on a new primary,
// with the self-fence of DESIGN.md §6.2: wait point AFTER_SYNC (MariaDB's
// default is AFTER_COMMIT), keep waiting with no replica connected
// (wait_no_slave=ON, unless s.Acks is 0: relaxed), the timeout, MySQL's ack
// count, and enabled=ON last, so the primary never runs semi-sync with
// settings half applied.
//
// Enable it on the current primary only: on a replica that writes its
// binlog (log_slave_updates) it stalls the applier on its first commit
// (notes/mariadb.md §6.5b). On MySQL the plugin must be installed
// (INSTALL PLUGIN ...): without it the variables are unknown (error 1193).
func SemiSyncPrimary(f Flavor, s SemiSync) ([]Stmt, error) {
	c, err := begin("enable semi-sync on the primary", f)
	if err != nil {
		return nil, err
	}
	n := c.names(s.Names)
	c.add(checkUnit("semi-sync timeout", s.Timeout, time.Millisecond, time.Millisecond, time.Duration(1<<63-1)))
	switch {
	case s.Acks < 0:
		c.add(fmt.Sprintf("acks %d is negative", s.Acks))
	case s.Acks > 1 && f.mariadb():
		c.unsupported(fmt.Sprintf("acks %d: MariaDB waits for one replica's acknowledgement, it has no count", s.Acks))
	}
	if err := c.err(); err != nil {
		return nil, err
	}
	set := func(suffix, value, why string) Stmt {
		return stmt("SET GLOBAL "+semiSyncVar(n, suffix)+"="+value, why)
	}
	stmts := []Stmt{
		set("wait_point", "AFTER_SYNC", "acknowledge a commit to its client only after a replica has it"),
	}
	if s.Acks == 0 {
		stmts = append(stmts, set("wait_no_slave", "OFF",
			"relaxed: no replica can acknowledge now, so commits do not wait while none is connected (no zero-loss claim, DESIGN.md §6.2, §6.8)"))
	} else {
		stmts = append(stmts, set("wait_no_slave", "ON",
			"keep waiting for an acknowledgement with no replica connected: a cut-off primary stalls (self-fence, DESIGN.md §6.2)"))
	}
	stmts = append(stmts, set("timeout", strconv.FormatInt(int64(s.Timeout/time.Millisecond), 10),
		fmt.Sprintf("wait up to %v for an acknowledgement before falling back to asynchronous replication", s.Timeout)))
	if !f.mariadb() {
		acks := max(s.Acks, 1)
		stmts = append(stmts, set("wait_for_slave_count", strconv.Itoa(acks),
			fmt.Sprintf("a commit waits for %d replica(s)", acks)))
	}
	return append(stmts, set("enabled", "ON", "replicate semi-synchronously from now on")), nil
}

// DisableSemiSync turns off the primary side of semi-sync
// (rpl_semi_sync_*_enabled=OFF): on an old primary that rejoins as a
// replica, before it is repointed (notes/mariadb.md §5, planned switchover
// step 6).
func DisableSemiSync(f Flavor, names SemiSyncNames) (Stmt, error) {
	c, err := begin("disable semi-sync on a former primary", f)
	if err != nil {
		return Stmt{}, err
	}
	n := c.names(names)
	if err := c.err(); err != nil {
		return Stmt{}, err
	}
	return stmt("SET GLOBAL "+semiSyncVar(n, "enabled")+"=OFF", "this node is no longer a primary: its commits wait for no one"), nil
}
