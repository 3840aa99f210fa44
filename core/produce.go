package core

// Produce: v3-13 served, v0-13 advertised
//
// Behavior: each partition's records are validated (wire.ValidateBatches:
// magic v2, CRC32C, lengths, counts, timestamps, codecs) before anything is
// stored; a bad batch gets its Kafka code and nothing of it is written.
// A partition carries exactly one batch, as Kafka requires from v3: two or
// more get INVALID_RECORD and none is written.
// Idempotent batches are checked against the partition's producer table
// (duplicates answer with their original offsets). A transactional
// producer's batches (a request with a transactional id) are
// transactional and idempotent; the first of a transaction on a partition
// is verified with the transaction coordinator first (KIP-890; under
// transaction.version 2, Produce v12+ adds the partition instead), and
// refused with INVALID_TXN_STATE if the partition is not in the
// transaction. A transactional batch without a transactional id is
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED, as Kafka answers; control batches
// INVALID_RECORD. acks=0 gets no response.
// With flush.messages=1 (the default) acks=1 is answered once the leader
// has fsynced the batch (group commit makes that nearly free, and on a
// one-replica topic the client then reads its own writes: the high
// watermark is there too), in page-cache mode once it is in the log;
// acks=all once the high watermark covers it, which with flush.messages=1
// means fsynced by every in-sync replica. v0-2 are advertised but rejected, as Kafka 4 does (KAFKA-18659).
// A partition this broker does not lead (or no longer leads when an acks=all
// wait ends) gets NOT_LEADER_OR_FOLLOWER, from v10 with the current leader
// and its endpoint (KIP-951, leader_hint.go).

import (
	"context"
	"errors"
	"fmt"
	"github.com/jocko/jocko/io/buggify"
	"math"
	"time"

	"github.com/jocko/jocko/cluster"
	"github.com/jocko/jocko/storage"
	"github.com/jocko/jocko/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	register(kmsg.Produce, 3, 13, (*Broker).handleProduce)
	a := apis[int16(kmsg.Produce)]
	a.advertisedMin = 0
	apis[int16(kmsg.Produce)] = a
}

// produceWait is one partition whose answer waits: for the high watermark
// to reach end (acks=all), or for the leader's fsync to (acks=1 with
// flush.messages=1).
type produceWait struct {
	p      *partition
	end    int64
	gen    uint64 // the leadership the records were appended under
	synced bool   // acks=1: the leader's own fsync is enough
	resp   *kmsg.ProduceResponseTopicPartition
}

func (b *Broker) handleProduce(ctx context.Context, r *request) reply {
	req := r.msg.(*kmsg.ProduceRequest)
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	st := b.node.State()
	txc := produceTxn{id: req.TransactionID, add: req.Version >= 12 && finalizedLevel(st, transactionVersionFeature) >= 2}
	var waits []produceWait
	for _, rt := range req.Topics {
		t := kmsg.NewProduceResponseTopic()
		t.Topic, t.TopicID = rt.Topic, rt.TopicID
		top, known := lookupTopic(st, rt.Topic, rt.TopicID, req.Version >= 13)
		// Sized once: waits keep pointers into this slice (an acks=all
		// outcome is written there later), so it must never grow and
		// move, or a later error would land in a stale copy and the client
		// would read success.
		t.Partitions = make([]kmsg.ProduceResponseTopicPartition, 0, len(rt.Partitions))
		for _, rp := range rt.Partitions {
			pr := kmsg.NewProduceResponseTopicPartition()
			pr.Partition = rp.Partition
			t.Partitions = append(t.Partitions, pr)
			out := &t.Partitions[len(t.Partitions)-1]
			if code := produceTopicCode(top, known, rp.Partition, req); code != 0 {
				out.ErrorCode, out.BaseOffset, out.LogAppendTime, out.LogStartOffset = code, -1, -1, -1
				continue
			}
			if w, ok := b.producePartition(ctx, top.Name, rp, req.Acks, txc, out); ok {
				waits = append(waits, w)
			}
		}
		resp.Topics = append(resp.Topics, t)
	}
	b.throttleProduce(r, req, resp)
	if req.Acks == 0 {
		return reply{none: true}
	}
	if len(waits) == 0 || buggify.Broken(buggify.AckBeforeFsync) {
		addProduceLeaderHints(b.node.State(), resp)
		return reply{resp: resp}
	}
	ms := req.TimeoutMillis
	if req.Acks == 1 && ms <= 0 {
		ms = math.MaxInt32 // Kafka does not time acks=1 out: only request.wait.max.ms bounds the fsync
	}
	timeout := b.clientWait(ms)
	return reply{wait: func() kmsg.Response {
		b.awaitProduce(ctx, waits, timeout)
		addProduceLeaderHints(b.node.State(), resp)
		return resp
	}}
}

// produceTopicCode refuses partitions a client may not write: unknown topics
// and partitions, and internal topics (Kafka: "Cannot append to internal
// topic").
func produceTopicCode(t *cluster.Topic, known bool, part int32, req *kmsg.ProduceRequest) int16 {
	switch {
	case !known:
		return unknownTopicCode(req.Version >= 13)
	case t.Internal:
		return kerr.InvalidTopicException.Code
	case part < 0 || int(part) >= len(t.Partitions):
		return kerr.UnknownTopicOrPartition.Code
	}
	return 0
}

// produceTxn is what a produce request says about its transaction: the
// transactional id (nil: none), and whether a batch that opens the
// transaction on a partition adds the partition (KIP-890 part 2: Produce
// v12+ under transaction.version 2) rather than only verifying it.
type produceTxn struct {
	id  *string
	add bool
}

// producePartition validates and appends one partition's records, filling
// out. ok=true means the answer waits for the high watermark (acks=all).
func (b *Broker) producePartition(ctx context.Context, topic string, rp kmsg.ProduceRequestTopicPartition, acks int16, txc produceTxn, out *kmsg.ProduceResponseTopicPartition) (produceWait, bool) {
	out.BaseOffset, out.LogAppendTime, out.LogStartOffset = -1, -1, -1
	p := b.partition(topic, rp.Partition)
	if p == nil {
		// The partition exists (produceTopicCode checked) but has no
		// replica here: Kafka's answer, which sends the client to the
		// leader.
		out.ErrorCode = kerr.NotLeaderForPartition.Code
		return produceWait{}, false
	}
	gen := p.leaderGen.Load()
	if !p.isLeader() {
		out.ErrorCode = kerr.NotLeaderForPartition.Code
		return produceWait{}, false
	}
	cfg := p.config()
	if acks != 0 && acks != 1 && acks != -1 {
		out.ErrorCode = kerr.InvalidRequiredAcks.Code
		return produceWait{}, false
	}
	if err := p.canAppend(acks == -1); err != nil {
		isr := p.isrSize()
		out.ErrorCode = kerr.NotEnoughReplicas.Code
		out.ErrorMessage = strPtr(fmt.Sprintf("%d in-sync replicas, min.insync.replicas is %d", isr, cfg.minISR))
		return produceWait{}, false
	}
	if int64(len(rp.Records)) > cfg.maxMessageBytes+wire.BatchHeaderLen && len(rp.Records) > 0 {
		out.ErrorCode = kerr.MessageTooLarge.Code
		return produceWait{}, false
	}
	hdrs, err := wire.ValidateBatches(rp.Records, wire.ValidateOptions{
		NowMs:                b.env.Clock.Now().UnixMilli(),
		TimestampBeforeMaxMs: cfg.tsBeforeMaxMs,
		TimestampAfterMaxMs:  cfg.tsAfterMaxMs,
	})
	if err != nil {
		out.ErrorCode, out.ErrorMessage = batchErrorCode(err), strPtr(err.Error())
		return produceWait{}, false
	}
	if len(hdrs) != 1 {
		// Kafka's ProduceRequest.validateRecords: the whole partition is
		// refused, so nothing of it is stored.
		out.ErrorCode = kerr.InvalidRecord.Code
		out.ErrorMessage = strPtr(fmt.Sprintf("%d record batches for one partition; Produce v3+ allows exactly one", len(hdrs)))
		return produceWait{}, false
	}
	for _, h := range hdrs {
		if int64(h.Size()) > cfg.maxMessageBytes {
			out.ErrorCode = kerr.MessageTooLarge.Code
			return produceWait{}, false
		}
		if h.Control() {
			out.ErrorCode, out.ErrorMessage = kerr.InvalidRecord.Code, strPtr("control batches are written by the transaction coordinator, not produced")
			return produceWait{}, false
		}
		if h.Transactional() && txc.id == nil {
			// Kafka's KafkaApis: transactional records need a
			// transactional id (checked here, with the header already
			// parsed, rather than in a pass over every partition first).
			out.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
			return produceWait{}, false
		}
		if h.Transactional() != (txc.id != nil) || (h.Transactional() && (h.ProducerID < 0 || h.BaseSequence < 0)) {
			out.ErrorCode, out.ErrorMessage = kerr.InvalidRecord.Code, strPtr("a transactional producer's batches are transactional and idempotent, and only its batches are")
			return produceWait{}, false
		}
	}
	if h := hdrs[0]; h.Transactional() && p.needsVerify(h.ProducerID, h.ProducerEpoch) {
		if err := b.verifyRetrying(ctx, *txc.id, h, topic, rp.Partition, txc.add); err != nil {
			out.ErrorCode, out.ErrorMessage = verifyErrorCode(err), strPtr("transaction verification: "+err.Error())
			return produceWait{}, false
		}
		p.markVerified(h.ProducerID, h.ProducerEpoch)
	}
	if err := b.refuseForDisk(); err != nil {
		out.ErrorCode, out.ErrorMessage = kerr.KafkaStorageError.Code, strPtr(err.Error())
		return produceWait{}, false
	}
	records, hdrs, err := recompress(rp.Records, hdrs, cfg.compression)
	if err != nil {
		out.ErrorCode, out.ErrorMessage = kerr.CorruptMessage.Code, strPtr(err.Error())
		return produceWait{}, false
	}
	res, err := p.append(records, hdrs)
	if err != nil {
		out.ErrorCode, out.ErrorMessage = appendErrorCode(err), strPtr(err.Error())
		return produceWait{}, false
	}
	out.BaseOffset, out.LogAppendTime, out.LogStartOffset = res.firstOffset, res.appendTimeMs, p.log.StartOffset()
	p.stats.in(int64(len(rp.Records)), int64(hdrs[0].NumRecords))
	synced := acks == 1 && cfg.durable()
	return produceWait{p: p, end: res.end, gen: gen, synced: synced, resp: out}, acks == -1 || synced
}

// awaitProduce waits until every partition's high watermark (or, for
// acks=1, the leader's fsync) covers its append, or the produce timeout
// passes (REQUEST_TIMED_OUT).
func (b *Broker) awaitProduce(ctx context.Context, waits []produceWait, timeout time.Duration) {
	ctx, cancel := b.env.Clock.WithTimeout(ctx, timeout)
	defer cancel()
	for _, w := range waits {
		var err error
		if w.synced {
			err = w.p.waitSynced(ctx, w.end, w.gen)
		} else if err = w.p.waitHW(ctx, w.end, w.gen); err == nil {
			err = w.p.ackError(w.end)
		}
		if err != nil {
			w.resp.ErrorCode = appendErrorCode(err)
			w.resp.ErrorMessage = strPtr(err.Error())
		}
	}
}

func appendErrorCode(err error) int16 {
	if code, ok := partitionClosedCode(err); ok {
		return code
	}
	switch {
	case errors.Is(err, errOutOfOrderSequence):
		return kerr.OutOfOrderSequenceNumber.Code
	case errors.Is(err, storage.ErrStaleEpoch), errors.Is(err, errLeadershipLost):
		return kerr.NotLeaderForPartition.Code
	case errors.Is(err, errNotEnoughReplicasAfterAppend):
		return kerr.NotEnoughReplicasAfterAppend.Code
	case errors.Is(err, errProducerFenced):
		return kerr.InvalidProducerEpoch.Code
	case errors.Is(err, errTxnState):
		return kerr.InvalidTxnState.Code
	case errors.Is(err, errBatchCount):
		return kerr.InvalidRecord.Code
	case errors.Is(err, storage.ErrBatchTooLarge):
		return kerr.RecordListTooLarge.Code
	case errors.Is(err, context.DeadlineExceeded):
		return kerr.RequestTimedOut.Code
	case errors.Is(err, context.Canceled):
		return kerr.RequestTimedOut.Code
	default:
		return kerr.KafkaStorageError.Code
	}
}

// Kafka's add.partitions.to.txn.retry.backoff.ms and .max.ms: a
// verification answered CONCURRENT_TRANSACTIONS (the previous transaction
// is still writing its markers, which a client that ends one and begins
// the next at once meets) is retried inside the broker for a while
// before the client sees it.
const (
	verifyRetryBackoff = 20 * time.Millisecond
	verifyRetryMax     = 100 * time.Millisecond
)

// verifyRetrying is txnVerify for the first batch h of a transaction on a
// partition, retried on CONCURRENT_TRANSACTIONS for up to verifyRetryMax.
func (b *Broker) verifyRetrying(ctx context.Context, transactionalID string, h wire.BatchHeader, topic string, part int32, add bool) error {
	deadline := b.env.Clock.Now().Add(verifyRetryMax)
	for {
		err := b.txnVerify(ctx, transactionalID, h.ProducerID, h.ProducerEpoch, topic, part, add)
		if !errors.Is(err, kerr.ConcurrentTransactions) || !b.env.Clock.Now().Before(deadline) {
			return err
		}
		if b.sleep(ctx, verifyRetryBackoff) != nil {
			return err
		}
	}
}

// verifyErrorCode is a produce's answer when the transaction coordinator
// did not confirm the partition (KIP-890): the coordinator's retriable
// answers become NOT_ENOUGH_REPLICAS, which every client retries, as
// Kafka's ReplicaManager does for clients that predate them.
func verifyErrorCode(err error) int16 {
	var ke *kerr.Error
	if !errors.As(err, &ke) {
		return kerr.NotEnoughReplicas.Code
	}
	switch ke {
	case kerr.ConcurrentTransactions, kerr.CoordinatorLoadInProgress, kerr.CoordinatorNotAvailable, kerr.NotCoordinator:
		return kerr.NotEnoughReplicas.Code
	case kerr.ProducerFenced:
		return kerr.InvalidProducerEpoch.Code
	}
	return ke.Code
}

func batchErrorCode(err error) int16 {
	var be *wire.BatchError
	if errors.As(err, &be) {
		return be.Code
	}
	return kerr.CorruptMessage.Code
}

func unknownTopicCode(byID bool) int16 {
	if byID {
		return kerr.UnknownTopicID.Code
	}
	return kerr.UnknownTopicOrPartition.Code
}

func strPtr(s string) *string { return &s }

// earlyTimeout is d, or (BUGGIFY) a random part of it: a wait that ends
// early must answer exactly what a timeout answers.
func earlyTimeout(d time.Duration) time.Duration {
	if d > 0 && buggify.On(buggify.CoreEarlyTimeout) {
		return time.Duration(buggify.Intn(int(d/time.Millisecond)+1)) * time.Millisecond
	}
	return d
}
