package quorum

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// DESIGN.md §5.7: an intent is persisted on a majority before the step;
// a config is committed once a majority persisted it, then every member
// adopts it; both need the lease.
func TestProposeIntentAndConfig(t *testing.T) {
	f := newTestFleet(t, "s1", "s2", "s3")
	f.run(time.Second)
	if _, err := f.nodes["s2"].Propose(&Intent{Step: "promote"}, nil, f.now); !errors.Is(err, ErrNoLease) {
		t.Fatalf("propose without a lease: %v, want ErrNoLease", err)
	}
	f.nodes["s2"].Want(ReasonOperator, true)
	f.run(500 * time.Millisecond)
	l, ok := f.nodes["s2"].Lease(f.now)
	if !ok {
		t.Fatalf("no lease: %s", f.states())
	}

	seq, err := f.nodes["s2"].Propose(&Intent{Step: "promote", Target: "r1:1", OldPrimary: "p:1"}, nil, f.now)
	if err != nil {
		t.Fatal(err)
	}
	f.deliver()
	if done, why := f.nodes["s2"].Accepted(seq); !done {
		t.Fatalf("intent not accepted: %s", why)
	}
	for _, id := range f.ids {
		in := f.stored[id].Intent
		if in.Step != "promote" || in.Epoch != l.Epoch || in.Holder != "s2" || in.Target != "r1:1" {
			t.Errorf("%s persisted intent %+v, want s2's promote of r1:1 at epoch %d", id, in, l.Epoch)
		}
	}

	seq, err = f.nodes["s2"].Propose(nil, &Config{Primary: "r1:1", Replicas: []string{"p:1", "r2:1"}}, f.now)
	if err != nil {
		t.Fatal(err)
	}
	f.deliver()
	if done, why := f.nodes["s2"].Accepted(seq); !done {
		t.Fatalf("config not committed: %s", why)
	}
	for _, id := range f.ids {
		c := f.nodes[id].Config()
		if c.Epoch != l.Epoch || c.Primary != "r1:1" || len(c.Replicas) != 2 {
			t.Errorf("%s config %+v, want r1:1 at epoch %d", id, c, l.Epoch)
		}
		if st := f.stored[id]; st.ConfigEpoch != l.Epoch || st.Primary != "r1:1" {
			t.Errorf("%s persisted config epoch %d primary %s", id, st.ConfigEpoch, st.Primary)
		}
	}
	committed := false
	for _, e := range f.events["s2"] {
		if e.Type == "committed" && strings.Contains(e.Detail, "primary r1:1") {
			committed = true
		}
	}
	if !committed {
		t.Errorf("no committed event: %+v", f.events["s2"])
	}

	// A proposal from a sentinel the voter is not bound to is refused.
	f.nodes["s1"].Step(Message{Kind: KindPropose, From: "s3", Propose: &Proposal{Cluster: "c", Epoch: l.Epoch, Holder: "s3", Seq: 9,
		Config: &Config{Cluster: "c", Epoch: l.Epoch + 5, Primary: "x:1"}}}, f.now)
	f.deliver()
	if c := f.nodes["s1"].Config(); c.Primary != "r1:1" {
		t.Errorf("an unbound proposer changed s1's config to %+v", c)
	}
}

// The holder dies after its intent was persisted: the next holder learns
// the intent from the grants and can roll it forward (DESIGN.md §5.7).
func TestIntentRollsForward(t *testing.T) {
	f := newTestFleet(t, "s1", "s2", "s3")
	f.setSDOWN(true, "s1", "s2", "s3")
	f.run(2 * time.Second)
	leaders := f.leaders()
	if len(leaders) != 1 {
		t.Fatalf("leaders %v", leaders)
	}
	first := leaders[0]
	if _, err := f.nodes[first].Propose(&Intent{Step: "promote", Target: "r1:1", OldPrimary: "p:1"}, nil, f.now); err != nil {
		t.Fatal(err)
	}
	f.deliver()
	f.down[first] = true
	var next []MemberID
	for range 400 {
		f.step(100 * time.Millisecond)
		if next = f.leaders(); len(next) > 0 {
			break
		}
	}
	if len(next) != 1 {
		t.Fatalf("no new leader: %s", f.states())
	}
	in, ok := f.nodes[next[0]].LastIntent()
	if !ok || in.Step != "promote" || in.Holder != first || in.Target != "r1:1" {
		t.Errorf("new leader %s knows intent %+v (%v), want %s's promote of r1:1", next[0], in, ok, first)
	}
}

// The holder's parallel steps (fence and demote beside promote and
// repoint) propose intents that may arrive out of order: the earlier one is
// acknowledged, since the later one of the same holder and epoch already
// says where to roll forward, and the stored intent never goes back. Another
// holder's older intent is still refused.
func TestOutOfOrderIntentsOfOneHolder(t *testing.T) {
	f := newTestFleet(t, "s1", "s2", "s3")
	f.run(time.Second)
	f.nodes["s2"].Want(ReasonOperator, true)
	f.run(500 * time.Millisecond)
	l, ok := f.nodes["s2"].Lease(f.now)
	if !ok {
		t.Fatalf("no lease: %s", f.states())
	}
	f.deliver()
	f.nodes["s1"].Ready()
	propose := func(holder MemberID, epoch, seq uint64, step string) ProposalAck {
		f.nodes["s1"].Step(Message{Kind: KindPropose, From: holder, Propose: &Proposal{Cluster: "c", Epoch: epoch, Holder: holder, Seq: seq,
			Intent: &Intent{Cluster: "c", Epoch: epoch, Holder: holder, Seq: seq, Step: step, Target: "r1:1", OldPrimary: "p:1"}}}, f.now)
		for _, m := range f.nodes["s1"].Ready().Send {
			if m.Kind == KindProposeAck {
				return *m.ProposeAck
			}
		}
		t.Fatalf("no ack for %s's seq %d", holder, seq)
		return ProposalAck{}
	}
	if a := propose("s2", l.Epoch, 11, "repoint"); !a.OK {
		t.Fatalf("seq 11 refused: %s", a.Why)
	}
	if a := propose("s2", l.Epoch, 10, "demote"); !a.OK {
		t.Errorf("the same holder's earlier seq 10 refused: %s", a.Why)
	}
	if in, _ := f.nodes["s1"].LastIntent(); in.Seq != 11 || in.Step != "repoint" {
		t.Errorf("intent went back to %+v, want seq 11 repoint", in)
	}
}
