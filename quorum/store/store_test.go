package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func testOptions() Options {
	return Options{SentinelID: "s1", FleetName: "im-prod", LockTimeout: 100 * time.Millisecond}
}

// openT opens dir with opts and closes the store when the test ends.
func openT(t *testing.T, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestOpenCreatesDirAndIsFresh(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "data")
	s := openT(t, dir, testOptions())
	if !s.Fresh() {
		t.Errorf("Fresh() = false on a new data_dir, want true")
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o700 {
		t.Errorf("data_dir mode = %o, want 700", got)
	}
	fi, err = os.Stat(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("%s mode = %o, want 600", FileName, got)
	}
	raw, err := os.ReadFile(filepath.Join(dir, PIDFileName))
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	if got, want := strings.TrimSpace(string(raw)), strconv.Itoa(os.Getpid()); got != want {
		t.Errorf("pid file = %q, want %q", got, want)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, PIDFileName)); !os.IsNotExist(err) {
		t.Errorf("pid file after Close: stat err = %v, want not exist", err)
	}
}

func TestOpenValidatesOptions(t *testing.T) {
	_, err := Open(t.TempDir(), Options{LockTimeout: -1, JournalRetain: -5})
	if err == nil {
		t.Fatal("Open with empty options succeeded, want error")
	}
	for _, want := range []string{"sentinel id is empty", "fleet name is empty", "lock timeout is -1ns", "journal retain is -5"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestReopenPersists(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2025, 3, 4, 5, 6, 7, 8, time.UTC)
	vote := Vote{Cluster: "msg-shard-01", Epoch: 7, Candidate: "s2", Reason: "failover", GrantedAt: at, LeaseUntil: at.Add(5 * time.Second)}
	intent := Intent{Cluster: "msg-shard-01", Epoch: 7, Step: "promote", Target: "10.0.0.7:3306", OldPrimary: "10.0.0.6:3306", Holder: "s2", At: at}
	cfg := ClusterConfig{Cluster: "msg-shard-01", Epoch: 7, Primary: "10.0.0.7:3306", Replicas: []string{"10.0.0.8:3306"}, Settings: map[string]string{"pause": "false"}, CommittedAt: at}

	s, err := Open(dir, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SaveVote(vote); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveIntent(intent); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if err := s.ObserveEpoch("sessions", 3); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(Entry{At: at, Cluster: "msg-shard-01", Epoch: 7, Sentinel: "s1", Type: "vote-granted", Detail: []byte(`{"candidate":"s2"}`)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openT(t, dir, testOptions())
	if s.Fresh() {
		t.Errorf("Fresh() = true on reopen, want false")
	}
	if got, ok, err := s.Vote("msg-shard-01"); err != nil || !ok || !reflect.DeepEqual(got, vote) {
		t.Errorf("Vote after reopen = %+v, %v, %v; want %+v", got, ok, err, vote)
	}
	if got, ok, err := s.Intent("msg-shard-01"); err != nil || !ok || !reflect.DeepEqual(got, intent) {
		t.Errorf("Intent after reopen = %+v, %v, %v; want %+v", got, ok, err, intent)
	}
	if got, ok, err := s.Config("msg-shard-01"); err != nil || !ok || !reflect.DeepEqual(got, cfg) {
		t.Errorf("Config after reopen = %+v, %v, %v; want %+v", got, ok, err, cfg)
	}
	for cluster, want := range map[string]uint64{"msg-shard-01": 7, "sessions": 3, "unknown": 0} {
		if got, err := s.HighestEpoch(cluster); err != nil || got != want {
			t.Errorf("HighestEpoch(%s) after reopen = %d, %v; want %d", cluster, got, err, want)
		}
	}
	entries, err := s.Journal(Query{})
	if err != nil || len(entries) != 1 || entries[0].Seq != 1 || string(entries[0].Detail) != `{"candidate":"s2"}` {
		t.Errorf("Journal after reopen = %+v, %v; want one entry seq 1", entries, err)
	}
	if seq, err := s.Append(Entry{At: at, Type: "started"}); err != nil || seq != 2 {
		t.Errorf("Append after reopen = %d, %v; want seq 2", seq, err)
	}
}

func TestLearnerSurvivesRestartUntilMarked(t *testing.T) {
	// DESIGN.md §5.2: a fresh data_dir is a learner until it has caught up; a
	// crash while learning must not turn it into a voter.
	dir := t.TempDir()
	s, err := Open(dir, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if l, err := s.Learner(); err != nil || !l {
		t.Fatalf("Learner() on fresh dir = %v, %v; want true", l, err)
	}
	_ = s.Close()

	s, err = Open(dir, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if s.Fresh() {
		t.Errorf("Fresh() on reopen = true, want false")
	}
	if l, err := s.Learner(); err != nil || !l {
		t.Fatalf("Learner() after restart without MarkLearned = %v, %v; want true", l, err)
	}
	if err := s.MarkLearned(); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()

	s = openT(t, dir, testOptions())
	if l, err := s.Learner(); err != nil || l {
		t.Fatalf("Learner() after MarkLearned and restart = %v, %v; want false", l, err)
	}
}

func TestForeignDir(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()

	for _, tc := range []struct{ id, fleet string }{{"s2", "im-prod"}, {"s1", "im-staging"}} {
		opts := testOptions()
		opts.SentinelID, opts.FleetName = tc.id, tc.fleet
		s, err := Open(dir, opts)
		if err == nil {
			_ = s.Close()
			t.Fatalf("Open as %s/%s of a dir made by s1/im-prod succeeded, want ErrForeignDir", tc.id, tc.fleet)
		}
		if !errors.Is(err, ErrForeignDir) {
			t.Errorf("Open as %s/%s: err = %v, want ErrForeignDir", tc.id, tc.fleet, err)
		}
		for _, want := range []string{`sentinel "s1" of fleet "im-prod"`, fmt.Sprintf(`sentinel %q of fleet %q`, tc.id, tc.fleet)} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %s", err, want)
			}
		}
	}
	// The refused opens released the lock and left no pid file behind.
	openT(t, dir, testOptions())
}

func TestNewerSchemaRefused(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	setSchemaVersion(t, dir, SchemaVersion+1)

	s, err = Open(dir, testOptions())
	if err == nil {
		_ = s.Close()
		t.Fatal("Open of a newer-schema file succeeded, want ErrNewerSchema")
	}
	if !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("err = %v, want ErrNewerSchema", err)
	}
	want := fmt.Sprintf("schema version %d, this imsentinel reads up to version %d", SchemaVersion+1, SchemaVersion)
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
	if got := readSchemaVersion(t, dir); got != SchemaVersion+1 {
		t.Errorf("schema version after refused open = %d, want %d untouched", got, SchemaVersion+1)
	}
}

func TestMigrationHook(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SaveConfig(ClusterConfig{Cluster: "c", Epoch: 1, Primary: "p:1"}); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()

	// Pretend the code is at version SchemaVersion+2 with two steps.
	var ran []uint64
	steps := map[uint64]migration{
		SchemaVersion: func(tx *bolt.Tx) error {
			ran = append(ran, SchemaVersion)
			_, err := tx.CreateBucket([]byte("added-in-v2"))
			return err
		},
		SchemaVersion + 1: func(tx *bolt.Tx) error {
			ran = append(ran, SchemaVersion+1)
			if tx.Bucket([]byte("added-in-v2")) == nil {
				return errors.New("step 2 ran before step 1")
			}
			return nil
		},
	}
	s, err = open(dir, testOptions(), SchemaVersion+2, steps)
	if err != nil {
		t.Fatalf("open with migrations: %v", err)
	}
	if s.Fresh() {
		t.Errorf("Fresh() after migration = true, want false")
	}
	if c, ok, err := s.Config("c"); err != nil || !ok || c.Primary != "p:1" {
		t.Errorf("Config after migration = %+v, %v, %v; want the stored one", c, ok, err)
	}
	_ = s.Close()
	if want := []uint64{SchemaVersion, SchemaVersion + 1}; fmt.Sprint(ran) != fmt.Sprint(want) {
		t.Errorf("migrations ran %v, want %v", ran, want)
	}
	if got := readSchemaVersion(t, dir); got != SchemaVersion+2 {
		t.Errorf("schema version after migration = %d, want %d", got, SchemaVersion+2)
	}
}

func TestMigrationFailureLeavesOldVersion(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()

	steps := map[uint64]migration{SchemaVersion: func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucket([]byte("half-done")); err != nil {
			return err
		}
		return errors.New("disk says no")
	}}
	if s, err := open(dir, testOptions(), SchemaVersion+1, steps); err == nil {
		_ = s.Close()
		t.Fatal("open with a failing migration succeeded")
	} else if !strings.Contains(err.Error(), "disk says no") {
		t.Errorf("error %q does not carry the step's cause", err)
	}
	if s, err := open(dir, testOptions(), SchemaVersion+2, map[uint64]migration{}); err == nil {
		_ = s.Close()
		t.Fatal("open with a missing migration step succeeded")
	}
	if got := readSchemaVersion(t, dir); got != SchemaVersion {
		t.Errorf("schema version after failed migration = %d, want %d", got, SchemaVersion)
	}
	s = openT(t, dir, testOptions())
	_ = s.view("look for half-done bucket", func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("half-done")) != nil {
			t.Errorf("a failed migration left its bucket behind")
		}
		return nil
	})
}

func TestNotAStateFile(t *testing.T) {
	dir := t.TempDir()
	db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("other")); return err })
	_ = db.Close()
	if s, err := Open(dir, testOptions()); err == nil {
		_ = s.Close()
		t.Fatal("Open of a foreign bbolt file succeeded")
	} else if !strings.Contains(err.Error(), "not an imsentinel state file") {
		t.Errorf("err = %v, want 'not an imsentinel state file'", err)
	}
}

func TestLockedInSameProcess(t *testing.T) {
	// bbolt's flock belongs to the open file description, so a second Open
	// in the same process is refused too.
	dir := t.TempDir()
	openT(t, dir, testOptions())

	start := time.Now()
	s, err := Open(dir, testOptions())
	if err == nil {
		_ = s.Close()
		t.Fatal("second Open of the same data_dir succeeded, want ErrLocked")
	}
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: err = %v, want ErrLocked", err)
	}
	want := fmt.Sprintf("data_dir %s is in use by another imsentinel process (pid %d)", dir, os.Getpid())
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("second Open took %s with LockTimeout %s", d, testOptions().LockTimeout)
	}
	// The refused Open must not remove the holder's pid file.
	if _, err := os.Stat(filepath.Join(dir, PIDFileName)); err != nil {
		t.Errorf("holder's pid file after refused Open: %v", err)
	}
}

func TestLockedPIDUnknown(t *testing.T) {
	dir := t.TempDir()
	openT(t, dir, testOptions())
	if err := os.Remove(filepath.Join(dir, PIDFileName)); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir, testOptions())
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "(pid unknown)") {
		t.Errorf("err = %v, want ErrLocked naming pid unknown", err)
	}
}

func TestClosed(t *testing.T) {
	s, err := Open(t.TempDir(), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if err := s.ObserveEpoch("c", 1); !errors.Is(err, ErrClosed) {
		t.Errorf("ObserveEpoch after Close = %v, want ErrClosed", err)
	}
	if _, _, err := s.Vote("c"); !errors.Is(err, ErrClosed) {
		t.Errorf("Vote after Close = %v, want ErrClosed", err)
	}
	if _, err := s.Append(Entry{Type: "x"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
}

func setSchemaVersion(t *testing.T, dir string, v uint64) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketMeta)).Put([]byte(keySchemaVersion), []byte(strconv.FormatUint(v, 10)))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func readSchemaVersion(t *testing.T, dir string) uint64 {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v uint64
	err = db.View(func(tx *bolt.Tx) error {
		var err error
		v, err = schemaVersion(tx.Bucket([]byte(bucketMeta)))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}
