package bench

import (
	"bufio"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Kinds of events both systems' logs are reduced to.
const (
	evSDOWN     = "sdown"     // this sentinel's own verdict on the primary
	evODOWN     = "odown"     // this sentinel counts a quorum of SDOWN opinions
	evCandidate = "candidate" // this sentinel asks for votes
	evVote      = "vote"      // this sentinel grants its vote
	evElected   = "elected"   // this sentinel won the election
	// The failover that follows (the failover benchmark).
	evPromoteSent = "promote-sent" // Redis Sentinel sent REPLICAOF NO ONE (+failover-state-wait-promotion)
	evPromoted    = "promoted"     // the chosen replica reports itself primary, as this sentinel saw
	evRouted      = "routed"       // imsentinel wrote the route; Redis Sentinel switched the master
	evOther       = "other"        // any other agreement/failover event, kept for diagnosis
)

// event is one line of a sentinel's log that matters here.
type event struct {
	Sentinel string    `json:"sentinel"`
	Kind     string    `json:"kind"`
	At       time.Time `json:"at"`
	Text     string    `json:"text"`
}

// imsentinelLine is the part of an imsentinel JSON log line (slog's JSON
// handler: "time" in RFC 3339 with nanoseconds) read here.
type imsentinelLine struct {
	Time     time.Time `json:"time"`
	Msg      string    `json:"msg"`
	Instance string    `json:"instance"`
	Epoch    uint64    `json:"epoch"`
	Detail   string    `json:"detail"`
	Step     string    `json:"step"`
	// NewPrimary is on the failover executor's lines.
	NewPrimary string `json:"new_primary"`
}

// parseImsentinel reduces one imsentinel JSON log line to an event. primary
// is the address SDOWN lines must name (a replica's SDOWN is not counted).
func parseImsentinel(sentinel, primary, line string) (event, bool) {
	if !strings.HasPrefix(line, "{") {
		return event{}, false
	}
	var l imsentinelLine
	if err := json.Unmarshal([]byte(line), &l); err != nil {
		return event{}, false
	}
	var kind string
	switch l.Msg {
	case "instance is subjectively down":
		if l.Instance != primary {
			return event{}, false
		}
		kind = evSDOWN
	case "agreement: odown":
		kind = evODOWN
	// Only failover leases: the steward's leases (repairs of a settled
	// cluster, docs/failover.md) are other events.
	case "agreement: electing":
		kind = evOther
		if strings.Contains(l.Detail, "failover lease") {
			kind = evCandidate
		}
	case "agreement: voted":
		kind = evOther
		if strings.Contains(l.Detail, "(failover)") {
			kind = evVote
		}
	case "agreement: elected":
		kind = evOther
		if strings.Contains(l.Detail, "(failover)") {
			kind = evElected
		}
	case "failover: promoted":
		kind = evPromoted
	case "step done":
		if l.Step != "route" {
			return event{}, false
		}
		kind = evRouted
	case "instance answers again":
		if l.Instance != primary {
			return event{}, false
		}
		kind = evOther
	default:
		if !strings.HasPrefix(l.Msg, "agreement") {
			return event{}, false
		}
		kind = evOther
	}
	text := l.Msg
	if l.Detail != "" {
		text += ": " + l.Detail
	}
	if l.Step != "" {
		text += " step=" + l.Step
	}
	if l.NewPrimary != "" {
		text += " new_primary=" + l.NewPrimary
	}
	return event{Sentinel: sentinel, Kind: kind, At: l.Time, Text: text}, true
}

// redisSentinelLine matches a Redis 7 log line:
// "<pid>:X 05 Mar 2024 10:11:12.345 # +sdown master mymaster 127.0.0.1 6379".
// The timestamp is local time with milliseconds (truncated, not rounded).
var redisSentinelLine = regexp.MustCompile(`^\d+:[XCMS] (\d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2}\.\d{3}) [.\-*#] (.*)$`)

const redisTimeLayout = "02 Jan 2006 15:04:05.000"

// parseRedisSentinel reduces one Redis Sentinel log line to an event. Only
// events about the monitored master (named master) count for SDOWN and ODOWN.
func parseRedisSentinel(sentinel, master, line string) (event, bool) {
	m := redisSentinelLine.FindStringSubmatch(line)
	if m == nil {
		return event{}, false
	}
	at, err := time.ParseInLocation(redisTimeLayout, m[1], time.Local)
	if err != nil {
		return event{}, false
	}
	msg := m[2]
	var kind string
	switch {
	case strings.HasPrefix(msg, "+sdown master "+master+" "):
		kind = evSDOWN
	case strings.HasPrefix(msg, "+odown master "+master+" "):
		kind = evODOWN
	case strings.HasPrefix(msg, "+try-failover master "+master+" "):
		kind = evCandidate
	case strings.HasPrefix(msg, "+vote-for-leader "):
		kind = evVote
	case strings.HasPrefix(msg, "+elected-leader master "+master+" "):
		kind = evElected
	case strings.HasPrefix(msg, "+failover-state-wait-promotion ") && strings.Contains(msg, " @ "+master+" "):
		kind = evPromoteSent
	case strings.HasPrefix(msg, "+promoted-slave ") && strings.Contains(msg, " @ "+master+" "):
		kind = evPromoted
	case strings.HasPrefix(msg, "+switch-master "+master+" "):
		kind = evRouted
	case (strings.HasPrefix(msg, "+") || strings.HasPrefix(msg, "-")) && strings.Contains(msg, " "+master+" ") &&
		!strings.HasPrefix(msg, "+sdown") && !strings.HasPrefix(msg, "+odown"):
		kind = evOther
	default:
		return event{}, false
	}
	return event{Sentinel: sentinel, Kind: kind, At: at, Text: msg}, true
}

// readEvents parses a log file with parse; lines it does not know are
// skipped.
func readEvents(path string, parse func(line string) (event, bool)) ([]event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []event
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		if e, ok := parse(sc.Text()); ok {
			out = append(out, e)
		}
	}
	return out, sc.Err()
}

// The parsers are checked on lines as the daemons print them, so a changed
// log format fails `make test` rather than a benchmark run.
func TestParseLogLines(t *testing.T) {
	im := []struct {
		line string
		kind string
		ok   bool
	}{
		{`{"time":"2026-01-02T03:04:05.123456789Z","level":"WARN","msg":"instance is subjectively down","cluster":"sessions","kind":"redis","instance":"127.0.0.1:7000","role":"primary","reason":"silent"}`, evSDOWN, true},
		{`{"time":"2026-01-02T03:04:05.123456789Z","level":"INFO","msg":"instance is subjectively down","instance":"127.0.0.1:7001"}`, "", false},
		{`{"time":"2026-01-02T03:04:05.2Z","level":"INFO","msg":"agreement: odown","epoch":0,"detail":"2/2"}`, evODOWN, true},
		{`{"time":"2026-01-02T03:04:05.2Z","level":"INFO","msg":"agreement: electing","epoch":1,"detail":"asking for a failover lease at epoch 1 (ODOWN: 2 of quorum 2 report SDOWN)"}`, evCandidate, true},
		{`{"time":"2026-01-02T03:04:05.2Z","level":"INFO","msg":"agreement: voted","epoch":1,"detail":"granted to s2 for epoch 1 (failover)"}`, evVote, true},
		{`{"time":"2026-01-02T03:04:05.2Z","level":"INFO","msg":"agreement: elected","epoch":1,"detail":"epoch 1 (failover) by s1: 2 of majority 2 granted (s1, s2); s3 no answer"}`, evElected, true},
		{`{"time":"2026-01-02T03:04:05.2Z","level":"INFO","msg":"agreement: electing","epoch":1,"detail":"asking for a steward lease at epoch 1 (not ODOWN)"}`, evOther, true},
		{`{"time":"2026-01-02T03:04:05.2Z","level":"INFO","msg":"agreement: voted","epoch":1,"detail":"granted to s2 for epoch 1 (steward)"}`, evOther, true},
		{`{"time":"2026-01-02T03:04:05.2Z","level":"INFO","msg":"agreement: elected","epoch":1,"detail":"epoch 1 (steward) by s1: 2 of majority 2 granted (s1, s2)"}`, evOther, true},
		{`{"time":"2026-01-02T03:04:05.2Z","level":"INFO","msg":"agreement: odown-cleared"}`, evOther, true},
		{`{"time":"2026-01-02T03:04:05.2Z","level":"INFO","msg":"discovered instance"}`, "", false},
		{`{"time":"2026-01-02T03:04:05.2Z","level":"INFO","msg":"failover: promoted","cluster":"sessions","epoch":3,"old_primary":"127.0.0.1:7000","new_primary":"127.0.0.1:7001","offset":42}`, evPromoted, true},
		{`{"time":"2026-01-02T03:04:05.2Z","level":"INFO","msg":"step done","cluster":"sessions","step":"route","targets":["routing"],"epoch":3,"took":1000}`, evRouted, true},
		{`{"time":"2026-01-02T03:04:05.2Z","level":"INFO","msg":"step done","cluster":"sessions","step":"promote","targets":["127.0.0.1:7001"],"epoch":3}`, "", false},
		{`{"time":"2026-01-02T03:04:05.2Z","level":"WARN","msg":"step failed","cluster":"sessions","step":"route","epoch":3,"err":"down"}`, "", false},
		{`panic: something`, "", false},
	}
	for _, c := range im {
		e, ok := parseImsentinel("s1", "127.0.0.1:7000", c.line)
		if ok != c.ok || e.Kind != c.kind {
			t.Errorf("parseImsentinel(%s) = %+v, %v; want kind %q, %v", c.line, e, ok, c.kind, c.ok)
		}
	}
	e, _ := parseImsentinel("s1", "127.0.0.1:7000", im[0].line)
	if want := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC); !e.At.Equal(want) {
		t.Errorf("time %v, want %v", e.At, want)
	}

	rs := []struct {
		line string
		kind string
		ok   bool
	}{
		{`4242:X 05 Mar 2024 10:11:12.345 # +sdown master mymaster 127.0.0.1 6379`, evSDOWN, true},
		{`4242:X 05 Mar 2024 10:11:12.345 # +sdown slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379`, "", false},
		{`4242:X 05 Mar 2024 10:11:12.345 # +sdown sentinel 0123 127.0.0.1 26379 @ mymaster 127.0.0.1 6379`, "", false},
		{`4242:X 05 Mar 2024 10:11:12.345 # +odown master mymaster 127.0.0.1 6379 #quorum 2/2`, evODOWN, true},
		{`4242:X 05 Mar 2024 10:11:12.345 # +try-failover master mymaster 127.0.0.1 6379`, evCandidate, true},
		{`4242:X 05 Mar 2024 10:11:12.345 # +vote-for-leader 5b2c 1`, evVote, true},
		{`4242:X 05 Mar 2024 10:11:12.345 # +elected-leader master mymaster 127.0.0.1 6379`, evElected, true},
		{`4242:X 05 Mar 2024 10:11:12.345 * Sentinel new configuration saved on disk`, "", false},
		{`4242:X 05 Mar 2024 10:11:12.345 # +new-epoch 1`, "", false},
		{`4242:X 05 Mar 2024 10:11:12.345 # +failover-state-select-slave master mymaster 127.0.0.1 6379`, evOther, true},
		{`4242:X 05 Mar 2024 10:11:12.345 # +failover-state-wait-promotion slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379`, evPromoteSent, true},
		{`4242:X 05 Mar 2024 10:11:12.345 # +promoted-slave slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379`, evPromoted, true},
		{`4242:X 05 Mar 2024 10:11:12.345 # +switch-master mymaster 127.0.0.1 6379 127.0.0.1 6380`, evRouted, true},
		{`4242:X 05 Mar 2024 10:11:12.345 # +switch-master other 127.0.0.1 6379 127.0.0.1 6380`, "", false},
		{`4242:X 05 Mar 2024 10:11:12.345 * +slave-reconf-sent slave 127.0.0.1:6381 127.0.0.1 6381 @ mymaster 127.0.0.1 6379`, evOther, true},
	}
	for _, c := range rs {
		e, ok := parseRedisSentinel("r1", "mymaster", c.line)
		if ok != c.ok || e.Kind != c.kind {
			t.Errorf("parseRedisSentinel(%s) = %+v, %v; want kind %q, %v", c.line, e, ok, c.kind, c.ok)
		}
	}
	e, _ = parseRedisSentinel("r1", "mymaster", rs[0].line)
	if want := time.Date(2024, 3, 5, 10, 11, 12, 345e6, time.Local); !e.At.Equal(want) {
		t.Errorf("time %v, want %v", e.At, want)
	}
}
