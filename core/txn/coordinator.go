package txn

import (
	"fmt"
	"slices"
	"sort"
)

// Coordinator holds the transactional ids of one __transaction_state
// partition. It is a plain struct: every input carries the time in
// milliseconds and returns an Output; nothing happens between inputs. It is
// not safe for concurrent use: the shell feeds one partition from one
// goroutine.
type Coordinator struct {
	cfg   Config
	ids   ProducerIDs
	epoch int32 // the coordinator epoch: the partition's leader epoch
	txns  map[string]*txn
	// inflight maps a record's ID to the transaction whose pending
	// transition it carries.
	inflight map[uint64]*txn
	lastID   uint64
}

// New returns a Coordinator with no transactional ids, for a partition led
// at coordinatorEpoch. A coordinator that takes over a partition uses a
// Loader instead.
func New(cfg Config, ids ProducerIDs, coordinatorEpoch int32) *Coordinator {
	return &Coordinator{cfg: cfg, ids: ids, epoch: coordinatorEpoch,
		txns: map[string]*txn{}, inflight: map[uint64]*txn{}}
}

// txn is one transactional id: its durable metadata and at most one
// pending transition (Kafka's TransactionMetadata and pendingState).
type txn struct {
	id        string
	m         Meta  // as of the last completed transition: durable
	lastEpoch int16 // Kafka's lastProducerEpoch; not in the log
	pend      *pending
	fresh     bool // created by InitProducerId; nothing durable yet
}

type opKind int8

const (
	opInit     opKind = iota // InitProducerId: to Empty
	opAdd                    // AddPartitions/AddOffsets: to Ongoing
	opPrepare                // EndTxn or a fence: to PrepareCommit/PrepareAbort
	opComplete               // markers, then CompleteCommit/CompleteAbort
	opDead                   // expiry: a tombstone
)

// pending is a transition whose record is not durable yet.
type pending struct {
	kind      opKind
	to        Meta
	lastEpoch int16
	recID     uint64 // 0 while opComplete waits for markers
	left      map[TopicPartition]bool
	// done answers the request that caused the transition, once it is
	// durable (err nil) or failed; nil when no request waits.
	done func(err error, out *Output)
}

// begin makes p the transaction's pending transition and, unless it waits
// for markers, emits its record.
func (c *Coordinator) begin(t *txn, p *pending, out *Output) {
	if t.pend != nil {
		panic(fmt.Sprintf("txn %q: transition to %v while one to %v is pending", t.id, p.to.State, t.pend.to.State))
	}
	from := t.m.State
	if t.fresh {
		from = Empty
	}
	if p.kind != opDead && !ValidPrevious(p.to.State, from) {
		panic(fmt.Sprintf("txn %q: transition from %v to %v is not allowed", t.id, from, p.to.State))
	}
	if p.kind == opDead && !ValidPrevious(Dead, from) {
		panic(fmt.Sprintf("txn %q: expiry in state %v", t.id, from))
	}
	if p.kind != opDead && (p.to.ProducerID < 0 || p.to.ProducerEpoch < 0) {
		panic(fmt.Sprintf("txn %q: transition to producer id %d epoch %d", t.id, p.to.ProducerID, p.to.ProducerEpoch))
	}
	t.pend = p
	if p.kind != opComplete || len(p.left) == 0 {
		c.emit(t, out)
	}
}

func (c *Coordinator) emit(t *txn, out *Output) {
	c.lastID++
	t.pend.recID = c.lastID
	c.inflight[c.lastID] = t
	r := Record{ID: c.lastID, TransactionalID: t.id, Key: keyBytes(t.id)}
	if t.pend.kind != opDead {
		v := int16(0)
		if c.cfg.TransactionVersion >= 1 {
			v = 1
		}
		r.Value = valueBytes(&t.pend.to, v)
	}
	out.Records = append(out.Records, r)
}

// Appended completes the transition whose record has the given ID: err nil
// once the record is durable (committed to the partition's ISR), else the
// error the client is to see (Kafka answers NOT_COORDINATOR when the
// leadership moved, COORDINATOR_NOT_AVAILABLE when the ISR is too small; a
// non-kerr error is UNKNOWN_SERVER_ERROR). A failed append leaves the
// transaction as it was, except a failed completion record, which is
// emitted again (Kafka retries it until the coordinator moves). After an
// ambiguous failure (the record may yet commit) the shell should rather
// rebuild the partition with a Loader.
func (c *Coordinator) Appended(nowMs int64, id uint64, err error) Output {
	var out Output
	t, ok := c.inflight[id]
	if !ok {
		panic(fmt.Sprintf("txn: Appended(%d) names no record in flight", id))
	}
	delete(c.inflight, id)
	p := t.pend
	if err != nil {
		if p.kind == opComplete {
			c.emit(t, &out)
			return out
		}
		t.pend = nil
		if t.fresh {
			delete(c.txns, t.id)
		}
		if p.done != nil {
			p.done(err, &out)
		}
		return out
	}
	t.pend = nil
	if p.kind == opDead {
		delete(c.txns, t.id)
		return out
	}
	if !ValidPrevious(p.to.State, t.m.State) && !t.fresh {
		panic(fmt.Sprintf("txn %q: completing a transition from %v to %v", t.id, t.m.State, p.to.State))
	}
	t.m, t.lastEpoch, t.fresh = p.to, p.lastEpoch, false
	if p.kind == opPrepare {
		c.startMarkers(t, nowMs, &out)
	}
	if p.done != nil {
		p.done(nil, &out)
	}
	return out
}

// startMarkers follows a durable PrepareCommit/PrepareAbort: it prepares
// the completion (Kafka's prepareComplete) and hands out the marker work;
// with no partitions the completion record goes at once.
func (c *Coordinator) startMarkers(t *txn, nowMs int64, out *Output) {
	to := t.m
	to.State = CompleteCommit
	if t.m.State == PrepareAbort {
		to.State = CompleteAbort
	}
	to.Partitions = []TopicPartition{}
	to.UpdateMs = nowMs
	lastEpoch := t.lastEpoch
	if t.m.ClientVersion >= 2 {
		to.PrevProducerID = t.m.ProducerID
		lastEpoch = t.m.ProducerEpoch
		if t.m.NextProducerID != noProducerID {
			to.ProducerID, to.ProducerEpoch = t.m.NextProducerID, 0
		}
	}
	to.NextProducerID = noProducerID
	p := &pending{kind: opComplete, to: to, lastEpoch: lastEpoch, left: map[TopicPartition]bool{}}
	for _, tp := range t.m.Partitions {
		p.left[tp] = true
	}
	if len(t.m.Partitions) > 0 {
		out.Markers = append(out.Markers, Markers{
			TransactionalID:  t.id,
			ProducerID:       t.m.ProducerID,
			ProducerEpoch:    t.m.ProducerEpoch,
			Commit:           t.m.State == PrepareCommit,
			CoordinatorEpoch: c.epoch,
			Partitions:       slices.Clone(t.m.Partitions),
		})
	}
	c.begin(t, p, out)
}

// MarkersWritten reports markers written (or given up on because the
// partition no longer exists, as Kafka does) for partitions of a
// transaction's marker work. Once every partition has its marker, the
// Output carries the CompleteCommit/CompleteAbort record. A report for a
// transaction that is not writing markers is ignored.
func (c *Coordinator) MarkersWritten(nowMs int64, transactionalID string, partitions ...TopicPartition) Output {
	var out Output
	t := c.txns[transactionalID]
	if t == nil || t.pend == nil || t.pend.kind != opComplete || t.pend.recID != 0 {
		return out
	}
	for _, tp := range partitions {
		delete(t.pend.left, tp)
	}
	if len(t.pend.left) == 0 {
		c.emit(t, &out)
	}
	return out
}

// IDs lists the transactional ids with durable state, sorted.
func (c *Coordinator) IDs() []string {
	ids := make([]string, 0, len(c.txns))
	for id, t := range c.txns {
		if !t.fresh {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// Get returns a transactional id's durable metadata and whether a
// transition is pending.
func (c *Coordinator) Get(transactionalID string) (m Meta, pending bool, ok bool) {
	t := c.txns[transactionalID]
	if t == nil || t.fresh {
		return Meta{}, false, false
	}
	m = t.m
	m.Partitions = slices.Clone(m.Partitions)
	return m, t.pend != nil, true
}

// PendingMarkers lists the partitions of a transaction still waiting for
// their markers, sorted; nil when it is not writing markers.
func (c *Coordinator) PendingMarkers(transactionalID string) []TopicPartition {
	t := c.txns[transactionalID]
	if t == nil || t.pend == nil || t.pend.kind != opComplete {
		return nil
	}
	tps := make([]TopicPartition, 0, len(t.pend.left))
	for tp := range t.pend.left {
		tps = append(tps, tp)
	}
	slices.SortFunc(tps, compareTP)
	return tps
}

func (c *Coordinator) sortedTxns() []*txn {
	ts := make([]*txn, 0, len(c.txns))
	for _, t := range c.txns {
		ts = append(ts, t)
	}
	slices.SortFunc(ts, func(a, b *txn) int {
		switch {
		case a.id < b.id:
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	})
	return ts
}
