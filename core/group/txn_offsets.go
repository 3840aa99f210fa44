package group

// TxnOffsetCommit: v0-5.
//
// Behavior, as Kafka 4's OffsetMetadataManager and ClassicGroup:
//   - an empty group id is INVALID_GROUP_ID; an unknown group is created
//     empty (a simple group) for generation -1 and is ILLEGAL_GENERATION
//     otherwise;
//   - validated as an OffsetCommit, except that the group state is not
//     enforced for transactions: a commit without member id, instance id
//     and generation (v0-2 carry none) is taken in any state, and commits
//     are taken between join and sync. Given any of them (v3+), the member
//     must be current (UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID) in the
//     current generation (ILLEGAL_GENERATION); a Dead group is
//     COORDINATOR_NOT_AVAILABLE;
//   - metadata longer than offset.metadata.max.bytes is
//     OFFSET_METADATA_TOO_LARGE for that partition;
//   - the accepted offsets are written as the offset records OffsetCommit
//     writes, marked with the request's producer (Record.Txn: the shell
//     appends them as one transactional batch), and are pending: OffsetFetch
//     does not show them, and answers UNSTABLE_OFFSET_COMMIT (offset -1)
//     for their partitions when it asks for stable offsets (v7+);
//   - TxnCompleted applies the producer's marker once it is in the log:
//     COMMIT makes each of its pending offsets the committed one, unless the
//     committed one's record is later in the log (Kafka's
//     replayEndTransactionMarker: of a transactional and a plain commit,
//     the later record wins), ABORT drops them;
//   - a tombstone (OffsetDelete, DeleteGroups) drops the pending offsets of
//     its partition too, as Kafka's replay does; expiry keeps an offset
//     with a pending one, and a group with an open transaction is not
//     removed as empty.
//
// Transactions are those of producer ids: a producer has at most one open
// at a time, and its marker (in this __consumer_offsets partition) ends it
// for every group of the partition.

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TxnCommit routes a TxnOffsetCommit; its reply is always in the returned
// Output, behind the records of the pending offsets, which carry the
// request's producer in Record.Txn.
func (gs *Groups) TxnCommit(nowMs int64, to Handle, req *kmsg.TxnOffsetCommitRequest) Output {
	if req.Group == "" {
		return single(to, txnCommitError(req, kerr.InvalidGroupID))
	}
	g := gs.groups[req.Group]
	if g == nil && req.Generation >= 0 {
		return single(to, txnCommitError(req, kerr.IllegalGeneration))
	}
	if g == nil {
		g = NewGroup(req.Group, gs.cfg, gs.ids, nowMs)
		gs.groups[req.Group] = g
	}
	out := g.txnCommit(nowMs, to, req)
	if _, open := g.txns[req.ProducerID]; open {
		gs.noteTxn(req.ProducerID, g.id)
	}
	return gs.reap(g, out)
}

// TxnCompleted applies the transaction marker of producerID (commit: a
// COMMIT marker, else ABORT) to the groups of the partition. Call it once
// the marker is in the partition's log; it need not be committed yet if
// the shell makes the replies of this and later Outputs wait for the
// marker as they wait for records. It writes no offset records; a marker
// for a producer with no pending offsets (also one applied twice) changes
// nothing. An Empty group that the marker leaves with no offsets goes
// Dead, as after OffsetDelete (Kafka: at its next offset expiry).
func (gs *Groups) TxnCompleted(nowMs int64, producerID int64, commit bool) Output {
	ids := make([]string, 0, len(gs.txns[producerID]))
	for id := range gs.txns[producerID] {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	delete(gs.txns, producerID)
	var out Output
	for _, id := range ids {
		g := gs.groups[id]
		if g == nil {
			continue // deleted meanwhile, with its pending offsets
		}
		o := g.input(nowMs, func(out *Output) {
			g.complete(producerID, commit)
			g.removeOffsets(nowMs, nil, out) // an Empty group left with nothing goes, as the Loader forgets it
		})
		out.merge(o)
		gs.reap(g, o)
	}
	return out
}

// noteTxn indexes group id under producer id: its marker visits the group.
// An entry may outlive the group's pending offsets (a tombstone, a deleted
// group); the marker then changes nothing there.
func (gs *Groups) noteTxn(producerID int64, id string) {
	if gs.txns[producerID] == nil {
		gs.txns[producerID] = map[string]bool{}
	}
	gs.txns[producerID][id] = true
}

// txnCommit is Kafka 4's commitTransactionalOffset for one group.
func (g *Group) txnCommit(nowMs int64, to Handle, req *kmsg.TxnOffsetCommitRequest) Output {
	return g.input(nowMs, func(out *Output) {
		err := g.validateOffsetCommit(req.MemberID, req.InstanceID, req.Generation, true)
		if err == nil && req.ProducerID < 0 {
			// Not a transaction's producer: the coordinator's verification
			// refuses it before it gets here.
			err = kerr.InvalidProducerIDMapping
		}
		if err != nil {
			out.reply(to, txnCommitError(req, err))
			return
		}
		txn := &Txn{ProducerID: req.ProducerID, ProducerEpoch: req.ProducerEpoch}
		out.reply(to, TxnCommitResponse(req, func(topic string, p kmsg.TxnOffsetCommitRequestTopicPartition) int16 {
			return code(g.txnCommitOne(nowMs, txn, topic, p, out))
		}))
	})
}

func (g *Group) txnCommitOne(nowMs int64, txn *Txn, topic string, p kmsg.TxnOffsetCommitRequestTopicPartition, out *Output) error {
	o := Offset{Offset: p.Offset, LeaderEpoch: p.LeaderEpoch, CommitMs: nowMs, ExpireMs: -1}
	if p.Metadata != nil {
		if len(*p.Metadata) > g.cfg.MetadataBytesMax {
			return kerr.OffsetMetadataTooLarge
		}
		o.Metadata = *p.Metadata
	}
	if o.LeaderEpoch < 0 {
		o.LeaderEpoch = -1
	}
	g.seq++
	g.stage(txn.ProducerID, TopicPartition{Topic: topic, Partition: p.Partition}, o, g.seq)
	out.Records = append(out.Records, Record{Key: offsetKey(g.id, topic, p.Partition), Value: offsetValue(o), Txn: txn})
	return nil
}

// txnCommitError answers every partition of a TxnOffsetCommit with err.
func txnCommitError(req *kmsg.TxnOffsetCommitRequest, err error) *kmsg.TxnOffsetCommitResponse {
	c := code(err)
	return TxnCommitResponse(req, func(string, kmsg.TxnOffsetCommitRequestTopicPartition) int16 { return c })
}

// TxnCommitResponse answers each partition of a TxnOffsetCommit, in request
// order, with the error code partition returns for it (0 for success).
func TxnCommitResponse(req *kmsg.TxnOffsetCommitRequest, partition func(topic string, p kmsg.TxnOffsetCommitRequestTopicPartition) int16) *kmsg.TxnOffsetCommitResponse {
	r := kmsg.NewPtrTxnOffsetCommitResponse()
	r.Version = req.Version
	for _, t := range req.Topics {
		rt := kmsg.NewTxnOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			rp.Partition = p.Partition
			rp.ErrorCode = partition(t.Topic, p)
			rt.Partitions = append(rt.Partitions, rp)
		}
		r.Topics = append(r.Topics, rt)
	}
	return r
}

// PendingOffsets returns the offsets of open transactions, by producer id.
// A producer whose offsets a tombstone removed is listed with none.
func (g *Group) PendingOffsets() map[int64]map[TopicPartition]Offset {
	c := make(map[int64]map[TopicPartition]Offset, len(g.txns))
	for pid, tps := range g.txns {
		c[pid] = make(map[TopicPartition]Offset, len(tps))
		for tp, po := range tps {
			c[pid][tp] = po.Offset
		}
	}
	return c
}

// pendingOffset is an offset of an open transaction, with the number of
// its record.
type pendingOffset struct {
	Offset
	seq int64
}

// offsetStore is a group's offsets as Kafka's OffsetMetadataManager keeps
// them: the committed ones, and per producer id the pending ones of its
// open transaction, which only the producer's COMMIT marker commits.
//
// Each offset keeps the number of its record in log order (seq: the Loader
// counts the records it replays, and a group counts on from there), because
// a committed transaction's offset replaces a committed one only if its
// record is the later one. Kafka compares the records' log offsets; for
// records of one group the order is all that matters, and the shell
// appends a group's records in the order they are decided.
type offsetStore struct {
	offsets map[TopicPartition]Offset
	seqs    map[TopicPartition]int64 // the record number of each committed offset
	// txns holds the open transactions that wrote offsets of the group. A
	// producer stays until its marker even when tombstones removed all its
	// offsets (Kafka's openTransactionsByGroup): the group is not removed
	// as empty meanwhile.
	txns map[int64]map[TopicPartition]pendingOffset
}

func newOffsetStore() offsetStore {
	return offsetStore{
		offsets: map[TopicPartition]Offset{},
		seqs:    map[TopicPartition]int64{},
		txns:    map[int64]map[TopicPartition]pendingOffset{},
	}
}

// commit stores a plain commit whose record is number seq.
func (s *offsetStore) commit(tp TopicPartition, o Offset, seq int64) {
	s.offsets[tp] = o
	s.seqs[tp] = seq
}

// stage stores a pending offset of producerID's transaction.
func (s *offsetStore) stage(producerID int64, tp TopicPartition, o Offset, seq int64) {
	if s.txns[producerID] == nil {
		s.txns[producerID] = map[TopicPartition]pendingOffset{}
	}
	s.txns[producerID][tp] = pendingOffset{Offset: o, seq: seq}
}

// removeOffset applies a tombstone: the committed offset of tp and every pending
// one go. It reports whether there was any.
func (s *offsetStore) removeOffset(tp TopicPartition) bool {
	_, had := s.offsets[tp]
	delete(s.offsets, tp)
	delete(s.seqs, tp)
	for _, tps := range s.txns {
		if _, ok := tps[tp]; ok {
			delete(tps, tp)
			had = true
		}
	}
	return had
}

// complete applies producerID's marker (Kafka's replayEndTransactionMarker):
// on commit each pending offset becomes the committed one unless the
// committed one's record is later; on abort they are dropped.
func (s *offsetStore) complete(producerID int64, commit bool) {
	tps := s.txns[producerID]
	delete(s.txns, producerID)
	if !commit {
		return
	}
	for tp, po := range tps {
		if _, ok := s.offsets[tp]; !ok || po.seq > s.seqs[tp] {
			s.commit(tp, po.Offset, po.seq)
		}
	}
}

// hasPending reports whether an open transaction holds an offset of tp.
func (s *offsetStore) hasPending(tp TopicPartition) bool {
	for _, tps := range s.txns {
		if _, ok := tps[tp]; ok {
			return true
		}
	}
	return false
}

// allTPs lists the partitions with a committed or a pending offset, sorted.
func (s *offsetStore) allTPs() []TopicPartition {
	seen := make(map[TopicPartition]bool, len(s.offsets))
	for tp := range s.offsets {
		seen[tp] = true
	}
	for _, tps := range s.txns {
		for tp := range tps {
			seen[tp] = true
		}
	}
	all := make([]TopicPartition, 0, len(seen))
	for tp := range seen {
		all = append(all, tp)
	}
	sortTPs(all)
	return all
}

// empty reports whether the store has no offsets and no open transaction.
func (s *offsetStore) empty() bool { return len(s.offsets) == 0 && len(s.txns) == 0 }
