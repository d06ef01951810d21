package route

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/imsentinel/imsentinel/promote/route"
	"github.com/imsentinel/imsentinel/test/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }

// Deadlines, generous for a loaded 2-core CI machine (DESIGN.md §8). Polls
// end as soon as their condition holds; nothing sleeps for these.
const (
	callTimeout  = 2 * time.Second // route.Options.Timeout in most tests
	pollDeadline = 30 * time.Second
)

var at = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

// newWriter returns a writer on r for fleet and sentinel, closed when the
// test ends.
func newWriter(t *testing.T, r *harness.Redis, o route.Options) *route.Writer {
	t.Helper()
	o.Addr = r.Addr
	if o.Password == "" {
		o.Password = r.Password
	}
	if o.Fleet == "" {
		o.Fleet = "im-prod"
	}
	if o.Sentinel == "" {
		o.Sentinel = "s1"
	}
	if o.Timeout == 0 {
		o.Timeout = callTimeout
	}
	if o.Now == nil {
		o.Now = func() time.Time { return at }
	}
	w, err := route.New(o)
	if err != nil {
		t.Fatalf("route.New: %v", err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Errorf("close writer: %v", err)
		}
	})
	return w
}

func entry(epoch uint64, primary string, replicas ...string) route.Entry {
	return route.Entry{Cluster: "msg-shard-01", Kind: "redis", Epoch: epoch, Primary: primary, Replicas: replicas}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), pollDeadline)
	t.Cleanup(cancel)
	return c
}

// endMark is published by a test after its writes: messages on one channel
// arrive in publish order, so every change published before the mark has
// arrived once the mark has.
const endMark = "test: end"

// sub is a subscription to a changes channel, confirmed before any write.
type sub struct {
	t       *testing.T
	c       *redis.Client
	channel string
	ps      *redis.PubSub
}

func subscribe(t *testing.T, r *harness.Redis, channel string) *sub {
	t.Helper()
	c := r.Client(t)
	ps := c.Subscribe(ctx(t), channel)
	t.Cleanup(func() { _ = ps.Close() })
	if _, err := ps.Receive(ctx(t)); err != nil { // the subscribe confirmation
		t.Fatalf("subscribe %s: %v", channel, err)
	}
	return &sub{t: t, c: c, channel: channel, ps: ps}
}

// drain publishes endMark and returns every change received before it.
func (s *sub) drain() []route.Change {
	s.t.Helper()
	if err := s.c.Publish(ctx(s.t), s.channel, endMark).Err(); err != nil {
		s.t.Fatalf("publish end mark on %s: %v", s.channel, err)
	}
	var got []route.Change
	for {
		m, err := s.ps.ReceiveTimeout(ctx(s.t), pollDeadline)
		if err != nil {
			s.t.Fatalf("receive on %s after %d changes: %v", s.channel, len(got), err)
		}
		msg, ok := m.(*redis.Message)
		if !ok {
			continue
		}
		if msg.Payload == endMark {
			return got
		}
		var c route.Change
		if err := json.Unmarshal([]byte(msg.Payload), &c); err != nil {
			s.t.Fatalf("change on %s is not JSON: %q: %v", s.channel, msg.Payload, err)
		}
		got = append(got, c)
	}
}

// show formats changes one per line for failure messages.
func show(cs []route.Change) string {
	s := ""
	for _, c := range cs {
		b, _ := json.Marshal(c)
		s += "\n  " + string(b)
	}
	return s
}

// hash is the raw stored hash of a key.
func hash(t *testing.T, c *redis.Client, key string) map[string]string {
	t.Helper()
	h, err := c.HGetAll(ctx(t), key).Result()
	if err != nil {
		t.Fatalf("HGETALL %s: %v", key, err)
	}
	return h
}

func describe(res route.Result) string {
	return fmt.Sprintf("written=%v unchanged=%v refused=%q stored={%v}", res.Written, res.Unchanged, res.Refused, res.Stored)
}
