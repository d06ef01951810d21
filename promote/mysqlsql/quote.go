package mysqlsql

import (
	"fmt"
	"net"
	"strings"
	"time"
	"unicode/utf8"
)

// Quote returns s as a single-quoted SQL string literal that the server
// reads back as exactly s. It escapes like the C API's
// mysql_real_escape_string: NUL as \0, newline as \n, carriage return as
// \r, backslash as \\, the quotes as \' and \", and Ctrl-Z (0x1A) as \Z;
// every other character stands as it is.
//
// Backslash escapes are read as such only when the session's sql_mode lacks
// NO_BACKSLASH_ESCAPES and its character set is utf8mb4 (a multibyte set
// such as GBK can swallow a backslash): run SessionSetup's statements on the
// connection first. s must be valid UTF-8 (the connection's character set):
// otherwise Quote returns an error wrapping ErrInvalid.
func Quote(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("quote %q: not valid UTF-8: %w", s, ErrInvalid)
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case 0:
			b.WriteString(`\0`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\\':
			b.WriteString(`\\`)
		case '\'':
			b.WriteString(`\'`)
		case '"':
			b.WriteString(`\"`)
		case 0x1a:
			b.WriteString(`\Z`)
		default:
			b.WriteByte(c) // bytes of a multibyte UTF-8 character are all >= 0x80
		}
	}
	b.WriteByte('\'')
	return b.String(), nil
}

// SessionSetup is what to run once on each admin connection before the
// other statements, so that Quote's literals read back as written: the
// utf8mb4 character set (in a multibyte set such as GBK a backslash can be
// the second byte of a character) and an sql_mode without
// NO_BACKSLASH_ESCAPES (TRADITIONAL: strict, and without ANSI_QUOTES).
// Neither changes what the other statements do.
func SessionSetup(f Flavor) ([]Stmt, error) {
	if _, err := begin("set up the session", f); err != nil {
		return nil, err
	}
	return []Stmt{
		stmt("SET NAMES utf8mb4", "literals are UTF-8"),
		stmt("SET SESSION sql_mode='TRADITIONAL'", "backslash escapes in literals (no NO_BACKSLASH_ESCAPES)"),
	}, nil
}

// mustQuote quotes a string already checked to be valid UTF-8.
func mustQuote(s string) string {
	q, err := Quote(s)
	if err != nil {
		panic("mysqlsql: " + err.Error())
	}
	return q
}

// The checks on inputs. Each returns a phrase ("port 0 is outside
// 1-65535") for the caller to wrap with the step's name, or "" when the
// value is good.

// checkHost accepts an IP address (v4 or v6, without brackets or zone) or a
// DNS name (labels of letters, digits, '-' and '_', at most 63 bytes each
// and 253 in all).
func checkHost(h string) string {
	switch {
	case h == "":
		return "host is empty"
	case net.ParseIP(h) != nil:
		return ""
	case len(h) > 253:
		return fmt.Sprintf("host %.20q... is longer than 253 bytes", h)
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 {
			return fmt.Sprintf("host %q is neither an IP address nor a DNS name (empty or long label)", h)
		}
		for _, c := range []byte(label) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Sprintf("host %q is neither an IP address nor a DNS name (character %q)", h, c)
			}
		}
	}
	return ""
}

func checkPort(p int) string {
	if p < 1 || p > 65535 {
		return fmt.Sprintf("port %d is outside 1-65535", p)
	}
	return ""
}

// checkText accepts valid UTF-8 without control characters: a user name or
// a password. MariaDB keeps the replication user and password in
// master.info, one value per line, so a newline there would be read back
// as something else after a restart; no sane account name or password has
// a control character.
func checkText(what, s string, empty bool) string {
	switch {
	case s == "" && !empty:
		return what + " is empty"
	case !utf8.ValidString(s):
		return what + " is not valid UTF-8"
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Sprintf("%s has the control character %U", what, r)
		}
	}
	return ""
}

// checkGTIDs accepts the characters of a GTID position: MariaDB
// domain-server-seq lists ("0-1-9566,1-2-33") or MySQL uuid:interval sets,
// with MySQL 8.3's tags ("3e11fa47-...:tag:1-5"), and the newlines MySQL
// puts after commas.
func checkGTIDs(f Flavor, g string) string {
	for _, c := range []byte(g) {
		ok := c >= '0' && c <= '9' || c == '-' || c == ',' || c == ' ' || c == '\n' || c == '\t' || c == '\r'
		if !f.mariadb() {
			ok = ok || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == ':'
		}
		if !ok {
			return fmt.Sprintf("GTID set %q has %q, which no %s GTID set has", g, c, f.Kind)
		}
	}
	return ""
}

// checkUnit accepts a duration in [lo, hi] that is a whole number of unit
// (the server's resolution for the setting): a setting is never rounded
// silently.
func checkUnit(what string, d, unit, lo, hi time.Duration) string {
	switch {
	case d < lo || d > hi:
		return fmt.Sprintf("%s %v is outside %v-%v", what, d, lo, hi)
	case d%unit != 0:
		return fmt.Sprintf("%s %v is not a whole number of %v (the server's resolution)", what, d, unit)
	}
	return ""
}

// seconds prints d, a whole number of milliseconds, in seconds: "1", "0.5",
// "1.25", "0.001".
func seconds(d time.Duration) string {
	ms := int64(d / time.Millisecond)
	s := fmt.Sprintf("%d", ms/1000)
	if frac := ms % 1000; frac != 0 {
		s += strings.TrimRight(fmt.Sprintf(".%03d", frac), "0")
	}
	return s
}
