package core

// Fetch: v4-18
//
// Behavior: sessionless (KIP-227 allows a broker to create no session: the
// response's SessionID is 0 and clients keep sending full fetches); a request
// naming a session we never created gets FETCH_SESSION_ID_NOT_FOUND. A
// client's read stops at the high watermark (IsolationLevel 0,
// read_uncommitted) or at the last stable offset (1, read_committed: below
// the first offset of the earliest open transaction); a follower's at the
// log end. Every partition answers its LastStableOffset whatever the
// isolation level, as Kafka does. A read_committed partition also lists the
// aborted transactions (producer id, first offset) whose records may lie in
// the batches returned, from the fetch offset to the end of the last batch,
// so the consumer can drop them (KIP-98); the list is empty, not null, when
// there are none or nothing was read (Kafka's LocalLog.emptyFetchDataInfo),
// and null for read_uncommitted and for a partition in error. MaxBytes and
// PartitionMaxBytes bound the response, but the first non-empty partition
// always returns at least one whole batch (KIP-74). When fewer than
// MinBytes are ready, the answer waits up to MaxWaitMillis for any
// requested partition's high watermark to move (long poll). That serves
// read_committed too: the last stable offset moves with the high
// watermark or when a marker is appended, and the high watermark moves
// once that marker is committed, which wakes the poll; so newly stable
// records are seen once their marker is committed, when Kafka's last
// stable offset moves. A client's fetch
// that meets a partition error is answered at once, as Kafka does, so that
// a consumer sent to a follower learns it without waiting out the poll;
// from v16 a NOT_LEADER_OR_FOLLOWER or FENCED_LEADER_EPOCH partition names
// the current leader and its endpoint (KIP-951, leader_hint.go). Replica
// fetches keep waiting: the fetcher relies on the poll to pace its retries.

import (
	"context"
	"errors"
	"github.com/jocko/jocko/io/buggify"
	"time"

	"github.com/jocko/jocko/cluster"
	"github.com/jocko/jocko/storage"
	"github.com/jocko/jocko/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.Fetch, 4, 18, (*Broker).handleFetch) }

func (b *Broker) handleFetch(ctx context.Context, r *request) reply {
	req := r.msg.(*kmsg.FetchRequest)
	if req.SessionID != 0 || req.SessionEpoch > 0 {
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		if req.SessionID == 0 {
			resp.ErrorCode = kerr.InvalidFetchSessionEpoch.Code
		}
		return reply{resp: resp}
	}
	// Read when the reply's turn to be written comes, not now: a client
	// that sends fetches and reads no reply then holds one response's
	// data, not one per request it has in flight.
	q := b.limitFetch(r, req)
	return reply{wait: func() kmsg.Response {
		resp := b.answerFetch(ctx, req)
		b.throttleFetch(r, q, resp)
		return resp
	}}
}

// answerFetch answers req from what is readable now, or long-polls; nil when
// the connection is gone.
func (b *Broker) answerFetch(ctx context.Context, req *kmsg.FetchRequest) kmsg.Response {
	if ctx.Err() != nil {
		return nil
	}
	resp, size, parts := b.fetchOnce(req)
	wait := b.clientWait(req.MaxWaitMillis)
	if fetchReady(req, resp, size) || wait <= 0 || len(parts) == 0 {
		return resp
	}
	resp.release()
	return b.fetchLongPoll(ctx, req, parts, wait)
}

// fetchLongPoll waits for new data on any of parts, re-reading each time,
// until MinBytes are ready or the wait is over.
func (b *Broker) fetchLongPoll(ctx context.Context, req *kmsg.FetchRequest, parts []*partition, wait time.Duration) kmsg.Response {
	w := make(chan struct{}, 1)
	_, _, replica := fetchReplica(req) // a follower waits for the log end, not the high watermark
	for _, p := range parts {
		p.watch(w, replica)
	}
	defer func() {
		for _, p := range parts {
			p.unwatch(w, replica)
		}
	}()

	// Data that arrived between the first read and the watch above sent
	// no signal: look once more before sleeping.
	first, size, _ := b.fetchOnce(req)
	if fetchReady(req, first, size) {
		return first
	}
	first.release()
	timer := b.env.Clock.Timer(wait)
	defer timer.Stop()
	for {
		select {
		case <-w:
		case <-timer.C:
			resp, _, _ := b.fetchOnce(req)
			return resp
		case <-ctx.Done():
			return nil
		}
		resp, size, _ := b.fetchOnce(req)
		if fetchReady(req, resp, size) {
			return resp
		}
		resp.release()
	}
}

// fetchReady reports whether a fetch is answered now: MinBytes are there,
// or (for a client) some partition failed, which waiting would only hide.
func fetchReady(req *kmsg.FetchRequest, resp *fetchResponse, size int) bool {
	if size >= int(req.MinBytes) {
		return true
	}
	if _, _, replica := fetchReplica(req); replica {
		return false
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode != 0 {
				return true
			}
		}
	}
	return false
}

// fetchOnce builds a response from what is readable now; it returns the
// bytes of record data gathered and the local partitions that were asked for.
func (b *Broker) fetchOnce(req *kmsg.FetchRequest) (*fetchResponse, int, []*partition) {
	resp := &fetchResponse{FetchResponse: req.ResponseKind().(*kmsg.FetchResponse)}
	st := b.node.State()
	budget := int(req.MaxBytes)
	if req.Version < 3 || budget <= 0 {
		budget = 1 << 30
	}
	budget = min(budget, int(b.brokerInt(st, "fetch.max.bytes")))
	size := 0
	var parts []*partition
	for _, rt := range req.Topics {
		t := kmsg.NewFetchResponseTopic()
		t.Topic, t.TopicID = rt.Topic, rt.TopicID
		top, known := lookupTopic(st, rt.Topic, rt.TopicID, req.Version >= 13)
		for _, rp := range rt.Partitions {
			pr := kmsg.NewFetchResponseTopicPartition()
			pr.Partition = rp.Partition
			pr.HighWatermark, pr.LastStableOffset, pr.LogStartOffset = -1, -1, -1
			// Never null: librdkafka rejects a MessageSetSize of -1.
			pr.RecordBatches = []byte{}
			if !known {
				pr.ErrorCode = unknownTopicCode(req.Version >= 13)
				t.Partitions = append(t.Partitions, pr)
				continue
			}
			p := b.partition(top.Name, rp.Partition)
			if p == nil {
				pr.ErrorCode = noReplicaCode(top, rp.Partition)
				t.Partitions = append(t.Partitions, pr)
				continue
			}
			parts = append(parts, p)
			n := b.fetchPartition(req, p, rp, budget-size, size == 0, &pr)
			if n > 0 {
				resp.pooled = append(resp.pooled, pr.RecordBatches)
			}
			size += n
			t.Partitions = append(t.Partitions, pr)
		}
		resp.Topics = append(resp.Topics, t)
	}
	addFetchLeaderHints(st, resp.FetchResponse)
	return resp, size, parts
}

// noReplicaCode answers a partition this broker has no replica of: one the
// metadata has lives elsewhere (NOT_LEADER_OR_FOLLOWER sends the client to
// its leader, as Kafka's ReplicaManager does), any other does not exist.
func noReplicaCode(t *cluster.Topic, part int32) int16 {
	if part >= 0 && int(part) < len(t.Partitions) {
		return kerr.NotLeaderForPartition.Code
	}
	return kerr.UnknownTopicOrPartition.Code
}

// fetchReplica identifies a follower's fetch: the replica's broker ID and
// epoch (KIP-903), or ok=false for a client's.
func fetchReplica(req *kmsg.FetchRequest) (id int32, epoch int64, ok bool) {
	if req.Version >= 15 {
		return req.ReplicaState.ID, req.ReplicaState.Epoch, req.ReplicaState.ID >= 0
	}
	return req.ReplicaID, -1, req.ReplicaID >= 0
}

// fetchPartition reads one partition into pr and returns the bytes read,
// which are in a pooled buffer when there are any.
func (b *Broker) fetchPartition(req *kmsg.FetchRequest, p *partition, rp kmsg.FetchRequestTopicPartition, budget int, first bool, pr *kmsg.FetchResponseTopicPartition) int {
	id, epoch, fromReplica := fetchReplica(req)
	code := p.checkEpoch(rp.CurrentLeaderEpoch)
	if code == 0 && !p.isLeader() && !followerServes(req, p, fromReplica) {
		code = kerr.NotLeaderForPartition.Code
	}
	if pr.ErrorCode = code; code != 0 {
		return 0
	}
	var upTo int64 // where the read stops: below the high watermark for a client (set below), the log end for a follower
	if fromReplica {
		// A follower reads up to the log end; its fetch offset is what it
		// has fsynced, which may move the high watermark.
		if pr.ErrorCode = p.followerFetched(id, epoch, rp.FetchOffset); pr.ErrorCode != 0 {
			return 0
		}
		upTo = p.log.EndOffset()
	}
	hw := p.highWatermark()
	if !fromReplica {
		// A client reads below the high watermark the response reports,
		// read once: reading the partition's again later (it may have
		// moved meanwhile) returned records past the reported one, which
		// the simulator's linearizability check caught (slow-disk seeds 7
		// and 8, once the last stable offset's lock widened the window).
		upTo = hw
	}
	lso := p.log.LastStableOffset(hw)
	pr.HighWatermark, pr.LastStableOffset, pr.LogStartOffset = hw, lso, p.log.StartOffset()
	if !fromReplica && p.isLeader() {
		if pr.PreferredReadReplica = b.preferredReadReplica(req, p); pr.PreferredReadReplica >= 0 {
			return 0 // KIP-392: the client fetches from a follower in its rack
		}
	}
	committed := !fromReplica && req.IsolationLevel == 1 && !buggify.Broken(buggify.IgnoreLSO)
	if committed {
		upTo = lso
		pr.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
	}
	max := int(rp.PartitionMaxBytes)
	if max <= 0 || (budget < max && !first) {
		max = budget
	}
	if max <= 0 && !first {
		return 0
	}
	data, err := p.read(rp.FetchOffset, max, upTo)
	switch {
	case errors.Is(err, storage.ErrOffsetOutOfRange):
		pr.ErrorCode = kerr.OffsetOutOfRange.Code
		return 0
	case p.noteCorrupt(err):
		pr.ErrorCode = kerr.CorruptMessage.Code // retried; the repair moves the leadership (corrupt.go)
		return 0
	case err != nil:
		pr.ErrorCode = kerr.KafkaStorageError.Code
		if code, ok := partitionClosedCode(err); ok {
			pr.ErrorCode = code // closed meanwhile: deleted or moved
		}
		return 0
	}
	if len(data) == 0 || (len(data) > max && !first) {
		storage.Release(data) // KIP-74: only the first partition may exceed its limit
		return 0
	}
	pr.RecordBatches = data
	if committed {
		pr.AbortedTransactions = abortedIn(p.log, rp.FetchOffset, data, upTo)
	}
	if !fromReplica {
		p.stats.out(data)
	}
	return len(data)
}

// abortedIn lists, for a read_committed fetch from offset that returned
// data (whole batches read below bound), the aborted transactions whose
// records may be in data: storage's AbortedTransactions over [offset, the
// offset after data's last batch). Kafka bounds the range by an index
// lookup past the bytes returned, which may reach further; a wider range
// only lists transactions the consumer has no record of, which it ignores.
// Data that does not parse (the log checked it as it read) falls back to
// bound. Never nil.
func abortedIn(l *storage.Log, offset int64, data []byte, bound int64) []kmsg.FetchResponseTopicPartitionAbortedTransaction {
	to, ok := batchesEnd(data)
	if !ok {
		to = bound
	}
	aborted := l.AbortedTransactions(offset, to)
	out := make([]kmsg.FetchResponseTopicPartitionAbortedTransaction, 0, len(aborted))
	for _, a := range aborted {
		t := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
		t.ProducerID, t.FirstOffset = a.ProducerID, a.FirstOffset
		out = append(out, t)
	}
	return out
}

// batchesEnd returns the offset after the last of the whole batches in
// data; ok=false if data is not a run of whole batches.
func batchesEnd(data []byte) (end int64, ok bool) {
	for len(data) > 0 {
		h, err := wire.ParseBatchHeader(data)
		if err != nil || h.Size() > len(data) || h.Size() <= 0 {
			return 0, false
		}
		end, data = h.NextOffset(), data[h.Size():]
	}
	return end, end > 0
}

// followerServes reports whether this follower replica serves a client's
// fetch (KIP-392, Fetch v11+): below its own high watermark, which is
// committed data, as a leader does.
func followerServes(req *kmsg.FetchRequest, p *partition, fromReplica bool) bool {
	return !fromReplica && req.Version >= 11 && p.leader.Load() >= 0
}

// preferredReadReplica is the replica a client with a rack (client.rack,
// Fetch v11+) should read from instead of this leader: an in-sync follower
// in the client's rack, the lowest ID first, unless this leader is in that
// rack itself; -1 for none (Kafka's RackAwareReplicaSelector).
func (b *Broker) preferredReadReplica(req *kmsg.FetchRequest, p *partition) int32 {
	if req.Version < 11 || req.Rack == "" || req.Rack == b.cfg.Rack {
		return -1
	}
	st := b.node.State()
	t, ok := st.Topic(p.topic)
	if !ok || int(p.index) >= len(t.Partitions) {
		return -1
	}
	best := int32(-1)
	for _, id := range t.Partitions[p.index].ISR {
		br, ok := st.Brokers[id]
		if id == b.cfg.NodeID || !ok || br.Fenced || br.Rack != req.Rack {
			continue
		}
		if best < 0 || id < best {
			best = id
		}
	}
	return best
}

// lookupTopic finds a topic by ID (Fetch v13+, Produce v13) or by name.
func lookupTopic(st *cluster.State, name string, id [16]byte, byID bool) (*cluster.Topic, bool) {
	if byID {
		return st.TopicByID(id)
	}
	return st.Topic(name)
}
