package store

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ClusterConfig is a committed cluster config: the fleet's agreed primary at
// an epoch (DESIGN.md §2), saved once a majority has persisted it.
type ClusterConfig struct {
	Cluster     string            `json:"cluster"`
	Epoch       uint64            `json:"epoch"`
	Version     uint64            `json:"version,omitempty"` // orders updates within an epoch
	Primary     string            `json:"primary"`           // host:port
	Replicas    []string          `json:"replicas,omitempty"`
	Settings    map[string]string `json:"settings,omitempty"` // cluster settings the fleet agrees on, e.g. pause
	CommittedAt time.Time         `json:"committed_at"`
}

// SaveConfig records cluster's committed config and raises its highest
// epoch. Configs never go backwards: a lower epoch than the stored one is
// refused with ErrStaleEpoch, the same epoch with another primary with
// ErrConflict, an older version at the same epoch with ErrStaleEpoch. The
// same epoch and primary at a version not older replaces the stored config
// (a replica-list or settings update).
func (s *Store) SaveConfig(c ClusterConfig) error {
	return s.update(fmt.Sprintf("save config for %s epoch %d primary %s", c.Cluster, c.Epoch, c.Primary), func(tx *bolt.Tx) error {
		return putConfig(tx, c)
	})
}

// Config returns cluster's committed config; found is false when none.
func (s *Store) Config(cluster string) (c ClusterConfig, found bool, err error) {
	err = s.view("read config for "+cluster, func(tx *bolt.Tx) error {
		found, err = getJSON(tx, bucketConfigs, cluster, &c)
		return err
	})
	return c, found, err
}

// Configs returns every committed config, ordered by cluster name.
func (s *Store) Configs() ([]ClusterConfig, error) {
	var out []ClusterConfig
	err := s.view("read configs", func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketConfigs)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, raw []byte) error {
			var c ClusterConfig
			if err := json.Unmarshal(raw, &c); err != nil {
				return fmt.Errorf("decode %s/%s: %w", bucketConfigs, k, err)
			}
			out = append(out, c)
			return nil
		})
	})
	return out, err
}

func putConfig(tx *bolt.Tx, c ClusterConfig) error {
	if err := checkCluster(c.Cluster); err != nil {
		return err
	}
	if c.Primary == "" {
		return fmt.Errorf("primary is empty")
	}
	var have ClusterConfig
	found, err := getJSON(tx, bucketConfigs, c.Cluster, &have)
	if err != nil {
		return err
	}
	if found && c.Epoch < have.Epoch {
		return fmt.Errorf("committed config is at epoch %d (primary %s): %w", have.Epoch, have.Primary, ErrStaleEpoch)
	}
	if found && c.Epoch == have.Epoch && c.Primary != have.Primary {
		return fmt.Errorf("committed config at epoch %d names primary %s: %w", have.Epoch, have.Primary, ErrConflict)
	}
	if found && c.Epoch == have.Epoch && c.Version < have.Version {
		return fmt.Errorf("committed config is at epoch %d version %d: %w", have.Epoch, have.Version, ErrStaleEpoch)
	}
	if err := putJSON(tx, bucketConfigs, c.Cluster, c); err != nil {
		return err
	}
	return raiseEpoch(tx, c.Cluster, c.Epoch)
}
