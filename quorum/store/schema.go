package store

import (
	"errors"
	"fmt"
	"strconv"

	bolt "go.etcd.io/bbolt"
)

// SchemaVersion is the layout this code reads and writes. Bump it with a
// migration whenever the meaning of a stored byte changes; adding JSON fields
// to a record does not need a bump (older readers ignore them).
const SchemaVersion uint64 = 1

// Buckets. Every key below a record bucket is a cluster name, except in the
// journal, keyed by the 8-byte big-endian sequence number.
const (
	bucketMeta    = "meta"    // schema_version, sentinel_id, fleet_name, learned
	bucketEpochs  = "epochs"  // cluster → highest epoch seen, 8-byte big endian
	bucketVotes   = "votes"   // cluster → Vote (JSON)
	bucketIntents = "intents" // cluster → Intent (JSON)
	bucketConfigs = "configs" // cluster → ClusterConfig (JSON)
	bucketJournal = "journal" // seq → Entry (JSON)
)

func allBuckets() []string {
	return []string{bucketMeta, bucketEpochs, bucketVotes, bucketIntents, bucketConfigs, bucketJournal}
}

// Keys in the meta bucket. Values are plain text, readable with the bbolt CLI.
const (
	keySchemaVersion = "schema_version"
	keySentinelID    = "sentinel_id"
	keyFleetName     = "fleet_name"
	keyLearned       = "learned" // present once the daemon marked the learner done
)

// bucket returns a bucket that Open guaranteed to exist.
func bucket(tx *bolt.Tx, name string) (*bolt.Bucket, error) {
	b := tx.Bucket([]byte(name))
	if b == nil {
		return nil, fmt.Errorf("bucket %s is missing: the state file is damaged", name)
	}
	return b, nil
}

// A migration upgrades a file from one schema version to the next, inside
// the opening transaction: a crash mid-migration leaves the old version.
type migration func(tx *bolt.Tx) error

// migrations maps a version v to the step that turns a version-v file into a
// version v+1 file. Empty while SchemaVersion is 1.
func migrations() map[uint64]migration {
	return map[uint64]migration{}
}

// prepare runs in Open's transaction: it initialises a new file, or checks
// and migrates an existing one. fresh is true when the file was initialised.
func prepare(tx *bolt.Tx, opts Options, version uint64, steps map[uint64]migration) (fresh bool, err error) {
	meta := tx.Bucket([]byte(bucketMeta))
	if meta == nil {
		// No meta bucket: either a brand-new file or one that crashed
		// before its first transaction committed. Anything else in it means
		// it is not ours.
		var other []string
		_ = tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			other = append(other, string(name))
			return nil
		})
		if len(other) > 0 {
			return false, fmt.Errorf("not an imsentinel state file: it has buckets %q but no meta bucket", other)
		}
		for _, name := range allBuckets() {
			if _, err := tx.CreateBucket([]byte(name)); err != nil {
				return false, fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		meta = tx.Bucket([]byte(bucketMeta))
		for k, v := range map[string]string{
			keySchemaVersion: strconv.FormatUint(version, 10),
			keySentinelID:    opts.SentinelID,
			keyFleetName:     opts.FleetName,
		} {
			if err := meta.Put([]byte(k), []byte(v)); err != nil {
				return false, fmt.Errorf("write meta %s: %w", k, err)
			}
		}
		return true, nil
	}

	have, err := schemaVersion(meta)
	if err != nil {
		return false, err
	}
	if have > version {
		return false, fmt.Errorf("schema version %d, this imsentinel reads up to version %d (downgrade refused: run the newer imsentinel, or move state.db aside to start as a learner): %w",
			have, version, ErrNewerSchema)
	}
	if have < version {
		if err := migrate(tx, have, version, steps); err != nil {
			return false, err
		}
	}
	for _, name := range allBuckets() {
		if _, err := bucket(tx, name); err != nil {
			return false, err
		}
	}

	id, fleet := string(meta.Get([]byte(keySentinelID))), string(meta.Get([]byte(keyFleetName)))
	if id != opts.SentinelID || fleet != opts.FleetName {
		return false, fmt.Errorf("data_dir was created by sentinel %q of fleet %q, this is sentinel %q of fleet %q: %w",
			id, fleet, opts.SentinelID, opts.FleetName, ErrForeignDir)
	}
	return false, nil
}

func schemaVersion(meta *bolt.Bucket) (uint64, error) {
	raw := meta.Get([]byte(keySchemaVersion))
	if raw == nil {
		return 0, errors.New("meta has no schema_version: the state file is damaged")
	}
	v, err := strconv.ParseUint(string(raw), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("meta schema_version %q is not a number: %w", raw, err)
	}
	return v, nil
}

// migrate applies steps[from], steps[from+1], ... up to version to, then
// records to. Every step runs in the caller's transaction.
func migrate(tx *bolt.Tx, from, to uint64, steps map[uint64]migration) error {
	for v := from; v < to; v++ {
		step, ok := steps[v]
		if !ok {
			return fmt.Errorf("migrate schema %d to %d: no migration from version %d", from, to, v)
		}
		if err := step(tx); err != nil {
			return fmt.Errorf("migrate schema %d to %d: step from version %d: %w", from, to, v, err)
		}
	}
	meta := tx.Bucket([]byte(bucketMeta))
	if err := meta.Put([]byte(keySchemaVersion), []byte(strconv.FormatUint(to, 10))); err != nil {
		return fmt.Errorf("migrate schema %d to %d: record version: %w", from, to, err)
	}
	return nil
}
