package store

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Learner reports whether the daemon has not yet marked this data_dir as
// caught up with the fleet (MarkLearned). It is true from the Open that
// created the state until MarkLearned commits, across restarts: a sentinel
// that crashes while learning is still a learner when it comes back
// (DESIGN.md §5.2). Fresh only says whether this very Open created the state.
func (s *Store) Learner() (bool, error) {
	var learner bool
	err := s.view("read learner flag", func(tx *bolt.Tx) error {
		meta, err := bucket(tx, bucketMeta)
		if err != nil {
			return err
		}
		learner = meta.Get([]byte(keyLearned)) == nil
		return nil
	})
	return learner, err
}

// MarkLearned records that this sentinel has copied the highest epochs, the
// intents and the committed configs from a majority of the fleet and may vote
// and act (DESIGN.md §5.2). The decision is the caller's; the store only
// makes it durable. Marking twice is not an error.
func (s *Store) MarkLearned() error {
	return s.update(fmt.Sprintf("mark data_dir %s learned", s.dir), func(tx *bolt.Tx) error {
		meta, err := bucket(tx, bucketMeta)
		if err != nil {
			return err
		}
		return meta.Put([]byte(keyLearned), []byte("true"))
	})
}
