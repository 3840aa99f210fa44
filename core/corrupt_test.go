package core

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jocko/jocko/cluster"
)

// flipInSealedSegment flips one bit in the record bytes of the first batch
// of the oldest sealed segment of topic-0 under broker b's data directory,
// as silent media corruption would, and returns that segment's base offset.
func flipInSealedSegment(t *testing.T, b *Broker, topic string) int64 {
	t.Helper()
	dir := filepath.Join(b.cfg.DataDir, topic+"-0")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var logs []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".log") {
			logs = append(logs, e.Name())
		}
	}
	slices.Sort(logs)
	if len(logs) < 3 {
		t.Fatalf("broker %d has segments %v of %s-0; want a few sealed ones", b.cfg.NodeID, logs, topic)
	}
	victim := filepath.Join(dir, logs[1])
	data, err := os.ReadFile(victim)
	if err != nil || len(data) < 100 {
		t.Fatalf("read %s: %d bytes, %v", victim, len(data), err)
	}
	f, err := os.OpenFile(victim, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	const pos = 80 // past the 61-byte batch header: inside the CRC's cover
	if _, err := f.WriteAt([]byte{data[pos] ^ 0x04}, pos); err != nil {
		t.Fatal(err)
	}
	f.Close()
	base, err := strconv.ParseInt(strings.TrimSuffix(logs[1], ".log"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return base
}

// TestCorruptReplicaRepairs: a bit flipped on disk in a sealed segment is
// found by the scrub; the replica, a follower and then the leader, leaves
// the ISR (the leader hands its leadership over), truncates to before the
// bad batch, fetches the rest again and comes back into the ISR; a
// consumer reads every record intact from every leader along the way.
func TestCorruptReplicaRepairs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three brokers")
	}
	tc := startTestCluster(t, 3, func(c *Config) {
		c.Defaults = map[string]string{"log.scrub.bytes.per.second": "10485760", "replica.lag.time.max.ms": "3000"}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	b1 := tc.brokers[0]
	const topic = "flips"
	if err := b1.commit(ctx, cluster.CreateTopic{Name: topic, ID: [16]byte{0xf1}, Assignments: [][]int32{{1, 2, 3}},
		Configs: map[string]string{"segment.bytes": "4096"}}); err != nil {
		t.Fatal(err)
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(b1.Addr()), kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	const n = 300
	waitFor(t, 20*time.Second, "the first send", func() bool {
		return prod.ProduceSync(ctx, &kgo.Record{Value: []byte("0")}).FirstErr() == nil
	})
	pad := strings.Repeat("x", 100)
	for i := 1; i < n; i++ {
		if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte(strconv.Itoa(i) + pad)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	partitionState := func() cluster.Partition {
		top, _ := b1.node.State().Topic(topic)
		return top.Partitions[0]
	}
	waitFor(t, 20*time.Second, "every replica in the ISR", func() bool { return len(partitionState().ISR) == 3 })

	consumeAll := func(what string) {
		t.Helper()
		cons, err := kgo.NewClient(kgo.SeedBrokers(b1.Addr()), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			t.Fatal(err)
		}
		defer cons.Close()
		var got []string
		for len(got) < n {
			fs := cons.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("%s: consumed %d of %d", what, len(got), n)
			}
			fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
		}
		for i, v := range got {
			want := strconv.Itoa(i)
			if i > 0 {
				want += pad
			}
			if v != want {
				t.Fatalf("%s: record %d is %q", what, i, v)
			}
		}
	}

	repaired := func(b *Broker, before uint64) func() bool {
		return func() bool {
			ps := partitionState()
			p := b.partition(topic, 0)
			_, corrupt := p.corruptFrom()
			return b.repairs.Load() > before && !corrupt && slices.Contains(ps.ISR, b.cfg.NodeID) && len(ps.ISR) == 3 &&
				p.log.EndOffset() == tc.brokers[ps.Leader-1].partition(topic, 0).log.EndOffset()
		}
	}

	// A follower's copy.
	leader := partitionState().Leader
	follower := tc.brokers[leader%3]
	before := follower.repairs.Load()
	at := flipInSealedSegment(t, follower, topic)
	waitFor(t, 30*time.Second, "the follower found, left the ISR, repaired and rejoined", repaired(follower, before))
	if follower.corruptFound.Load() == 0 {
		t.Fatal("no corruption counted")
	}
	if got := partitionState().Leader; got != leader {
		t.Fatalf("a follower's repair moved the leadership from %d to %d", leader, got)
	}
	if _, err := follower.partition(topic, 0).log.Read(at, 1<<20, 1<<62); err != nil {
		t.Fatalf("the follower's repaired log at %d: %v", at, err)
	}
	consumeAll("after the follower's repair")

	// The leader's copy: the leadership moves, then the old leader repairs.
	lb := tc.brokers[leader-1]
	before = lb.repairs.Load()
	flipInSealedSegment(t, lb, topic)
	waitFor(t, 30*time.Second, "the leadership moved off the corrupt leader", func() bool {
		ps := partitionState()
		return ps.Leader != leader && ps.Leader > 0
	})
	waitFor(t, 30*time.Second, "the old leader repaired and rejoined", repaired(lb, before))
	consumeAll("after the leader's repair")
}

// TestCorruptOnlyReplicaAnswersCorruptMessage: a single broker cannot
// repair its only copy. A fetch at the bad batch answers CORRUPT_MESSAGE
// (franz-go, which retries it, never gets the bad bytes), records before
// it still read, and the broker keeps serving.
func TestCorruptOnlyReplicaAnswersCorruptMessage(t *testing.T) {
	tc := startTestCluster(t, 1, func(c *Config) { c.Defaults = map[string]string{"log.scrub.bytes.per.second": "0"} })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b := tc.brokers[0]
	const topic = "lonely"
	if err := b.commit(ctx, cluster.CreateTopic{Name: topic, ID: [16]byte{0xf2}, Assignments: [][]int32{{1}},
		Configs: map[string]string{"segment.bytes": "4096"}}); err != nil {
		t.Fatal(err)
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	pad := strings.Repeat("y", 100)
	for i := range 200 {
		if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte(strconv.Itoa(i) + pad)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	at := flipInSealedSegment(t, b, topic)
	cons, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.KeepRetryableFetchErrors())
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	var got int64
	var fetchErr error
	for fetchErr == nil {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d records and no error", got)
		}
		fs.EachError(func(_ string, _ int32, err error) { fetchErr = err })
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset >= at {
				t.Fatalf("record at offset %d, at or past the corrupt batch at %d, was served", r.Offset, at)
			}
			got++
		})
	}
	if !strings.Contains(fetchErr.Error(), "CORRUPT_MESSAGE") || got != at {
		t.Fatalf("read %d records before the error %v; want %d, then CORRUPT_MESSAGE", got, fetchErr, at)
	}
	if c, ok := b.partition(topic, 0).corruptFrom(); !ok || c != at {
		t.Fatalf("corruption recorded at %d (%v), want %d", c, ok, at)
	}
	if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte("after")}).FirstErr(); err != nil {
		t.Fatalf("produce after the corruption was found: %v", err)
	}

	// The way out the log names: DeleteRecords past the bad batch (one
	// record: each send above is a batch of its own). The mark goes, and
	// a new consumer reads everything after it.
	adm := kadm.NewClient(prod)
	resps, err := adm.DeleteRecords(ctx, kadm.Offsets{topic: {0: kadm.Offset{Topic: topic, Partition: 0, At: at + 1}}})
	if err != nil || resps.Error() != nil {
		t.Fatalf("DeleteRecords: %v %v", err, resps.Error())
	}
	waitFor(t, 10*time.Second, "the corruption mark cleared", func() bool {
		_, marked := b.partition(topic, 0).corruptFrom()
		return !marked
	})
	cons2, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons2.Close()
	var after []int64
	for len(after) < 200-int(at) {
		fs := cons2.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("after DeleteRecords: consumed offsets %v", after)
		}
		fs.EachRecord(func(r *kgo.Record) { after = append(after, r.Offset) })
	}
	if after[0] != at+1 || after[len(after)-1] != 200 {
		t.Fatalf("after DeleteRecords read offsets %d..%d, want %d..200", after[0], after[len(after)-1], at+1)
	}
}

// TestFollowerHWStaysAtOrBelowLogEnd: an fsync that was under way while a
// follower's log was cut (the repairer truncating a corrupt copy) reports
// the old end when it returns; the follower's high watermark must not
// follow it past the new log end. Before followerAdvanceHW, it did (the
// simulator's hw-above-end, cluster-bitflip seeds 11, 13 and 25).
func TestFollowerHWStaysAtOrBelowLogEnd(t *testing.T) {
	tc := startTestCluster(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b1, b2 := tc.brokers[0], tc.brokers[1]
	const topic = "cut"
	if err := b1.commit(ctx, cluster.CreateTopic{Name: topic, ID: [16]byte{0xf3}, Assignments: [][]int32{{1, 2}}}); err != nil {
		t.Fatal(err)
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(b1.Addr()), kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	waitFor(t, 20*time.Second, "the first send", func() bool {
		return prod.ProduceSync(ctx, &kgo.Record{Value: []byte("0")}).FirstErr() == nil
	})
	for i := 1; i < 100; i++ {
		if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	var f *partition
	waitFor(t, 20*time.Second, "the follower at the high watermark 100", func() bool {
		f = b2.partition(topic, 0)
		return f != nil && f.highWatermark() == 100
	})
	stale := f.log.EndOffset()
	if err := f.truncateTo(40); err != nil {
		t.Fatal(err)
	}
	f.leaderDurable(stale) // the flusher's sync of the old end returning
	if hw, end := f.highWatermark(), f.log.EndOffset(); hw > end {
		t.Fatalf("follower high watermark %d above its log end %d", hw, end)
	}
}
