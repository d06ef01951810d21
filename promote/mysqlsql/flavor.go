package mysqlsql

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/imsentinel/imsentinel/probe"
)

// The errors of this package. Every error a generator returns wraps one of
// them.
var (
	// ErrUnsupported: the server (flavor, version) is older than this
	// package supports, or has no statement or option for what was asked.
	ErrUnsupported = errors.New("not supported by this server")
	// ErrInvalid: an input would make a wrong or unsafe statement (a bad
	// host, port or duration, a character that cannot be in the value).
	ErrInvalid = errors.New("invalid input")
)

// Flavor is which server family and version an instance runs: what picks the
// statements. The zero value is unknown, and every generator refuses it.
type Flavor struct {
	// Kind is MariaDB or MySQL (probe.FlavorMariaDB, probe.FlavorMySQL).
	Kind                probe.Flavor
	Major, Minor, Patch int
}

// MariaDB builds a MariaDB Flavor.
func MariaDB(major, minor, patch int) Flavor {
	return Flavor{Kind: probe.FlavorMariaDB, Major: major, Minor: minor, Patch: patch}
}

// MySQL builds a MySQL Flavor.
func MySQL(major, minor, patch int) Flavor {
	return Flavor{Kind: probe.FlavorMySQL, Major: major, Minor: minor, Patch: patch}
}

// ParseFlavor reads @@version as the server reports it: "10.11.19-MariaDB-
// 0+deb12u1-log", "8.0.36", "8.4.0-commercial", "8.0.36-28" (Percona
// Server). A version naming MariaDB is MariaDB (the way package
// probe/mysqlprobe tells them apart); any other is MySQL. The leading
// "5.5.5-" that old MariaDB servers put before their real version is
// skipped. It checks only that the version reads; Supported says whether
// this package serves it.
func ParseFlavor(v string) (Flavor, error) {
	kind := probe.FlavorMySQL
	if strings.Contains(strings.ToLower(v), "mariadb") {
		kind = probe.FlavorMariaDB
		v = strings.TrimPrefix(v, "5.5.5-")
	}
	head := v
	if i := strings.IndexFunc(v, func(r rune) bool { return r != '.' && (r < '0' || r > '9') }); i >= 0 {
		head = v[:i]
	}
	parts := strings.Split(head, ".")
	if len(parts) != 3 {
		return Flavor{}, fmt.Errorf("read server version %q: want major.minor.patch: %w", v, ErrInvalid)
	}
	var n [3]int
	for i, p := range parts {
		x, err := strconv.Atoi(p)
		if err != nil || x < 0 {
			return Flavor{}, fmt.Errorf("read server version %q: %q is not a number: %w", v, p, ErrInvalid)
		}
		n[i] = x
	}
	return Flavor{Kind: kind, Major: n[0], Minor: n[1], Patch: n[2]}, nil
}

// FlavorOf is the Flavor of a probed instance: its @@version, read by
// ParseFlavor, which must agree with the flavor the prober reported.
func FlavorOf(facts probe.MySQLFacts) (Flavor, error) {
	f, err := ParseFlavor(facts.Version)
	if err != nil {
		return Flavor{}, err
	}
	if facts.Flavor != probe.FlavorUnknown && facts.Flavor != f.Kind {
		return Flavor{}, fmt.Errorf("read server version %q: the prober says %s: %w", facts.Version, facts.Flavor, ErrInvalid)
	}
	return f, nil
}

// String is "mariadb 10.11.19", "mysql 8.0.22" or "unknown".
func (f Flavor) String() string {
	switch f.Kind {
	case probe.FlavorMariaDB, probe.FlavorMySQL:
		return fmt.Sprintf("%s %d.%d.%d", f.Kind, f.Major, f.Minor, f.Patch)
	}
	return "unknown"
}

// AtLeast reports whether f is at least major.minor.patch (of its own
// family).
func (f Flavor) AtLeast(major, minor, patch int) bool {
	return f.version().atLeast(version{major, minor, patch})
}

// Supported returns nil when this package generates statements for f, or
// an error wrapping ErrUnsupported that says why not.
func (f Flavor) Supported() error {
	// The oldest servers this package generates statements for (doc.go says
	// why).
	minMariaDB, minMySQL := version{10, 6, 0}, version{8, 0, 0}
	switch f.Kind {
	case probe.FlavorMariaDB:
		if !f.version().atLeast(minMariaDB) {
			return fmt.Errorf("%s: MariaDB older than %s: %w", f, minMariaDB, ErrUnsupported)
		}
	case probe.FlavorMySQL:
		if !f.version().atLeast(minMySQL) {
			return fmt.Errorf("%s: MySQL older than %s (5.7 reached its end of life in October 2023): %w", f, minMySQL, ErrUnsupported)
		}
	default:
		return fmt.Errorf("flavor unknown (neither MariaDB nor MySQL): %w", ErrUnsupported)
	}
	return nil
}

func (f Flavor) mariadb() bool { return f.Kind == probe.FlavorMariaDB }

// The MySQL version boundaries of the statements (sources in doc.go).
func (f Flavor) replicaKeywords() bool { return !f.mariadb() && f.AtLeast(8, 0, 22) } // START/STOP/RESET REPLICA, SHOW REPLICA STATUS
func (f Flavor) changeSource() bool    { return !f.mariadb() && f.AtLeast(8, 0, 23) } // CHANGE REPLICATION SOURCE TO, SOURCE_* options
func (f Flavor) binaryLogStatus() bool { return !f.mariadb() && f.AtLeast(8, 2, 0) }  // SHOW BINARY LOG STATUS
func (f Flavor) sourcePlugin() bool    { return !f.mariadb() && f.AtLeast(8, 0, 26) } // rpl_semi_sync_source plugin exists

func (f Flavor) version() version { return version{f.Major, f.Minor, f.Patch} }

type version [3]int

func (v version) atLeast(w version) bool {
	for i := range v {
		if v[i] != w[i] {
			return v[i] > w[i]
		}
	}
	return true
}

func (v version) String() string { return fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2]) }

// checks collects the problems with one step's inputs, so a caller learns
// all of them at once.
type checks struct {
	step string
	f    Flavor
	errs []error
}

// begin starts the checks of a step, refusing an unsupported server.
func begin(step string, f Flavor) (*checks, error) {
	if err := f.Supported(); err != nil {
		return nil, fmt.Errorf("%s: %w", step, err)
	}
	return &checks{step: step, f: f}, nil
}

// add records problem (a phrase such as "port 0 is outside 1-65535"), if
// any.
func (c *checks) add(problem string) {
	if problem != "" {
		c.errs = append(c.errs, fmt.Errorf("%s on %s: %s: %w", c.step, c.f, problem, ErrInvalid))
	}
}

// unsupported records that the server lacks what was asked.
func (c *checks) unsupported(what string) {
	c.errs = append(c.errs, fmt.Errorf("%s on %s: %s: %w", c.step, c.f, what, ErrUnsupported))
}

func (c *checks) err() error { return errors.Join(c.errs...) }
