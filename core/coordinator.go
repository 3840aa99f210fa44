package core

import (
	"context"
	"errors"
	"strconv"
	"sync"

	"github.com/jocko/jocko/cluster"
	"github.com/jocko/jocko/core/group"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// coordinator is the group coordinator: one shard per __consumer_offsets
// partition whose leader is this broker. When partitions gain replicas and
// leaders move, shards follow the leadership that reconcile sees: nothing in
// a shard depends on the cluster's shape.
//
// A shard that is replaced is stopped in the background (reconcile does not
// wait for a request in progress), and its successor for the same partition
// answers COORDINATOR_LOAD_IN_PROGRESS until that stop has finished: two
// shards never append to one partition, and the new one loads a log that
// the old one no longer writes.
type coordinator struct {
	b *Broker
	// mu guards shards, gone and ctx.
	mu     sync.Mutex
	shards map[int32]*shard
	// gone holds, per partition, the stopped channel of the last shard
	// retired for it (closed once that shard has fully stopped); the
	// next shard of the partition waits for it before loading.
	gone map[int32]<-chan struct{}
	ctx  context.Context // the broker's run context; shards live under it
	// stopping counts the background stops of retired shards; stopAll
	// waits for them.
	stopping sync.WaitGroup
}

// syncShards starts shards for the offsets partitions this broker now leads
// and stops the others. Called by reconcile with its lock held.
func (c *coordinator) syncShards(st *cluster.State) {
	want := map[int32]*partition{}
	if t, ok := st.Topic(offsetsTopic); ok {
		for _, ps := range t.Partitions {
			if ps.Leader == c.b.cfg.NodeID {
				if p := c.b.partition(offsetsTopic, ps.Index); p != nil {
					want[ps.Index] = p
				}
			}
		}
	}
	c.setShards(want)
}

// setShards makes want (offsets partition -> this broker's replica, which
// it leads) the partitions with a shard: shards of other partitions, or of
// another replica object of the partition, are retired; the missing ones
// start, each after the retired shard of its partition has stopped.
func (c *coordinator) setShards(want map[int32]*partition) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx == nil {
		return
	}
	if c.gone == nil {
		c.gone = map[int32]<-chan struct{}{}
	}
	for i, s := range c.shards {
		if want[i] != s.p {
			delete(c.shards, i)
			c.gone[i] = s.stopped
			c.stopping.Add(1)
			go func() {
				defer c.stopping.Done()
				s.stop()
			}()
		}
	}
	for i, p := range want {
		if c.shards[i] == nil {
			s := newShard(c.b, i, p, c.gone[i])
			c.shards[i] = s
			s.start(c.ctx)
		}
	}
}

// stopAll stops every shard (broker shutdown).
func (c *coordinator) stopAll() {
	c.mu.Lock()
	shards := c.shards
	c.shards = map[int32]*shard{}
	c.ctx = nil
	c.mu.Unlock()
	for _, s := range shards {
		s.stop()
	}
	c.stopping.Wait()
}

// shardFor returns the shard coordinating groupID, or an error to answer:
// NOT_COORDINATOR when another broker coordinates it (or the offsets topic
// does not exist yet).
func (c *coordinator) shardFor(groupID string) (*shard, error) {
	st := c.b.node.State()
	t, ok := st.Topic(offsetsTopic)
	if !ok {
		return nil, errNotCoordinator
	}
	part := group.Partition(groupID, int32(len(t.Partitions)))
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.shards[part]; s != nil {
		return s, nil
	}
	if t.Partitions[part].Leader == c.b.cfg.NodeID {
		// This broker leads the partition but has not opened it yet (the
		// topic was just created): the shard is about to load.
		return nil, errCoordinatorLoading
	}
	return nil, errNotCoordinator
}

// txnCompleted tells the shard of __consumer_offsets partition part, if
// this broker has one, that a COMMIT (commit set) or ABORT marker of
// producerID was appended to the partition: the producer's pending
// transactional offsets are committed or dropped. WriteTxnMarkers calls it
// right after the append, before the marker is committed. Without a shard
// here the partition's next coordinator loads the marker from the log.
func (c *coordinator) txnCompleted(part int32, producerID int64, commit bool) {
	c.mu.Lock()
	s := c.shards[part]
	c.mu.Unlock()
	if s != nil {
		s.txnCompleted(producerID, commit)
	}
}

// allShards lists the running shards.
func (c *coordinator) allShards() []*shard {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*shard, 0, len(c.shards))
	for _, s := range c.shards {
		out = append(out, s)
	}
	return out
}

// ensureOffsetsTopic creates __consumer_offsets on first use, with
// offsets.topic.num.partitions partitions, replication capped at the live
// brokers (the controller raises it as more join), and compaction.
func (b *Broker) ensureOffsetsTopic(ctx context.Context) error {
	st := b.node.State()
	if _, ok := st.Topic(offsetsTopic); ok {
		return nil
	}
	rf := max(1, min(b.brokerInt(st, "offsets.topic.replication.factor"), int64(liveBrokers(st))))
	err := b.createTopic(ctx, topicSpec{
		name:        offsetsTopic,
		partitions:  int32(b.brokerInt(st, "offsets.topic.num.partitions")),
		replication: int16(rf),
		configs:     map[string]string{"cleanup.policy": "compact", "segment.bytes": strconv.FormatInt(b.brokerInt(st, "offsets.topic.segment.bytes"), 10)},
		internal:    true,
	}, false)
	if code, _ := errorCode(err); code == kerr.TopicAlreadyExists.Code {
		return nil
	}
	return err
}

// groupConfig is the group state machine's configuration from the broker
// settings.
func (b *Broker) groupConfig() group.Config {
	st := b.node.State()
	cfg := group.DefaultConfig()
	cfg.SessionTimeoutMinMs = int32(b.brokerInt(st, "group.min.session.timeout.ms"))
	cfg.SessionTimeoutMaxMs = int32(b.brokerInt(st, "group.max.session.timeout.ms"))
	cfg.InitialRebalanceDelayMs = int32(b.brokerInt(st, "group.initial.rebalance.delay.ms"))
	cfg.OffsetsRetentionMs = b.brokerInt(st, "offsets.retention.minutes") * 60 * 1000
	return cfg
}

// coordinatorCode maps a coordinator error to its Kafka code.
func coordinatorCode(err error) int16 {
	switch {
	case errors.Is(err, errCoordinatorLoading):
		return kerr.CoordinatorLoadInProgress.Code
	case errors.Is(err, errNotCoordinator):
		return kerr.NotCoordinator.Code
	default:
		return kerr.CoordinatorNotAvailable.Code
	}
}

// coordinatorError builds req's response with every error field set to the
// code for err, as Kafka answers a request its coordinator cannot serve.
func coordinatorError(req kmsg.Request, err error) kmsg.Response {
	code := coordinatorCode(err)
	resp := req.ResponseKind()
	switch r := resp.(type) {
	case *kmsg.JoinGroupResponse:
		r.ErrorCode, r.Generation = code, -1
	case *kmsg.SyncGroupResponse:
		r.ErrorCode = code
		if code == kerr.CoordinatorLoadInProgress.Code {
			r.ErrorCode = kerr.RebalanceInProgress.Code
		}
	case *kmsg.HeartbeatResponse:
		if code != kerr.CoordinatorLoadInProgress.Code {
			r.ErrorCode = code
		}
	case *kmsg.LeaveGroupResponse:
		r.ErrorCode = code
	case *kmsg.OffsetDeleteResponse:
		r.ErrorCode = code
	case *kmsg.OffsetCommitResponse:
		return group.CommitResponse(req.(*kmsg.OffsetCommitRequest), func(string, kmsg.OffsetCommitRequestTopicPartition) int16 { return code })
	case *kmsg.TxnOffsetCommitResponse:
		return group.TxnCommitResponse(req.(*kmsg.TxnOffsetCommitRequest), func(string, kmsg.TxnOffsetCommitRequestTopicPartition) int16 { return code })
	case *kmsg.OffsetFetchResponse:
		q := req.(*kmsg.OffsetFetchRequest)
		r.ErrorCode = code
		for _, g := range group.OffsetFetchGroups(q) {
			rg := kmsg.NewOffsetFetchResponseGroup()
			rg.Group, rg.ErrorCode = g.Group, code
			r.Groups = append(r.Groups, rg)
		}
	}
	return resp
}
