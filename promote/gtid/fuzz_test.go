package gtid

import (
	"errors"
	"testing"
)

// Fuzz targets. Without -fuzz, `go test` runs each over its seeds as an
// ordinary test; with it (go test -run '^$' -fuzz FuzzParseSet -fuzztime 10s)
// the inputs are mutated. Each checks that parsing never panics, that an
// error is a *ParseError locating its token, and that an accepted value is
// well formed and its String parses back to the same value.

func checkParseError(t *testing.T, in string, err error) {
	t.Helper()
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("parse %q: error %v is not a *ParseError", in, err)
	}
	if pe.Input != in || pe.Offset < 0 || pe.Offset+len(pe.Token) > len(in) || in[pe.Offset:pe.Offset+len(pe.Token)] != pe.Token {
		t.Fatalf("parse %q: error %q does not locate its token (%q at %d)", in, err, pe.Token, pe.Offset)
	}
}

func FuzzParseSet(f *testing.F) {
	for _, s := range []string{
		"",
		uA + ":1-5:7-9," + uB + ":1-3",
		"2174b383-5441-11e8-b90a-c80aa9429562:1-3,\n73f86016-978b-11ea-91ed-0242ac110002:1-9",
		" 3E11FA47-71CA-11E1-9E33-C80AA9429562 : 1 - 3 , ",
		uA + ":1-4:aaaa:1:abc:1-3:bbbbb:1," + uB + ":1-2",
		uA + ":9223372036854775806",
		uA + ":5-3",
		uA + ":0",
		uA + ":tag",
		uA + ":a:b:1",
		uA + "::1",
		",,," + uA + ":1,,",
		"0-1-100",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseSet(in)
		if err != nil {
			checkParseError(t, in, err)
			return
		}
		if msg := wellFormed(s); msg != "" {
			t.Fatalf("ParseSet(%q): %s", in, msg)
		}
		txt := s.String()
		again, err := ParseSet(txt)
		if err != nil || !again.Equal(s) || again.String() != txt {
			t.Fatalf("ParseSet(%q) = %q, which parses back as %q, %v", in, txt, again, err)
		}
		if !s.Contains(s) || !s.Subtract(s).IsEmpty() || !s.Union(s).Equal(s) {
			t.Fatalf("algebra on %q: s ⊉ s, s−s ≠ ∅ or s∪s ≠ s", txt)
		}
	})
}

func FuzzParsePosition(f *testing.F) {
	for _, s := range []string{
		"", "0-1-100", "0-1-100,1-2-50", " 1-2-50 ,\n0-1-100", "0-1-100,0-2-105",
		"4294967295-4294967295-18446744073709551615", "4294967296-1-1", "0-01-1", "0-1-", "-1-1", "0-1-1,",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		p, err := ParsePosition(in)
		if err != nil {
			checkParseError(t, in, err)
			return
		}
		txt := p.String()
		again, err := ParsePosition(txt)
		if err != nil || !again.Equal(p) || again.String() != txt {
			t.Fatalf("ParsePosition(%q) = %q, which parses back as %q, %v", in, txt, again, err)
		}
		if p.Compare(p) != Equal || len(p.Subtract(p)) != 0 || !p.Union(p).Equal(p) {
			t.Fatalf("order on %q: p ≠ p, p−p ≠ ∅ or p∪p ≠ p", txt)
		}
		// a position is also a state, with the same Pos
		st, err := ParseState(in)
		if err != nil || !st.Pos().Equal(p) {
			t.Fatalf("ParseState(%q) = %q (Pos %q), %v; want Pos %q", in, st, st.Pos(), err, p)
		}
	})
}

func FuzzParseState(f *testing.F) {
	for _, s := range []string{
		"", "0-1-3,0-3-4", "0-1-9566,0-2-18962", "0-1-100,0-2-105,1-5-7", "0-1-3,0-1-4", "0-1-3,x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseState(in)
		if err != nil {
			checkParseError(t, in, err)
			return
		}
		txt := s.String()
		again, err := ParseState(txt)
		if err != nil || !again.Equal(s) || again.String() != txt {
			t.Fatalf("ParseState(%q) = %q, which parses back as %q, %v", in, txt, again, err)
		}
		if len(s.Subtract(s)) != 0 || !s.Union(s).Equal(s) || len(s.Errant(s.Origins())) != 0 {
			t.Fatalf("on %q: s−s ≠ ∅, s∪s ≠ s, or errant against its own origins", txt)
		}
	})
}
