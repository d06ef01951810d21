package main

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/quorum/store"
	"github.com/imsentinel/imsentinel/sentinel"
)

// testNow is the clock of every test.
var testNow = time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)

// fakeAPI is an admin API as docs/api.md specifies it, answering from its
// fields and recording every request.
type fakeAPI struct {
	t   *testing.T
	srv *httptest.Server

	Token     string // required on POSTs when set (401 otherwise)
	Clusters  []clusterView
	Fleet     fleetAnswer
	Events    []store.Entry
	DryRun    dryRunAnswer
	Refuse    string          // 409 reason for every failover call
	BadTo     string          // a "to" answered with 400
	Steps     []store.Entry   // streamed as {"event"} lines
	Outcome   failoverOutcome // the last line, or the whole answer
	NoStream  bool            // ignore Accept: answer the failover with one JSON object
	NoOutcome bool            // end the stream without the outcome line
	StreamErr string          // end the stream with {"error": StreamErr} instead
	// AfterFirst runs once the first streamed line (failover) or event
	// (events?follow=1) is flushed, before the rest: tests use it to see
	// that imctl printed it before the stream ended.
	AfterFirst func()
	// FollowMore are events streamed after AfterFirst; then the stream
	// ends unless HoldOpen.
	FollowMore []store.Entry
	HoldOpen   bool
	// Instance answers POST .../instances/{instance}/{action} (its Action
	// and Instance taken from the path) unless the instance is not in the
	// cluster (404) or Refuse is set (409).
	Instance sentinel.InstanceOutcome

	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	Method, Path, Query, Auth, Accept, Body string
}

func newFakeAPI(t *testing.T) *fakeAPI {
	t.Helper()
	f := &fakeAPI{t: t}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/clusters", func(w http.ResponseWriter, r *http.Request) {
		f.reply(w, 200, map[string]any{"sentinel": "s1", "clusters": f.Clusters})
	})
	mux.HandleFunc("GET /v1/clusters/{name}", func(w http.ResponseWriter, r *http.Request) {
		if c := f.cluster(r.PathValue("name")); c != nil {
			f.reply(w, 200, c)
			return
		}
		f.fail(w, 404, "no cluster named "+r.PathValue("name")+" (GET /v1/clusters lists them)")
	})
	mux.HandleFunc("GET /v1/fleet", func(w http.ResponseWriter, r *http.Request) { f.reply(w, 200, f.Fleet) })
	mux.HandleFunc("GET /v1/events", f.events)
	mux.HandleFunc("POST /v1/clusters/{name}/failover", f.failover)
	mux.HandleFunc("POST /v1/clusters/{name}/pause", f.pause)
	mux.HandleFunc("POST /v1/clusters/{name}/resume", f.pause)
	mux.HandleFunc("POST /v1/clusters/{name}/instances/{instance}/{action}", f.instance)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		f.fail(w, 404, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		f.mu.Lock()
		f.reqs = append(f.reqs, recorded{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
			Auth: r.Header.Get("Authorization"), Accept: r.Header.Get("Accept"), Body: string(body)})
		f.mu.Unlock()
		if r.Method == http.MethodPost && f.Token != "" &&
			subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+f.Token)) != 1 {
			f.fail(w, 401, "this call needs the admin token (Authorization: Bearer)")
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// URL is the API's base URL.
func (f *fakeAPI) URL() string { return f.srv.URL }

func (f *fakeAPI) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

func (f *fakeAPI) cluster(name string) *clusterView {
	for i := range f.Clusters {
		if f.Clusters[i].Name == name {
			return &f.Clusters[i]
		}
	}
	return nil
}

func (f *fakeAPI) reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		f.t.Errorf("fake API: encode answer: %v", err)
	}
}

func (f *fakeAPI) fail(w http.ResponseWriter, status int, msg string) {
	f.reply(w, status, map[string]string{"error": msg})
}

// line writes one NDJSON line and flushes it.
func (f *fakeAPI) line(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		f.t.Errorf("fake API: encode line: %v", err)
	}
	w.Write(append(b, '\n'))
	w.(http.Flusher).Flush()
}

func (f *fakeAPI) events(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var sel []store.Entry
	for _, e := range f.Events {
		if c := q.Get("cluster"); c != "" && e.Cluster != c {
			continue
		}
		sel = append(sel, e)
	}
	if q.Get("follow") != "1" {
		f.reply(w, 200, eventsAnswer{Events: sel})
		return
	}
	w.Header().Set("Content-Type", mimeNDJSON)
	w.WriteHeader(200)
	for i, e := range sel {
		f.line(w, e)
		if i == 0 && f.AfterFirst != nil {
			f.AfterFirst()
		}
	}
	for _, e := range f.FollowMore {
		f.line(w, e)
	}
	if f.HoldOpen {
		<-r.Context().Done()
	}
}

func (f *fakeAPI) failover(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if f.cluster(name) == nil {
		f.fail(w, 404, "no cluster named "+name+" (GET /v1/clusters lists them)")
		return
	}
	var req failoverRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		f.fail(w, 400, "body is not JSON: "+err.Error())
		return
	}
	switch {
	case f.Refuse != "":
		f.fail(w, 409, f.Refuse)
		return
	case req.To != "" && req.To == f.BadTo:
		f.fail(w, 400, req.To+" is not a replica of "+name)
		return
	case req.DryRun:
		f.reply(w, 200, f.DryRun)
		return
	case f.NoStream || r.Header.Get("Accept") != mimeNDJSON:
		f.reply(w, 200, f.Outcome)
		return
	}
	w.Header().Set("Content-Type", mimeNDJSON)
	w.WriteHeader(200)
	for i := range f.Steps {
		f.line(w, failoverLine{Event: &f.Steps[i]})
		if i == 0 && f.AfterFirst != nil {
			f.AfterFirst()
		}
	}
	switch {
	case f.StreamErr != "":
		f.line(w, failoverLine{Error: f.StreamErr})
	case !f.NoOutcome:
		f.line(w, failoverLine{Outcome: &f.Outcome})
	}
}

func (f *fakeAPI) pause(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	c := f.cluster(name)
	if c == nil {
		f.fail(w, 404, "no cluster named "+name+" (GET /v1/clusters lists them)")
		return
	}
	if f.Refuse != "" {
		f.fail(w, 409, f.Refuse)
		return
	}
	ans := map[string]any{"cluster": name, "epoch": c.Epoch + 1}
	if strings.HasSuffix(r.URL.Path, "/pause") {
		var req pauseRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			f.fail(w, 400, "body is not JSON: "+err.Error())
			return
		}
		d := time.Hour
		if req.For != "" {
			var err error
			if d, err = time.ParseDuration(req.For); err != nil {
				f.fail(w, 400, "for: "+err.Error())
				return
			}
		}
		ans["paused_until"] = testNow.Add(d)
	} else {
		ans["paused_until"] = nil
	}
	f.reply(w, 200, ans)
}

// syncBuffer is an output buffer that goroutines may read while imctl
// writes it; waitFor blocks until it holds a string.
type syncBuffer struct {
	mu   sync.Mutex
	b    bytes.Buffer
	more chan struct{}
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{more: make(chan struct{}, 1)} }

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case s.more <- struct{}{}:
	default:
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor waits until the buffer holds want; false after 10 s.
func (s *syncBuffer) waitFor(want string) bool {
	deadline := time.After(10 * time.Second)
	for !strings.Contains(s.String(), want) {
		select {
		case <-s.more:
		case <-deadline:
			return false
		}
	}
	return true
}

// result is what one imctl run did.
type result struct {
	Out, Err string
	Code     int
}

// invocation is one imctl run: arguments, stdin, environment.
type invocation struct {
	Args  []string
	Stdin string
	Env   map[string]string
	Ctx   context.Context
	Out   io.Writer // default a buffer in the result
}

func imctl(t *testing.T, inv invocation) result {
	t.Helper()
	var out, errOut bytes.Buffer
	var stdout io.Writer = &out
	if inv.Out != nil {
		stdout = inv.Out
	}
	ctx := inv.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	code := run(ctx, inv.Args, ioStreams{
		In: strings.NewReader(inv.Stdin), Out: stdout, ErrOut: &errOut,
		Getenv: func(k string) string { return inv.Env[k] },
		Now:    func() time.Time { return testNow },
	})
	return result{Out: out.String(), Err: errOut.String(), Code: code}
}

// args is imctl's arguments with --sentinel pointing at f.
func (f *fakeAPI) args(a ...string) []string {
	return append(a, "--sentinel", f.URL())
}

// wantLines fails unless text holds every want, naming what is missing.
func wantLines(t *testing.T, what, text string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("%s lacks %q; got:\n%s", what, w, text)
		}
	}
}

// sampleCluster is a Redis cluster with a primary, two replicas (one 512
// bytes behind, one SDOWN) and a condition.
func sampleCluster() clusterView {
	c := clusterView{ClusterView: sentinel.ClusterView{
		Name: "sessions-01", Kind: "redis", Mode: "auto", Primary: "10.0.0.1:6379", Epoch: 7,
		State: sentinel.StateOK, UpdatedAt: testNow,
		Agreement: sentinel.Agreement{Tally: "0/3 say down", Vantage: "2 replicas see the primary",
			Lease: &sentinel.LeaseView{Holder: "s2", Epoch: 7, Reason: "steward"}},
		Instances: []sentinel.InstanceView{
			{Address: "10.0.0.1:6379", Source: sentinel.SourceConfig, Observation: redisObs(true, 0, 10_000)},
			{Address: "10.0.0.2:6379", Source: sentinel.SourceDiscovered, DiscoveredFrom: "10.0.0.1:6379",
				Observation: redisObs(false, 9_488, 0)},
			{Address: "10.0.0.3:6379", Source: sentinel.SourceDiscovered, DiscoveredFrom: "10.0.0.1:6379", SDOWN: true},
		},
		Conditions: []sentinel.Condition{{Name: "SelfFenceRelaxed", Severity: sentinel.SeverityWarning,
			Instance: "10.0.0.1:6379", Detail: "min-replicas-to-write 1 (configured 2)", Since: testNow}},
	}}
	return c
}

func (f *fakeAPI) instance(w http.ResponseWriter, r *http.Request) {
	name, inst := r.PathValue("name"), r.PathValue("instance")
	c := f.cluster(name)
	if c == nil {
		f.fail(w, 404, "no cluster named "+name+" (GET /v1/clusters lists them)")
		return
	}
	found := false
	for _, in := range c.Instances {
		found = found || in.Address == inst
	}
	if !found {
		f.fail(w, 404, "no such instance: "+inst+" is not an instance of cluster "+name)
		return
	}
	if f.Refuse != "" {
		f.fail(w, 409, f.Refuse)
		return
	}
	out := f.Instance
	out.Cluster, out.Instance, out.Action = name, inst, r.PathValue("action")
	f.reply(w, 200, out)
}
