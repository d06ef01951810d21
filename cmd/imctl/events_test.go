package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/quorum/store"
)

func event(seq uint64, cluster, typ, detail string) store.Entry {
	e := store.Entry{Seq: seq, At: testNow.Add(time.Duration(seq) * time.Millisecond), Cluster: cluster,
		Sentinel: "s1", Type: typ}
	if detail != "" {
		e.Detail = json.RawMessage(detail)
	}
	return e
}

func sampleEvents() []store.Entry {
	return []store.Entry{
		event(41, "sessions-01", "sdown", `{"instance":"10.0.0.1:6379","role":"primary","reason":"silent 1.2s > window 1s"}`),
		event(42, "sessions-01", "agreement:elected", `{"epoch":8,"detail":"won epoch 8 with s1, s2"}`),
		event(43, "msg-01", "condition", `{"condition":"SelfFenceRelaxed","severity":"warning"}`),
		event(44, "sessions-01", "step", `{"step":"promote","targets":["10.0.0.3:6379"],"epoch":8,"took_ms":12}`),
	}
}

func TestEvents(t *testing.T) {
	api := newFakeAPI(t)
	api.Events = sampleEvents()
	r := imctl(t, invocation{Args: api.args("events", "--cluster", "sessions-01", "--since", "40", "--limit", "3")})
	want := `   SEQ  AT                        CLUSTER           SENTINEL  TYPE                      DETAIL
    41  2026-11-26T09:30:00.041Z  sessions-01       s1        sdown                     instance=10.0.0.1:6379 reason=silent 1.2s > window 1s role=primary
    42  2026-11-26T09:30:00.042Z  sessions-01       s1        agreement:elected         epoch 8: won epoch 8 with s1, s2
    44  2026-11-26T09:30:00.044Z  sessions-01       s1        step                      epoch 8: promote 10.0.0.3:6379: ok in 12ms
`
	if r.Code != exitOK || r.Out != want {
		t.Errorf("imctl events = exit %d (%s)\n%s\nwant:\n%s", r.Code, r.Err, r.Out, want)
	}
	if q := api.requests()[0]; q.Path != "/v1/events" || q.Query != "cluster=sessions-01&limit=3&since=40" {
		t.Errorf("events asked %s?%s, want the query from the flags", q.Path, q.Query)
	}

	r = imctl(t, invocation{Args: api.args("events", "-o", "json")})
	var got eventsAnswer
	if err := json.Unmarshal([]byte(r.Out), &got); err != nil || len(got.Events) != 4 || got.Events[3].Seq != 44 {
		t.Errorf("imctl events -o json = %s (%v), want the API's answer", r.Out, err)
	}
}

// --follow prints each event as it comes; Ctrl-C (the context) ends it
// with exit 0.
func TestEventsFollow(t *testing.T) {
	api := newFakeAPI(t)
	api.Events = sampleEvents()[:2]
	api.FollowMore = sampleEvents()[2:]
	api.HoldOpen = true
	out := newSyncBuffer()
	api.AfterFirst = func() {
		if !out.waitFor("sdown") {
			t.Errorf("the first event was not printed before the next was sent:\n%s", out.String())
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan result)
	go func() {
		done <- imctl(t, invocation{Args: api.args("events", "--follow"), Ctx: ctx, Out: out})
	}()
	if !out.waitFor("promote 10.0.0.3:6379") {
		t.Fatalf("events --follow printed:\n%s\nwant all four events", out.String())
	}
	cancel() // Ctrl-C
	r := <-done
	if r.Code != exitOK || strings.Count(out.String(), "\n") != 5 {
		t.Errorf("events --follow after Ctrl-C = exit %d %q, output:\n%s\nwant 0, a header and 4 events", r.Code, r.Err, out.String())
	}
	if q := api.requests()[0]; q.Query != "follow=1" || q.Accept != mimeNDJSON {
		t.Errorf("events --follow asked %q with Accept %q, want follow=1 and %s", q.Query, q.Accept, mimeNDJSON)
	}
}

// A stream the sentinel ends is a failure that says how to continue.
func TestEventsFollowEnded(t *testing.T) {
	api := newFakeAPI(t)
	api.Events = sampleEvents()
	r := imctl(t, invocation{Args: api.args("events", "--follow", "-o", "json", "--since", "40")})
	lines := strings.Split(strings.TrimSpace(r.Out), "\n")
	var last store.Entry
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || len(lines) != 4 || last.Seq != 44 {
		t.Errorf("events --follow -o json printed\n%s\nwant 4 NDJSON events (%v)", r.Out, err)
	}
	want := "imctl: " + api.URL() + " ended the event stream (did the sentinel stop?); continue with `imctl events --follow --since 44`\n"
	if r.Code != exitFailed || r.Err != want {
		t.Errorf("ended stream: exit %d %q, want 1 %q", r.Code, r.Err, want)
	}
}

func TestEventSummaries(t *testing.T) {
	for _, c := range []struct {
		typ, detail, want string
	}{
		{"step", `{"step":"fence","targets":["a:1"],"epoch":3,"took_ms":500,"err":"dial tcp a:1: i/o timeout"}`,
			"epoch 3: fence a:1: FAILED in 500ms: dial tcp a:1: i/o timeout"},
		{"failover-done", `{"epoch":3,"committed":true,"routed":true}`, "epoch 3: done (committed yes, routed yes)"},
		{"failover-done", `{"epoch":3,"committed":false,"why":"lease lost"}`, "epoch 3: did not finish (committed no, routed no): lease lost"},
		{"failover-plan", `{"epoch":3,"plan":{"old_primary":"a:1","new_primary":"b:1","fence_wait":"strict","steps":[{"n":1},{"n":2}]}}`,
			"epoch 3: a:1 -> b:1, 2 steps, fence_wait strict"},
		{"failover-plan", `{"epoch":3,"plan":{"old_primary":"a:1","why":"no replica can be promoted"}}`,
			"epoch 3: no plan: no replica can be promoted"},
		{"agreement:odown", `{"epoch":2,"detail":"3/3 say down"}`, "epoch 2: 3/3 say down"},
		{"repair", `{"target":"a:1","ok":true,"list":[1,2]}`, "list=[1,2] ok=true target=a:1"},
		{"operator", ``, ""},
	} {
		if got := summarize(event(1, "c", c.typ, c.detail)); got != c.want {
			t.Errorf("summarize(%s %s) = %q, want %q", c.typ, c.detail, got, c.want)
		}
	}
}
