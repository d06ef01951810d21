package sentinel

import (
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/imsentinel/imsentinel/probe"
	"github.com/imsentinel/imsentinel/quorum"
	"github.com/imsentinel/imsentinel/quorum/store"
	"github.com/imsentinel/imsentinel/sentinel/config"
)

// failingStore is a stateStore whose vote writes fail while broken is set.
type failingStore struct {
	mu      sync.Mutex
	broken  bool
	highest uint64
	vote    *store.Vote
}

func (s *failingStore) HighestEpoch(string) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.highest, nil
}

func (s *failingStore) ObserveEpoch(_ string, e uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.highest = max(s.highest, e)
	return nil
}

func (s *failingStore) Vote(string) (store.Vote, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.vote == nil {
		return store.Vote{}, false, nil
	}
	return *s.vote, true, nil
}

func (s *failingStore) SaveVote(v store.Vote) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken {
		return errors.New("disk full")
	}
	s.vote = &v
	return nil
}

func (s *failingStore) Config(string) (store.ClusterConfig, bool, error) {
	return store.ClusterConfig{}, false, nil
}
func (s *failingStore) SaveConfig(store.ClusterConfig) error      { return nil }
func (s *failingStore) Intent(string) (store.Intent, bool, error) { return store.Intent{}, false, nil }
func (s *failingStore) SaveIntent(store.Intent) error             { return nil }

// recordingLink is a link that records what is sent.
type recordingLink struct {
	mu   sync.Mutex
	sent []quorum.Message
}

func (l *recordingLink) send(m quorum.Message) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sent = append(l.sent, m)
}
func (l *recordingLink) alive() []quorum.MemberID { return []quorum.MemberID{"s1", "s2", "s3"} }
func (l *recordingLink) collision() string        { return "" }

func (l *recordingLink) kinds(k quorum.Kind) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.sent {
		if m.Kind == k {
			n++
		}
	}
	return n
}

// A grant whose write fails never leaves: the agreement restarts from disk
// and abstains for one lease (a failed write is treated like a crash).
func TestFailedPersistSendsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fleet := newFakeFleet()
		fleet.role["10.0.0.1:6379"] = probe.RolePrimary
		cfg := testConfig(t.TempDir())
		cfg.Fleet.Members = []config.Member{{ID: "s1", Address: cfg.Gossip.Bind}, {ID: "s2", Address: "127.0.0.1:2"}, {ID: "s3", Address: "127.0.0.1:3"}}
		st := &failingStore{broken: true}
		lk := &recordingLink{}
		m, _ := testMonitor(t, cfg, fleet, func(d *Daemon) { d.state, d.fleet = st, lk })
		stop := runMonitor(t, m)
		time.Sleep(time.Second)
		synctest.Wait()

		m.inbox <- quorum.Message{Kind: quorum.KindVote, From: "s2", Vote: &quorum.VoteRequest{Cluster: "sessions", Epoch: 1,
			Candidate: "s2", Reason: quorum.ReasonOperator, Primary: "10.0.0.1:6379"}}
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		if n := lk.kinds(quorum.KindVoteReply); n != 0 {
			t.Fatalf("%d vote replies sent although the grant was not persisted", n)
		}
		if v := m.view.Load(); v.Agreement.AbstainingUntil == nil {
			t.Errorf("after a failed write the agreement does not abstain: %+v", v.Agreement)
		}

		// The disk recovers; after the abstention a new request is granted
		// and answered.
		st.mu.Lock()
		st.broken = false
		st.mu.Unlock()
		time.Sleep(cfg.Failover.Lease + time.Second)
		m.inbox <- quorum.Message{Kind: quorum.KindVote, From: "s2", Vote: &quorum.VoteRequest{Cluster: "sessions", Epoch: 2,
			Candidate: "s2", Reason: quorum.ReasonOperator, Primary: "10.0.0.1:6379"}}
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		if n := lk.kinds(quorum.KindVoteReply); n != 1 {
			t.Errorf("%d vote replies after the disk recovered, want 1", n)
		}
		if v, _, _ := st.Vote("sessions"); v.Epoch != 2 || v.Candidate != "s2" {
			t.Errorf("stored vote %+v, want s2 at epoch 2", v)
		}
		stop()
	})
}
