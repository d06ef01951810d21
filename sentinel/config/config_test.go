package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

const minimal = `
sentinel: {id: s1, data_dir: /tmp/imsentinel-test}
fleet:
  name: im-test
  members:
    - {id: s1, address: 127.0.0.1:7001}
    - {id: s2, address: 127.0.0.1:7002}
    - {id: s3, address: 127.0.0.1:7003}
gossip: {bind: 127.0.0.1:7001}
clusters:
  - {name: sessions, kind: redis, primary: 127.0.0.1:6379}
`

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "imsentinel.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMinimalConfigGetsEveryDefault(t *testing.T) {
	cfg, err := Load(Source{Path: writeConfig(t, minimal)})
	if err != nil {
		t.Fatalf("Load(minimal): %v", err)
	}
	want := DefaultConfig()
	want.Sentinel = Sentinel{ID: "s1", DataDir: "/tmp/imsentinel-test"}
	want.Fleet = Fleet{Name: "im-test", Members: []Member{
		{"s1", "127.0.0.1:7001"}, {"s2", "127.0.0.1:7002"}, {"s3", "127.0.0.1:7003"}}}
	want.Gossip.Bind = "127.0.0.1:7001"
	c := DefaultCluster()
	c.Name, c.Kind, c.Primary = "sessions", "redis", "127.0.0.1:6379"
	want.Clusters = []ClusterConfig{c}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("Load(minimal) mismatch (-want +got):\n%s", diff)
	}
}

// The example must load (its gossip bind is not loopback, so it needs the
// key, here from the environment as an operator would give it) and must
// show every key the daemon knows.
func TestExampleConfigLoadsAndShowsEveryKey(t *testing.T) {
	t.Setenv("IMSENTINEL_GOSSIP_ENCRYPTION_KEY", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
	path := filepath.Join("..", "..", "configs", "imsentinel.example.yaml")
	cfg, err := Load(Source{Path: path})
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	if len(cfg.Clusters) != 2 || cfg.Clusters[1].Kind != "mysql" {
		t.Errorf("example clusters = %+v, want a redis and a mysql cluster", cfg.Clusters)
	}
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range allKeys(reflect.TypeFor[Config](), "") {
		leaf := key[strings.LastIndex(key, ".")+1:]
		if !bytes.Contains(text, []byte(leaf+":")) {
			t.Errorf("example config does not show key %s", key)
		}
	}
}

// allKeys lists every key path of a config type ([] marks list entries).
func allKeys(t reflect.Type, prefix string) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		key := joinKey(prefix, tagName(f))
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
			out = append(out, allKeys(ft.Elem(), key+"[]")...)
			continue
		}
		if ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Duration]() {
			out = append(out, allKeys(ft, key)...)
			continue
		}
		out = append(out, key)
	}
	return out
}

func TestPrecedenceFlagOverEnvOverFileOverDefault(t *testing.T) {
	path := writeConfig(t, minimal+`
log: {level: warn}
detection: {probe_interval: 400ms, probe_timeout: 100ms}
admin: {listen: "127.0.0.1:7100"}
`)
	t.Setenv("IMSENTINEL_DETECTION_PROBE_INTERVAL", "300ms")
	t.Setenv("IMSENTINEL_ADMIN_LISTEN", "127.0.0.1:7200")
	t.Setenv("IMSENTINEL_ROUTING_PREFIX", "env:")

	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	BindFlags(fs)
	if err := fs.Parse([]string{"--admin-listen", "127.0.0.1:7300"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(Source{Path: path, Flags: fs})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	checks := []struct {
		key       string
		got, want any
	}{
		{"admin.listen (flag > env > file)", cfg.Admin.Listen, "127.0.0.1:7300"},
		{"detection.probe_interval (env > file)", cfg.Detection.ProbeInterval, 300 * time.Millisecond},
		{"routing.prefix (env > default)", cfg.Routing.Prefix, "env:"},
		{"log.level (file > default)", cfg.Log.Level, "warn"},
		{"detection.probe_timeout (file)", cfg.Detection.ProbeTimeout, 100 * time.Millisecond},
		{"sentinel.id (file; flag defined but unset)", cfg.Sentinel.ID, "s1"},
		{"detection.down_after (default)", cfg.Detection.DownAfter, 10 * time.Second},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.key, c.got, c.want)
		}
	}
}

// Cluster secrets come from the environment too, by cluster name (viper
// does not reach entries of the clusters list): the environment
// overrides the file's password and password_file; a *_file reads; two
// clusters whose names map to one variable are refused when it is set.
func TestClusterSecretsFromEnvironmentAndFiles(t *testing.T) {
	dir := t.TempDir()
	replFile := filepath.Join(dir, "repl")
	if err := os.WriteFile(replFile, []byte("repl-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := writeConfig(t, strings.Replace(minimal, "  - {name: sessions, kind: redis, primary: 127.0.0.1:6379}",
		`  - name: msg-01
    kind: mysql
    primary: 127.0.0.1:3306
    credentials: {username: imsentinel, password: from-file, replication: {username: repl, password_file: `+replFile+`}}
  - {name: msg.02, kind: mysql, primary: 127.0.0.1:3307, credentials: {username: imsentinel, password_file: /nonexistent}}`, 1))
	t.Setenv("IMSENTINEL_CLUSTER_MSG_01_CREDENTIALS_PASSWORD", "admin-from-env")
	t.Setenv("IMSENTINEL_CLUSTER_MSG_02_CREDENTIALS_PASSWORD", "second-from-env")
	cfg, err := Load(Source{Path: path})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	for _, c := range []struct {
		what      string
		got, want string
	}{
		{"msg-01 admin (env > file)", cfg.Clusters[0].Credentials.Password.Reveal(), "admin-from-env"},
		{"msg-01 replication (*_file)", cfg.Clusters[0].Credentials.Replication.Password.Reveal(), "repl-from-file"},
		{"msg.02 admin (env > an unreadable password_file)", cfg.Clusters[1].Credentials.Password.Reveal(), "second-from-env"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	if got := ClusterEnvName("msg-01", "credentials.replication.password"); got != "IMSENTINEL_CLUSTER_MSG_01_CREDENTIALS_REPLICATION_PASSWORD" {
		t.Errorf("ClusterEnvName = %s", got)
	}

	clash := writeConfig(t, strings.Replace(minimal, "  - {name: sessions, kind: redis, primary: 127.0.0.1:6379}",
		`  - {name: a-b, kind: mysql, primary: 127.0.0.1:3306, credentials: {username: u}}
  - {name: a.b, kind: mysql, primary: 127.0.0.1:3307, credentials: {username: u}}`, 1))
	t.Setenv("IMSENTINEL_CLUSTER_A_B_CREDENTIALS_PASSWORD", "x")
	_, err = Load(Source{Path: clash})
	if err == nil || !strings.Contains(err.Error(), "clusters[1].credentials.password: IMSENTINEL_CLUSTER_A_B_CREDENTIALS_PASSWORD is set, and names both clusters[0]") {
		t.Errorf("two clusters on one variable: %v", err)
	}
}

func TestSecretsNeverPrint(t *testing.T) {
	const token, pass, key = "tok-3141592653", "pw-2718281828", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	dir := t.TempDir()
	passFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(passFile, []byte(pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := writeConfig(t, strings.Replace(minimal, "gossip: {bind: 127.0.0.1:7001}",
		"gossip: {bind: 127.0.0.1:7001, encryption_key: "+key+"}\nadmin: {token: "+token+"}", 1)+
		"  - {name: more, kind: redis, primary: 127.0.0.1:6380, credentials: {username: u, password_file: "+passFile+"}}\n")
	cfg, err := Load(Source{Path: path})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := cfg.Clusters[1].Credentials.Password.Reveal(); got != pass {
		t.Fatalf("password from file = %q, want %q", got, pass)
	}
	if cfg.Admin.Token.Reveal() != token {
		t.Fatalf("token = %q", cfg.Admin.Token.Reveal())
	}
	y, _ := yaml.Marshal(cfg)
	j, _ := json.Marshal(cfg)
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "cfg", cfg, "token", cfg.Admin.Token)
	outputs := map[string]string{
		"yaml": string(y), "json": string(j), "slog": logged.String(),
		"%v": fmt.Sprintf("%v", cfg), "%+v": fmt.Sprintf("%+v", cfg), "%#v": fmt.Sprintf("%#v", cfg),
	}
	for name, out := range outputs {
		for _, secret := range []string{token, pass, key} {
			if strings.Contains(out, secret) {
				t.Errorf("%s output contains secret %q:\n%s", name, secret, out)
			}
		}
	}
	if !strings.Contains(string(y), "<redacted>") {
		t.Errorf("yaml output does not show <redacted>:\n%s", y)
	}
}

// TestBadConfigs is the table of refused configurations: each must be
// refused with every listed problem, by key path.
func TestBadConfigs(t *testing.T) {
	tests := []struct {
		name string
		yaml string // replaces minimal when it starts with "!", else appended
		want []string
	}{
		{"unknown top-level key", "detecton: {probe_interval: 1s}",
			[]string{"detecton: unknown key (did you mean detection?)"}},
		{"unknown nested key", "detection: {probe_intervall: 1s}",
			[]string{"detection.probe_intervall: unknown key (did you mean probe_interval?)"}},
		{"unknown key with an empty value", "!" + minimal + "routnig: {}\n",
			[]string{"routnig: unknown key (did you mean routing?)"}},
		{"unknown key in a cluster", "!" + strings.Replace(minimal, "primary: 127.0.0.1:6379}",
			"primary: 127.0.0.1:6379, quorom: 2}", 1),
			[]string{"clusters[0].quorom: unknown key (did you mean quorum?)"}},
		{"bad durations", "detection: {probe_interval: fast, down_after: 10}\nfailover: {lease: 10x}",
			[]string{`detection.probe_interval: "fast" is not a duration`,
				"detection.down_after: 10 has no unit", `failover.lease: "10x" is not a duration`}},
		{"quorum larger than the members", "!" + strings.Replace(minimal, "primary: 127.0.0.1:6379}",
			"primary: 127.0.0.1:6379, quorum: 4}", 1),
			[]string{"clusters[0].quorum: 4 is more than the 3 fleet.members"}},
		{"probe timeout not below interval", "detection: {probe_interval: 200ms, probe_timeout: 200ms, min_down_after: 1s}",
			[]string{"detection.probe_timeout: 200ms must be shorter than detection.probe_interval (200ms)"}},
		{"min_down_after below two intervals", "detection: {probe_interval: 1s, probe_timeout: 500ms, min_down_after: 1500ms}",
			[]string{"detection.min_down_after: 1.5s must be at least two probe intervals"}},
		{"down_after below min_down_after", "detection: {min_down_after: 5s, down_after: 2s}",
			[]string{"detection.down_after: 2s must not be shorter than detection.min_down_after (5s)"}},
		{"lease too short for the steps", "failover: {lease: 3s, steps: {promote: 3s, repoint: 4s}}",
			[]string{"failover.lease: 3s (minus lease_drift_margin 500ms = 2.5s) is too short for failover.steps.promote (3s)",
				"failover.lease: 3s (minus lease_drift_margin 500ms = 2.5s) is too short for failover.steps.repoint (4s)"}},
		{"cluster with no seed primary", "!" + strings.Replace(minimal, ", primary: 127.0.0.1:6379", "", 1),
			[]string{"clusters[0].primary: required: the seed primary"}},
		{"duplicate cluster names", "!" + minimal + "  - {name: sessions, kind: redis, primary: 127.0.0.1:6380}\n",
			[]string{`clusters[1].name: "sessions" is also clusters[0].name`}},
		{"duplicate member ids", "!" + strings.Replace(minimal, "{id: s3,", "{id: s2,", 1),
			[]string{`fleet.members[2].id: "s2" is also fleet.members[1].id`}},
		{"one address in two clusters", "!" + minimal + "  - {name: other, kind: redis, primary: 127.0.0.1:6380, replicas: [127.0.0.1:6379]}\n",
			[]string{"clusters[1].replicas[0]: 127.0.0.1:6379 is also in clusters[0] (sessions)"}},
		{"an instance listed twice", "!" + strings.Replace(minimal, "primary: 127.0.0.1:6379}",
			"primary: 127.0.0.1:6379, instances: [{address: \"127.0.0.1:6380\", priority: 0}, {address: \"127.0.0.1:6380\", priority: 5}]}", 1),
			[]string{"clusters[0].instances[1].address: 127.0.0.1:6380 is also clusters[0].instances[0]"}},
		{"an address map target in another cluster", "!" + minimal +
			"  - {name: other, kind: redis, primary: 127.0.0.1:6390, address_map: [{reported: \"172.17.0.5:6379\", reach: \"127.0.0.1:6379\"}]}\n",
			[]string{"clusters[1].address_map[0].reach: 127.0.0.1:6379 is also in clusters[0] (sessions)"}},
		{"id not in fleet.members", "!" + strings.Replace(minimal, "id: s1, data_dir", "id: s9, data_dir", 1),
			[]string{`sentinel.id: "s9" is not in fleet.members`}},
		{"strict fence_wait without self-fence", "!" + strings.Replace(minimal, "primary: 127.0.0.1:6379}",
			"primary: 127.0.0.1:6379, fence_wait: strict, self_fence: {enabled: false}}", 1),
			[]string{"clusters[0].fence_wait: strict needs clusters[0].self_fence.enabled: true"}},
		{"non-loopback admin without token", `admin: {listen: "0.0.0.0:7070"}`,
			[]string{"admin.token: required when admin.listen (0.0.0.0:7070) is not a loopback address"}},
		{"non-loopback gossip without key", "!" + strings.Replace(minimal, "bind: 127.0.0.1:7001", "bind: 10.1.2.3:7946", 1),
			[]string{"gossip.encryption_key: required when gossip.bind (10.1.2.3:7946) is not a loopback address"}},
		{"bad encryption key", "!" + strings.Replace(minimal, "bind: 127.0.0.1:7001", "bind: 127.0.0.1:7001, encryption_key: c2hvcnQ=", 1),
			[]string{"gossip.encryption_key: decodes to 5 bytes"}},
		{"secret and its file both set", "admin: {token: x, token_file: /nonexistent}",
			[]string{"admin.token_file: both token and token_file are set"}},
		{"unreadable secret file", "routing: {password_file: /nonexistent/pw}",
			[]string{"routing.password_file: read secret:"}},
		{"bad enums and kinds", "!" + strings.Replace(minimal, "kind: redis, primary: 127.0.0.1:6379}",
			"kind: postgres, primary: 127.0.0.1:6379, mode: yolo, fence_wait: maybe}", 1) + "log: {level: loud}\n",
			[]string{`clusters[0].kind: "postgres" is not one of redis, mysql`, `clusters[0].mode: "yolo" is not one of`,
				`clusters[0].fence_wait: "maybe" is not one of strict, fast`, `log.level: "loud" is not one of`}},
		{"bad addresses", "!" + strings.Replace(minimal, "primary: 127.0.0.1:6379}",
			"primary: nohost, replicas: [\"127.0.0.1:0\"], address_map: [{reported: a:1, reach: b}]}", 1),
			[]string{`clusters[0].primary: "nohost" is not host:port`, `clusters[0].replicas[0]: "127.0.0.1:0": port must be 1-65535`,
				`clusters[0].address_map[0].reach: "b" is not host:port`}},
		{"redis heartbeat and max lag not whole seconds", "!" + strings.Replace(minimal, "primary: 127.0.0.1:6379}",
			"primary: 127.0.0.1:6379, heartbeat: {period: 500ms}, self_fence: {max_lag: 1500ms}}", 1),
			[]string{"clusters[0].heartbeat.period: 500ms: Redis repl-ping-replica-period takes whole seconds",
				"clusters[0].self_fence.max_lag: 1.5s: Redis min-replicas-max-lag takes whole seconds"}},
		{"mysql cluster without user, slow heartbeat", "!" + strings.Replace(minimal, "kind: redis, primary: 127.0.0.1:6379}",
			"kind: mysql, primary: 127.0.0.1:3306, heartbeat: {period: 5s}}", 1),
			[]string{"clusters[0].credentials.username: required for mysql clusters",
				"clusters[0].heartbeat.period: 5s: MASTER_HEARTBEAT_PERIOD must be between 1ms and 1s"}},
		{"spare users: redis has none, names without host", "!" + strings.Replace(minimal, "primary: 127.0.0.1:6379}",
			"primary: 127.0.0.1:6379, credentials: {spare_users: [dba]}}\n  - {name: m, kind: mysql, primary: 127.0.0.1:3306, "+
				"credentials: {username: imsentinel, spare_users: [ok, \"dba@'%'\", \"\"]}}", 1),
			[]string{`clusters[0].credentials.spare_users[0]: "dba": only mysql clusters kill sessions when fencing`,
				`clusters[1].credentials.spare_users[1]: "dba@'%'": an account name without host part or quotes`,
				`clusters[1].credentials.spare_users[2]: "": an account name`}},
		{"nothing at all", "!",
			[]string{"sentinel.id: required", "fleet.name: required", "fleet.members: required", "clusters: required"}},
		{"many problems at once", "detection: {probe_timeout: 900ms}\nfailover: {lease: 1s}\nadmin: {listen: \"10.0.0.1:80\"}",
			[]string{"detection.probe_timeout: 900ms must be shorter", "failover.lease: 1s", "admin.token: required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := minimal + "\n" + tt.yaml + "\n"
			if rest, ok := strings.CutPrefix(tt.yaml, "!"); ok {
				text = rest
			}
			_, err := Load(Source{Path: writeConfig(t, text)})
			if err == nil {
				t.Fatalf("Load accepted:\n%s\nwant problems %q", text, tt.want)
			}
			ps, ok := err.(Problems)
			if !ok {
				t.Fatalf("Load error is %T (%v), want Problems", err, err)
			}
			for _, w := range tt.want {
				found := false
				for _, p := range ps {
					if strings.Contains(p.Error(), w) {
						found = true
					}
				}
				if !found {
					t.Errorf("problems do not include %q\ngot:\n%v", w, err)
				}
			}
		})
	}
}

// A key that failed to decode is reported once, not again as "must be
// more than 0" by validation.
func TestBadDurationReportedOnce(t *testing.T) {
	_, err := Load(Source{Path: writeConfig(t, minimal+"detection: {down_after: soon}\n")})
	ps, _ := err.(Problems)
	n := 0
	for _, p := range ps {
		if p.Key == "detection.down_after" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("detection.down_after reported %d times, want 1:\n%v", n, err)
	}
}

// A bad value from the environment names its variable, since the file
// does not show it.
func TestEnvProblemNamesVariable(t *testing.T) {
	t.Setenv("IMSENTINEL_DETECTION_PROBE_INTERVAL", "500")
	_, err := Load(Source{Path: writeConfig(t, minimal)})
	if err == nil || !strings.Contains(err.Error(),
		"detection.probe_interval: 500 has no unit (write e.g. 500ms or 500s) (set by IMSENTINEL_DETECTION_PROBE_INTERVAL)") {
		t.Errorf("Load with a bad env value: %v, want the problem naming IMSENTINEL_DETECTION_PROBE_INTERVAL", err)
	}
}

func TestMissingFileIsAnError(t *testing.T) {
	_, err := Load(Source{Path: filepath.Join(t.TempDir(), "nope.yaml")})
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("Load(missing) = %v, want an error naming the file", err)
	}
}
