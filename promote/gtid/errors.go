package gtid

import (
	"fmt"
	"strings"
)

// ParseError says which value could not be parsed, which piece of it was
// wrong, where, and why:
//
//	parse MySQL GTID set "3E11FA47-…:5-3": interval "5-3" at byte 37 of source 3e11fa47-71ca-11e1-9e33-c80aa9429562: end before start
//
// Get it with errors.As to show the offending piece on its own.
type ParseError struct {
	// What is the kind of value: "MySQL GTID set", "MySQL server UUID",
	// "MariaDB GTID position" or "MariaDB GTID state".
	What string
	// Input is the whole value as given.
	Input string
	// Piece names the offending part ("interval", "tag", "source",
	// "entry", "domain"), Token is its text and Offset its byte offset in
	// Input.
	Piece  string
	Token  string
	Offset int
	// Within is the enclosing part, such as "source 3e11fa47-…"; may be
	// empty.
	Within string
	// Reason says what is wrong with Token.
	Reason string
}

func (e *ParseError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "parse %s %s: ", e.What, abbrev(e.Input))
	if e.Piece != "" {
		fmt.Fprintf(&b, "%s %q at byte %d", e.Piece, e.Token, e.Offset)
		if e.Within != "" {
			b.WriteString(" of ")
			b.WriteString(e.Within)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// abbrevLen is how much of a long input an error quotes: gtid_executed of a
// long-lived fleet can hold hundreds of sources.
const abbrevLen = 72

// abbrev quotes s, shortened to its first abbrevLen bytes and its length when
// longer.
func abbrev(s string) string {
	if len(s) <= abbrevLen {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q… (%d bytes)", s[:abbrevLen], len(s))
}

// isSpace is MySQL's SKIP_WHITESPACE set (ASCII only): the server accepts
// these around every token of a GTID set and prints ",\n" between sources.
func isSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\v', '\f':
		return true
	}
	return false
}

// trimSpace trims isSpace bytes from both ends of s[lo:hi] and returns the
// new bounds.
func trimSpace(s string, lo, hi int) (int, int) {
	for lo < hi && isSpace(s[lo]) {
		lo++
	}
	for hi > lo && isSpace(s[hi-1]) {
		hi--
	}
	return lo, hi
}

// parseDecimal parses a plain decimal number as servers print them: ASCII
// digits only, no sign, no leading zero (MySQL reads GTID numbers with
// base 0, so "010" would be octal 8 there: refusing leading zeros keeps
// both readings the same), at most max.
func parseDecimal(s string, max uint64) (uint64, string) {
	if s == "" {
		return 0, "empty number"
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, "not a decimal number"
		}
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, "leading zero"
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		d := uint64(s[i] - '0')
		if v > (max-d)/10 {
			return 0, fmt.Sprintf("greater than %d", max)
		}
		v = v*10 + d
	}
	return v, ""
}
