package store

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Entry is one journal record: a state change or step, with who and when
// (DESIGN.md §7 "Events").
type Entry struct {
	// Seq is assigned by Append: 1, 2, 3, ... with no gaps, never reused,
	// even after older entries are trimmed. Ignored on input.
	Seq      uint64    `json:"seq"`
	At       time.Time `json:"at"`
	Cluster  string    `json:"cluster,omitempty"` // empty for fleet-wide entries
	Epoch    uint64    `json:"epoch,omitempty"`
	Sentinel string    `json:"sentinel,omitempty"`
	Type     string    `json:"type"`
	// Detail is the type-specific payload, kept as the JSON the caller gave
	// (compacted). Must be valid JSON when set.
	Detail json.RawMessage `json:"detail,omitempty"`
}

// Query selects journal entries: those with Seq > AfterSeq, of Cluster when
// it is set, oldest first, at most Limit when Limit > 0.
type Query struct {
	Cluster  string
	AfterSeq uint64
	Limit    int
}

// Append adds e to the journal with the next sequence number, which it
// returns, and trims the oldest entries beyond Options.JournalRetain in the
// same transaction.
func (s *Store) Append(e Entry) (seq uint64, err error) {
	err = s.update(fmt.Sprintf("append %q to journal for %q epoch %d", e.Type, e.Cluster, e.Epoch), func(tx *bolt.Tx) error {
		seq, err = appendEntry(tx, e, s.retain)
		return err
	})
	if err != nil {
		return 0, err
	}
	return seq, nil
}

// Journal returns the entries q selects, oldest first.
func (s *Store) Journal(q Query) ([]Entry, error) {
	var out []Entry
	err := s.view(fmt.Sprintf("read journal after seq %d", q.AfterSeq), func(tx *bolt.Tx) error {
		if q.Limit < 0 {
			return fmt.Errorf("limit %d is negative", q.Limit)
		}
		if q.AfterSeq == math.MaxUint64 {
			return nil // nothing comes after
		}
		b, err := bucket(tx, bucketJournal)
		if err != nil {
			return err
		}
		c := b.Cursor()
		for k, raw := c.Seek(u64(q.AfterSeq + 1)); k != nil; k, raw = c.Next() {
			var e Entry
			if err := json.Unmarshal(raw, &e); err != nil {
				return fmt.Errorf("decode %s/%x: %w", bucketJournal, k, err)
			}
			if e.Seq, err = readU64(k); err != nil {
				return fmt.Errorf("decode %s key %x: %w", bucketJournal, k, err)
			}
			if q.Cluster != "" && e.Cluster != q.Cluster {
				continue
			}
			out = append(out, e)
			if q.Limit > 0 && len(out) == q.Limit {
				break
			}
		}
		return nil
	})
	return out, err
}

func appendEntry(tx *bolt.Tx, e Entry, retain int) (uint64, error) {
	if e.Type == "" {
		return 0, fmt.Errorf("entry type is empty")
	}
	b, err := bucket(tx, bucketJournal)
	if err != nil {
		return 0, err
	}
	seq, err := b.NextSequence()
	if err != nil {
		return 0, err
	}
	e.Seq = seq
	if err := putJSON(tx, bucketJournal, string(u64(seq)), e); err != nil {
		return 0, err
	}
	if retain <= 0 || seq <= uint64(retain) {
		return seq, nil
	}
	// Keep seqs [seq-retain+1, seq]. Usually one key goes; more after
	// JournalRetain was lowered. Collect first: deleting under a cursor
	// skips keys.
	keep := u64(seq - uint64(retain) + 1)
	var old [][]byte
	c := b.Cursor()
	for k, _ := c.First(); k != nil && string(k) < string(keep); k, _ = c.Next() {
		old = append(old, append([]byte(nil), k...))
	}
	for _, k := range old {
		if err := b.Delete(k); err != nil {
			return 0, fmt.Errorf("trim journal seq %x: %w", k, err)
		}
	}
	return seq, nil
}
