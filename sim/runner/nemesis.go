package runner

import (
	"context"
	"math/rand/v2"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jocko/jocko/sim/simfs"
	"github.com/jocko/jocko/sim/simnet"
	"github.com/jocko/jocko/sim/trace"
)

// byID returns the broker with that ID (nil if none).
func (c *cluster) byID(id int32) *broker {
	for _, b := range c.brokers {
		if b.id == id {
			return b
		}
	}
	return nil
}

// clientHosts are the hosts the workload's clients dial from.
func (w *workload) clientHosts() []string {
	return w.c.net.Hosts() // brokers included; blocking a host to itself is a no-op
}

// nemesis injects faults drawn from the scenario's menu until ctx ends:
// quiet gap, fault, hold it for its duration, heal, repeat. With a
// schedule to replay (Options.Schedule) it runs that schedule's steps
// instead, each when it is due. Both ways it keeps the schedule it
// executed (Result.Schedule), and both do the same work for the same
// faults, so replaying a run's own schedule is the same execution.
func (w *workload) nemesis(ctx context.Context, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x4e3e))
	total := 0
	for _, f := range w.sc.Faults {
		total += f.Weight
	}
	if total == 0 && !w.replay {
		<-ctx.Done()
		return
	}
	// Up to Overlap faults are active at once (each keeps its own
	// duration); with one, each fault is healed before the next.
	slots := make(chan struct{}, max(1, w.sc.Overlap))
	var active sync.WaitGroup
	defer active.Wait()
	start := time.Now()
	for i := 0; ctx.Err() == nil; i++ {
		var step Step
		var gap time.Duration
		switch {
		case !w.replay:
			gap = w.sc.FaultGap[0]
			if span := w.sc.FaultGap[1] - gap; span > 0 {
				gap += time.Duration(rng.Int64N(int64(span)))
			}
		case i < len(w.schedule):
			step = w.schedule[i]
			gap = max(0, time.Duration(step.At)-time.Since(start))
		default:
			gap = w.sc.Duration // past the fault phase: ctx ends first
		}
		due := time.Since(start) + gap
		sleepCtx(ctx, gap)
		if ctx.Err() != nil || (w.replay && i >= len(w.schedule)) {
			return
		}
		var f Fault
		var dur time.Duration
		var b *broker
		ch := &chooser{rng: rng}
		if w.replay {
			f.Kind, dur, b = step.Kind, time.Duration(step.For), w.c.byID(step.Broker)
			ch.replay = step.Choices
			if ch.replay == nil {
				ch.replay = []int{}
			}
			if b == nil {
				w.rec.tr.Logf("nemesis: schedule step %d names broker %d, which the cluster does not have; skipped", i, step.Broker)
				continue
			}
		} else {
			f = pick(w.sc.Faults, rng.IntN(total))
			dur = f.Min
			if span := f.Max - f.Min; span > 0 {
				dur += time.Duration(rng.Int64N(int64(span)))
			}
			b = w.target(f.Target, rng)
		}
		w.rec.tr.Record(trace.Nemesis, trace.Str(string(f.Kind)), uint64(b.id), uint64(dur))
		w.rec.tr.Logf("nemesis %s on %s for %v", f.Kind, b.name, dur)
		w.rec.mu.Lock()
		w.rec.stats.Faults++
		w.rec.sched = append(w.rec.sched, Step{At: Dur(due), Kind: f.Kind, Broker: b.id, For: Dur(dur)})
		n := len(w.rec.sched) - 1
		w.rec.mu.Unlock()
		w.sample()
		slots <- struct{}{}
		w.c.faults.Add(1)
		heal := w.inject(f.Kind, b, ch)
		w.rec.mu.Lock()
		w.rec.sched[n].Choices = ch.made
		w.rec.mu.Unlock()
		life := func() {
			defer func() { <-slots }()
			time.Sleep(dur) // the fault lasts its full duration even past ctx
			w.c.faults.Add(-1)
			heal()
			w.sample()
			w.rec.tr.Record(trace.Nemesis, trace.Str(string(f.Kind)), uint64(b.id), 0)
			w.rec.tr.Logf("nemesis healed %s on %s", f.Kind, b.name)
		}
		if cap(slots) == 1 {
			life()
			continue
		}
		active.Add(1)
		go func() { defer active.Done(); life() }()
	}
}

func pick(fs []Fault, n int) Fault {
	for _, f := range fs {
		if n < f.Weight {
			return f
		}
		n -= f.Weight
	}
	return fs[len(fs)-1]
}

// inject applies one fault to b and returns what heals it.
func (w *workload) inject(kind FaultKind, b *broker, rng *chooser) func() {
	c := w.c
	restart := func() { c.crash(b, simfs.ProcessCrash); c.start(b, 30*time.Second) }
	crash := func(k simfs.CrashKind) func() {
		if k != simfs.ProcessCrash && rng.IntN(2) == 0 {
			w.crashDuringSync(b, k)
		} else {
			c.crash(b, k)
		}
		return func() { c.start(b, 30*time.Second) }
	}
	isolate := func(mode simnet.Mode, both bool) func() {
		for _, h := range w.clientHosts() {
			if h != b.name {
				c.net.Block(b.name, h, mode)
				if both {
					c.net.Block(h, b.name, mode)
				}
			}
		}
		return c.net.HealAll
	}
	switch kind {
	case ProcessCrash:
		return crash(simfs.ProcessCrash)
	case MachineCrash:
		return crash(simfs.MachineCrash)
	case TornCrash:
		return crash(simfs.TornCrash)
	case PartitionHold:
		return isolate(simnet.Hold, true)
	case Pause:
		return w.pause(b, isolate)
	case PartitionDrop:
		return isolate(simnet.Drop, true)
	case OneWay:
		return isolate(simnet.Hold, false)
	case Loss:
		for _, h := range w.clientHosts() {
			if h != b.name {
				c.net.SetLoss(b.name, h, 0.02, time.Millisecond)
			}
		}
		return c.net.HealAll
	case SyncFail:
		b.disk.SetSyncFail(0.5)
		return func() { b.disk.Heal(); restart() }
	case WriteFail:
		b.disk.SetWriteFail(0.3)
		return func() { b.disk.Heal(); restart() }
	case ReadFail:
		b.disk.SetReadFail(0.2)
		return func() { b.disk.Heal(); restart() }
	case DiskFull:
		b.disk.SetCapacity(b.disk.Used() + int64(rng.IntN(64<<10)))
		// Like Kafka, the broker takes a partition offline on a write error
		// until it restarts; freeing space is followed by a restart.
		return func() { b.disk.Heal(); w.restoreCapacity(b); restart() }
	case SlowDisk:
		b.disk.SetSlow(time.Duration(1+rng.IntN(20)) * time.Millisecond)
		return b.disk.Heal
	case BrokerPartition:
		for _, o := range c.brokers {
			if o != b {
				c.net.Block(b.name, o.name, simnet.Drop)
				c.net.Block(o.name, b.name, simnet.Drop)
			}
		}
		return c.net.HealAll
	case BrokerOneWay:
		for _, o := range c.brokers {
			if o != b {
				c.net.Block(b.name, o.name, simnet.Hold)
			}
		}
		return c.net.HealAll
	case Isolate:
		return isolate(simnet.Drop, true)
	case Bridge:
		var others []*broker
		for _, o := range c.brokers {
			if o != b {
				others = append(others, o)
			}
		}
		half := len(others) / 2
		for _, x := range others[:half] {
			for _, y := range others[half:] {
				c.net.Block(x.name, y.name, simnet.Drop)
				c.net.Block(y.name, x.name, simnet.Drop)
			}
		}
		return c.net.HealAll
	case MinorityCrash:
		down := []*broker{b}
		for _, o := range c.brokers {
			if len(down) < (len(c.brokers)-1)/2 && o != b {
				down = append(down, o)
			}
		}
		for _, o := range down {
			c.crash(o, simfs.MachineCrash)
		}
		return func() { c.startAll(30 * time.Second) }
	case CrashAll:
		for _, o := range c.brokers {
			c.crash(o, []simfs.CrashKind{simfs.MachineCrash, simfs.TornCrash}[rng.IntN(2)])
		}
		return func() { c.startAll(30 * time.Second) }
	case Rolling:
		for _, o := range c.brokers {
			c.crash(o, simfs.ProcessCrash)
			c.start(o, 30*time.Second)
		}
		return func() {}
	case LaggingFollower:
		f := w.followerOf(b)
		if f == nil {
			return func() {}
		}
		c.net.Block(b.name, f.name, simnet.Drop)
		c.net.Block(f.name, b.name, simnet.Drop)
		time.Sleep(c.replicaLag() * 3 / 2) // past replica.lag.time.max.ms
		c.crash(b, simfs.ProcessCrash)
		return func() { c.net.HealAll(); c.start(b, 30*time.Second) }
	case WipeDisk:
		wasVoter := c.isVoter(b.id)
		c.mu.Lock()
		var behind *broker
		for _, o := range c.brokers {
			if o != b && o.wiped > 0 {
				behind = o
			}
		}
		up := b.up
		if behind == nil {
			b.wiped++
		}
		c.mu.Unlock()
		if behind != nil {
			// Raft, like KRaft, assumes a majority of voters keeps its
			// disk: two wiped voters of three lose the metadata, which
			// no broker can promise to survive.
			w.rec.tr.Logf("nemesis wipe-disk on %s skipped: %s was wiped and its metadata has not caught up yet", b.name, behind.name)
			return func() {}
		}
		if up {
			c.crash(b, simfs.MachineCrash)
		}
		b.disk.Wipe(dataDir)
		return func() { c.start(b, 30*time.Second); c.awaitCaughtUp(b, wasVoter, 30*time.Second) }
	case Reassign:
		w.reassign(rng)
		return func() {}
	case SilentCrash:
		c.crashSilent(b)
		return func() { c.start(b, 30*time.Second) }
	case SwizzleClog:
		return w.swizzle(b, rng)
	case DelaySpike:
		extra := time.Duration(20+rng.IntN(281)) * time.Millisecond
		for _, h := range w.clientHosts() {
			if h != b.name {
				c.net.SetLoss(b.name, h, 0, extra)
				c.net.SetLoss(h, b.name, 0, extra)
			}
		}
		return c.net.HealAll
	case ClockJump:
		step := time.Duration(rng.IntN(20001)-10000) * time.Millisecond
		b.clock.jump.Add(int64(step))
		return func() { b.clock.jump.Add(-int64(step)) }
	case BitFlip:
		// The disk's own lock is held while the choices are drawn; the
		// broker may be up or down (media rots either way).
		if f, ok := b.disk.FlipSyncedBit(dataDir, rng.IntN); ok {
			w.rec.tr.Logf("nemesis bit-flip on %s: flipped %s (a synced byte, on disk and in the page cache)", b.name, f)
			if t, p, ok := partitionOf(f.Path); ok {
				w.rec.mu.Lock()
				w.rec.mon.Corrupted(b.id, t, p) // its repair may lower its high watermark
				w.rec.mu.Unlock()
			}
		} else {
			w.rec.tr.Logf("nemesis bit-flip on %s: no partition segment has a synced byte yet; nothing flipped", b.name)
		}
		return func() {} // the corruption stays: the broker must find and repair it
	}
	return func() {}
}

// partitionOf names the partition of a segment file,
// /data/<topic>-<partition>/<name>.log.
func partitionOf(file string) (string, int32, bool) {
	dir := path.Base(path.Dir(file))
	i := strings.LastIndexByte(dir, '-')
	if i <= 0 {
		return "", 0, false
	}
	p, err := strconv.ParseInt(dir[i+1:], 10, 32)
	return dir[:i], int32(p), err == nil
}

// swizzle clogs b's links one by one (both ways, data held), a few
// milliseconds apart in a drawn order, and returns what restores them one
// by one in another drawn order. Every draw is made here, before the
// fault's choices are recorded.
func (w *workload) swizzle(b *broker, rng *chooser) func() {
	c := w.c
	var others []string
	for _, h := range w.clientHosts() {
		if h != b.name {
			others = append(others, h)
		}
	}
	type move struct {
		host string
		gap  time.Duration
	}
	order := func() []move {
		o := slices.Clone(others)
		for i := len(o) - 1; i > 0; i-- {
			j := rng.IntN(i + 1)
			o[i], o[j] = o[j], o[i]
		}
		ms := make([]move, len(o))
		for i, h := range o {
			ms[i] = move{h, time.Duration(rng.IntN(50)) * time.Millisecond}
		}
		return ms
	}
	clog, unclog := order(), order()
	for _, m := range clog {
		c.net.Block(b.name, m.host, simnet.Hold)
		c.net.Block(m.host, b.name, simnet.Hold)
		time.Sleep(m.gap)
	}
	return func() {
		for _, m := range unclog {
			c.net.Heal(b.name, m.host)
			c.net.Heal(m.host, b.name)
			time.Sleep(m.gap)
		}
	}
}

// reassign replaces one replica of a random workload partition by a broker
// outside its replicas, through AlterPartitionReassignments from a client.
func (w *workload) reassign(rng *chooser) {
	c := w.c
	p := rng.Int32N(w.sc.Partitions)
	var replicas []int32
	c.mu.Lock()
	for _, b := range c.brokers {
		if !b.up {
			continue
		}
		st, _ := b.b.Metadata()
		if t, ok := st.Topic(topic); ok && int(p) < len(t.Partitions) {
			replicas = t.Partitions[p].OriginalReplicas()
			break
		}
	}
	c.mu.Unlock()
	var outside []int32
	for _, b := range c.brokers {
		if !slices.Contains(replicas, b.id) {
			outside = append(outside, b.id)
		}
	}
	if len(replicas) == 0 || len(outside) == 0 {
		return
	}
	target := slices.Clone(replicas)
	target[rng.IntN(len(target))] = outside[rng.IntN(len(outside))]
	req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	req.TimeoutMillis = 5000
	rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
	rp.Partition, rp.Replicas = p, target
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code := kerr.RequestTimedOut.Code
	cl, err := w.client("s1")
	if err == nil {
		defer cl.Close()
		var resp kmsg.Response
		if resp, err = cl.Request(ctx, req); err == nil {
			rs := resp.(*kmsg.AlterPartitionAssignmentsResponse)
			code = rs.ErrorCode
			if code == 0 && len(rs.Topics) == 1 && len(rs.Topics[0].Partitions) == 1 {
				code = rs.Topics[0].Partitions[0].ErrorCode
			}
		}
	}
	w.rec.tr.Logf("nemesis reassign partition %d from %v to %v: code %d err %v", p, replicas, target, code, err)
}

// followerOf returns a live follower of the workload's partition 0 whose
// leader is b, as b's metadata says (nil if none).
func (w *workload) followerOf(b *broker) *broker {
	c := w.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if !b.up {
		return nil
	}
	st, _ := b.b.Metadata()
	top, ok := st.Topic(topic)
	if !ok || len(top.Partitions) == 0 {
		return nil
	}
	for _, r := range top.Partitions[0].Replicas {
		for _, x := range c.brokers {
			if x.id == r && x != b && x.up {
				return x
			}
		}
	}
	return nil
}

// target picks the broker a fault hits: the leader of the workload's
// partition 0 or the controller, as a live broker's metadata says, else
// one at random.
func (w *workload) target(t Target, rng *rand.Rand) *broker {
	c := w.c
	pick := c.brokers[rng.IntN(len(c.brokers))]
	if t == AnyBroker {
		return pick
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, b := range c.brokers {
		if !b.up {
			continue
		}
		st, ctrl := b.b.Metadata()
		id := ctrl
		if t == Leader {
			id = -1
			if top, ok := st.Topic(topic); ok && len(top.Partitions) > 0 {
				id = top.Partitions[0].Leader
			}
		}
		for _, x := range c.brokers {
			if x.id == id {
				return x
			}
		}
	}
	return pick
}

func (w *workload) restoreCapacity(b *broker) {
	if w.sc.DiskBytes > 0 {
		b.disk.SetCapacity(w.sc.DiskBytes)
	}
}

// crashDuringSync crashes b's machine inside its next fsync (after the
// fsync's latency, before the data is durable), the moment where acks sent
// ahead of durability are exposed; if no fsync comes within a second it
// crashes anyway.
func (w *workload) crashDuringSync(b *broker, k simfs.CrashKind) {
	done := make(chan struct{})
	var once sync.Once
	fire := func() { once.Do(func() { w.c.crash(b, k); close(done) }) }
	// Armed under the cluster's lock and only while b is up: the hook is
	// then aimed at a running incarnation, never at one a concurrent
	// fault's heal is still booting (its launch holds the lock that fire
	// needs, inside the very Sync that would fire it: a deadlock an
	// overlapping fault on a down broker once caused).
	w.c.mu.Lock()
	up := b.up
	if up {
		b.disk.CrashDuringNextSync(fire)
	}
	w.c.mu.Unlock()
	if !up {
		w.rec.tr.Logf("nemesis: %s is already down", b.name)
		return
	}
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-done:
		w.rec.tr.Logf("nemesis crashed %s inside an fsync", b.name)
	case <-t.C:
		b.disk.CrashDuringNextSync(nil)
		fire()
	}
}

// pause stops b as SIGSTOP (or a long GC pause) would: its traffic held
// both ways, and its clock and disk calls blocked where they start, so its
// goroutines stop at their next call into the machine and its timers have
// no effect until it resumes (see skewClock.gate). A broker that is down
// is left alone; a crash resumes the machine (cluster.crash), so no later
// incarnation starts paused.
func (w *workload) pause(b *broker, isolate func(simnet.Mode, bool) func()) func() {
	c := w.c
	c.mu.Lock()
	if !b.up {
		c.mu.Unlock()
		w.rec.tr.Logf("nemesis: %s is down: nothing to pause", b.name)
		return func() {}
	}
	b.paused = true
	b.clock.pause()
	b.disk.Freeze()
	c.mu.Unlock()
	heal := isolate(simnet.Hold, true)
	return func() {
		c.mu.Lock()
		b.paused = false
		c.mu.Unlock()
		b.disk.Thaw()
		b.clock.resume()
		heal()
	}
}
