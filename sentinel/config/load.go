package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// EnvPrefix starts every environment variable that overrides a key:
// detection.probe_interval is IMSENTINEL_DETECTION_PROBE_INTERVAL.
const EnvPrefix = "IMSENTINEL"

// Source says where a configuration comes from, lowest precedence first:
// defaults, the file, the environment, the flags.
type Source struct {
	// Path of the YAML file. Empty: no file (defaults, env and flags only).
	Path string
	// Flags, when set, are the flags BindFlags defined; those the user set
	// override everything else.
	Flags *pflag.FlagSet
}

// flagKey is a config key the daemon also takes as a flag.
type flagKey struct{ flag, key, usage string }

// flagKeys are the config keys the daemon also takes as flags.
func flagKeys() []flagKey {
	return []flagKey{
		{"id", "sentinel.id", "this sentinel's id, one of fleet.members (sentinel.id)"},
		{"data-dir", "sentinel.data_dir", "directory for durable state (sentinel.data_dir)"},
		{"admin-listen", "admin.listen", "admin API address host:port (admin.listen)"},
		{"gossip-bind", "gossip.bind", "gossip address host:port (gossip.bind)"},
		{"gossip-advertise", "gossip.advertise", "gossip address advertised to members (gossip.advertise)"},
		{"log-level", "log.level", "debug, info, warn or error (log.level)"},
		{"log-format", "log.format", "text or json (log.format)"},
	}
}

// BindFlags defines the flags that override config keys on fs. Their
// defaults are empty: an unset flag leaves the key to env, file and
// default.
func BindFlags(fs *pflag.FlagSet) {
	for _, f := range flagKeys() {
		fs.String(f.flag, "", f.usage)
	}
}

// Load reads, merges and validates a configuration. A bad one returns
// Problems listing everything wrong by key path.
func Load(src Source) (Config, error) {
	v := viper.New()
	v.SetConfigType("yaml")
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	// Every key gets a default so that AutomaticEnv reaches Unmarshal.
	for key, val := range flatten(toMap(DefaultConfig()), "") {
		v.SetDefault(key, val)
	}
	if src.Flags != nil {
		for _, f := range flagKeys() {
			if fl := src.Flags.Lookup(f.flag); fl != nil {
				// BindPFlag takes the flag's value only when it was set.
				if err := v.BindPFlag(f.key, fl); err != nil {
					return Config{}, fmt.Errorf("bind flag --%s: %w", f.flag, err)
				}
			}
		}
	}
	if src.Path != "" {
		v.SetConfigFile(src.Path)
		if err := v.ReadInConfig(); err != nil {
			return Config{}, fmt.Errorf("read config %s: %w", src.Path, err)
		}
	}
	if err := applyClusterDefaults(v); err != nil {
		return Config{}, err
	}

	var cfg Config
	var ps problems
	err := v.UnmarshalExact(&cfg, viper.DecodeHook(mapstructure.ComposeDecodeHookFunc(
		durationHook,
		mapstructure.StringToSliceHookFunc(","),
	)))
	bad := decodeProblems(err, &ps)
	if src.Path != "" {
		emptyUnknownKeys(src.Path, &ps)
	}
	resolveSecrets(&cfg, &ps)
	for _, p := range Validate(cfg) {
		// A key that failed to decode holds its zero value: don't pile a
		// second, misleading problem on it.
		if !underAny(p.Key, bad) {
			ps.list = append(ps.list, p)
		}
	}
	if len(ps.list) > 0 {
		for i, p := range ps.list {
			// A value from the environment is not in the file: say where it is.
			if env := EnvName(p.Key); p.Key != "" && os.Getenv(env) != "" {
				ps.list[i].Msg += " (set by " + env + ")"
			}
		}
		return Config{}, ps.list
	}
	return cfg, nil
}

// EnvName is the environment variable that overrides a key:
// detection.probe_interval → IMSENTINEL_DETECTION_PROBE_INTERVAL.
func EnvName(key string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// applyClusterDefaults lays each entry of clusters over DefaultCluster, so
// an entry that leaves a key out gets its default and unknown keys in it
// are still caught by UnmarshalExact.
func applyClusterDefaults(v *viper.Viper) error {
	raw, ok := v.Get("clusters").([]any)
	if !ok {
		return nil // absent, or not a list: decoding reports the latter
	}
	def := toMap(DefaultCluster())
	merged := make([]any, len(raw))
	for i, el := range raw {
		m, ok := el.(map[string]any)
		if !ok {
			merged[i] = el
			continue
		}
		merged[i] = mergeMaps(def, m)
	}
	v.Set("clusters", merged)
	return nil
}

// durationHook decodes durations from strings with units ("500ms") and
// refuses bare numbers, which would silently mean nanoseconds.
func durationHook(from, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeFor[time.Duration]() {
		return data, nil
	}
	switch d := data.(type) {
	case string:
		v, err := time.ParseDuration(strings.TrimSpace(d))
		if err == nil {
			return v, nil
		}
		if _, nerr := strconv.ParseFloat(strings.TrimSpace(d), 64); nerr == nil {
			return nil, fmt.Errorf("%s has no unit (write e.g. %sms or %ss)", d, d, d)
		}
		return nil, fmt.Errorf("%q is not a duration (write e.g. 500ms, 2s, 1m)", d)
	case time.Duration:
		return d, nil
	case int, int64, int32, uint, uint64, uint32, float64, float32:
		if reflect.ValueOf(d).IsZero() {
			return time.Duration(0), nil
		}
		return nil, fmt.Errorf("%v has no unit (write e.g. %vms or %vs)", d, d, d)
	}
	return data, nil
}

// decodeProblems turns mapstructure's joined errors into Problems by key
// path and returns the keys that failed.
func decodeProblems(err error, ps *problems) []string {
	var bad []string
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		de, ok := e.(*mapstructure.DecodeError)
		if !ok {
			if inner := errors.Unwrap(e); inner != nil {
				walk(inner) // viper wraps mapstructure's joined errors
				return
			}
			ps.add("", "%v", e)
			return
		}
		msg := de.Unwrap().Error()
		if keys, ok := strings.CutPrefix(msg, "has invalid keys: "); ok {
			for _, k := range strings.Split(keys, ", ") {
				ps.add(joinKey(de.Name(), k), "unknown key%s", suggest(de.Name(), k))
			}
			return
		}
		var pe *mapstructure.ParseError
		if errors.As(de, &pe) {
			msg = pe.Err.Error()
		}
		bad = append(bad, de.Name())
		ps.add(de.Name(), "%s", msg)
	}
	if err != nil {
		walk(err)
	}
	return bad
}

func joinKey(parent, k string) string {
	if parent == "" {
		return k
	}
	return parent + "." + k
}

// underAny says whether key is one of roots or below one of them.
func underAny(key string, roots []string) bool {
	for _, r := range roots {
		if key == r || strings.HasPrefix(key, r+".") || strings.HasPrefix(key, r+"[") {
			return true
		}
	}
	return false
}

// suggest names a known key close to an unknown one: " (did you mean quorum?)".
func suggest(parent, unknown string) string {
	known := knownKeys(parent)
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(unknown, k); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return " (did you mean " + best + "?)"
}

// knownKeys lists the keys allowed directly under a key path.
func knownKeys(parent string) []string {
	t := reflect.TypeFor[Config]()
	for _, part := range strings.Split(parent, ".") {
		if part == "" {
			continue
		}
		name, _, _ := strings.Cut(part, "[")
		f, ok := fieldByTag(t, name)
		if !ok {
			return nil
		}
		t = f.Type
		for t.Kind() == reflect.Slice || t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for i := range t.NumField() {
		out = append(out, tagName(t.Field(i)))
	}
	return out
}

func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	if t.Kind() != reflect.Struct {
		return reflect.StructField{}, false
	}
	for i := range t.NumField() {
		if tagName(t.Field(i)) == name {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

func tagName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
	return name
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// resolveSecrets reads *_file secrets into their Secret fields.
func resolveSecrets(cfg *Config, ps *problems) {
	read := func(key string, secret *Secret, file string) {
		if file == "" {
			return
		}
		if secret.IsSet() {
			ps.add(key+"_file", "both %s and %s_file are set; use one", lastKey(key), lastKey(key))
			return
		}
		b, err := os.ReadFile(file)
		if err != nil {
			ps.add(key+"_file", "read secret: %v", err)
			return
		}
		*secret = Secret(strings.TrimRight(string(b), "\r\n"))
	}
	read("gossip.encryption_key", &cfg.Gossip.EncryptionKey, cfg.Gossip.EncryptionKeyFile)
	read("admin.token", &cfg.Admin.Token, cfg.Admin.TokenFile)
	read("routing.password", &cfg.Routing.Password, cfg.Routing.PasswordFile)
	envOwner := map[string]string{}
	for i := range cfg.Clusters {
		c := &cfg.Clusters[i].Credentials
		for _, sec := range []struct {
			key    string
			secret *Secret
			file   string
		}{
			{"credentials.password", &c.Password, c.PasswordFile},
			{"credentials.replication.password", &c.Replication.Password, c.Replication.PasswordFile},
		} {
			key := fmt.Sprintf("clusters[%d].%s", i, sec.key)
			env := ClusterEnvName(cfg.Clusters[i].Name, sec.key)
			if v := os.Getenv(env); v != "" {
				// The environment overrides the file, its *_file included.
				if other, ok := envOwner[env]; ok {
					ps.add(key, "%s is set, and names both %s and this cluster: rename one of them", env, other)
					continue
				}
				envOwner[env] = key
				*sec.secret = Secret(v)
				continue
			}
			envOwner[env] = key
			read(key, sec.secret, sec.file)
		}
	}
}

// ClusterEnvName is the environment variable that overrides a secret of
// a cluster's entry, by the cluster's name (the list index of clusters is
// no name a person can keep stable): cluster msg-01, key
// credentials.password → IMSENTINEL_CLUSTER_MSG_01_CREDENTIALS_PASSWORD.
// Letters are upper-cased; '.' and '-' become '_'.
func ClusterEnvName(cluster, key string) string {
	name := strings.Map(func(r rune) rune {
		if r == '.' || r == '-' {
			return '_'
		}
		return r
	}, cluster)
	return EnvPrefix + "_CLUSTER_" + strings.ToUpper(name) + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

func lastKey(key string) string {
	if i := strings.LastIndex(key, "."); i >= 0 {
		return key[i+1:]
	}
	return key
}

// toMap turns a config struct into nested maps keyed by mapstructure tags.
// Nil pointers and nil slices are left out.
func toMap(v any) map[string]any {
	out := map[string]any{}
	rv := reflect.ValueOf(v)
	rt := rv.Type()
	for i := range rt.NumField() {
		f, fv := rt.Field(i), rv.Field(i)
		name := tagName(f)
		switch {
		case f.Type == reflect.TypeFor[time.Duration]():
			out[name] = fv.Interface()
		case fv.Kind() == reflect.Struct:
			out[name] = toMap(fv.Interface())
		case (fv.Kind() == reflect.Pointer || fv.Kind() == reflect.Slice) && fv.IsNil():
		default:
			out[name] = fv.Interface()
		}
	}
	return out
}

// flatten turns nested maps into dotted keys.
func flatten(m map[string]any, prefix string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		key := joinKey(prefix, k)
		if sub, ok := v.(map[string]any); ok {
			for sk, sv := range flatten(sub, key) {
				out[sk] = sv
			}
			continue
		}
		out[key] = v
	}
	return out
}

// mergeMaps lays over on top of base, recursively, without changing either.
func mergeMaps(base, over map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		bm, bok := out[k].(map[string]any)
		om, ook := v.(map[string]any)
		if bok && ook {
			out[k] = mergeMaps(bm, om)
			continue
		}
		out[k] = v
	}
	return out
}

// emptyUnknownKeys reports the unknown top-level keys whose value is empty
// (`routnig: {}`, `routnig:`): viper drops empty values before decoding,
// so the unknown-key check never sees them. The file was read already; a
// second read that fails adds nothing.
func emptyUnknownKeys(path string, ps *problems) {
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	var top map[string]any
	if yaml.Unmarshal(b, &top) != nil {
		return
	}
	known := map[string]bool{}
	t := reflect.TypeOf(Config{})
	for i := range t.NumField() {
		known[t.Field(i).Tag.Get("mapstructure")] = true
	}
	for k, v := range top {
		if known[strings.ToLower(k)] {
			continue
		}
		if m, ok := v.(map[string]any); v == nil || ok && len(m) == 0 {
			ps.add(k, "unknown key%s", suggest("", k))
		}
	}
}
