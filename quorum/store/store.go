package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Exported errors. Callers match them with errors.Is; the returned errors wrap
// them with what was being done.
var (
	// ErrLocked: another process (normally another imsentinel) holds the
	// data_dir's state file open.
	ErrLocked = errors.New("state store is locked")
	// ErrForeignDir: the data_dir was created by another sentinel or for
	// another fleet.
	ErrForeignDir = errors.New("data_dir belongs to another sentinel or fleet")
	// ErrNewerSchema: the state file was written by a newer imsentinel.
	ErrNewerSchema = errors.New("state file has a newer schema")
	// ErrStaleEpoch: the write's epoch is behind what is already stored.
	ErrStaleEpoch = errors.New("stale epoch")
	// ErrConflict: a config with the same epoch but another primary is
	// already stored.
	ErrConflict = errors.New("conflicting config")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("state store is closed")
)

// FileName is the state file inside the data_dir.
const FileName = "state.db"

// PIDFileName names the process holding the data_dir; written after the lock
// is taken and removed on Close. Best effort: it only improves the ErrLocked
// message.
const PIDFileName = "imsentinel.pid"

// Options configure Open. The zero value of each optional field means its
// default.
type Options struct {
	// SentinelID is this sentinel's id from fleet.members. Required. Recorded
	// by the first Open; a later Open with another id fails with ErrForeignDir.
	SentinelID string
	// FleetName is fleet.name. Required. Recorded and checked like SentinelID.
	FleetName string
	// LockTimeout is how long Open waits for another process to release the
	// state file before failing with ErrLocked. Default 1 s.
	LockTimeout time.Duration
	// JournalRetain is how many of the newest journal entries are kept; older
	// ones are trimmed in the same transaction as the append. Default 100000.
	JournalRetain int
}

// Defaults for Options fields left zero.
const (
	DefaultLockTimeout   = time.Second
	DefaultJournalRetain = 100000
)

func (o Options) withDefaults() Options {
	if o.LockTimeout == 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	if o.JournalRetain == 0 {
		o.JournalRetain = DefaultJournalRetain
	}
	return o
}

// validate reports every problem at once.
func (o Options) validate() error {
	var errs []error
	if o.SentinelID == "" {
		errs = append(errs, errors.New("sentinel id is empty"))
	}
	if o.FleetName == "" {
		errs = append(errs, errors.New("fleet name is empty"))
	}
	if o.LockTimeout < 0 {
		errs = append(errs, fmt.Errorf("lock timeout is %s, want >= 0 (0 means %s)", o.LockTimeout, DefaultLockTimeout))
	}
	if o.JournalRetain < 0 {
		errs = append(errs, fmt.Errorf("journal retain is %d, want >= 0 (0 means %d)", o.JournalRetain, DefaultJournalRetain))
	}
	return errors.Join(errs...)
}

// Store is an open data_dir. All methods are safe for concurrent use; writes
// are serialized by bbolt, reads run in parallel with them.
type Store struct {
	dir     string
	pidPath string
	retain  int
	fresh   bool

	mu     sync.RWMutex // guards closed; held shared by every call
	closed bool
	db     *bolt.DB
}

// Open opens (creating if needed) the state in dir. It creates dir with mode
// 0700 when missing, takes the file lock (waiting up to LockTimeout), checks
// the schema version (migrating an older file in place) and the owner
// (SentinelID and FleetName).
func Open(dir string, opts Options) (*Store, error) {
	return open(dir, opts, SchemaVersion, migrations())
}

func open(dir string, opts Options, version uint64, steps map[uint64]migration) (*Store, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("open state store in %s: %w", dir, err)
	}
	opts = opts.withDefaults()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open state store: create data_dir: %w", err)
	}
	path := filepath.Join(dir, FileName)
	pidPath := filepath.Join(dir, PIDFileName)

	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.LockTimeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("data_dir %s is in use by another imsentinel process (%s): %w", dir, holder(pidPath), ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open state store %s: %w", path, err)
	}
	writePID(pidPath)

	s := &Store{dir: dir, pidPath: pidPath, retain: opts.JournalRetain, db: db}
	err = db.Update(func(tx *bolt.Tx) error {
		fresh, err := prepare(tx, opts, version, steps)
		s.fresh = fresh
		return err
	})
	if err != nil {
		_ = os.Remove(pidPath)
		_ = db.Close()
		return nil, fmt.Errorf("open state store %s: %w", path, err)
	}
	return s, nil
}

// Close releases the data_dir. Later calls return ErrClosed; closing twice is
// not an error.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	// Remove the pid file while the lock is still ours, so a newer holder's
	// file is never removed.
	_ = os.Remove(s.pidPath)
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close state store in %s: %w", s.dir, err)
	}
	return nil
}

// Fresh reports whether this Open created the state: the data_dir was new or
// lost. The daemon treats such a sentinel as a learner (DESIGN.md §5.2).
func (s *Store) Fresh() bool { return s.fresh }

// Dir is the data_dir.
func (s *Store) Dir() string { return s.dir }

// update runs fn in one write transaction (fsynced on commit) and wraps any
// error with what.
func (s *Store) update(what string, fn func(tx *bolt.Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return fmt.Errorf("%s: %w", what, ErrClosed)
	}
	if err := s.db.Update(fn); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// view runs fn in one read transaction and wraps any error with what.
func (s *Store) view(what string, fn func(tx *bolt.Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return fmt.Errorf("%s: %w", what, ErrClosed)
	}
	if err := s.db.View(fn); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
