package redisnode

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Defaults for zero Options and poll arguments.
const (
	// DefaultTimeout bounds dialing and each read and write when
	// Options.Timeout is zero.
	DefaultTimeout = 500 * time.Millisecond
	// DefaultPoll is the pause between two polls (Promote, WaitReplicas)
	// when the caller passes zero or less.
	DefaultPoll = 20 * time.Millisecond
)

// adminPrefix starts the CLIENT SETNAME of every imsentinel admin
// connection; AdminName appends "<fleet>:<sentinel>".
const adminPrefix = "imsentinel-admin:"

var (
	// ErrRewrite marks the failure of the best-effort CONFIG REWRITE after
	// Promote or ReplicaOf: the change took effect on the node but is not
	// in its redis.conf, so a restart would undo it. A warning, not a
	// failed step: check with errors.Is.
	ErrRewrite = errors.New("config rewrite failed")
	// ErrNoAddress is returned by every call of a Node opened without an
	// Address (go-redis would otherwise dial localhost:6379).
	ErrNoAddress = errors.New("no address")
	// ErrClosed is returned by calls after Close.
	ErrClosed = errors.New("node closed")
)

// Options say how to reach a node and how to name this sentinel's admin
// connections.
type Options struct {
	Address  string // host:port to dial (after the address map); required
	Username string // ACL user; "" = default user
	Password string // "" = no AUTH
	Fleet    string // fleet name, part of AdminName
	Sentinel string // this sentinel's id, part of AdminName
	// Timeout bounds dialing and each read and write (not a whole call:
	// ctx does that). Default DefaultTimeout (500 ms).
	Timeout time.Duration
}

// Node is one Redis node's admin connection: a go-redis client with one
// pooled connection, named AdminName(Fleet, Sentinel) on every (re)connect.
//
// A Node is for one goroutine at a time: calls must not overlap, and Close
// must not run during a call (cancel the call's ctx instead).
type Node struct {
	o    Options
	name string // AdminName(o.Fleet, o.Sentinel)

	c      *redis.Client // nil until the first call, and after a connection error
	closed bool
}

// Open returns the admin connection of the node at o.Address. It does no
// I/O: the first call dials.
func Open(o Options) *Node {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	return &Node{o: o, name: AdminName(o.Fleet, o.Sentinel)}
}

// Address is the address the node dials (Options.Address).
func (n *Node) Address() string { return n.o.Address }

// Close closes the node's connection. Later calls return ErrClosed.
func (n *Node) Close() error {
	n.closed = true
	return n.drop()
}

// AdminName is the CLIENT SETNAME of this sentinel's admin connections:
// "imsentinel-admin:<fleet>:<sentinel>". Redis refuses names with bytes
// outside '!'..'~' (spaces, newlines, non-ASCII), so each such byte becomes
// '_'; so does ':' in the fleet, so that the prefix of one fleet is never the
// prefix of another ("a" and "a:b").
func AdminName(fleet, sentinel string) string {
	return adminPrefix + sanitize(fleet, true) + ":" + sanitize(sentinel, false)
}

// fleetPrefix is the name prefix of every admin connection of fleet.
func fleetPrefix(fleet string) string { return adminPrefix + sanitize(fleet, true) + ":" }

func sanitize(s string, colon bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '!' || c > '~' || (colon && c == ':') {
			c = '_'
		}
		b.WriteByte(c)
	}
	return b.String()
}

// client returns the node's go-redis client, creating it on first use.
func (n *Node) client() (*redis.Client, error) {
	switch {
	case n.closed:
		return nil, ErrClosed
	case n.o.Address == "":
		return nil, ErrNoAddress
	case n.c != nil:
		return n.c, nil
	}
	name := n.name
	n.c = redis.NewClient(&redis.Options{
		Addr:                  n.o.Address,
		Username:              n.o.Username,
		Password:              n.o.Password,
		Protocol:              2, // no HELLO round trip
		DialTimeout:           n.o.Timeout,
		DialerRetries:         1,
		ReadTimeout:           n.o.Timeout,
		WriteTimeout:          n.o.Timeout,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1, // a killed connection's command is never resent
		PoolSize:              1,
		PoolTimeout:           n.o.Timeout,
		DisableIdentity:       true, // no CLIENT SETINFO
		OnConnect: func(ctx context.Context, cn *redis.Conn) error {
			return cn.ClientSetName(ctx, name).Err()
		},
		MaintNotificationsConfig: &maintnotifications.Config{
			Mode: maintnotifications.ModeDisabled,
		},
	})
	return n.c, nil
}

// drop closes the client; the next call creates a new one.
func (n *Node) drop() error {
	if n.c == nil {
		return nil
	}
	err := n.c.Close()
	n.c = nil
	if err != nil {
		return fmt.Errorf("close redis node %s: %w", n.o.Address, err)
	}
	return nil
}

// run calls f with the client. After an error that is not the server's
// reply, it drops the client: go-redis remembers a failed dial and returns
// it again, without dialing, until its background redial succeeds (up to
// a second later), so a restarted or stopped node would be reported late.
// A fresh client dials at once.
func (n *Node) run(f func(c *redis.Client) error) error {
	c, err := n.client()
	if err != nil {
		return err
	}
	err = f(c)
	if err != nil && Classify(err) != Failed {
		_ = n.drop()
	}
	return err
}

// do runs one command and returns its reply.
func (n *Node) do(ctx context.Context, args ...any) (any, error) {
	var v any
	err := n.run(func(c *redis.Client) error {
		var err error
		v, err = c.Do(ctx, args...).Result()
		return err
	})
	return v, err
}

// pollUntil calls f every interval (DefaultPoll if ≤ 0) until it reports done,
// fails with an error Classify does not call Unreachable, or ctx ends.
// Unreachable errors are retried: the node may answer the next poll. When
// ctx ends it returns ctx's error, joined with f's last error.
func pollUntil(ctx context.Context, every time.Duration, f func() (bool, error)) error {
	if every <= 0 {
		every = DefaultPoll
	}
	t := time.NewTimer(every)
	defer t.Stop()
	for {
		done, err := f()
		switch {
		case err == nil && done:
			return nil
		case err != nil && Classify(err) != Unreachable:
			return err
		}
		t.Reset(every)
		select {
		case <-ctx.Done():
			if err != nil && !errors.Is(err, ctx.Err()) {
				return fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
			}
			return ctx.Err()
		case <-t.C:
		}
	}
}
