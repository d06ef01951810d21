package store

import (
	"fmt"
	"math"
	"testing"
)

// checkContiguous fails unless entries are exactly seqs first..last in order.
func checkContiguous(t *testing.T, entries []Entry, first, last uint64) {
	t.Helper()
	if uint64(len(entries)) != last-first+1 {
		t.Fatalf("journal has %d entries, want seqs %d..%d (%d)", len(entries), first, last, last-first+1)
	}
	for i, e := range entries {
		if want := first + uint64(i); e.Seq != want {
			t.Fatalf("journal entry %d has seq %d, want %d (entries must be contiguous)", i, e.Seq, want)
		}
	}
}

func TestJournalSeqAndQuery(t *testing.T) {
	s := openT(t, t.TempDir(), testOptions())
	for i := 1; i <= 10; i++ {
		cluster := "a"
		if i%2 == 0 {
			cluster = "b"
		}
		seq, err := s.Append(Entry{Seq: 999, At: t0, Cluster: cluster, Epoch: uint64(i), Sentinel: "s1", Type: "step", Detail: []byte(fmt.Sprintf(`{"i": %d}`, i))})
		if err != nil {
			t.Fatal(err)
		}
		if seq != uint64(i) {
			t.Fatalf("Append #%d returned seq %d, want %d (input Seq is ignored)", i, seq, i)
		}
	}
	all, err := s.Journal(Query{})
	if err != nil {
		t.Fatal(err)
	}
	checkContiguous(t, all, 1, 10)
	if got, want := string(all[2].Detail), `{"i":3}`; got != want {
		t.Errorf("entry 3 detail = %s, want %s (compacted)", got, want)
	}
	if all[2].Cluster != "a" || all[2].Epoch != 3 || all[2].Sentinel != "s1" || !all[2].At.Equal(t0) {
		t.Errorf("entry 3 = %+v, fields not round-tripped", all[2])
	}

	tests := []struct {
		q    Query
		want []uint64
	}{
		{Query{AfterSeq: 7}, []uint64{8, 9, 10}},
		{Query{AfterSeq: 10}, nil},
		{Query{AfterSeq: math.MaxUint64}, nil},
		{Query{Limit: 3}, []uint64{1, 2, 3}},
		{Query{Cluster: "b"}, []uint64{2, 4, 6, 8, 10}},
		{Query{Cluster: "b", AfterSeq: 4, Limit: 2}, []uint64{6, 8}},
		{Query{Cluster: "none"}, nil},
	}
	for _, tc := range tests {
		got, err := s.Journal(tc.q)
		if err != nil {
			t.Errorf("Journal(%+v): %v", tc.q, err)
			continue
		}
		var seqs []uint64
		for _, e := range got {
			seqs = append(seqs, e.Seq)
		}
		if fmt.Sprint(seqs) != fmt.Sprint(tc.want) {
			t.Errorf("Journal(%+v) seqs = %v, want %v", tc.q, seqs, tc.want)
		}
	}
	if _, err := s.Journal(Query{Limit: -1}); err == nil {
		t.Errorf("Journal with negative limit = nil error")
	}
	if _, err := s.Append(Entry{At: t0}); err == nil {
		t.Errorf("Append without type = nil error")
	}
	if _, err := s.Append(Entry{Type: "x", Detail: []byte("{not json")}); err == nil {
		t.Errorf("Append with invalid detail JSON = nil error")
	}
	// Refused appends do not consume a seq.
	if seq, err := s.Append(Entry{Type: "x"}); err != nil || seq != 11 {
		t.Errorf("Append after refusals = %d, %v; want 11", seq, err)
	}
}

func TestJournalRetention(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions()
	opts.JournalRetain = 5
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 12; i++ {
		if _, err := s.Append(Entry{Type: "t"}); err != nil {
			t.Fatal(err)
		}
		entries, err := s.Journal(Query{})
		if err != nil {
			t.Fatal(err)
		}
		first := uint64(1)
		if i > 5 {
			first = uint64(i - 4)
		}
		checkContiguous(t, entries, first, uint64(i))
	}
	_ = s.Close()

	// Lowering the retention trims the backlog on the next append; seqs
	// continue where they were.
	opts.JournalRetain = 2
	s = openT(t, dir, opts)
	if seq, err := s.Append(Entry{Type: "t"}); err != nil || seq != 13 {
		t.Fatalf("Append after reopen = %d, %v; want 13", seq, err)
	}
	entries, err := s.Journal(Query{})
	if err != nil {
		t.Fatal(err)
	}
	checkContiguous(t, entries, 12, 13)
}
