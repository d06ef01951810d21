package sentinel

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/imsentinel/imsentinel/probe"
)

// scriptProber answers what obs returns for its address.
type scriptProber struct {
	addr string
	obs  func(addr string) probe.Observation
}

func (p scriptProber) Probe(context.Context) probe.Observation {
	o := p.obs(p.addr)
	o.Instance, o.At = p.addr, time.Now()
	return o
}

func (p scriptProber) Close() error { return nil }

// syncBuffer is a log sink the probe loops and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A primary that refuses the admin login is alive: it answered. It must
// never turn SDOWN (no failover of a healthy primary because a password
// was rotated: DESIGN.md §6.9, "never demote a healthy primary" for a
// cause outside the data node; issue 6 point 6, "not a silent SDOWN").
// Instead the cluster raises CredentialsRefused, and a replica whose admin
// account lacks a grant raises GrantsMissing, each with the documented
// ERROR line naming the instance and the user, never the password.
func TestRefusedLoginIsNotSDOWNAndRaisesConditions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const primary, replica, password = "10.0.2.1:3306", "10.0.2.2:3306", "pw-s3cret-161803"
		refused := "Error 1045 (28000): Access denied for user 'imsentinel'@'10.0.0.9' (using password: YES)"
		script := func(addr string) probe.Observation {
			if addr == primary {
				return probe.Observation{Reachable: true, Error: "probe " + addr + ": select 1: " + refused,
					Access: &probe.Access{CheckedAt: time.Now(), Accounts: []probe.AccountAccess{
						{Purpose: probe.PurposeAdmin, User: "imsentinel", Refused: refused}}}}
			}
			return probe.Observation{Reachable: true, Role: probe.RoleReplica, ReadOnly: true, Primary: primary,
				MySQL: &probe.MySQLFacts{Flavor: probe.FlavorMariaDB},
				Access: &probe.Access{CheckedAt: time.Now(), Accounts: []probe.AccountAccess{
					{Purpose: probe.PurposeAdmin, User: "imsentinel",
						Missing: []probe.MissingPrivilege{{Privilege: "RELOAD", For: "RESET SLAVE ALL (promotion)"}}},
					{Purpose: probe.PurposeReplication, User: "repl"}}}}
		}
		cfg := testConfig(t.TempDir())
		c := &cfg.Clusters[0]
		c.Kind, c.Primary, c.Replicas = "mysql", primary, []string{replica}
		c.Credentials.Username, c.Credentials.Password = "imsentinel", password
		var logs syncBuffer
		m, j := testMonitor(t, cfg, newFakeFleet(), func(d *Daemon) {
			d.log = slog.New(slog.NewTextHandler(&logs, nil))
			d.newProber = func(t probe.Target) probe.Prober { return scriptProber{addr: t.Address, obs: script} }
		})
		stop := runMonitor(t, m)
		// Far past down_after (5s): a silent primary would be SDOWN by now.
		for range 12 {
			time.Sleep(time.Second)
			synctest.Wait()
			if in, _ := instanceView(m.view.Load(), primary); in.SDOWN {
				t.Fatalf("the primary that refuses the login is SDOWN: %s", in.Detector.Reason)
			}
		}
		var got []string
		for _, c := range m.view.Load().Conditions {
			got = append(got, c.Name+" "+c.Severity+" "+c.Instance)
		}
		want := "CredentialsRefused critical " + primary + ", GrantsMissing critical " + replica
		if strings.Join(got, ", ") != want {
			t.Errorf("conditions %q, want %q", got, want)
		}
		stop()
		out := logs.String()
		for _, w := range []string{
			`level=ERROR msg="mysql login refused" cluster=sessions kind=mysql instance=` + primary + ` user=imsentinel purpose=admin condition=CredentialsRefused err="` + strings.ReplaceAll(refused, `"`, `\"`),
			`level=ERROR msg="mysql grants missing" cluster=sessions kind=mysql instance=` + replica + ` user=imsentinel purpose=admin condition=GrantsMissing missing=RELOAD`,
		} {
			if !strings.Contains(out, w) {
				t.Errorf("log lacks %s:\n%s", w, out)
			}
		}
		if strings.Count(out, `msg="mysql login refused"`) != 1 {
			t.Errorf("the refusal is logged %d times, want once (when raised):\n%s", strings.Count(out, `msg="mysql login refused"`), out)
		}
		if strings.Contains(out, password) || strings.Contains(strings.Join(j.types(), "\n"), password) {
			t.Errorf("the password appears in the log or the journal")
		}
		if journal := strings.Join(j.types(), "\n"); strings.Contains(journal, "sdown ") ||
			!strings.Contains(journal, `condition {"condition":"CredentialsRefused"`) {
			t.Errorf("journal: want the condition and no SDOWN:\n%s", journal)
		}
	})
}

func TestAccessConditions(t *testing.T) {
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		a    *probe.Access
		want string // name severity: detail substrings
	}{
		{"not checked", nil, ""},
		{"all good", &probe.Access{Accounts: []probe.AccountAccess{{Purpose: "admin", User: "a"}, {Purpose: "replication", User: "r"}}}, ""},
		{"replication refused", &probe.Access{Accounts: []probe.AccountAccess{{Purpose: "admin", User: "a"},
			{Purpose: "replication", User: "r", Refused: "Error 1045"}}},
			"CredentialsRefused critical: the replication user 'r': Error 1045"},
		{"grants unread only", &probe.Access{Accounts: []probe.AccountAccess{{Purpose: "admin", User: "a", Error: "show grants: timeout"}}},
			"GrantsMissing warning: the admin user 'a': grants not read: show grants: timeout"},
		{"both", &probe.Access{Accounts: []probe.AccountAccess{
			{Purpose: "admin", User: "a", Missing: []probe.MissingPrivilege{{Privilege: "PROCESS"}, {Privilege: "RELOAD"}}},
			{Purpose: "replication", User: "r", Refused: "Error 1045"}}},
			"CredentialsRefused critical: the replication user 'r': Error 1045|GrantsMissing critical: the admin user 'a' lacks PROCESS, RELOAD"},
	}
	for _, c := range cases {
		var got []string
		for _, cond := range accessConditions("10.0.2.1:3306", c.a, now) {
			got = append(got, cond.Name+" "+cond.Severity+": "+cond.Detail)
		}
		wants := strings.Split(c.want, "|")
		if c.want == "" {
			wants = nil
		}
		if len(got) != len(wants) {
			t.Errorf("%s: conditions %q, want %q", c.name, got, wants)
			continue
		}
		for i, w := range wants {
			head, detail, _ := strings.Cut(w, ": ")
			if !strings.HasPrefix(got[i], head+": ") || !strings.Contains(got[i], detail) {
				t.Errorf("%s: condition %q, want %q", c.name, got[i], w)
			}
		}
	}
}
