package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Records are stored as JSON so fields can be added without a schema bump;
// epochs and journal keys as 8-byte big-endian integers so they sort.

func u64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

func readU64(raw []byte) (uint64, error) {
	if len(raw) != 8 {
		return 0, fmt.Errorf("want 8 bytes, found %d", len(raw))
	}
	return binary.BigEndian.Uint64(raw), nil
}

// getJSON decodes the record under key in the named bucket into v; found is
// false when the key is absent.
func getJSON(tx *bolt.Tx, name, key string, v any) (found bool, err error) {
	b, err := bucket(tx, name)
	if err != nil {
		return false, err
	}
	raw := b.Get([]byte(key))
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, fmt.Errorf("decode %s/%s: %w", name, key, err)
	}
	return true, nil
}

// putJSON stores v under key in the named bucket.
func putJSON(tx *bolt.Tx, name, key string, v any) error {
	b, err := bucket(tx, name)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s/%s: %w", name, key, err)
	}
	return b.Put([]byte(key), raw)
}

func checkCluster(cluster string) error {
	if cluster == "" {
		return errors.New("cluster name is empty")
	}
	return nil
}
