package route

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var at = time.Date(2026, 11, 26, 9, 0, 0, 123_000_000, time.UTC)

func entry(epoch uint64, primary string, replicas ...string) Entry {
	return Entry{Cluster: "msg-shard-01", Primary: primary, Kind: "redis", Epoch: epoch,
		Replicas: replicas, Fleet: "im-prod", UpdatedAt: at, UpdatedBy: "s1"}
}

// DESIGN.md §6.7: the steward rewrites a route that is absent or older than
// the committed config, never one with a higher epoch.
func TestNeedsWrite(t *testing.T) {
	committed := entry(7, "10.0.0.7:6379", "10.0.0.8:6379", "10.0.0.9:6379")
	ptr := func(e Entry) *Entry { return &e }
	with := func(e Entry, f func(*Entry)) *Entry { f(&e); return &e }
	cases := []struct {
		name   string
		stored *Entry
		want   bool
		why    string // substring
	}{
		{"absent", nil, true, "route absent"},
		{"older epoch", ptr(entry(6, "10.0.0.8:6379")), true, "stored epoch 6 < committed 7"},
		{"older epoch same primary", ptr(entry(3, "10.0.0.7:6379", "10.0.0.8:6379", "10.0.0.9:6379")), true, "stored epoch 3 < committed 7"},
		{"same epoch other replicas", ptr(entry(7, "10.0.0.7:6379", "10.0.0.8:6379")), true, "stored replicas [10.0.0.8:6379] differ"},
		{"same epoch replicas reordered", ptr(entry(7, "10.0.0.7:6379", "10.0.0.9:6379", "10.0.0.8:6379")), true, "differ"},
		{"same epoch other kind", with(committed, func(e *Entry) { e.Kind = "mysql" }), true, "stored kind mysql"},
		{"same epoch no fleet", with(committed, func(e *Entry) { e.Fleet = "" }), true, "names no fleet"},
		{"up to date", ptr(committed), false, "up to date at epoch 7"},
		{"up to date, other writer and time", with(committed, func(e *Entry) { e.UpdatedBy = "s2"; e.UpdatedAt = at.Add(time.Hour) }), false, "up to date"},
		{"higher epoch", ptr(entry(9, "10.0.0.8:6379")), false, "stored epoch 9 > committed 7: a newer config was committed elsewhere, or a stale fleet"},
		{"same epoch other primary", ptr(entry(7, "10.0.0.8:6379", "10.0.0.7:6379")), false, "epoch 7: stored names primary 10.0.0.8:6379, committed names 10.0.0.7:6379"},
		{"other fleet, older epoch", with(entry(1, "10.0.0.8:6379"), func(e *Entry) { e.Fleet = "im-dr" }), false, "owned by fleet im-dr, not im-prod"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, why := NeedsWrite(c.stored, committed)
			if got != c.want || !strings.Contains(why, c.why) {
				t.Errorf("NeedsWrite(stored=%v, committed=%v) = %v, %q; want %v, ...%q...", c.stored, committed, got, why, c.want, c.why)
			}
		})
	}
}

// The JSON of Change is the announcement contract (DESIGN.md §7).
func TestChangeJSON(t *testing.T) {
	c := Change{Cluster: "msg-shard-01", Primary: "10.0.0.8:6379", OldPrimary: "10.0.0.7:6379",
		Epoch: 8, Reason: "failover", At: at}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"cluster":"msg-shard-01","primary":"10.0.0.8:6379","old_primary":"10.0.0.7:6379","epoch":8,"reason":"failover","at":"2026-11-26T09:00:00.123Z"}`
	if string(b) != want {
		t.Errorf("json.Marshal(%+v)\n got %s\nwant %s", c, b, want)
	}
	var back Change
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestEntryJSON(t *testing.T) {
	e := entry(8, "10.0.0.8:6379", "10.0.0.7:6379", "10.0.0.9:6379")
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"cluster":"msg-shard-01","primary":"10.0.0.8:6379","kind":"redis","epoch":8,"replicas":["10.0.0.7:6379","10.0.0.9:6379"],"fleet":"im-prod","updated_at":"2026-11-26T09:00:00.123Z","updated_by":"s1"}`
	if string(b) != want {
		t.Errorf("json.Marshal(%v)\n got %s\nwant %s", e, b, want)
	}
}

// The script publishes head + cjson.encode(old primary) + tail: that must be
// exactly the JSON of the Change with OldPrimary set.
func TestChangeTemplate(t *testing.T) {
	for _, old := range []string{"", "10.0.0.7:6379", "[::1]:6379", `we"ird\host:1`, "hôte:1"} {
		c := Change{Cluster: "c", Primary: "10.0.0.8:6379", Epoch: 1<<64 - 1, Reason: "switchover to \"b\"", At: at}
		head, tail, err := changeTemplate(c)
		if err != nil {
			t.Fatal(err)
		}
		q, _ := json.Marshal(old)
		got := head + string(q) + tail
		c.OldPrimary = old
		want, _ := json.Marshal(c)
		if got != string(want) {
			t.Errorf("old=%q: spliced\n %s\nwant %s", old, got, want)
		}
	}
}

func TestFieldsRoundTrip(t *testing.T) {
	for _, e := range []Entry{
		entry(1, "10.0.0.7:6379"),
		entry(1<<64-1, "[::1]:6379", "[::1]:6380", "db-2.example:3306"),
	} {
		f := e.fields()
		if f[FieldUpdatedAt] != "2026-11-26T09:00:00.123Z" {
			t.Errorf("updated_at = %q, want 2026-11-26T09:00:00.123Z", f[FieldUpdatedAt])
		}
		got, err := parseEntry(e.Cluster, f)
		if err != nil {
			t.Fatalf("parseEntry(%v): %v", f, err)
		}
		if diff := cmp.Diff(e, got); diff != "" {
			t.Errorf("fields %v: round trip (-want +got):\n%s", f, diff)
		}
	}
	if got := entry(1, "a:1").fields()[FieldReplicas]; got != "" {
		t.Errorf("no replicas stored as %q, want \"\"", got)
	}
	if got := entry(1, "a:1", "b:2", "c:3").fields()[FieldReplicas]; got != "b:2,c:3" {
		t.Errorf("replicas stored as %q, want b:2,c:3", got)
	}
}

func TestParseEntryMalformed(t *testing.T) {
	cases := []struct {
		h    map[string]string
		want string
	}{
		{map[string]string{"primary": "a:1"}, "no epoch field"},
		{map[string]string{"epoch": "x7"}, `epoch "x7" is not a number`},
		{map[string]string{"epoch": "1", "updated_at": "yesterday"}, `updated_at "yesterday" is not RFC 3339`},
	}
	for _, c := range cases {
		_, err := parseEntry("c", c.h)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("parseEntry(%v) error = %v, want ...%s...", c.h, err, c.want)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := entry(1, "10.0.0.7:6379", "10.0.0.8:6379")
	if err := ok.validate(); err != nil {
		t.Errorf("validate(%v) = %v, want nil", ok, err)
	}
	bad := Entry{Primary: "10.0.0.7", Replicas: []string{"a:1,b:2", ""}}
	err := bad.validate()
	if !errors.Is(err, ErrInvalidEntry) {
		t.Fatalf("validate(%v) = %v, want ErrInvalidEntry", bad, err)
	}
	for _, want := range []string{"cluster: empty", "epoch: 0", "kind: empty", `primary: "10.0.0.7": want host:port`,
		`replicas[0]: "a:1,b:2"`, `replicas[1]: "": want host:port`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("validate(%v) = %v, want it to mention %q", bad, err, want)
		}
	}
}

func TestNewValidates(t *testing.T) {
	_, err := New(Options{DB: -1, Timeout: -time.Second, Password: "hunter2"})
	if !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("New: %v, want ErrInvalidOptions", err)
	}
	for _, want := range []string{"addr: empty", "fleet: empty", "sentinel: empty", "db: -1", "timeout: -1s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("New: %v, want it to mention %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("New: error %q shows the password", err)
	}
	w, err := New(Options{Addr: "127.0.0.1:1", Fleet: "f", Sentinel: "s"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if got := w.Key("msg-shard-01"); got != "imsentinel:route:msg-shard-01" {
		t.Errorf("Key = %q, want imsentinel:route:msg-shard-01", got)
	}
	if got := w.Channel(); got != "imsentinel:routes" {
		t.Errorf("Channel = %q, want imsentinel:routes", got)
	}
}

func TestWriteRefusesInvalidEntryWithoutDialing(t *testing.T) {
	w, err := New(Options{Addr: "127.0.0.1:1", Fleet: "f", Sentinel: "s"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	_, err = w.Write(t.Context(), Entry{Cluster: "c", Kind: "redis", Primary: "a:1"}, "test")
	if !errors.Is(err, ErrInvalidEntry) || !strings.Contains(err.Error(), "write route c: invalid route entry: epoch: 0") {
		t.Errorf("Write(epoch 0) = %v, want ErrInvalidEntry naming the epoch", err)
	}
}

func TestRefusal(t *testing.T) {
	ours := entry(7, "10.0.0.7:6379")
	ours.Fleet = "im-prod"
	stored := entry(9, "10.0.0.8:6379")
	stored.Fleet = "im-dr"
	cases := map[string]string{
		outFleet:     "owned by fleet im-dr (we are im-prod)",
		outEpoch:     "stored epoch 9 > 7",
		outPrimary:   "epoch 7 names primary 10.0.0.7:6379, stored names 10.0.0.8:6379",
		outMalformed: `stored entry has no valid epoch ("9"); inspect and delete k to reset it`,
	}
	for outcome, want := range cases {
		if got := refusal(outcome, stored, ours, "9", "k"); got != want {
			t.Errorf("refusal(%s) = %q, want %q", outcome, got, want)
		}
	}
}
