package store

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Intent is the irreversible step a lease holder is about to take, persisted
// on a majority before it acts (DESIGN.md §5.7). Only the latest per cluster
// is kept; the next holder reads it and rolls forward.
type Intent struct {
	Cluster    string `json:"cluster"`
	Epoch      uint64 `json:"epoch"`
	Step       string `json:"step"`        // e.g. fence, promote, repoint, route
	Target     string `json:"target"`      // instance the step acts on
	OldPrimary string `json:"old_primary"` // primary being replaced, if any
	Holder     string `json:"holder"`      // sentinel id of the lease holder
	// Seq orders the holder's intents within its epoch: a late copy of an
	// earlier step must never replace a later one.
	Seq uint64    `json:"seq,omitempty"`
	At  time.Time `json:"at"`
}

// SaveIntent records the latest intent for its cluster, replacing the stored
// one, and raises the cluster's highest epoch. An intent that is not later
// than the stored one, by (epoch, seq), is refused with ErrStaleEpoch;
// saving the stored intent again is allowed.
func (s *Store) SaveIntent(in Intent) error {
	return s.update(fmt.Sprintf("save intent %q for %s epoch %d", in.Step, in.Cluster, in.Epoch), func(tx *bolt.Tx) error {
		return putIntent(tx, in)
	})
}

// Intent returns the latest intent for cluster; found is false when none.
func (s *Store) Intent(cluster string) (in Intent, found bool, err error) {
	err = s.view("read intent for "+cluster, func(tx *bolt.Tx) error {
		found, err = getJSON(tx, bucketIntents, cluster, &in)
		return err
	})
	return in, found, err
}

func putIntent(tx *bolt.Tx, in Intent) error {
	if err := checkCluster(in.Cluster); err != nil {
		return err
	}
	var have Intent
	found, err := getJSON(tx, bucketIntents, in.Cluster, &have)
	if err != nil {
		return err
	}
	if found && (in.Epoch < have.Epoch || in.Epoch == have.Epoch && in.Seq < have.Seq) {
		return fmt.Errorf("stored intent %q is from epoch %d seq %d: %w", have.Step, have.Epoch, have.Seq, ErrStaleEpoch)
	}
	if err := putJSON(tx, bucketIntents, in.Cluster, in); err != nil {
		return err
	}
	return raiseEpoch(tx, in.Cluster, in.Epoch)
}
