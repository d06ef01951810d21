package store

import (
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// keyMembers holds the voter ids this data_dir last ran with, sorted and
// comma-separated (readable with the bbolt CLI).
const keyMembers = "fleet_members"

// Members returns the voter ids this data_dir last ran with; found is false
// before the first SaveMembers. The daemon compares them with its config so
// that fleet.members changes one member at a time (DESIGN.md §5.1).
func (s *Store) Members() (ids []string, found bool, err error) {
	err = s.view("read fleet members", func(tx *bolt.Tx) error {
		meta, err := bucket(tx, bucketMeta)
		if err != nil {
			return err
		}
		v := meta.Get([]byte(keyMembers))
		if v == nil {
			return nil
		}
		found = true
		if len(v) > 0 {
			ids = strings.Split(string(v), ",")
		}
		return nil
	})
	return ids, found, err
}

// SaveMembers records the voter ids this data_dir runs with.
func (s *Store) SaveMembers(ids []string) error {
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	for _, id := range sorted {
		if id == "" || strings.Contains(id, ",") {
			return fmt.Errorf("save fleet members: id %q is empty or has a comma", id)
		}
	}
	return s.update("save fleet members", func(tx *bolt.Tx) error {
		meta, err := bucket(tx, bucketMeta)
		if err != nil {
			return err
		}
		return meta.Put([]byte(keyMembers), []byte(strings.Join(sorted, ",")))
	})
}
