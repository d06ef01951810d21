package mysqlsql

import (
	"errors"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `''`},
		{"repl", `'repl'`},
		{"it's", `'it\'s'`},
		{`say "hi"`, `'say \"hi\"'`},
		{`back\slash`, `'back\\slash'`},
		{`\'`, `'\\\''`}, // a backslash then a quote: neither may end the literal
		{"nul\x00byte", `'nul\0byte'`},
		{"a\nb\rc", `'a\nb\rc'`},
		{"ctrl-z\x1a", `'ctrl-z\Z'`},
		{"tab\there", "'tab\there'"},
		{"100%_like", `'100%_like'`}, // % and _ are not special in a literal
		{"pässwörd 中文 😀", "'pässwörd 中文 😀'"},
		{"'; DROP TABLE t; --", `'\'; DROP TABLE t; --'`},
	}
	for _, tt := range tests {
		got, err := Quote(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Quote(%q) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
		if back, err := unquote(got); err != nil || back != tt.in {
			t.Errorf("unquote(Quote(%q)) = %q, %v", tt.in, back, err)
		}
	}
	if _, err := Quote("bad\xffutf8"); !errors.Is(err, ErrInvalid) {
		t.Errorf("Quote of invalid UTF-8: err %v; want ErrInvalid", err)
	}
}

// TestQuoteRoundTrip: whatever the string, the server reads back exactly
// it, and nothing after the literal's closing quote.
func TestQuoteRoundTrip(t *testing.T) {
	special := rapid.SampledFrom([]rune{0, '\'', '"', '\\', '\n', '\r', '\t', 0x1a, '%', '_', 'Z', '0', 'n', 'a', 'é', '中', '😀', ';', '-'})
	rapid.Check(t, func(t *rapid.T) {
		s := rapid.OneOf(rapid.String(), rapid.StringOf(special)).Draw(t, "s")
		q, err := Quote(s)
		if err != nil {
			t.Fatalf("Quote(%q): %v", s, err)
		}
		back, err := unquote(q)
		if err != nil || back != s {
			t.Fatalf("Quote(%q) = %s; unquote = %q, %v", s, q, back, err)
		}
		if strings.ContainsAny(q, "\x00\n\r\x1a") {
			t.Fatalf("Quote(%q) = %q keeps a raw control character", s, q)
		}
	})
}

// unquote reads a single-quoted literal the way the MySQL and MariaDB
// lexers do without NO_BACKSLASH_ESCAPES: \0 \' \" \b \n \r \t \Z \\ are
// escapes, \% and \_ keep their backslash, any other \x is x, and ” is a
// quote. It fails when the literal ends before the text does (an
// injection) or never ends.
func unquote(q string) (string, error) {
	if len(q) < 2 || q[0] != '\'' {
		return "", errors.New("no opening quote")
	}
	var b strings.Builder
	for i := 1; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\\':
			i++
			if i >= len(q) {
				return "", errors.New("backslash at the end")
			}
			switch e := q[i]; e {
			case '0':
				b.WriteByte(0)
			case 'b':
				b.WriteByte('\b')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'Z':
				b.WriteByte(0x1a)
			case '%', '_':
				b.WriteByte('\\')
				b.WriteByte(e)
			default:
				b.WriteByte(e)
			}
		case c == '\'' && i+1 < len(q) && q[i+1] == '\'':
			b.WriteByte('\'')
			i++
		case c == '\'':
			if i != len(q)-1 {
				return "", errors.New("text after the closing quote: " + q[i+1:])
			}
			return b.String(), nil
		default:
			b.WriteByte(c)
		}
	}
	return "", errors.New("no closing quote")
}

func TestCheckHost(t *testing.T) {
	for _, good := range []string{"127.0.0.1", "::1", "fe80::1", "db-1.example.com", "db_1", "DB1.", "n2"} {
		if p := checkHost(good); p != "" {
			t.Errorf("checkHost(%q) = %q", good, p)
		}
	}
	for _, bad := range []string{"", "[::1]", "db1:3306", "db 1", "db1'", "a..b", "fe80::1%eth0", "db\x00", strings.Repeat("a", 64) + ".com", strings.Repeat("a.", 127) + "ab"} {
		if p := checkHost(bad); p == "" {
			t.Errorf("checkHost(%q) accepted it", bad)
		}
	}
}

func TestSeconds(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Second: "1", 500 * time.Millisecond: "0.5", 1250 * time.Millisecond: "1.25",
		time.Millisecond: "0.001", 30 * time.Second: "30", 4294967 * time.Second: "4294967",
	} {
		if got := seconds(d); got != want {
			t.Errorf("seconds(%v) = %q; want %q", d, got, want)
		}
	}
}
