package mysqlsql

import (
	"errors"
	"strings"
	"testing"

	"github.com/imsentinel/imsentinel/probe"
)

// The servers the statement tables cover: the measured MariaDB, the MySQL
// version boundaries on each side, and an end-of-life MySQL.
var (
	mariadb1011 = MariaDB(10, 11, 19)
	mysql57     = MySQL(5, 7, 44)
	mysql8021   = MySQL(8, 0, 21)
	mysql8022   = MySQL(8, 0, 22)
	mysql8023   = MySQL(8, 0, 23)
	mysql8026   = MySQL(8, 0, 26)
	mysql84     = MySQL(8, 4, 0)
)

func TestParseFlavor(t *testing.T) {
	tests := []struct {
		in   string
		want Flavor
	}{
		{"10.11.19-MariaDB-0+deb12u1-log", mariadb1011},
		{"10.6.21-MariaDB", MariaDB(10, 6, 21)},
		{"5.5.5-10.11.6-MariaDB-log", MariaDB(10, 11, 6)},
		{"11.8.2-MariaDB-ubu2404", MariaDB(11, 8, 2)},
		{"8.0.36", MySQL(8, 0, 36)},
		{"8.0.22-log", mysql8022},
		{"8.4.0-commercial", mysql84},
		{"8.0.36-28", MySQL(8, 0, 36)}, // Percona Server
		{"8.0.36-0ubuntu0.22.04.1", MySQL(8, 0, 36)},
		{"9.1.0", MySQL(9, 1, 0)},
		{"5.7.44-log", mysql57},
	}
	for _, tt := range tests {
		got, err := ParseFlavor(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseFlavor(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "MariaDB", "8.0", "8.x.1", "v8.0.1", "8.0.1.2"} {
		if f, err := ParseFlavor(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseFlavor(%q) = %v, %v; want ErrInvalid", bad, f, err)
		}
	}
}

func TestFlavorOf(t *testing.T) {
	f, err := FlavorOf(probe.MySQLFacts{Flavor: probe.FlavorMariaDB, Version: "10.11.19-MariaDB-0+deb12u1-log"})
	if err != nil || f != mariadb1011 {
		t.Errorf("FlavorOf = %v, %v", f, err)
	}
	_, err = FlavorOf(probe.MySQLFacts{Flavor: probe.FlavorMariaDB, Version: "8.0.36"})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "the prober says mariadb") {
		t.Errorf("disagreeing flavor: err %v", err)
	}
}

func TestSupported(t *testing.T) {
	for _, f := range []Flavor{mariadb1011, MariaDB(10, 6, 0), mysql8021, MySQL(8, 0, 0), mysql84, MySQL(9, 1, 0)} {
		if err := f.Supported(); err != nil {
			t.Errorf("%v: %v", f, err)
		}
	}
	for _, tt := range []struct {
		f    Flavor
		want string
	}{
		{mysql57, "mysql 5.7.44: MySQL older than 8.0.0 (5.7 reached its end of life in October 2023): not supported by this server"},
		{MariaDB(10, 5, 27), "mariadb 10.5.27: MariaDB older than 10.6.0: not supported by this server"},
		{Flavor{}, "flavor unknown (neither MariaDB nor MySQL): not supported by this server"},
	} {
		err := tt.f.Supported()
		if !errors.Is(err, ErrUnsupported) || err.Error() != tt.want {
			t.Errorf("%v.Supported() = %v; want %q", tt.f, err, tt.want)
		}
	}
}

func TestAtLeast(t *testing.T) {
	f := mysql8022
	for _, v := range [][3]int{{8, 0, 22}, {8, 0, 21}, {7, 9, 99}, {5, 7, 44}} {
		if !f.AtLeast(v[0], v[1], v[2]) {
			t.Errorf("%v.AtLeast(%v) = false", f, v)
		}
	}
	for _, v := range [][3]int{{8, 0, 23}, {8, 1, 0}, {9, 0, 0}} {
		if f.AtLeast(v[0], v[1], v[2]) {
			t.Errorf("%v.AtLeast(%v) = true", f, v)
		}
	}
}
