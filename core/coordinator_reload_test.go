package core

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jocko/jocko/cluster"
	"github.com/jocko/jocko/core/group"
	"github.com/jocko/jocko/storage"
)

// coordTest is one broker whose __consumer_offsets has a single partition
// (every group in one shard), a topic "t" to commit offsets for, and a
// client that sends requests straight to the broker, without retries.
type coordTest struct {
	t  *testing.T
	b  *Broker
	cl *kgo.Client
}

var tTopicID = [16]byte{5}

func startCoordTest(t *testing.T) *coordTest {
	tc := startTestCluster(t, 1, func(c *Config) {
		c.Defaults = map[string]string{
			"offsets.topic.num.partitions":     "1",
			"group.min.session.timeout.ms":     "100",
			"group.initial.rebalance.delay.ms": "0",
		}
	})
	b := tc.brokers[0]
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := b.commit(ctx, cluster.CreateTopic{Name: "t", ID: tTopicID, Assignments: [][]int32{{1}}}); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	ct := &coordTest{t: t, b: b, cl: cl}
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorKey, fc.CoordinatorKeys = "g", []string{"g"} // v0-3, v4+
	ct.do(fc)                                                  // creates __consumer_offsets
	waitFor(t, 20*time.Second, "the coordinator loaded", func() bool {
		_, code := ct.fetchOffset("g")
		return code == 0
	})
	return ct
}

func (ct *coordTest) do(req kmsg.Request) kmsg.Response {
	ct.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := ct.cl.Broker(1).Request(ctx, req)
	if err != nil {
		ct.t.Fatalf("%s: %v", kmsg.NameForKey(req.Key()), err)
	}
	return resp
}

// commit commits offset for group's t-0 (a simple commit: generation -1),
// with metadata of metaBytes bytes, and returns the partition's code.
func (ct *coordTest) commit(group string, offset int64, metaBytes int) int16 {
	ct.t.Helper()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.Generation = group, -1
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic, rt.TopicID = "t", tTopicID // v10 names topics by ID
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Offset = offset
	meta := strings.Repeat("m", metaBytes)
	rp.Metadata = &meta
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := ct.do(req).(*kmsg.OffsetCommitResponse)
	return resp.Topics[0].Partitions[0].ErrorCode
}

// fetchOffset returns group's committed offset of t-0 and the error code
// of the answer (group-level, else the partition's).
func (ct *coordTest) fetchOffset(group string) (int64, int16) {
	ct.t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group // v0-7; the client picks the version
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic, rt.Partitions = "t", []int32{0}
	req.Topics = append(req.Topics, rt)
	rg := kmsg.NewOffsetFetchRequestGroup() // v8+
	rg.Group = group
	gt := kmsg.NewOffsetFetchRequestGroupTopic()
	gt.Topic, gt.TopicID, gt.Partitions = "t", tTopicID, []int32{0}
	rg.Topics = append(rg.Topics, gt)
	req.Groups = append(req.Groups, rg)
	resp := ct.do(req).(*kmsg.OffsetFetchResponse)
	if len(resp.Groups) > 0 {
		g := resp.Groups[0]
		if g.ErrorCode != 0 {
			return -1, g.ErrorCode
		}
		p := g.Topics[0].Partitions[0]
		return p.Offset, p.ErrorCode
	}
	if resp.ErrorCode != 0 {
		return -1, resp.ErrorCode
	}
	p := resp.Topics[0].Partitions[0]
	return p.Offset, p.ErrorCode
}

// failNextCommit makes the shard's next append fail: a commit whose record
// does not fit in a segment of __consumer_offsets (ErrBatchTooLarge).
func (ct *coordTest) failNextCommit(group string) {
	ct.t.Helper()
	p := ct.b.partition(offsetsTopic, 0)
	p.log.SetConfig(storage.Config{SegmentBytes: 1024})
	code := ct.commit(group, 99, 2000)
	p.log.SetConfig(p.config().storage)
	if code != kerr.NotCoordinator.Code {
		ct.t.Fatalf("a commit whose append failed answered %v, want NOT_COORDINATOR", kerr.ErrorForCode(code))
	}
}

// TestCoordinatorReloadsAfterAppendError (issue 9, item 5): an append to
// __consumer_offsets that fails drops the shard's groups; the shard loads
// them again from the log, answering COORDINATOR_LOAD_IN_PROGRESS (never
// NOT_COORDINATOR) meanwhile, and then serves what the log holds.
func TestCoordinatorReloadsAfterAppendError(t *testing.T) {
	ct := startCoordTest(t)
	if code := ct.commit("g", 5, 0); code != 0 {
		t.Fatalf("commit: %v", kerr.ErrorForCode(code))
	}
	ct.failNextCommit("g")
	waitFor(t, 10*time.Second, "the groups reloaded", func() bool {
		off, code := ct.fetchOffset("g")
		switch code {
		case 0:
			if off != 5 {
				t.Fatalf("offset %d after the reload, want 5 (the failed commit is not in the log)", off)
			}
			return true
		case kerr.CoordinatorLoadInProgress.Code:
			return false
		}
		t.Fatalf("OffsetFetch after a failed append: %v, want COORDINATOR_LOAD_IN_PROGRESS until reloaded", kerr.ErrorForCode(code))
		return false
	})
	if code := ct.commit("g", 7, 0); code != 0 {
		t.Fatalf("commit after the reload: %v", kerr.ErrorForCode(code))
	}
	if off, code := ct.fetchOffset("g"); code != 0 || off != 7 {
		t.Fatalf("offset %d (%v) after a commit of 7", off, kerr.ErrorForCode(code))
	}
}

// TestCoordinatorTimersRunAfterReload (issue 9, item 5): after a reload the
// shard's timers run again: a member loaded with the group, which never
// heartbeats, is expired at the end of its session and the group empties.
func TestCoordinatorTimersRunAfterReload(t *testing.T) {
	ct := startCoordTest(t)
	ct.joinAndSync("m", 1000)
	ct.failNextCommit("g")
	waitFor(t, 15*time.Second, "m's member expired after the reload", func() bool {
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Groups = []string{"m"}
		g := ct.do(req).(*kmsg.DescribeGroupsResponse).Groups[0]
		switch g.ErrorCode {
		case 0:
			return g.State == "Empty"
		case kerr.CoordinatorLoadInProgress.Code:
			return false
		}
		t.Fatalf("DescribeGroups after a failed append: %v", kerr.ErrorForCode(g.ErrorCode))
		return false
	})
}

// joinAndSync makes one consumer member of group with the given session
// timeout and completes its first generation (the group is Stable, its
// metadata record written).
func (ct *coordTest) joinAndSync(group string, sessionMs int32) {
	ct.t.Helper()
	join := kmsg.NewPtrJoinGroupRequest()
	join.SetVersion(5)
	join.Group, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis = group, sessionMs, sessionMs
	join.ProtocolType = "consumer"
	jp := kmsg.NewJoinGroupRequestProtocol()
	jp.Name, jp.Metadata = "range", []byte{0, 1, 0, 0, 0, 0}
	join.Protocols = append(join.Protocols, jp)
	jr := ct.do(join).(*kmsg.JoinGroupResponse)
	if jr.ErrorCode == kerr.MemberIDRequired.Code {
		join.MemberID = jr.MemberID
		jr = ct.do(join).(*kmsg.JoinGroupResponse)
	}
	if jr.ErrorCode != 0 {
		ct.t.Fatalf("JoinGroup: %v", kerr.ErrorForCode(jr.ErrorCode))
	}
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.SetVersion(3)
	sync.Group, sync.Generation, sync.MemberID = group, jr.Generation, jr.MemberID
	sa := kmsg.NewSyncGroupRequestGroupAssignment()
	sa.MemberID, sa.MemberAssignment = jr.MemberID, []byte{0, 1, 0, 0, 0, 0, 0, 0, 0, 0}
	sync.GroupAssignment = append(sync.GroupAssignment, sa)
	if sr := ct.do(sync).(*kmsg.SyncGroupResponse); sr.ErrorCode != 0 {
		ct.t.Fatalf("SyncGroup: %v", kerr.ErrorForCode(sr.ErrorCode))
	}
}

// TestReplacedShardStopsBeforeSuccessorServes (issue 9, item 5): when a
// shard is replaced while a request holds it (an append in progress), the
// new shard of the same partition answers COORDINATOR_LOAD_IN_PROGRESS
// until the old one has stopped, so it never loads a log that the old one
// still writes to.
func TestReplacedShardStopsBeforeSuccessorServes(t *testing.T) {
	ct := startCoordTest(t)
	b := ct.b
	// A coordinator of its own over t-0, so that the broker's reconcile
	// does not touch it.
	var p *partition
	waitFor(t, 10*time.Second, "t-0 open", func() bool { p = b.partition("t", 0); return p != nil })
	c := newCoordinator(b)
	c.begin(context.Background())
	defer c.stopAll()
	loaded := func(s *shard) bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.groups != nil
	}
	c.setShards(map[int32]*partition{0: p})
	old := c.shards[0]
	waitFor(t, 10*time.Second, "the first shard loaded", func() bool { return loaded(old) })
	old.mu.Lock() // a request in progress
	c.setShards(nil)
	c.setShards(map[int32]*partition{0: p})
	next := c.shards[0]
	if next == old {
		t.Fatal("the shard was not replaced")
	}
	// Not a wait for something to happen: the successor must stay out
	// for as long as the old shard is held.
	time.Sleep(200 * time.Millisecond)
	serving := loaded(next)
	old.mu.Unlock()
	if serving {
		t.Fatal("the new shard served while the one it replaced was still in a request")
	}
	waitFor(t, 10*time.Second, "the new shard loaded once the old one stopped", func() bool { return loaded(next) })
	select {
	case <-old.stopped:
	default:
		t.Fatal("the new shard loaded before the old one had stopped")
	}
	if err := next.read(func(*group.Groups) {})(); err != nil {
		t.Fatalf("the new shard answers %v", err)
	}
}
