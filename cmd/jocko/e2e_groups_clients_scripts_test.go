package main

// kafka-python and kafkajs group consumers, driven by scripts in testdata/clients.

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// needKafkaPython returns a python3 that can import kafka-python, or skips
// (Debian package python3-kafka, kafka-python 2.0.2, for /usr/bin/python3).
func needKafkaPython(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if out, err := exec.Command(py, "-c", "import kafka; print(kafka.__version__)").Output(); err == nil {
			t.Logf("%s: kafka-python %s", py, strings.TrimSpace(string(out)))
			return py
		}
	}
	t.Skip("kafka-python not installed (apt-get install python3-kafka); skipping")
	return ""
}

// TestE2EGroupClientsKafkaPython: kafka-python's KafkaConsumer in a group
// (testdata/clients/kafka_python_group.py), committing after each poll,
// with its range and round-robin assignors; SIGTERM commits and closes;
// roundrobin-kill9 kills a member, which its session timeout expels.
func TestE2EGroupClientsKafkaPython(t *testing.T) {
	t.Parallel()
	py := needKafkaPython(t)
	script, err := filepath.Abs("testdata/clients/kafka_python_group.py")
	if err != nil {
		t.Fatal(err)
	}
	b, px := startProxiedBroker(t, clientGroupBrokerFlags...)
	for _, tc := range []struct {
		name, assignor string
		crash          time.Duration
	}{
		{"range", "range", 0},
		{"roundrobin", "roundrobin", 0},
		{"roundrobin-kill9", "roundrobin", 3 * time.Second},
	} {
		session := 6 * time.Second
		if tc.crash > 0 {
			session = tc.crash
		}
		t.Run(tc.name, func(t *testing.T) {
			group := "kafkapy-" + tc.name
			cgScenario(t, b, px, group, group, tc.crash, func(clientID string) cgMember {
				p := cgStart(t, clientID, py, script, b.addr, group, group, clientID, tc.assignor,
					strconv.Itoa(int(session.Milliseconds())))
				p.mu.Lock()
				p.ownerLines = true
				p.mu.Unlock()
				return p
			})
		})
	}
}

// needKafkaJS returns node and the kafkajs_group.js script when kafkajs can
// be loaded next to it (npm install --prefix cmd/jocko/testdata/clients
// kafkajs@2.2.4) or from NODE_PATH, or skips.
func needKafkaJS(t *testing.T) (string, string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed; skipping the kafkajs test")
	}
	script, err := filepath.Abs("testdata/clients/kafkajs_group.js")
	if err != nil {
		t.Fatal(err)
	}
	check := exec.Command(node, "-e", "console.log(require('kafkajs/package.json').version)")
	check.Dir = filepath.Dir(script)
	out, err := check.Output()
	if err != nil {
		t.Skip("kafkajs not installed (npm install --prefix cmd/jocko/testdata/clients kafkajs@2.2.4); skipping")
	}
	t.Logf("kafkajs %s", strings.TrimSpace(string(out)))
	return node, script
}

// TestE2EGroupClientsKafkaJS: kafkajs's consumer (testdata/clients/
// kafkajs_group.js) with its round-robin assigner, committing after each
// batch; SIGTERM disconnects (commit, LeaveGroup); kill9 kills a member,
// which its session timeout expels.
func TestE2EGroupClientsKafkaJS(t *testing.T) {
	node, script := needKafkaJS(t)
	b, px := startProxiedBroker(t, clientGroupBrokerFlags...)
	for _, tc := range []struct {
		name  string
		crash time.Duration
	}{
		{"roundrobin", 0},
		{"roundrobin-kill9", 3 * time.Second},
	} {
		session := 6 * time.Second
		if tc.crash > 0 {
			session = tc.crash
		}
		t.Run(tc.name, func(t *testing.T) {
			group := "kafkajs-" + tc.name
			cgScenario(t, b, px, group, group, tc.crash, func(clientID string) cgMember {
				p := cgStart(t, clientID, node, script, b.addr, group, group, clientID, strconv.Itoa(int(session.Milliseconds())))
				p.mu.Lock()
				p.ownerLines = true
				p.mu.Unlock()
				return p
			})
		})
	}
}
