package route

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// DefaultTimeout bounds each routing call when Options.Timeout is zero
// (the config default, routing.timeout).
const DefaultTimeout = 500 * time.Millisecond

var (
	// ErrInvalidEntry: Write was given an entry it must not store (no
	// cluster, epoch 0, no kind, a primary or replica that is not host:port).
	ErrInvalidEntry = errors.New("invalid route entry")
	// ErrInvalidOptions: New was given options it cannot work with.
	ErrInvalidOptions = errors.New("invalid routing options")
)

// Options configure a Writer. They mirror the routing section of the config
// (routing.*) plus who writes.
type Options struct {
	// Addr is the routing Redis, host:port. Required.
	Addr string
	// Username is the Redis ACL user; "" is the default user.
	Username string
	// Password for the routing Redis; "" for none. Never logged or put in
	// an error.
	Password string
	// DB is the Redis database number. Default 0.
	DB int
	// Prefix starts every key and channel. Default DefaultPrefix
	// ("imsentinel:") when empty.
	Prefix string
	// Timeout bounds dialing and each read and write of one call.
	// Default DefaultTimeout (500ms) when zero. A whole Write takes at most
	// about three timeouts (dial, EVALSHA, EVAL after NOSCRIPT).
	Timeout time.Duration
	// Fleet is this fleet's name (fleet.name), stored in every entry; a key
	// holding another fleet's name is never overwritten. Required.
	Fleet string
	// Sentinel names this sentinel, stored as updated_by. Required.
	Sentinel string
	// Now is the clock for updated_at and Change.At. Default time.Now.
	Now func() time.Time
}

// Result is what Write did.
type Result struct {
	// Written: the entry was stored and the Change published.
	Written bool
	// Unchanged: the stored entry already had this epoch, primary, kind,
	// replicas and fleet; nothing was written or published. Not a refusal.
	Unchanged bool
	// Refused says why the script would not write ("" when Written or
	// Unchanged): "owned by fleet X (we are Y)", "stored epoch 9 > 7",
	// "epoch 7 names primary X, stored names Y", or a malformed stored entry.
	Refused string
	// Stored is the entry in the routing Redis after the script (the zero
	// Entry, with Cluster set, if there is none).
	Stored Entry
}

// Writer writes and reads routing entries in one routing Redis. It holds
// one small go-redis client; it is safe for concurrent use. Every call has
// a deadline (Options.Timeout and ctx) and is never retried silently: a
// failed call returns an error and the caller decides to try again.
type Writer struct {
	addr     string
	prefix   string
	fleet    string
	sentinel string
	now      func() time.Time
	c        *redis.Client
	cas      *redis.Script
}

// New returns a Writer. It does not connect: the first call does.
//
// go-redis logs pool errors through a process-wide logger; main silences it
// with redis.SetLogger.
func New(o Options) (*Writer, error) {
	var errs []error
	if o.Addr == "" {
		errs = append(errs, errors.New("addr: empty"))
	}
	if o.Fleet == "" {
		errs = append(errs, errors.New("fleet: empty"))
	}
	if o.Sentinel == "" {
		errs = append(errs, errors.New("sentinel: empty"))
	}
	if o.DB < 0 {
		errs = append(errs, fmt.Errorf("db: %d: must be 0 or more", o.DB))
	}
	if o.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout: %v: must be positive", o.Timeout))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOptions, errors.Join(errs...))
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c := redis.NewClient(&redis.Options{
		Addr:                  o.Addr,
		Username:              o.Username,
		Password:              o.Password,
		DB:                    o.DB,
		Protocol:              2, // no HELLO round trip
		DialTimeout:           o.Timeout,
		DialerRetries:         1,
		ReadTimeout:           o.Timeout,
		WriteTimeout:          o.Timeout,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1, // no silent retries: the caller retries
		PoolSize:              4,
		PoolTimeout:           o.Timeout,
		DisableIdentity:       true, // no CLIENT SETINFO
		MaintNotificationsConfig: &maintnotifications.Config{
			Mode: maintnotifications.ModeDisabled,
		},
	})
	return &Writer{addr: o.Addr, prefix: o.Prefix, fleet: o.Fleet, sentinel: o.Sentinel,
		now: o.Now, c: c, cas: newCAS()}, nil
}

// Key is the hash holding cluster's route: <prefix>route:<cluster>.
func (w *Writer) Key(cluster string) string { return w.prefix + "route:" + cluster }

// Channel is where changes are published: <prefix>routes.
func (w *Writer) Channel() string { return w.prefix + "routes" }

// Write stores e as cluster e.Cluster's route if the compare-and-set allows
// it (DESIGN.md §6.7), and publishes the Change with reason in the same
// atomic script. e.Fleet, e.UpdatedBy and e.UpdatedAt are ignored: the
// writer sets its fleet, its sentinel name and its clock's now.
//
// A refusal is a Result with Refused set, not an error. An error means the
// entry was invalid (ErrInvalidEntry) or the routing Redis could not be
// asked or did not answer in time. After a timeout the outcome is unknown:
// the script may have run (a lost reply), or may still run later (a server
// that was paused runs what it had received when it resumes; measured). The
// caller reads or writes again: writing the same entry twice is harmless
// (Unchanged), and a late stale write is refused by the epoch check.
func (w *Writer) Write(ctx context.Context, e Entry, reason string) (Result, error) {
	if err := e.validate(); err != nil {
		return Result{}, fmt.Errorf("write route %s: %w", e.Cluster, err)
	}
	e.Fleet, e.UpdatedBy = w.fleet, w.sentinel
	e.UpdatedAt = w.now().UTC().Truncate(time.Millisecond)
	head, tail, err := changeTemplate(Change{Cluster: e.Cluster, Primary: e.Primary,
		Epoch: e.Epoch, Reason: reason, At: e.UpdatedAt})
	if err != nil {
		return Result{}, fmt.Errorf("write route %s epoch %d: %w", e.Cluster, e.Epoch, err)
	}
	f := e.fields()
	key := w.Key(e.Cluster)
	reply, err := w.cas.Run(ctx, w.c, []string{key},
		w.fleet, f[FieldEpoch], f[FieldPrimary], f[FieldKind], f[FieldReplicas],
		f[FieldUpdatedAt], f[FieldUpdatedBy], w.Channel(), head, tail).StringSlice()
	if err != nil {
		return Result{}, fmt.Errorf("write route %s epoch %d to routing redis %s: %w", e.Cluster, e.Epoch, w.addr, err)
	}
	if len(reply) == 0 || len(reply)%2 != 1 {
		return Result{}, fmt.Errorf("write route %s epoch %d to routing redis %s: unexpected script reply %q",
			e.Cluster, e.Epoch, w.addr, reply)
	}
	h := pairs(reply[1:])
	stored, perr := parseEntry(e.Cluster, h)
	res := Result{Stored: stored}
	switch outcome := reply[0]; outcome {
	case outWritten:
		res.Written = true
	case outUnchanged:
		res.Unchanged = true
	default:
		res.Refused = refusal(outcome, stored, e, h[FieldEpoch], key)
		return res, nil // a refused entry may be malformed: perr is in Refused
	}
	if perr != nil {
		return res, fmt.Errorf("write route %s epoch %d to routing redis %s: stored entry: %w", e.Cluster, e.Epoch, w.addr, perr)
	}
	return res, nil
}

// Read returns cluster's stored route; found is false when there is none.
// A stored entry with malformed fields is returned as far as it parsed,
// with found true and an error naming the fields.
func (w *Writer) Read(ctx context.Context, cluster string) (Entry, bool, error) {
	h, err := w.c.HGetAll(ctx, w.Key(cluster)).Result()
	if err != nil {
		return Entry{Cluster: cluster}, false, fmt.Errorf("read route %s from routing redis %s: %w", cluster, w.addr, err)
	}
	if len(h) == 0 {
		return Entry{Cluster: cluster}, false, nil
	}
	e, err := parseEntry(cluster, h)
	if err != nil {
		return e, true, fmt.Errorf("read route %s from routing redis %s: key %s: %w", cluster, w.addr, w.Key(cluster), err)
	}
	return e, true, nil
}

// Reconcile is the steward's repair: it reads the stored route and, when
// NeedsWrite says so, writes committed with reason "reconcile: <why>". It
// returns what happened and NeedsWrite's explanation. When no write is
// needed, the Result is Unchanged if the stored entry already says what
// committed says, and otherwise Refused with the explanation (a higher
// stored epoch, another fleet, another primary at this epoch). The write is
// still the compare-and-set, so a route that moved between the read and the
// write is not overwritten (Result.Refused).
func (w *Writer) Reconcile(ctx context.Context, committed Entry) (Result, string, error) {
	stored, found, err := w.Read(ctx, committed.Cluster)
	if err != nil && !found {
		return Result{}, "", fmt.Errorf("reconcile: %w", err)
	}
	var sp *Entry
	if found {
		sp = &stored
	}
	committed.Fleet = w.fleet
	need, why := NeedsWrite(sp, committed)
	if !need {
		if sameRoute(stored, committed) {
			return Result{Stored: stored, Unchanged: true}, why, nil
		}
		return Result{Stored: stored, Refused: why}, why, nil
	}
	res, err := w.Write(ctx, committed, "reconcile: "+why)
	if err != nil {
		return res, why, fmt.Errorf("reconcile: %w", err)
	}
	return res, why, nil
}

// Close closes the client's connections.
func (w *Writer) Close() error {
	if err := w.c.Close(); err != nil {
		return fmt.Errorf("close routing redis client %s: %w", w.addr, err)
	}
	return nil
}

// pairs turns a flat HGETALL reply into a map.
func pairs(flat []string) map[string]string {
	m := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		m[flat[i]] = flat[i+1]
	}
	return m
}

// oldPrimaryMark stands for old_primary while the Change JSON is split
// around it; the script splices in the stored primary.
const oldPrimaryMark = "\x00old_primary\x00"

// changeTemplate encodes c (its OldPrimary ignored) and splits the JSON
// around the old_primary value, so the script can publish exactly the
// encoding of Change with the primary it replaced.
func changeTemplate(c Change) (head, tail string, err error) {
	c.OldPrimary = oldPrimaryMark
	b, err := json.Marshal(c)
	if err != nil {
		return "", "", fmt.Errorf("encode change: %w", err)
	}
	mark, _ := json.Marshal(oldPrimaryMark)
	h, t, ok := bytes.Cut(b, mark)
	if !ok {
		return "", "", fmt.Errorf("encode change: old_primary mark not found in %s", b)
	}
	return string(h), string(t), nil
}
