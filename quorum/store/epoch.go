package store

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// HighestEpoch is the highest epoch this sentinel has seen for cluster: the
// maximum of every ObserveEpoch, SaveVote, SaveIntent and SaveConfig for it.
// 0 when none.
func (s *Store) HighestEpoch(cluster string) (uint64, error) {
	var epoch uint64
	err := s.view("read highest epoch for "+cluster, func(tx *bolt.Tx) error {
		var err error
		epoch, err = highestEpoch(tx, cluster)
		return err
	})
	return epoch, err
}

// ObserveEpoch raises cluster's highest epoch to epoch. A lower or equal
// epoch leaves it unchanged and is not an error: the highest epoch never
// decreases.
func (s *Store) ObserveEpoch(cluster string, epoch uint64) error {
	what := fmt.Sprintf("observe epoch %d for %s", epoch, cluster)
	if err := checkCluster(cluster); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	// Skip the write transaction (and its fsync) when nothing would change:
	// gossip carries the same epoch many times a second.
	if have, err := s.HighestEpoch(cluster); err == nil && have >= epoch {
		return nil
	}
	return s.update(what, func(tx *bolt.Tx) error {
		return raiseEpoch(tx, cluster, epoch)
	})
}

func highestEpoch(tx *bolt.Tx, cluster string) (uint64, error) {
	b, err := bucket(tx, bucketEpochs)
	if err != nil {
		return 0, err
	}
	raw := b.Get([]byte(cluster))
	if raw == nil {
		return 0, nil
	}
	epoch, err := readU64(raw)
	if err != nil {
		return 0, fmt.Errorf("decode %s/%s: %w", bucketEpochs, cluster, err)
	}
	return epoch, nil
}

// raiseEpoch sets cluster's highest epoch to epoch if that is higher.
func raiseEpoch(tx *bolt.Tx, cluster string, epoch uint64) error {
	have, err := highestEpoch(tx, cluster)
	if err != nil || epoch <= have {
		return err
	}
	b, err := bucket(tx, bucketEpochs)
	if err != nil {
		return err
	}
	return b.Put([]byte(cluster), u64(epoch))
}
