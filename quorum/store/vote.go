package store

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Vote is the vote this sentinel granted for a cluster: at most one per
// epoch, persisted before the reply (DESIGN.md §5.5).
type Vote struct {
	Cluster   string    `json:"cluster"`
	Epoch     uint64    `json:"epoch"`
	Candidate string    `json:"candidate"` // sentinel id the vote went to
	Reason    string    `json:"reason"`    // steward, failover or operator
	GrantedAt time.Time `json:"granted_at"`
	// LeaseUntil is the wall-clock end of the lease the grant binds this
	// voter to. Informational: leases run on the monotonic clock and a
	// restarted sentinel abstains for one lease anyway (DESIGN.md §5.6).
	LeaseUntil time.Time `json:"lease_until"`
}

// SaveVote records a granted vote and raises the cluster's highest epoch to
// its epoch. It refuses with ErrStaleEpoch a vote whose epoch is not above
// the vote already granted for the cluster (one vote per epoch) or is below
// the highest epoch seen: the store is the last line behind the election's
// own check (DESIGN.md §5.5).
func (s *Store) SaveVote(v Vote) error {
	return s.update(fmt.Sprintf("save vote for %s epoch %d", v.Cluster, v.Epoch), func(tx *bolt.Tx) error {
		return putVote(tx, v)
	})
}

// Vote returns the latest vote granted for cluster; found is false when none.
func (s *Store) Vote(cluster string) (v Vote, found bool, err error) {
	err = s.view("read vote for "+cluster, func(tx *bolt.Tx) error {
		found, err = getJSON(tx, bucketVotes, cluster, &v)
		return err
	})
	return v, found, err
}

func putVote(tx *bolt.Tx, v Vote) error {
	if err := checkCluster(v.Cluster); err != nil {
		return err
	}
	if v.Candidate == "" {
		return fmt.Errorf("candidate is empty")
	}
	if v.Epoch == 0 {
		return fmt.Errorf("epoch 0 is below every election epoch: %w", ErrStaleEpoch)
	}
	var granted Vote
	found, err := getJSON(tx, bucketVotes, v.Cluster, &granted)
	if err != nil {
		return err
	}
	if found && v.Epoch <= granted.Epoch {
		return fmt.Errorf("already voted for %s at epoch %d, one vote per epoch: %w", granted.Candidate, granted.Epoch, ErrStaleEpoch)
	}
	highest, err := highestEpoch(tx, v.Cluster)
	if err != nil {
		return err
	}
	if v.Epoch < highest {
		return fmt.Errorf("below highest epoch seen %d: %w", highest, ErrStaleEpoch)
	}
	if err := putJSON(tx, bucketVotes, v.Cluster, v); err != nil {
		return err
	}
	return raiseEpoch(tx, v.Cluster, v.Epoch)
}
