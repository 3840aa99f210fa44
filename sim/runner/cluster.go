package runner

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	jcluster "github.com/jocko/jocko/cluster"
	"github.com/jocko/jocko/core"
	jio "github.com/jocko/jocko/io"
	"github.com/jocko/jocko/sim/simfs"
	"github.com/jocko/jocko/sim/simnet"
	"github.com/jocko/jocko/sim/trace"
)

const dataDir = "/data"

// broker is one simulated machine: a durable disk plus the current process.
type broker struct {
	id     int32
	name   string
	disk   *simfs.Disk
	b      *core.Broker
	cancel context.CancelFunc
	gen    int
	up     bool
	paused bool       // a pause fault stopped it (nemesis.go)
	wiped  int        // its disk wipes whose heal has not seen it catch up yet (no other broker's wipe meanwhile)
	clock  *skewClock // the machine's wall clock, across incarnations
}

// cluster is the simulated brokers and the network between them and clients.
type cluster struct {
	mu      sync.Mutex // guards each broker's b, cancel, gen, up, paused and wiped
	sc      Scenario
	seed    uint64
	net     *simnet.Net
	tr      *trace.Trace
	log     *slog.Logger
	lying   bool
	brokers []*broker
	fail    func(kind, detail string) // reports a violation
	// faults counts the nemesis's active faults (Scenario.Overlap): a
	// broker started while another fault is active may rightly not
	// become ready (a majority of voters down), so await only reports it
	// when none is.
	faults atomic.Int32
	ready  func(b *broker) // called once a started broker serves
}

func newCluster(sc Scenario, opt Options, tr *trace.Trace, fail func(kind, detail string)) (*cluster, error) {
	c := &cluster{sc: sc, seed: opt.Seed, tr: tr, fail: fail,
		net: simnet.New(simnet.Config{Seed: opt.Seed, Jitter: 500 * time.Microsecond, Trace: tr})}
	// Always at debug level into the trace: whether anyone reads the log
	// must not change what the program does (see sim/trace).
	c.log = slog.New(slog.NewTextHandler(tr.LogWriter(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	for _, b := range opt.Bugs {
		switch {
		case b == "lying-fsync": // the simulator's own disk lies
			c.lying = true
		case isVariant(b): // the broker's, through buggify (Run installs the hook)
		default:
			return nil, fmt.Errorf("unknown bug %q", b)
		}
	}
	for i := 1; i <= sc.Brokers; i++ {
		name := "n" + strconv.Itoa(i)
		d := simfs.NewDisk(name, opt.Seed, tr, dataDir)
		d.SetLyingFsync(c.lying)
		d.SetSyncLatency(sc.SyncLatency[0], sc.SyncLatency[1])
		if sc.DiskBytes > 0 {
			d.SetCapacity(sc.DiskBytes)
		}
		c.brokers = append(c.brokers, &broker{id: int32(i), name: name, disk: d,
			clock: newSkewClock(opt.Seed, int32(i), sc.ClockSkew, sc.ClockDriftPPM)})
	}
	return c, nil
}

func (c *cluster) addr(b *broker) string { return b.name + ":9092" }

func (c *cluster) raftAddr(b *broker) string { return b.name + ":9093" }

// votersMax is how many brokers of a simulated cluster are initial
// metadata voters (Jocko's default voter count is 3, or 5).
const votersMax = 5

// voters are the initial metadata voters of a cluster of several brokers
// (the first votersMax), or nil for a single broker, which bootstraps alone.
func (c *cluster) voters() map[int32]string {
	if len(c.brokers) < 2 {
		return nil
	}
	v := map[int32]string{}
	for _, b := range c.brokers[:min(len(c.brokers), votersMax)] {
		v[b.id] = c.raftAddr(b)
	}
	return v
}

// voterGoal is how many metadata voters the controller keeps: the initial
// voters, an odd number (0 for a single broker: the default).
func (c *cluster) voterGoal() int {
	n := len(c.voters())
	if n > 0 && n%2 == 0 {
		n--
	}
	return n
}

// seeds lists every broker's Kafka address.
func (c *cluster) seeds() []string {
	var out []string
	for _, b := range c.brokers {
		out = append(out, c.addr(b))
	}
	return out
}

// start boots a new incarnation of b on its disk's current state and waits
// until it serves (or the wait limit passes, which is reported).
func (c *cluster) start(b *broker, wait time.Duration) {
	if br, gen := c.launch(b); br != nil {
		c.await(b, br, gen, wait)
	}
}

// startAll boots every broker that is down, then waits for each: a cluster
// of several voters elects a controller only once a majority runs.
func (c *cluster) startAll(wait time.Duration) {
	type launched struct {
		b   *broker
		br  *core.Broker
		gen int
	}
	var ls []launched
	for _, b := range c.brokers {
		if br, gen := c.launch(b); br != nil {
			ls = append(ls, launched{b, br, gen})
		}
	}
	for _, l := range ls {
		c.await(l.b, l.br, l.gen, wait)
	}
}

// launch boots a new incarnation of b (if it is down) and returns it with
// its incarnation number; nil if b was up or did not start.
func (c *cluster) launch(b *broker) (*core.Broker, int) {
	c.mu.Lock()
	if b.up {
		c.mu.Unlock()
		return nil, 0
	}
	var nd *simnet.Node
	if b.gen == 0 {
		nd = c.net.Node(b.name)
	} else {
		nd = c.net.Restart(b.name)
	}
	b.gen++
	gen := b.gen
	fs := b.disk.Mount()
	env := jio.Env{Net: nd, FS: fs, Rand: jio.NewRand(incarnationSeed(c.seed, b.id, gen)), Clock: b.clock,
		Log: c.log.With("inc", gen)}
	cfg := core.Config{NodeID: b.id, DataDir: dataDir, ListenAddr: c.addr(b), RaftAddr: c.raftAddr(b),
		Voters: c.voters(), ControllerVoters: c.voterGoal(), Defaults: c.brokerDefaults(), RaftTimeout: c.sc.RaftTimeout}
	_, voter := cfg.Voters[b.id]
	if has, _ := jcluster.HasState(env, filepath.Join(dataDir, "__meta")); len(cfg.Voters) > 0 && (!voter || (gen > 1 && !has)) {
		// Beyond the initial voters, or a voter back with a wiped disk:
		// join, as `jocko broker --join` does, and pull the metadata as
		// an observer (a wiped voter leaves the voter set first).
		cfg.Voters, cfg.Join, cfg.Membership = nil, []string{c.brokers[0].name + ":9094"}, c.membership(b)
	}
	br, err := core.NewBroker(cfg, env)
	if err != nil {
		c.mu.Unlock()
		c.fail("broker-start", fmt.Sprintf("%s incarnation %d: %v", b.name, gen, err))
		return nil, 0
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.b, b.cancel, b.up = br, cancel, true
	c.mu.Unlock()
	go func() {
		if err := br.Run(ctx); err != nil && ctx.Err() == nil {
			c.fail("broker-run", fmt.Sprintf("%s incarnation %d: %v", b.name, gen, err))
		}
	}()
	return br, gen
}

// await waits until incarnation gen of b serves with the partitions it
// started with open (it answers Metadata before that), or reports that it
// did not within wait.
func (c *cluster) await(b *broker, br *core.Broker, gen int, wait time.Duration) {
	t := time.NewTimer(wait)
	defer t.Stop()
	for _, ch := range []<-chan struct{}{br.Ready(), br.PartitionsOpen()} {
		select {
		case <-ch:
		case <-t.C:
			msg := fmt.Sprintf("%s incarnation %d not ready after %v", b.name, gen, wait)
			c.mu.Lock()
			gone := b.gen != gen || !b.up
			c.mu.Unlock()
			if gone {
				c.tr.Logf("%s: another fault crashed it meanwhile", msg)
				return
			}
			if n := c.faults.Load(); n > 0 {
				c.tr.Logf("%s, with %d other faults active", msg, n)
				return
			}
			c.fail("broker-not-ready", msg)
			return
		}
	}
	if c.ready != nil {
		c.ready(b)
	}
}

// replicaLag is the brokers' replica.lag.time.max.ms.
func (c *cluster) replicaLag() time.Duration {
	ms, err := strconv.Atoi(c.brokerDefaults()["replica.lag.time.max.ms"])
	if err != nil {
		return 30 * time.Second // Kafka's default
	}
	return time.Duration(ms) * time.Millisecond
}

func (c *cluster) brokerDefaults() map[string]string {
	m := map[string]string{"auto.create.topics.enable": "false"}
	if len(c.brokers) > 1 {
		// Failover within the fault phase: sessions and replica lag of a
		// few seconds (Kafka's defaults are 9 s and 30 s).
		m["broker.heartbeat.interval.ms"] = "500"
		m["broker.session.timeout.ms"] = "3000"
		m["replica.lag.time.max.ms"] = "3000"
	}
	if c.sc.SegmentMax > 0 {
		m["log.segment.bytes"] = strconv.Itoa(c.sc.SegmentMax)
	}
	for k, v := range c.sc.BrokerSettings {
		m[k] = v
	}
	if c.sc.GroupMembers > 0 || c.sc.TxnPipeline {
		// Few __consumer_offsets partitions (each is a log to recover),
		// small segments so that they roll and compact during the run, a
		// short initial rebalance delay, and room for short sessions.
		m["offsets.topic.num.partitions"] = "3"
		m["offsets.topic.segment.bytes"] = "8192"
		m["group.initial.rebalance.delay.ms"] = "100"
		m["group.min.session.timeout.ms"] = "1000"
	}
	if c.sc.TxnProducers > 0 {
		// Few __transaction_state partitions, small segments, and open
		// transactions a crash left aborted within a second of their
		// timeout.
		m["transaction.state.log.num.partitions"] = "3"
		m["transaction.state.log.segment.bytes"] = "8192"
		m["transaction.abort.timed.out.transaction.cleanup.interval.ms"] = "1000"
	}
	return m
}

// crash kills b's current incarnation: the network and the disk freeze it
// first (nothing it does afterwards escapes), then its context is cancelled
// so that its timer-driven goroutines stop instead of running forever.
func (c *cluster) crash(b *broker, kind simfs.CrashKind) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !b.up {
		return
	}
	c.net.Crash(b.name)
	b.disk.Crash(kind)
	b.cancel()
	b.up = false
	c.resumeLocked(b)
}

// resumeLocked ends a pause of b as its process dies: the goroutines it
// stopped go on into the dead disk and network, and the next incarnation
// starts running. c.mu is held.
func (c *cluster) resumeLocked(b *broker) {
	b.paused = false
	b.disk.Thaw()
	b.clock.resume()
}

// crashSilent kills b's process without a word to its peers
// (simnet.CrashSilent); the disk as a process crash leaves it.
func (c *cluster) crashSilent(b *broker) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !b.up {
		return
	}
	c.net.CrashSilent(b.name)
	b.disk.Crash(simfs.ProcessCrash)
	b.cancel()
	b.up = false
	c.resumeLocked(b)
}

// incarnationSeed derives the random seed of incarnation gen of broker id
// from the run's seed: distinct for every (seed, id, gen) in practice (a
// 64-bit mix, not arithmetic that collides once gen reaches 10 or id 100).
func incarnationSeed(seed uint64, id int32, gen int) uint64 {
	return splitmix(seed ^ splitmix(uint64(uint32(id))<<32|uint64(uint32(gen))))
}

// splitmix is SplitMix64's finalizer: a bijection that scatters its input.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}
