package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"

	"github.com/imsentinel/imsentinel/promote/route"
)

// fakeRedis is a loopback Redis that answers AUTH, SELECT and HGETALL from
// a map of hashes: enough for route get.
type fakeRedis struct {
	Addr     string
	password string
	hashes   map[string]map[string]string
	mu       sync.Mutex
	cmds     []string // "AUTH", "SELECT 2", "HGETALL key"
}

func newFakeRedis(t *testing.T, password string, hashes map[string]map[string]string) *fakeRedis {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &fakeRedis{Addr: l.Addr().String(), password: password, hashes: hashes}
	var wg sync.WaitGroup
	var conns sync.Map
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns.Store(c, true)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				r.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		conns.Range(func(c, _ any) bool { c.(net.Conn).Close(); return true })
		wg.Wait() // no goroutine outlives the test
	})
	return r
}

func (r *fakeRedis) commands() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.cmds...)
}

func (r *fakeRedis) serve(c net.Conn) {
	rd := bufio.NewReader(c)
	authed := r.password == ""
	for {
		args, err := readCommand(rd)
		if err != nil {
			return
		}
		name := strings.ToUpper(args[0])
		logged := name
		if name != "AUTH" && name != "HELLO" && len(args) > 1 {
			logged += " " + strings.Join(args[1:], " ")
		}
		r.mu.Lock()
		r.cmds = append(r.cmds, logged)
		r.mu.Unlock()
		var reply string
		switch {
		case name == "AUTH":
			if args[len(args)-1] != r.password {
				reply = "-WRONGPASS invalid username-password pair\r\n"
				break
			}
			authed, reply = true, "+OK\r\n"
		case !authed:
			reply = "-NOAUTH Authentication required.\r\n"
		case name == "SELECT":
			reply = "+OK\r\n"
		case name == "HGETALL" && len(args) == 2:
			h := r.hashes[args[1]]
			var b strings.Builder
			fmt.Fprintf(&b, "*%d\r\n", 2*len(h))
			for k, v := range h {
				fmt.Fprintf(&b, "$%d\r\n%s\r\n$%d\r\n%s\r\n", len(k), k, len(v), v)
			}
			reply = b.String()
		default:
			reply = "-ERR unknown command '" + args[0] + "'\r\n"
		}
		if _, err := io.WriteString(c, reply); err != nil {
			return
		}
	}
}

// readCommand reads one RESP array of bulk strings.
func readCommand(rd *bufio.Reader) ([]string, error) {
	line, err := rd.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(line, "*") {
		return nil, fmt.Errorf("not an array: %q", line)
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil || n < 1 {
		return nil, fmt.Errorf("bad array length %q", line)
	}
	args := make([]string, n)
	for i := range args {
		head, err := rd.ReadString('\n')
		if err != nil {
			return nil, err
		}
		size, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(head, "$")))
		if err != nil {
			return nil, fmt.Errorf("bad bulk length %q", head)
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(rd, buf); err != nil {
			return nil, err
		}
		args[i] = string(buf[:size])
	}
	return args, nil
}

func routeHash() map[string]string {
	return map[string]string{
		route.FieldPrimary: "10.0.0.2:6379", route.FieldEpoch: "8", route.FieldKind: "redis",
		route.FieldReplicas: "10.0.0.1:6379,10.0.0.3:6379", route.FieldFleet: "im-prod",
		route.FieldUpdatedAt: "2026-11-26T09:00:00.123Z", route.FieldUpdatedBy: "s1",
	}
}

func TestMain(m *testing.M) {
	redis.SetLogger(&logging.VoidLogger{}) // as main does
	os.Exit(m.Run())
}

func TestRouteGet(t *testing.T) {
	rd := newFakeRedis(t, "", map[string]map[string]string{"imsentinel:route:sessions-01": routeHash()})
	r := imctl(t, invocation{Args: []string{"route", "get", "sessions-01", "--routing", rd.Addr}})
	want := `cluster     sessions-01
primary     10.0.0.2:6379
epoch       8
kind        redis
replicas    10.0.0.1:6379, 10.0.0.3:6379
fleet       im-prod
updated_at  2026-11-26T09:00:00.123Z
updated_by  s1
key         imsentinel:route:sessions-01 on ` + rd.Addr + "\n"
	if r.Code != exitOK || r.Out != want {
		t.Errorf("route get = exit %d (%s)\n%s\nwant:\n%s", r.Code, r.Err, r.Out, want)
	}

	r = imctl(t, invocation{Args: []string{"route", "get", "sessions-01", "-o", "json"}, Env: map[string]string{"IMCTL_ROUTING": rd.Addr}})
	wantJSON := `{"cluster":"sessions-01","primary":"10.0.0.2:6379","kind":"redis","epoch":8,"replicas":["10.0.0.1:6379","10.0.0.3:6379"],` +
		`"fleet":"im-prod","updated_at":"2026-11-26T09:00:00.123Z","updated_by":"s1"}`
	var got route.Entry
	b, _ := json.Marshal(mustUnmarshal(t, r.Out, &got))
	if r.Code != exitOK || string(b) != wantJSON {
		t.Errorf("route get -o json with IMCTL_ROUTING = exit %d %s (%s), want %s", r.Code, r.Out, r.Err, wantJSON)
	}
}

func mustUnmarshal(t *testing.T, s string, into *route.Entry) route.Entry {
	t.Helper()
	if err := json.Unmarshal([]byte(s), into); err != nil {
		t.Errorf("not JSON: %q: %v", s, err)
	}
	return *into
}

// The config's routing section gives the address, prefix, db and password;
// a --routing flag still wins over it, and it wins over the environment.
func TestRouteGetFromConfig(t *testing.T) {
	rd := newFakeRedis(t, "s3cret", map[string]map[string]string{"im:route:sessions-01": routeHash()})
	dir := t.TempDir()
	pw := filepath.Join(dir, "routing.pw")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, dir, fmt.Sprintf("routing: {address: %q, prefix: \"im:\", db: 2, password_file: %s}\n", rd.Addr, pw))
	env := map[string]string{"IMCTL_ROUTING": "127.0.0.1:1", "IMCTL_ROUTING_PREFIX": "wrong:"}
	r := imctl(t, invocation{Args: []string{"route", "get", "sessions-01", "--config", cfg}, Env: env})
	if r.Code != exitOK || !strings.Contains(r.Out, "key         im:route:sessions-01 on "+rd.Addr) {
		t.Errorf("route get --config = exit %d %s\n%s", r.Code, r.Err, r.Out)
	}
	if got := strings.Join(rd.commands(), "; "); !strings.HasSuffix(got, "SELECT 2; HGETALL im:route:sessions-01") {
		t.Errorf("routing redis got %q, want SELECT 2 and the HGETALL (after authenticating)", got)
	}

	r = imctl(t, invocation{Args: []string{"route", "get", "sessions-01", "--config", cfg, "--routing-prefix", "other:"}, Env: env})
	if r.Code != exitFailed || !strings.Contains(r.Err, "no route for sessions-01 in routing redis "+rd.Addr+" (key other:route:sessions-01)") {
		t.Errorf("route get with --routing-prefix over the config = exit %d %q, want 1 and no route at other:", r.Code, r.Err)
	}

	r = imctl(t, invocation{Args: []string{"route", "get", "sessions-01", "--routing", rd.Addr}, Env: map[string]string{"IMCTL_ROUTING_PASSWORD": "bad"}})
	if r.Code != exitFailed || !strings.Contains(r.Err, "WRONGPASS") {
		t.Errorf("route get with a wrong password = exit %d %q, want 1 and WRONGPASS", r.Code, r.Err)
	}
}

func TestRouteGetErrors(t *testing.T) {
	rd := newFakeRedis(t, "", map[string]map[string]string{
		"imsentinel:route:broken": {route.FieldPrimary: "10.0.0.2:6379", route.FieldEpoch: "eight"},
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		args []string
		code int
		want string // in stderr
	}{
		{"absent", []string{"nope", "--routing", rd.Addr}, exitFailed,
			"no route for nope in routing redis " + rd.Addr + " (key imsentinel:route:nope): the fleet writes it once a config is committed"},
		{"malformed", []string{"broken", "--routing", rd.Addr}, exitFailed, `epoch "eight" is not a number`},
		{"unreachable", []string{"c", "--routing", closed}, exitUnreachable, "routing redis " + closed + " not reachable"},
		{"bad address", []string{"c", "--routing", "nohost"}, exitUsage, `--routing "nohost": want host:port`},
		{"bad config", []string{"c", "--config", writeConfig(t, dir, "routing: {adress: x}\n")}, exitUsage, "routing.adress: unknown key"},
		{"no config", []string{"c", "--config", filepath.Join(dir, "none.yaml")}, exitUsage, "--config: read config"},
		{"no name", nil, exitUsage, "imctl route get takes NAME, got 0 arguments"},
	} {
		r := imctl(t, invocation{Args: append([]string{"route", "get"}, c.args...)})
		if r.Code != c.code || !strings.Contains(r.Err, c.want) {
			t.Errorf("%s: route get %v = exit %d %q, want %d and %q", c.name, c.args, r.Code, r.Err, c.code, c.want)
		}
	}
}

// writeConfig writes a valid one-sentinel daemon config plus extra YAML.
func writeConfig(t *testing.T, dir, extra string) string {
	t.Helper()
	f, err := os.CreateTemp(dir, "imsentinel-*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintf(f, `sentinel: {id: s1, data_dir: %s}
fleet:
  name: im-prod
  members: [{id: s1, address: "127.0.0.1:17946"}]
gossip: {bind: "127.0.0.1:17946"}
clusters: [{name: sessions-01, kind: redis, primary: "127.0.0.1:6390", quorum: 1}]
%s`, filepath.Join(dir, "data"), extra)
	return f.Name()
}
