package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jocko/jocko/core"
	jio "github.com/jocko/jocko/io"
)

// coreCluster is n brokers run in this process with static voters, so the
// CLI tests see a real 3-broker cluster without depending on joining.
type coreCluster struct {
	addrs  []string         // Kafka addresses, broker i+1 at addrs[i]
	raft   map[int32]string // Raft addresses by broker ID
	stop   []context.CancelFunc
	done   []chan error
	closed []bool
}

// loopbackPort reserves a free loopback port (closed again at once).
func loopbackPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startCoreCluster starts n in-process brokers whose heartbeats make a
// stopped broker fenced about 1.5 s after its last one.
func startCoreCluster(t *testing.T, n int) *coreCluster {
	t.Helper()
	cc := &coreCluster{raft: map[int32]string{}}
	kafka := map[int32]string{}
	for id := int32(1); id <= int32(n); id++ {
		kafka[id], cc.raft[id] = loopbackPort(t), loopbackPort(t)
	}
	var brokers []*core.Broker
	for id := int32(1); id <= int32(n); id++ {
		cfg := core.Config{NodeID: id, DataDir: t.TempDir(), ListenAddr: kafka[id], RaftAddr: cc.raft[id], Voters: cc.raft,
			Defaults: map[string]string{"broker.heartbeat.interval.ms": "250", "broker.session.timeout.ms": "1500"}}
		b, err := core.NewBroker(cfg, jio.Env{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- b.Run(ctx) }()
		cc.stop, cc.done, cc.closed = append(cc.stop, cancel), append(cc.done, done), append(cc.closed, false)
		brokers = append(brokers, b)
	}
	t.Cleanup(func() {
		for i := range cc.stop {
			cc.stopBroker(t, int32(i+1))
		}
	})
	for i, b := range brokers {
		select {
		case <-b.Ready():
			cc.addrs = append(cc.addrs, b.Addr())
		case <-time.After(30 * time.Second):
			t.Fatalf("broker %d not ready", i+1)
		}
	}
	return cc
}

// stopBroker stops broker id (as a crash would look to the others: no
// controlled shutdown) and waits for it to return.
func (cc *coreCluster) stopBroker(t *testing.T, id int32) {
	if cc.closed[id-1] {
		return
	}
	cc.closed[id-1] = true
	cc.stop[id-1]()
	if err := <-cc.done[id-1]; err != nil {
		t.Errorf("broker %d: %v", id, err)
	}
}

// admin returns an admin client for the cluster, closed with the test.
func (cc *coreCluster) admin(t *testing.T) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(cc.addrs...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// createTopic creates topic with 3 partitions at replication factor rf
// through the CLI, retrying while placement does not yet see every broker
// unfenced (a broker is ready before the others' metadata shows it so).
func createTopic(t *testing.T, topic, rf, brokers string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, _, errOut := runCLI("topic", "create", topic, "--partitions", "3", "--replication-factor", rf, brokers)
		if code == 0 {
			return
		}
		if !strings.Contains(errOut, "INVALID_REPLICATION_FACTOR") || time.Now().After(deadline) {
			t.Fatalf("jocko topic create %s: exit %d: %s", topic, code, errOut)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitCLI runs a command line until its output satisfies ok, or fails the
// test after d with the last output.
func waitCLI(t *testing.T, d time.Duration, ok func(string) bool, args ...string) string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		code, out, errOut := runCLI(args...)
		if code == 0 && ok(out) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("jocko %s: exit %d after %v, last output:\n%s\nstderr: %s", strings.Join(args, " "), code, d, out, errOut)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var (
	brokerRowRE = regexp.MustCompile(`(?m)^(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(fenced|unfenced)$`)
	voterRowRE  = regexp.MustCompile(`(?m)^(\d+)\s+(\S+)\s+(\S+)\s+(leader|follower)$`)
)

// describedBrokers parses the broker table of `cluster describe`: ID to
// [address, rack, epoch, status].
func describedBrokers(out string) map[int32][4]string {
	rows := map[int32][4]string{}
	for _, m := range brokerRowRE.FindAllStringSubmatch(out, -1) {
		id, _ := strconv.Atoi(m[1])
		rows[int32(id)] = [4]string{m[2], m[3], m[4], m[5]}
	}
	return rows
}

// TestCLIClusterDescribe drives `jocko cluster describe` against three
// brokers: every broker with its address, epoch (from DescribeCluster's
// broker-epoch tag) and fenced state, the controller, the three Raft
// voters with their addresses (DescribeQuorum), then, after broker 3
// stops, broker 3 fenced with the same epoch, the RF=3 partitions
// under-replicated and the RF=1 partitions it held offline. `jocko topic
// describe` shows each partition's leader, leader epoch, replicas and ISR
// exactly as Metadata has them.
func TestCLIClusterDescribe(t *testing.T) {
	cc := startCoreCluster(t, 3)
	br := "--brokers=" + cc.addrs[0]
	createTopic(t, "orders", "3", br)
	createTopic(t, "solo", "1", br)
	healthy := func(out string) bool {
		return strings.Contains(out, "Under-replicated partitions: none") && strings.Contains(out, "Offline partitions: none")
	}
	out := waitCLI(t, 20*time.Second, healthy, "cluster", "describe", br)
	rows := describedBrokers(out)
	epochs := map[string]bool{}
	for id := int32(1); id <= 3; id++ {
		r, ok := rows[id]
		epoch, err := strconv.ParseInt(r[2], 10, 64)
		if !ok || r[0] != cc.addrs[id-1] || r[1] != "-" || err != nil || epoch <= 0 || r[3] != "unfenced" {
			t.Fatalf("broker %d row %q; want %s, no rack, a positive epoch, unfenced; output:\n%s", id, r, cc.addrs[id-1], out)
		}
		epochs[r[2]] = true
	}
	if len(rows) != 3 || len(epochs) != 3 || !strings.Contains(out, "Brokers: 3 (0 fenced)") {
		t.Fatalf("want 3 unfenced brokers with distinct epochs; output:\n%s", out)
	}
	checkVotersAndController(t, cc, out)

	// RF=1 partitions on broker 3 go offline when it stops.
	adm := cc.admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var err error
	var md kadm.Metadata
	for { // any broker may answer, and it may not have applied the topic yet
		md, err = adm.Metadata(ctx, "solo")
		if err == nil && len(md.Topics["solo"].Partitions) == 3 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("metadata of solo: %v %+v", err, md.Topics["solo"])
		}
		time.Sleep(50 * time.Millisecond)
	}
	var onThree []int32
	for _, p := range md.Topics["solo"].Partitions.Sorted() {
		if p.Replicas[0] == 3 {
			onThree = append(onThree, p.Partition)
		}
	}
	if len(onThree) == 0 {
		t.Fatalf("placement put none of solo's 3 single-replica partitions on broker 3: %+v", md.Topics["solo"].Partitions)
	}
	if cc.raftLeader(t, out) == 3 {
		t.Log("broker 3 is the controller: stopping it also moves the controller")
	}
	epoch3 := rows[3][2]
	cc.stopBroker(t, 3)
	seeds := "--brokers=" + cc.addrs[0] + "," + cc.addrs[1]
	out = waitCLI(t, 30*time.Second, func(out string) bool {
		return describedBrokers(out)[3][3] == "fenced" && strings.Contains(out, "Under-replicated partitions: 3") &&
			strings.Contains(out, fmt.Sprintf("Offline partitions: %d", len(onThree)))
	}, "cluster", "describe", seeds)
	t.Logf("jocko cluster describe, broker 3 stopped:\n%s", out)
	if r := describedBrokers(out)[3]; r[2] != epoch3 || !strings.Contains(out, "Brokers: 3 (1 fenced)") {
		t.Fatalf("fenced broker 3: epoch %s, want %s unchanged; output:\n%s", r[2], epoch3, out)
	}
	for _, p := range onThree {
		row := regexp.MustCompile(fmt.Sprintf(`(?m)^solo\s+%d\s+-1\s+\d+\s+\[3\]\s+\[3\]$`, p))
		if !row.MatchString(out) {
			t.Fatalf("offline solo-%d not listed as leader -1, replicas [3], ISR [3]; output:\n%s", p, out)
		}
	}
	for p := 0; p < 3; p++ {
		row := regexp.MustCompile(fmt.Sprintf(`(?m)^orders\s+%d\s+[12]\s+\d+\s+\[[123 ]+\]\s+\[[12] [12]\]$`, p))
		if !row.MatchString(out) {
			t.Fatalf("under-replicated orders-%d not listed with ISR of brokers 1 and 2; output:\n%s", p, out)
		}
	}
	checkTopicDescribe(t, cc.admin(t), seeds, "orders")
}

// checkVotersAndController checks the controller line and the voter table
// of `cluster describe` output: voters 1-3 at their Raft addresses, the
// leader's log end known and the controller being that leader.
func checkVotersAndController(t *testing.T, cc *coreCluster, out string) {
	t.Helper()
	voters := voterRowRE.FindAllStringSubmatch(out, -1)
	if len(voters) != 3 {
		t.Fatalf("%d voter rows, want 3; output:\n%s", len(voters), out)
	}
	leader := cc.raftLeader(t, out)
	for i, v := range voters {
		id := int32(i + 1)
		if v[1] != strconv.Itoa(int(id)) || v[2] != cc.raft[id] {
			t.Fatalf("voter row %q, want broker %d at %s; output:\n%s", v[0], id, cc.raft[id], out)
		}
		if (id == leader) != (v[4] == "leader") || (id == leader) == (v[3] == "-") {
			t.Fatalf("voter row %q: only the leader (%d) has a role of leader and a known log end; output:\n%s", v[0], leader, out)
		}
	}
	want := fmt.Sprintf("Controller: %d (%s)\n", leader, cc.addrs[leader-1])
	if !strings.Contains(out, want) {
		t.Fatalf("want %q; output:\n%s", want, out)
	}
}

// raftLeader reads the leader from the "Metadata quorum:" line.
func (cc *coreCluster) raftLeader(t *testing.T, out string) int32 {
	t.Helper()
	m := regexp.MustCompile(`Metadata quorum: leader (\d+), epoch (\d+), committed index (\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no quorum line; output:\n%s", out)
	}
	id, _ := strconv.Atoi(m[1])
	return int32(id)
}

// checkTopicDescribe checks that `jocko topic describe` prints, for every
// partition, the leader, leader epoch, replicas and ISR that Metadata
// reports.
func checkTopicDescribe(t *testing.T, adm *kadm.Client, seeds, topic string) {
	t.Helper()
	code, out, errOut := runCLI("topic", "describe", topic, seeds)
	if code != 0 {
		t.Fatalf("topic describe %s: exit %d: %s", topic, code, errOut)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "PARTITION  LEADER  EPOCH  REPLICAS  ISR") {
		t.Fatalf("topic describe header; output:\n%s", out)
	}
	for _, p := range md.Topics[topic].Partitions.Sorted() {
		row := regexp.MustCompile(fmt.Sprintf(`(?m)^%d\s+%d\s+%d\s+%s\s+%s\s`, p.Partition, p.Leader, p.LeaderEpoch,
			regexp.QuoteMeta(fmt.Sprint(p.Replicas)), regexp.QuoteMeta(fmt.Sprint(p.ISR))))
		if !row.MatchString(out) {
			t.Fatalf("topic describe: no row for partition %d with leader %d, epoch %d, replicas %v, ISR %v; output:\n%s",
				p.Partition, p.Leader, p.LeaderEpoch, p.Replicas, p.ISR, out)
		}
	}
}

// TestCLIClusterBadInput: mistakes on `jocko cluster` say what is wrong.
func TestCLIClusterBadInput(t *testing.T) {
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"cluster"}, 2, "cluster needs a subcommand: describe"},
		{[]string{"cluster", "explode"}, 2, `unknown cluster subcommand "explode": want describe`},
		{[]string{"cluster", "describe", "extra"}, 2, "jocko cluster describe takes no arguments"},
		{[]string{"cluster", "describe", "--brokers", "127.0.0.1:1", "--timeout", "2s"}, 1, "cannot reach a broker at 127.0.0.1:1"},
	}
	for _, c := range cases {
		code, _, errOut := runCLI(c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("jocko %s: exit %d, stderr %q; want exit %d and %q", strings.Join(c.args, " "), code, errOut, c.code, c.want)
		}
	}
}

// TestKcatListsThreeBrokers: kcat -L (librdkafka's Metadata) sees all three
// brokers, and each partition's leader, replicas and ISR.
func TestKcatListsThreeBrokers(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat not installed (apt-get install kcat)")
	}
	cc := startCoreCluster(t, 3)
	createTopic(t, "orders", "3", "--brokers="+cc.addrs[0])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []byte
	full := regexp.MustCompile(`partition \d+, leader [123], replicas: [123],[123],[123], isrs: [123],[123],[123]`)
	for ctx.Err() == nil {
		out, err = exec.CommandContext(ctx, kcat, "-L", "-b", cc.addrs[1], "-t", "orders").CombinedOutput()
		if err == nil && len(full.FindAll(out, -1)) == 3 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	text := string(out)
	if !strings.Contains(text, " 3 brokers:") || len(full.FindAll(out, -1)) != 3 {
		t.Fatalf("kcat -L: want 3 brokers and 3 partitions with full ISR; got:\n%s", text)
	}
	for id := 1; id <= 3; id++ {
		if want := fmt.Sprintf("broker %d at %s", id, cc.addrs[id-1]); !strings.Contains(text, want) {
			t.Fatalf("kcat -L: no %q in:\n%s", want, text)
		}
	}
}
