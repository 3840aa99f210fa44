package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestE2EClusterNetns: three jocko processes, each in its own network
// namespace, linked by veth pairs to a bridge in a fourth namespace (the
// "hub"; a router there when the kernel has no bridge), so Serf, Raft and
// replication go over a real network rather than loopback. The test, in
// the root namespace, reaches them through one more veth into the hub.
// It produces acks=all to an RF=3 topic, cuts the leader of partition 0
// off (its link down at the hub), checks that the others fence it and
// that the producer carries on through the new leaders, heals the link,
// waits for every ISR to be full again and reads everything back: every
// acknowledged record exactly once.
//
// The broker cut off is the leader of partition 0 unless that broker is
// also the controller: then the leader of another partition (cutting the
// controller off is TestE2EClusterNetnsController).
//
// It needs root and iproute2, and skips (saying why) when it cannot
// create a network namespace, as in a container without CAP_SYS_ADMIN.
// JOCKO_NETNS_ROUTER=1 forces the router layout instead of the bridge.
func TestE2EClusterNetns(t *testing.T) { netnsCutAndHeal(t, false) }

// TestE2EClusterNetnsController is TestE2EClusterNetns cutting off the
// controller (the metadata Raft leader), which leads partitions too. It
// failed before heartbeats had a deadline of their own: they stayed stuck
// for up to 30 s on connections to the unreachable old controller, so the
// new controller fenced every broker, itself included, and every partition
// stayed offline until the link healed.
func TestE2EClusterNetnsController(t *testing.T) { netnsCutAndHeal(t, true) }

// netnsCutAndHeal runs the scenario, cutting off the controller or (with
// cutController false) a partition leader that is not the controller.
func netnsCutAndHeal(t *testing.T, cutController bool) {
	lab := newNetnsLab(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	// The first broker alone, the others joining its gossip address.
	procs := []*proc{lab.startBroker(0, clusterTimings...)}
	gossip := lab.ips[0] + ":9094"
	if m := gossipReadyRE.FindStringSubmatch(procs[0].logText()); m == nil || m[1] != gossip {
		t.Fatalf("first broker does not gossip on %s:\n%s", gossip, procs[0].logText())
	}
	for i := 1; i < 3; i++ {
		procs = append(procs, lab.startBroker(i, append([]string{"--join", gossip}, clusterTimings...)...))
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i, p := range procs {
				t.Logf("=== logs of process %d (%s, namespace %s), last lines:\n%s", i+1, p.addr, lab.ns[i], lastLines(p.logText(), 400))
			}
		}
	})
	var seeds []string
	for i, p := range procs {
		if p.addr != lab.ips[i]+":9092" {
			t.Fatalf("broker %d serves on %s, want %s:9092", i+1, p.addr, lab.ips[i])
		}
		seeds = append(seeds, p.addr)
	}
	netnsWait(t, ctx, 60*time.Second, "three brokers and three metadata voters", func() string {
		md, err := netnsMetadata(ctx, procs[0].addr, "")
		if err != nil {
			return err.Error()
		}
		if len(md.Brokers) != 3 {
			return fmt.Sprintf("%d brokers", len(md.Brokers))
		}
		if v := quorumVoters(ctx, procs[0]); v != 3 {
			return fmt.Sprintf("%d voters", v)
		}
		return ""
	})

	const topic = "netns"
	adm := kadm.NewClient(netnsClient(t, seeds))
	netnsWait(t, ctx, 30*time.Second, "topic created", func() string {
		_, err := adm.CreateTopic(ctx, 3, 3, nil, topic)
		switch {
		case err == nil, errors.Is(err, kerr.TopicAlreadyExists):
			return ""
		case errors.Is(err, kerr.InvalidReplicationFactor):
			// Placement may not see every broker unfenced yet.
			return err.Error()
		}
		t.Fatalf("create topic: %v", err)
		return ""
	})

	// The producer: acks=all, idempotent, unbounded retries; short request
	// timeouts so a request stuck on the cut-off broker is given up
	// quickly. It runs until told to stop, at about 2000 records/s.
	prod := netnsClient(t, seeds,
		kgo.DefaultProduceTopic(topic),
		kgo.MaxBufferedRecords(500),
		kgo.ProduceRequestTimeout(5*time.Second),
	)
	var (
		acked    sync.Map // value -> partition
		nAcked   atomic.Int64
		perPart  [3]atomic.Int64
		produced atomic.Int64
		failed   atomic.Value
		stop     = make(chan struct{})
		done     = make(chan struct{})
	)
	go func() {
		defer close(done)
		for i := 0; ctx.Err() == nil; i++ {
			select {
			case <-stop:
				prod.Flush(ctx)
				return
			default:
			}
			if i%10 == 0 {
				time.Sleep(5 * time.Millisecond)
			}
			v := strconv.Itoa(i)
			produced.Add(1)
			prod.Produce(ctx, &kgo.Record{Key: []byte(v), Value: []byte(v)}, func(r *kgo.Record, err error) {
				if err != nil {
					failed.CompareAndSwap(nil, fmt.Sprintf("record %s: %v", r.Value, err))
					return
				}
				if _, dup := acked.LoadOrStore(string(r.Value), r.Partition); dup {
					failed.CompareAndSwap(nil, fmt.Sprintf("record %s acknowledged twice", r.Value))
				}
				nAcked.Add(1)
				perPart[r.Partition].Add(1)
			})
		}
	}()
	stopProducer := sync.OnceFunc(func() { close(stop); <-done })
	t.Cleanup(stopProducer)
	netnsWait(t, ctx, 60*time.Second, "1000 records acknowledged before the cut", func() string {
		return fmt.Sprintf("%d acknowledged", nAcked.Load())
	}, func() bool { return nAcked.Load() >= 1000 })

	// Choose the broker to cut off.
	var leader int32
	netnsWait(t, ctx, 30*time.Second, "a controller and a leader for every partition", func() string {
		leader = 0
		md, err := netnsMetadata(ctx, procs[0].addr, topic)
		if err != nil {
			return err.Error()
		}
		if md.ControllerID <= 0 {
			return "no controller"
		}
		if why := netnsCheckPartitions(md, func(p *kmsg.MetadataResponseTopicPartition) string {
			if p.Leader <= 0 {
				return "no leader"
			}
			return ""
		}); why != "" {
			return why
		}
		if cutController {
			leader = md.ControllerID
			return ""
		}
		for _, part := range []int32{0, 1, 2} {
			if p := netnsPartition(md, part); p != nil && p.Leader != md.ControllerID {
				leader = p.Leader
				return ""
			}
		}
		return fmt.Sprintf("the controller %d leads every partition", md.ControllerID)
	})
	victim := -1
	for i, p := range procs {
		if brokerID(t, p) == leader {
			victim = i
		}
	}
	if victim < 0 {
		t.Fatalf("no process is broker %d", leader)
	}
	other := procs[(victim+1)%3]
	role := "a partition leader, not the controller"
	if cutController {
		role = "the controller"
	}
	t.Logf("cutting off broker %d, %s (%s, namespace %s), after %d acknowledged records", leader, role, procs[victim].addr, lab.ns[victim], nAcked.Load())
	cutAt := time.Now()
	lab.cut(victim)

	// The others fence it: no partition is led by it, no ISR holds it.
	netnsWait(t, ctx, 60*time.Second, fmt.Sprintf("broker %d fenced: out of every leadership and ISR, as %s sees it", leader, other.addr), func() string {
		md, err := netnsMetadata(ctx, other.addr, topic)
		if err != nil {
			return err.Error()
		}
		return netnsCheckPartitions(md, func(p *kmsg.MetadataResponseTopicPartition) string {
			if p.Leader <= 0 || p.Leader == leader {
				return fmt.Sprintf("leader %d", p.Leader)
			}
			if slices.Contains(p.ISR, leader) {
				return fmt.Sprintf("ISR %v", p.ISR)
			}
			return ""
		})
	})
	t.Logf("broker %d fenced %v after the cut", leader, time.Since(cutAt).Round(time.Millisecond))

	// The producer goes on through the new leaders, on every partition.
	// The bound is generous: a request already sent to the cut-off broker
	// waits out the client's request timeout (core's
	// TestFencedFollowerReleasesHighWatermark covers the leader's side).
	var atMove [3]int64
	for p := range atMove {
		atMove[p] = perPart[p].Load()
	}
	netnsWait(t, ctx, 60*time.Second, "200 more records acknowledged on every partition after the leaders moved", func() string {
		var s []string
		for p := range atMove {
			s = append(s, strconv.FormatInt(perPart[p].Load()-atMove[p], 10))
		}
		if err := failed.Load(); err != nil {
			t.Fatalf("a produce failed: %v", err)
		}
		return "new acks per partition " + strings.Join(s, "/")
	}, func() bool {
		for p := range atMove {
			if perPart[p].Load()-atMove[p] < 200 {
				return false
			}
		}
		return true
	})
	t.Logf("producing again %v after the cut (%d acknowledged)", time.Since(cutAt).Round(time.Millisecond), nAcked.Load())

	// Heal: every partition gets its full ISR back, as every broker sees it.
	healAt := time.Now()
	lab.heal(victim)
	netnsWait(t, ctx, 120*time.Second, "a leader and a full ISR of 3 on every partition, as every broker sees it", func() string {
		for _, p := range procs {
			md, err := netnsMetadata(ctx, p.addr, topic)
			if err != nil {
				return p.addr + ": " + err.Error()
			}
			if why := netnsCheckPartitions(md, func(p *kmsg.MetadataResponseTopicPartition) string {
				if p.Leader <= 0 || len(p.ISR) != 3 {
					return fmt.Sprintf("leader %d ISR %v", p.Leader, p.ISR)
				}
				return ""
			}); why != "" {
				return p.addr + ": " + why
			}
		}
		return ""
	})
	t.Logf("every ISR full %v after the heal", time.Since(healAt).Round(time.Millisecond))
	afterHeal := nAcked.Load()
	netnsWait(t, ctx, 60*time.Second, "500 more records acknowledged after the heal", func() string {
		return fmt.Sprintf("%d", nAcked.Load()-afterHeal)
	}, func() bool { return nAcked.Load()-afterHeal >= 500 })

	stopProducer()
	if err := failed.Load(); err != nil {
		t.Fatalf("a produce failed: %v", err)
	}
	if n, p := nAcked.Load(), produced.Load(); n != p {
		t.Fatalf("%d of %d produced records acknowledged", n, p)
	}

	// Read everything back, up to each partition's end offset.
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	end := map[int32]int64{}
	var stored int64
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			t.Fatalf("end offset of %s-%d: %v", o.Topic, o.Partition, o.Err)
		}
		end[o.Partition] = o.Offset
		stored += o.Offset
	})
	cons := netnsClient(t, seeds, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	next := map[int32]int64{}
	seen := map[string]int{}
	for {
		reached := true
		for p, e := range end {
			if next[p] < e {
				reached = false
			}
		}
		if reached {
			break
		}
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consume: read up to %v of end offsets %v before the timeout", next, end)
		}
		fs.EachError(func(tp string, p int32, err error) { t.Logf("fetch %s-%d: %v", tp, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			next[r.Partition] = r.Offset + 1
			seen[string(r.Value)]++
			if p, ok := acked.Load(string(r.Value)); ok && p.(int32) != r.Partition {
				t.Errorf("record %s read from partition %d, acknowledged on %d", r.Value, r.Partition, p)
			}
		})
	}
	for v, n := range seen {
		if n > 1 {
			t.Errorf("record %s stored %d times", v, n)
		}
	}
	lost := 0
	acked.Range(func(k, _ any) bool {
		if seen[k.(string)] == 0 {
			if lost++; lost <= 20 {
				t.Errorf("acknowledged record %s lost", k)
			}
		}
		return true
	})
	if lost > 0 {
		t.Errorf("%d acknowledged records lost", lost)
	}
	if stored != nAcked.Load() {
		t.Errorf("partitions hold %d records, %d were acknowledged", stored, nAcked.Load())
	}
	t.Logf("%d records acknowledged, all read back once", nAcked.Load())
}

// netnsLab is the network: a hub namespace, one namespace per broker, and
// a veth from each (and from the root namespace) into the hub.
type netnsLab struct {
	t      *testing.T
	id     string   // unique prefix, with the test's PID
	hub    string   // the hub namespace
	ns     []string // each broker's namespace
	ips    []string // each broker's address
	ports  []string // the hub end of each broker's veth
	host   string   // the root namespace's end of its veth into the hub
	router bool     // the hub routes between /30 links instead of bridging a /24
}

func netnsIP(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// newNetnsLab builds the network for n brokers, or skips the test when it
// cannot: not root, no ip command, or no permission to create a network
// namespace.
func newNetnsLab(t *testing.T, n int) *netnsLab {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("network namespaces are Linux only")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces (ip netns)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip (iproute2) is not installed")
	}
	pid := os.Getpid()
	l := &netnsLab{
		t:    t,
		id:   fmt.Sprintf("jk%d", pid),
		hub:  fmt.Sprintf("jocko-%d-hub", pid),
		host: fmt.Sprintf("jk%dh", pid),
	}
	if err := netnsIP("netns", "add", l.hub); err != nil {
		t.Skipf("cannot create a network namespace here (a container without CAP_SYS_ADMIN?): %v", err)
	}
	t.Cleanup(l.teardown)
	subnet, err := netnsFreeSubnet(pid)
	if err != nil {
		t.Fatal(err)
	}
	must := func(args ...string) {
		t.Helper()
		if err := netnsIP(args...); err != nil {
			t.Fatal(err)
		}
	}
	must("-n", l.hub, "link", "set", "lo", "up")
	l.router = os.Getenv("JOCKO_NETNS_ROUTER") == "1"
	if !l.router {
		if err := netnsIP("-n", l.hub, "link", "add", "br0", "type", "bridge"); err != nil {
			t.Logf("no bridge (%v): routing in the hub namespace instead", err)
			l.router = true
		} else {
			must("-n", l.hub, "link", "set", "br0", "up")
		}
	}
	if l.router {
		out, err := exec.Command("ip", "netns", "exec", l.hub, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward").CombinedOutput()
		if err != nil {
			t.Fatalf("enabling forwarding in %s: %v: %s", l.hub, err, out)
		}
	}
	// link joins dev (in ns, or the root namespace when ns is "") to the
	// hub through port; k numbers the link: 0 for the root namespace,
	// 1..n for the brokers. It returns dev's address.
	link := func(ns, dev, port string, k int) string {
		t.Helper()
		in := func(args ...string) []string {
			if ns == "" {
				return args
			}
			return append([]string{"-n", ns}, args...)
		}
		if ns == "" {
			must("link", "add", dev, "type", "veth", "peer", "name", port, "netns", l.hub)
		} else {
			must("-n", l.hub, "link", "add", port, "type", "veth", "peer", "name", dev, "netns", ns)
		}
		var addr string
		if l.router {
			// A /30 per link: the hub .4k+1, the other end .4k+2.
			hubAddr := fmt.Sprintf("%s.%d", subnet, 4*k+1)
			addr = fmt.Sprintf("%s.%d", subnet, 4*k+2)
			must("-n", l.hub, "addr", "add", hubAddr+"/30", "dev", port)
			must(in("addr", "add", addr+"/30", "dev", dev)...)
			must("-n", l.hub, "link", "set", port, "up")
			must(in("link", "set", dev, "up")...)
			must(in("route", "add", subnet+".0/24", "via", hubAddr, "dev", dev)...)
		} else {
			addr = fmt.Sprintf("%s.%d", subnet, 10+k)
			must("-n", l.hub, "link", "set", port, "master", "br0")
			must(in("addr", "add", addr+"/24", "dev", dev)...)
			must("-n", l.hub, "link", "set", port, "up")
			must(in("link", "set", dev, "up")...)
		}
		return addr
	}
	link("", l.host, "up0", 0)
	for i := 1; i <= n; i++ {
		ns := fmt.Sprintf("jocko-%d-b%d", pid, i)
		must("netns", "add", ns)
		l.ns = append(l.ns, ns)
		must("-n", ns, "link", "set", "lo", "up")
		port := fmt.Sprintf("p%d", i)
		l.ports = append(l.ports, port)
		l.ips = append(l.ips, link(ns, "eth0", port, i))
	}
	// Every broker answers a ping from the root namespace before the test
	// goes on.
	for i, ip := range l.ips {
		var out []byte
		var err error
		for try := 0; try < 20; try++ {
			if out, err = exec.Command("ping", "-c", "1", "-W", "1", ip).CombinedOutput(); err == nil {
				break
			}
			if errors.Is(err, exec.ErrNotFound) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil && !errors.Is(err, exec.ErrNotFound) {
			t.Fatalf("no ping answer from broker namespace %s (%s): %v\n%s", l.ns[i], ip, err, out)
		}
	}
	mode := "bridge"
	if l.router {
		mode = "router"
	}
	t.Logf("network: %s.0/24, a %s in namespace %s, brokers %v in %v, the test on %s", subnet, mode, l.hub, l.ips, l.ns, l.host)
	return l
}

// netnsFreeSubnet picks a 10.213.x.0/24 that no address or route of the
// root namespace uses, starting from one derived from pid.
func netnsFreeSubnet(pid int) (string, error) {
	var used strings.Builder
	for _, args := range [][]string{{"-4", "addr"}, {"-4", "route", "show", "table", "all"}} {
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
		used.Write(out)
	}
	for i := 0; i < 250; i++ {
		x := (pid+i)%250 + 1
		if subnet := fmt.Sprintf("10.213.%d", x); !strings.Contains(used.String(), subnet+".") {
			return subnet, nil
		}
	}
	return "", errors.New("no free 10.213.x.0/24")
}

// cut takes broker i's link down at the hub: it can reach nothing and
// nothing reaches it, and its TCP connections hang rather than reset.
func (l *netnsLab) cut(i int) {
	l.t.Helper()
	if err := netnsIP("-n", l.hub, "link", "set", l.ports[i], "down"); err != nil {
		l.t.Fatal(err)
	}
}

func (l *netnsLab) heal(i int) {
	l.t.Helper()
	if err := netnsIP("-n", l.hub, "link", "set", l.ports[i], "up"); err != nil {
		l.t.Fatal(err)
	}
}

// teardown kills whatever still runs in the lab's namespaces (only the
// test's own brokers can: the namespaces are the test's), then deletes
// them, which deletes their veths and the bridge.
func (l *netnsLab) teardown() {
	for _, ns := range append(slices.Clone(l.ns), l.hub) {
		if out, err := exec.Command("ip", "netns", "pids", ns).Output(); err == nil {
			for _, f := range strings.Fields(string(out)) {
				if pid, err := strconv.Atoi(f); err == nil {
					if p, err := os.FindProcess(pid); err == nil {
						l.t.Logf("killing process %d left in %s", pid, ns)
						p.Kill()
					}
				}
			}
		}
		if err := netnsIP("netns", "del", ns); err != nil {
			l.t.Errorf("cleanup: %v", err)
		}
	}
	// The root end goes with its peer in the hub; make sure.
	if err := exec.Command("ip", "link", "show", l.host).Run(); err == nil {
		if err := netnsIP("link", "del", l.host); err != nil {
			l.t.Errorf("cleanup: %v", err)
		}
	}
}

// startBroker runs jocko in broker i's namespace, listening on its
// address (Raft and gossip on the default ports, 9093 and 9094).
func (l *netnsLab) startBroker(i int, extra ...string) *proc {
	t := l.t
	t.Helper()
	dataDir := t.TempDir()
	args := append([]string{"broker", "--data-dir", dataDir, "--listen", l.ips[i] + ":9092"}, extra...)
	// `ip netns exec NS` execs jocko in place: the process is jocko
	// itself, so stop's signals reach it.
	p := &proc{t: t, dataDir: dataDir, args: args, wrap: []string{"ip", "netns", "exec", l.ns[i]}}
	p.start("")
	t.Cleanup(p.stop)
	return p
}

// netnsClient is a franz-go client with timeouts short enough that a
// request to a cut-off broker is given up within seconds.
func netnsClient(t *testing.T, seeds []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.DialTimeout(3 * time.Second),
		kgo.RequestTimeoutOverhead(3 * time.Second),
		kgo.MetadataMinAge(250 * time.Millisecond),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// netnsMetadata asks the broker at addr, and only it, for the cluster's
// metadata and topic's (all topics when topic is "").
func netnsMetadata(ctx context.Context, addr, topic string) (*kmsg.MetadataResponse, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DialTimeout(2*time.Second))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	if topic != "" {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := cl.SeedBrokers()[0].Request(rctx, req)
	if err != nil {
		return nil, err
	}
	return resp.(*kmsg.MetadataResponse), nil
}

func netnsPartition(md *kmsg.MetadataResponse, part int32) *kmsg.MetadataResponseTopicPartition {
	for i := range md.Topics {
		for j := range md.Topics[i].Partitions {
			if p := &md.Topics[i].Partitions[j]; p.Partition == part {
				return p
			}
		}
	}
	return nil
}

// netnsCheckPartitions returns why the metadata's only topic is not as
// check wants ("" when every partition is).
func netnsCheckPartitions(md *kmsg.MetadataResponse, check func(*kmsg.MetadataResponseTopicPartition) string) string {
	if len(md.Topics) != 1 {
		return fmt.Sprintf("%d topics in the metadata", len(md.Topics))
	}
	tp := md.Topics[0]
	if err := kerr.ErrorForCode(tp.ErrorCode); err != nil {
		return err.Error()
	}
	if len(tp.Partitions) == 0 {
		return "no partitions"
	}
	var ids []int32
	for _, b := range md.Brokers {
		ids = append(ids, b.NodeID)
	}
	slices.Sort(ids)
	why := []string{fmt.Sprintf("brokers %v", ids)}
	for i := range tp.Partitions {
		p := &tp.Partitions[i]
		if err := kerr.ErrorForCode(p.ErrorCode); err != nil && !errors.Is(err, kerr.ReplicaNotAvailable) {
			why = append(why, fmt.Sprintf("partition %d: %s (leader %d, ISR %v)", p.Partition, kerr.TypedErrorForCode(p.ErrorCode).Message, p.Leader, p.ISR))
		} else if w := check(p); w != "" {
			why = append(why, fmt.Sprintf("partition %d: %s", p.Partition, w))
		}
	}
	if len(why) == 1 {
		return ""
	}
	return strings.Join(why, "; ")
}

// netnsWait polls state every 200 ms until it returns "" (or, given a
// done, until done says so), and fails the test after d with what it
// last said.
func netnsWait(t *testing.T, ctx context.Context, d time.Duration, what string, state func() string, done ...func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		s := state()
		ok := s == ""
		if len(done) > 0 {
			ok = done[0]()
		}
		if ok {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("waited %v for %s; last state: %s", d, what, s)
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("[... %d lines before]", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
