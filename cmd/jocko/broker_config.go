package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/jocko/jocko/core"
)

// isKafkaKey reports whether name is one of Kafka's broker settings (the
// catalog of core/kafka_configs.tsv, with Kafka 3's that files still carry).
func isKafkaKey(name string) bool { return core.IsKafkaBrokerConfig(name) }

// fileSetting is the value a config file gives one flag: key is the file's
// key it came from (log.dirs for data-dir), line where that key is.
type fileSetting struct {
	value, key string
	line       int
}

// configFile is a Kafka server.properties read for jocko broker.
type configFile struct {
	path    string
	set     map[string]fileSetting // by flag name
	ignored []string               // Kafka keys Jocko does not act on
}

// readConfigFile reads a properties file and maps its keys onto the flags
// of fs: Kafka's names for what Jocko has a flag for (listeners, log.dirs,
// node.id, ...), the Kafka settings that are flags under their own names,
// and Jocko's own flag names. Other Kafka keys are listed in ignored; any
// other key is an error naming it.
func readConfigFile(path string, fs *flag.FlagSet) (*configFile, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--config: %v", err)
	}
	props, err := parseProperties(string(text))
	if err != nil {
		return nil, fmt.Errorf("%s:%v", path, err)
	}
	byKey := map[string]property{}
	for _, p := range props {
		byKey[p.key] = p // the last one wins, as in Java
	}
	cf := &configFile{path: path, set: map[string]fileSetting{}}
	if err := cf.mapKafkaKeys(byKey); err != nil {
		return nil, fmt.Errorf("%s:%v", path, err)
	}
	for _, k := range sortedKeys(byKey) {
		p := byKey[k]
		switch {
		case k == "config":
			return nil, fmt.Errorf("%s:%d: config: a config file cannot name another one", path, p.line)
		case fs.Lookup(k) != nil:
			if err := cf.put(k, p.value, p); err != nil {
				return nil, fmt.Errorf("%s:%v", path, err)
			}
		case isKafkaKey(k):
			cf.ignored = append(cf.ignored, k)
		default:
			return nil, fmt.Errorf("%s:%d: unknown setting %q: neither a Kafka broker setting nor a jocko broker flag%s; fix or remove it ('jocko broker -h' lists the settings)", path, p.line, k, suggest(k, fs))
		}
	}
	return cf, nil
}

// lineErr is an error about the file's line; readConfigFile puts the
// file's name before it (server.properties:3: ...).
func lineErr(line int, format string, args ...any) error {
	return fmt.Errorf("%d: "+format, append([]any{line}, args...)...)
}

// put records that the file sets flag to value, from property p; two keys
// for one flag (data-dir and log.dirs) are an error.
func (cf *configFile) put(flagName, value string, p property) error {
	if old, ok := cf.set[flagName]; ok {
		return lineErr(old.line, "%s and line %d: %s both set --%s; keep one", old.key, p.line, p.key, flagName)
	}
	cf.set[flagName] = fileSetting{value: value, key: p.key, line: p.line}
	return nil
}

// mapKafkaKeys maps the Kafka keys that correspond to Jocko flags under
// other names, removing them from byKey.
func (cf *configFile) mapKafkaKeys(byKey map[string]property) error {
	take := func(k string) (property, bool) {
		p, ok := byKey[k]
		delete(byKey, k)
		return p, ok
	}
	if err := cf.mapListeners(byKey, take); err != nil {
		return err
	}
	// log.dirs wins over log.dir, as in Kafka; Jocko has one directory.
	dirs, okDirs := take("log.dirs")
	dir, okDir := take("log.dir")
	if okDirs {
		dir, okDir = dirs, true
	}
	if okDir {
		var list []string
		for _, d := range strings.Split(dir.value, ",") {
			if d = strings.TrimSpace(d); d != "" {
				list = append(list, d)
			}
		}
		if len(list) != 1 {
			return lineErr(dir.line, "%s=%q: Jocko keeps its data in one directory: give exactly one", dir.key, dir.value)
		}
		if err := cf.put("data-dir", list[0], dir); err != nil {
			return err
		}
	}
	nodeID, okNode := take("node.id")
	brokerID, okBroker := take("broker.id")
	if okNode && okBroker && strings.TrimSpace(nodeID.value) != strings.TrimSpace(brokerID.value) {
		return lineErr(nodeID.line, "node.id=%s and line %d: broker.id=%s differ; keep node.id", nodeID.value, brokerID.line, brokerID.value)
	}
	if !okNode {
		nodeID, okNode = brokerID, okBroker
	}
	if okNode {
		if err := cf.put("node-id", nodeID.value, nodeID); err != nil {
			return err
		}
	}
	if rack, ok := take("broker.rack"); ok {
		if err := cf.put("rack", rack.value, rack); err != nil {
			return err
		}
	}
	// Kafka's retention and roll times in hours or minutes become the
	// milliseconds Jocko takes; ms wins over minutes over hours, as in Kafka.
	for _, u := range []struct {
		ms   string
		alts []string
		mult []int64
	}{
		{"log.retention.ms", []string{"log.retention.minutes", "log.retention.hours"}, []int64{60_000, 3_600_000}},
		{"log.roll.ms", []string{"log.roll.hours"}, []int64{3_600_000}},
	} {
		_, haveMs := byKey[u.ms]
		for i, alt := range u.alts {
			p, ok := take(alt)
			if !ok || haveMs {
				continue
			}
			n, err := strconv.ParseInt(strings.TrimSpace(p.value), 10, 64)
			if err != nil {
				return lineErr(p.line, "%s=%q: want a whole number", alt, p.value)
			}
			if n > 0 {
				n *= u.mult[i]
			}
			if err := cf.put(u.ms, strconv.FormatInt(n, 10), p); err != nil {
				return err
			}
			haveMs = true
		}
	}
	return nil
}

// kafkaListener is one entry of Kafka's listeners: NAME://HOST:PORT.
type kafkaListener struct{ name, addr string }

func parseListeners(p property) ([]kafkaListener, error) {
	var out []kafkaListener
	for _, l := range strings.Split(p.value, ",") {
		if l = strings.TrimSpace(l); l == "" {
			continue
		}
		name, addr, ok := strings.Cut(l, "://")
		if _, _, err := net.SplitHostPort(addr); !ok || name == "" || err != nil {
			return nil, lineErr(p.line, "%s: %q: want NAME://HOST:PORT (as PLAINTEXT://0.0.0.0:9092)", p.key, l)
		}
		out = append(out, kafkaListener{strings.ToUpper(name), addr})
	}
	return out, nil
}

// mapListeners maps listeners and advertised.listeners: Jocko serves one
// Kafka listener (PLAINTEXT); a listener named in controller.listener.names
// becomes the metadata Raft listener (Jocko's Raft is its own protocol, but
// it takes the port a Kafka file gives the controller).
func (cf *configFile) mapListeners(byKey map[string]property, take func(string) (property, bool)) error {
	lp, okL := take("listeners")
	ap, okA := take("advertised.listeners")
	if !okL && !okA {
		return nil
	}
	// Read for the mapping, so not warned about as unused.
	defer func() {
		for _, k := range []string{"controller.listener.names", "listener.security.protocol.map", "inter.broker.listener.name"} {
			take(k)
		}
	}()
	controllers := map[string]bool{"CONTROLLER": true}
	if p, ok := byKey["controller.listener.names"]; ok {
		controllers = map[string]bool{}
		for _, n := range strings.Split(p.value, ",") {
			controllers[strings.ToUpper(strings.TrimSpace(n))] = true
		}
	}
	protocols := map[string]string{"PLAINTEXT": "PLAINTEXT", "SSL": "SSL", "SASL_PLAINTEXT": "SASL_PLAINTEXT", "SASL_SSL": "SASL_SSL"}
	if p, ok := byKey["listener.security.protocol.map"]; ok {
		for _, kv := range strings.Split(p.value, ",") {
			if n, proto, ok := strings.Cut(strings.TrimSpace(kv), ":"); ok {
				protocols[strings.ToUpper(n)] = strings.ToUpper(proto)
			}
		}
	}
	client := ""
	if okL {
		ls, err := parseListeners(lp)
		if err != nil {
			return err
		}
		var names []string
		for _, l := range ls {
			if controllers[l.name] {
				if err := cf.put("raft-listen", l.addr, lp); err != nil {
					return fmt.Errorf("%v (Jocko has one metadata Raft listener)", err)
				}
				continue
			}
			names = append(names, l.name)
			client = l.name
			if proto := protocols[l.name]; proto != "PLAINTEXT" {
				return lineErr(lp.line, "listeners: %s uses %s; Jocko speaks PLAINTEXT only: remove it or make it PLAINTEXT", l.name, orUnknown(proto))
			}
			if err := cf.put("listen", l.addr, lp); err != nil {
				return lineErr(lp.line, "listeners=%q: Jocko serves one Kafka listener, this has %s; keep one", lp.value, strings.Join(names, ", "))
			}
		}
	}
	if !okA {
		return nil
	}
	as, err := parseListeners(ap)
	if err != nil {
		return err
	}
	for _, a := range as {
		if controllers[a.name] || client != "" && a.name != client {
			continue
		}
		if err := cf.put("advertise", a.addr, ap); err != nil {
			return lineErr(ap.line, "advertised.listeners=%q: Jocko advertises one Kafka listener; keep one", ap.value)
		}
	}
	if _, ok := cf.set["advertise"]; !ok {
		return lineErr(ap.line, "advertised.listeners=%q: no entry for the Kafka listener %s", ap.value, orUnknown(client))
	}
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// suggest names the flag or Kafka setting closest to a misspelt key.
func suggest(key string, fs *flag.FlagSet) string {
	best, bestD := "", 4
	try := func(n string) {
		if d := editDistance(key, n); d < bestD {
			best, bestD = n, d
		}
	}
	fs.VisitAll(func(f *flag.Flag) { try(f.Name) })
	for _, n := range core.KafkaBrokerConfigNames() {
		try(n)
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
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

func sortedKeys(m map[string]property) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return m[out[i]].line < m[out[j]].line })
	return out
}

// applyConfigFile reads the config file at path (none when empty) and sets
// every flag it gives that neither the command line nor a JOCKO_ variable
// set, recording those in src as from the file.
func applyConfigFile(fs *flag.FlagSet, path string, src map[string]flagSource) (*configFile, error) {
	if path == "" {
		return nil, nil
	}
	cf, err := readConfigFile(path, fs)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(cf.set))
	for n := range cf.set {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s := cf.set[n]
		if _, ok := src[n]; ok {
			continue // a flag or JOCKO_ variable wins over the file
		}
		err := fs.Set(n, s.value)
		if err == nil && isSetting(n) {
			// Check a Kafka setting here, where the file and line are known.
			err = core.Config{Defaults: map[string]string{n: s.value}}.WithDefaults().Validate()
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %s=%q: %v", path, s.line, s.key, s.value, err)
		}
		key := ""
		if s.key != n {
			key = s.key
		}
		src[n] = flagSource{from: "file", value: s.value, key: key}
	}
	return cf, nil
}

func isSetting(name string) bool {
	for _, s := range core.Settings() {
		if s.Name == name {
			return true
		}
	}
	return false
}

// settingSources lists every broker setting with its effective value,
// grouped by where it came from (flag, env, file, default), as log
// attributes: "file" holds "data-dir[log.dirs]=/var/lib/kafka ...", the
// bracket naming the file's key where it is not the flag's name.
func settingSources(fs *flag.FlagSet, src map[string]flagSource, eff core.Config) []any {
	defaults := map[string]string{
		"raft-listen":   eff.RaftAddr,
		"gossip-listen": eff.GossipAddr,
	}
	for _, s := range core.Settings() {
		defaults[s.Name] = s.Default
	}
	groups := map[string][]string{}
	fs.VisitAll(func(f *flag.Flag) {
		s, ok := src[f.Name]
		if !ok {
			s = flagSource{from: "default", value: f.DefValue}
			if d, ok := defaults[f.Name]; ok {
				s.value = d
			}
			if s.value == "" {
				return // unset, nothing in its place (--join, --rack, ...)
			}
		}
		name := f.Name
		if s.key != "" {
			name += "[" + s.key + "]"
		}
		v := s.value
		if v == "" || strings.ContainsAny(v, " \t\"") {
			v = strconv.Quote(v)
		}
		groups[s.from] = append(groups[s.from], name+"="+v)
	})
	var attrs []any
	for _, from := range []string{"flag", "env", "file", "default"} {
		if len(groups[from]) > 0 {
			attrs = append(attrs, from, strings.Join(groups[from], " "))
		}
	}
	return attrs
}
