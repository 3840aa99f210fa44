package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// clusterTimings make failover quick enough for a test: a crashed broker
// is fenced, and its partitions move, about 3 s after its last heartbeat.
var clusterTimings = []string{"--broker.heartbeat.interval.ms", "500", "--broker.session.timeout.ms", "3000", "--log-level", "debug"}

// startCluster starts n jocko processes: the first alone, the others
// joining it through its gossip address with no --node-id.
func startCluster(t *testing.T, n int) []*proc {
	t.Helper()
	return startClusterIn(t, make([]string, n))
}

// startClusterIn is startCluster with a data directory per process ("":
// a fresh one) and extra flags for every process.
func startClusterIn(t *testing.T, dirs []string, extra ...string) []*proc {
	t.Helper()
	n := len(dirs)
	args := append(append([]string(nil), clusterTimings...), extra...)
	first := startBroker(t, dirs[0], args...)
	m := gossipReadyRE.FindStringSubmatch(first.logText())
	if m == nil || m[1] == "" {
		t.Fatalf("no gossip address in the first broker's logs:\n%s", first.logText())
	}
	procs := []*proc{first}
	for i := 1; i < n; i++ {
		procs = append(procs, startBroker(t, dirs[i], append([]string{"--join", m[1]}, args...)...))
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i, p := range procs {
				t.Logf("=== logs of process %d (%s):\n%s", i+1, p.addr, p.logText())
			}
		}
	})
	ctx := testCtx(t)
	adm := first.admin(t)
	waitUntil(t, ctx, func() bool {
		md, err := adm.BrokerMetadata(ctx)
		return err == nil && len(md.Brokers) == n
	})
	waitUntil(t, ctx, func() bool { return quorumVoters(ctx, first) == min(n, 3) })
	return procs
}

// quorumVoters is how many metadata voters DescribeQuorum lists (0 on an
// error).
func quorumVoters(ctx context.Context, p *proc) int { return len(quorumVoterIDs(ctx, p)) }

// quorumVoterIDs lists the metadata voters DescribeQuorum reports (nil on
// an error).
func quorumVoterIDs(ctx context.Context, p *proc) []int32 {
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.addr))
	if err != nil {
		return nil
	}
	defer cl.Close()
	req := kmsg.NewPtrDescribeQuorumRequest()
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = "__cluster_metadata"
	rt.Partitions = []kmsg.DescribeQuorumRequestTopicPartition{kmsg.NewDescribeQuorumRequestTopicPartition()}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil || resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return nil
	}
	part := resp.Topics[0].Partitions[0]
	if part.ErrorCode != 0 {
		return nil
	}
	var ids []int32
	for _, v := range part.CurrentVoters {
		ids = append(ids, v.ReplicaID)
	}
	slices.Sort(ids)
	return ids
}

// brokerID reads the ID a broker recorded in its data directory.
func brokerID(t *testing.T, p *proc) int32 {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(p.dataDir, "meta.properties"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^node\.id=(\d+)$`).FindSubmatch(data)
	if m == nil {
		t.Fatalf("no node.id in meta.properties:\n%s", data)
	}
	id, _ := strconv.Atoi(string(m[1]))
	return int32(id)
}

// TestE2EClusterJoin: two brokers join the first with no --node-id; they
// get IDs 2 and 3, every broker lists all three, and a restarted joiner
// comes back without --join.
func TestE2EClusterJoin(t *testing.T) {
	t.Parallel()
	procs := startCluster(t, 3)
	var ids []int32
	for _, p := range procs {
		ids = append(ids, brokerID(t, p))
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []int32{1, 2, 3}) {
		t.Fatalf("broker IDs %v, want [1 2 3]", ids)
	}
	ctx := testCtx(t)
	for _, p := range procs {
		md, err := p.admin(t).BrokerMetadata(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(md.Brokers) != 3 || md.Controller < 1 {
			t.Fatalf("broker %s lists %d brokers, controller %d; want 3 and a controller", p.addr, len(md.Brokers), md.Controller)
		}
	}
	// A restart needs no --join: the broker has its metadata and knows its
	// peers.
	j := procs[2]
	jid := brokerID(t, j)
	j.stop()
	if i := slices.Index(j.args, "--join"); i >= 0 {
		j.args = slices.Delete(j.args, i, i+2)
	}
	j.restart()
	if got := brokerID(t, j); got != jid {
		t.Fatalf("restarted broker has ID %d, was %d", got, jid)
	}
	if !strings.Contains(j.logText(), "node="+strconv.Itoa(int(jid))) {
		t.Fatalf("restarted broker does not run as %d:\n%s", jid, j.logText())
	}
	waitUntil(t, ctx, func() bool {
		md, err := j.admin(t).BrokerMetadata(ctx)
		return err == nil && len(md.Brokers) == 3
	})
	// A broker that pins a live broker's ID is refused.
	dup := &proc{t: t, dataDir: t.TempDir()}
	m := gossipReadyRE.FindStringSubmatch(procs[0].logText())
	dup.args = []string{"broker", "--data-dir", dup.dataDir, "--listen", "127.0.0.1:0", "--node-id", "2", "--join", m[1]}
	out := dup.runToExit(30 * time.Second)
	if !strings.Contains(out, "broker 2 is alive") && !strings.Contains(out, "refusing to start") {
		t.Fatalf("a second broker 2 was not refused:\n%s", out)
	}
}

// TestE2EClusterLeaderKill9: three processes, a topic at replication
// factor 3, acks=all produce while the leader of partition 0 is killed
// with SIGKILL and restarted: every acknowledged record is read back,
// none twice.
func TestE2EClusterLeaderKill9(t *testing.T) {
	t.Parallel()
	procs := startCluster(t, 3)
	ctx := testCtx(t)
	adm := procs[0].admin(t)
	if _, err := adm.CreateTopic(ctx, 3, 3, nil, "failover"); err != nil {
		t.Fatal(err)
	}
	var seeds []string
	for _, p := range procs {
		seeds = append(seeds, p.addr)
	}
	const total = 6000
	prod, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic("failover"), kgo.MaxBufferedRecords(500))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	ap := produceAcked(ctx, prod, total, false)
	waitUntil(t, ctx, func() bool { return ap.n.Load() >= 1500 })
	leader := partitionLeader(t, ctx, adm, "failover", 0)
	var victim *proc
	for _, p := range procs {
		if brokerID(t, p) == leader {
			victim = p
		}
	}
	if victim == nil {
		t.Fatalf("no process is broker %d", leader)
	}
	victim.kill9()
	// The partition moves to another ISR member while the leader is down.
	other := procs[0]
	if other == victim {
		other = procs[1]
	}
	oadm := other.admin(t)
	waitUntil(t, ctx, func() bool {
		l := partitionLeaderOrZero(ctx, oadm, "failover", 0)
		return l > 0 && l != leader
	})
	// What the tools show while the old leader is down: the new leader,
	// and an ISR without the dead broker.
	checkToolsAfterFailover(t, ctx, other, "failover", leader)
	victim.restart()
	ap.wait(t)
	if ap.n.Load() != total {
		t.Fatalf("%d of %d records acknowledged", ap.n.Load(), total)
	}
	ap.check(t, consumeAll(t, other, "failover", total))
	// The restarted broker catches up and rejoins every ISR.
	waitUntil(t, ctx, func() bool {
		td, err := oadm.ListTopics(ctx, "failover")
		if err != nil {
			return false
		}
		for _, p := range td["failover"].Partitions {
			if len(p.ISR) != 3 {
				return false
			}
		}
		return true
	})
}

func partitionLeader(t *testing.T, ctx context.Context, adm *kadm.Client, topic string, part int32) int32 {
	t.Helper()
	var l int32
	waitUntil(t, ctx, func() bool {
		l = partitionLeaderOrZero(ctx, adm, topic, part)
		return l > 0
	})
	return l
}

func partitionLeaderOrZero(ctx context.Context, adm *kadm.Client, topic string, part int32) int32 {
	td, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return 0
	}
	p, ok := td[topic].Partitions[part]
	if !ok || p.Err != nil {
		return 0
	}
	return p.Leader
}

// runToExit runs the process to its end and returns what it logged; the
// test fails if it is still running after d.
func (p *proc) runToExit(d time.Duration) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, jockoBin, p.args...)
	out, _ := cmd.CombinedOutput()
	if ctx.Err() != nil {
		p.t.Fatalf("jocko %v still running after %v:\n%s", p.args, d, out)
	}
	return string(out)
}

// TestE2EClusterRollingRestart: every broker in turn is stopped with
// SIGTERM and restarted while a producer sends with acks=all. Each stop
// is a controlled shutdown (its leaderships move first), so no send fails
// and nothing is lost.
func TestE2EClusterRollingRestart(t *testing.T) {
	t.Parallel()
	procs := startCluster(t, 3)
	ctx := testCtx(t)
	adm := procs[0].admin(t)
	if _, err := adm.CreateTopic(ctx, 6, 3, nil, "rolling"); err != nil {
		t.Fatal(err)
	}
	var seeds []string
	for _, p := range procs {
		seeds = append(seeds, p.addr)
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic("rolling"))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	ap := produceAcked(ctx, prod, 0, true)
	for _, p := range procs {
		before := ap.n.Load()
		waitUntil(t, ctx, func() bool { return ap.n.Load() >= before+500 })
		p.stop()
		if !strings.Contains(p.logText(), "controlled shutdown: this broker leads nothing now") {
			t.Fatalf("broker %s stopped without completing its controlled shutdown:\n%s", p.addr, p.logText())
		}
		p.restart()
		// Back in every ISR before the next one goes.
		waitUntil(t, ctx, func() bool {
			td, err := adm.ListTopics(ctx, "rolling")
			if err != nil {
				return false
			}
			for _, part := range td["rolling"].Partitions {
				if len(part.ISR) != 3 || part.Leader < 0 {
					return false
				}
			}
			return true
		})
	}
	ap.finish(t)
	ap.check(t, consumeAll(t, procs[0], "rolling", int(ap.n.Load())))
}

// TestE2EClusterObservers: five processes, three of them metadata voters;
// the other two pull the metadata as observers. Everything works through
// an observer, including after the controller is killed: the observers
// find the new controller, and a topic created through one of them is
// served by all.
func TestE2EClusterObservers(t *testing.T) {
	t.Parallel()
	procs := startCluster(t, 5)
	ctx := testCtx(t)
	adm := procs[4].admin(t)
	if _, err := adm.CreateTopic(ctx, 5, 3, nil, "observed"); err != nil {
		t.Fatal(err)
	}
	md, err := adm.BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ctrl *proc
	for _, p := range procs {
		if brokerID(t, p) == md.Controller {
			ctrl = p
		}
	}
	if ctrl == nil || ctrl == procs[4] {
		t.Fatalf("controller %d: want one of the first brokers", md.Controller)
	}
	ctrl.kill9()
	// An observer (broker 4 or 5 never votes: the first three do) sees a
	// new controller and can create a topic through it.
	for _, p := range procs {
		if p == ctrl {
			continue
		}
		waitUntil(t, ctx, func() bool {
			c := controllerSeenBy(ctx, p)
			return c > 0 && c != brokerID(t, ctrl)
		})
	}
	var resp kadm.CreateTopicResponse
	waitUntil(t, ctx, func() bool {
		resp, err = adm.CreateTopic(ctx, 3, 3, nil, "after-failover")
		return err == nil && resp.Err == nil
	})
	for _, p := range procs {
		if p == ctrl {
			continue
		}
		a := p.admin(t)
		waitUntil(t, ctx, func() bool {
			td, err := a.ListTopics(ctx, "after-failover")
			return err == nil && len(td["after-failover"].Partitions) == 3
		})
	}
	prod := procs[3].client(t, kgo.DefaultProduceTopic("after-failover"))
	for i := range 100 {
		if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatalf("produce through an observer: %v", err)
		}
	}
	if got := consumeAll(t, procs[4], "after-failover", 100); len(got) != 100 {
		t.Fatalf("consumed %d records, want 100", len(got))
	}
}

// controllerSeenBy asks broker p itself (a fresh client's first request
// goes to its seed) which broker is the controller; 0 on an error.
func controllerSeenBy(ctx context.Context, p *proc) int32 {
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.addr))
	if err != nil {
		return 0
	}
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0
	}
	return resp.ControllerID
}

// TestE2EClusterRemoveBroker: four processes, three voters. A voter is
// killed; `jocko cluster remove-broker` refuses a live broker, then removes
// the dead one, and the controller promotes the fourth broker so that three
// voters remain.
func TestE2EClusterRemoveBroker(t *testing.T) {
	t.Parallel()
	procs := startCluster(t, 4)
	ctx := testCtx(t)
	voters := quorumVoterIDs(ctx, procs[0])
	ctrl := controllerSeenBy(ctx, procs[0])
	var victim *proc
	var observer int32
	for _, p := range procs {
		id := brokerID(t, p)
		switch {
		case !slices.Contains(voters, id):
			observer = id
		case id != ctrl && victim == nil:
			victim = p
		}
	}
	if victim == nil || observer == 0 {
		t.Fatalf("voters %v, controller %d: want a non-controller voter and an observer", voters, ctrl)
	}
	vid := brokerID(t, victim)
	brokers := procs[0].addr
	if victim == procs[0] {
		brokers = procs[1].addr
	}
	if code, _, stderr := runCLI("cluster", "remove-broker", strconv.Itoa(int(vid)), "--brokers", brokers); code == 0 ||
		!strings.Contains(stderr, "alive") {
		t.Fatalf("removing live broker %d: exit %d, stderr %q; want a refusal", vid, code, stderr)
	}
	victim.kill9()
	var stdout, stderr string
	waitUntil(t, ctx, func() bool {
		var code int
		code, stdout, stderr = runCLI("cluster", "remove-broker", strconv.Itoa(int(vid)), "--brokers", brokers)
		return code == 0
	})
	if !strings.Contains(stdout, "removed broker "+strconv.Itoa(int(vid))) {
		t.Fatalf("remove-broker printed %q (stderr %q)", stdout, stderr)
	}
	other := procs[0]
	if other == victim {
		other = procs[1]
	}
	waitUntil(t, ctx, func() bool {
		v := quorumVoterIDs(ctx, other)
		return len(v) == 3 && !slices.Contains(v, vid) && slices.Contains(v, observer)
	})
	md, err := other.admin(t).BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range md.Brokers {
		if b.NodeID == vid {
			t.Fatalf("removed broker %d still listed", vid)
		}
	}
}

// TestE2EClusterGossipFailure: with the default session timeout (9 s), a
// broker killed with SIGKILL is fenced on Serf's failure report, not only
// when its session expires.
func TestE2EClusterGossipFailure(t *testing.T) {
	t.Parallel()
	first := startBroker(t, "", "--broker.heartbeat.interval.ms", "500")
	m := gossipReadyRE.FindStringSubmatch(first.logText())
	procs := []*proc{first}
	for range 2 {
		procs = append(procs, startBroker(t, "", "--join", m[1], "--broker.heartbeat.interval.ms", "500"))
	}
	ctx := testCtx(t)
	waitUntil(t, ctx, func() bool { return quorumVoters(ctx, first) == 3 })
	ctrl := controllerSeenBy(ctx, first)
	var victim *proc
	for _, p := range procs {
		if brokerID(t, p) != ctrl {
			victim = p
		}
	}
	vid := brokerID(t, victim)
	victim.kill9()
	var ctrlProc *proc
	for _, p := range procs {
		if brokerID(t, p) == ctrl {
			ctrlProc = p
		}
	}
	want := "fencing broker: gossip reports it failed"
	waitUntil(t, ctx, func() bool {
		for _, line := range strings.Split(ctrlProc.logText(), "\n") {
			if strings.Contains(line, want) && strings.Contains(line, "broker="+strconv.Itoa(int(vid))) {
				return true
			}
			if strings.Contains(line, "fencing broker: session expired") && strings.Contains(line, "broker="+strconv.Itoa(int(vid))) {
				t.Fatalf("broker %d was fenced by its session expiring, not by gossip:\n%s", vid, line)
			}
		}
		return false
	})
}

// TestE2EClusterRefusesOtherCluster: a broker whose data directory belongs
// to one cluster refuses to join another.
func TestE2EClusterRefusesOtherCluster(t *testing.T) {
	a := startBroker(t, "")
	m := gossipReadyRE.FindStringSubmatch(a.logText())
	b := startBroker(t, "")
	b.stop()
	other := &proc{t: t, dataDir: b.dataDir,
		args: []string{"broker", "--data-dir", b.dataDir, "--listen", "127.0.0.1:0", "--join", m[1]}}
	out := other.runToExit(60 * time.Second)
	if !strings.Contains(out, "refusing to join") {
		t.Fatalf("a broker of another cluster joined, or failed otherwise:\n%s", out)
	}
}

// checkToolsAfterFailover checks that `jocko topic describe` and (when it
// is installed) `kcat -L`, asked at p, show partition 0 of topic led by a
// broker other than dead, with dead out of its ISR, once the metadata says
// so.
func checkToolsAfterFailover(t *testing.T, ctx context.Context, p *proc, topic string, dead int32) {
	t.Helper()
	d := strconv.Itoa(int(dead))
	waitUntil(t, ctx, func() bool {
		td, err := p.admin(t).ListTopics(ctx, topic)
		return err == nil && !slices.Contains(td[topic].Partitions[0].ISR, dead)
	})
	code, out, stderr := runCLI("topic", "describe", topic, "--brokers", p.addr)
	if code != 0 {
		t.Fatalf("jocko topic describe: exit %d: %s", code, stderr)
	}
	row := regexp.MustCompile(`(?m)^0\s+(\d+)\s+\d+\s+\[[^\]]*\]\s+\[([^\]]*)\]`).FindStringSubmatch(out)
	if row == nil || row[1] == d || slices.Contains(strings.Fields(row[2]), d) {
		t.Fatalf("jocko topic describe after broker %s died:\n%s", d, out)
	}
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Log("kcat not installed: only the CLI checked")
		return
	}
	l, err := exec.CommandContext(ctx, kcat, "-b", p.addr, "-L", "-t", topic).CombinedOutput()
	m := regexp.MustCompile(`partition 0, leader (\d+), replicas: [\d,]+, isrs: ([\d,]+)`).FindSubmatch(l)
	if err != nil || m == nil || string(m[1]) == d || slices.Contains(strings.Split(string(m[2]), ","), d) {
		t.Fatalf("kcat -L after broker %s died (%v):\n%s", d, err, l)
	}
}
