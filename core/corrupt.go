package core

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jocko/jocko/storage"
)

// Repair of corrupt replicas, beyond what Kafka does. Every log read checks
// each batch's header, sequence and CRC (storage), and a background scrub
// walks every log at log.scrub.bytes.per.second, so a bit flipped on disk
// is found where it is read (a consumer's or a follower's fetch) or within
// one scrub pass. A replica whose copy is corrupt from offset X on:
//
//  1. answers reads at X and past it with CORRUPT_MESSAGE (retriable:
//     clients retry, and follow the leadership when it moves); the bad
//     bytes are never served;
//  2. leaves the ISR through the controller (controller.LeaveISR; a leader
//     hands its leadership to another in-sync member), so that it is never
//     elected with less than the high watermark;
//  3. once out of the ISR, truncates its log to X and fetches the rest
//     again from the leader, whose ISR expansion takes it back in once it
//     has caught up. Until it has truncated it does not fetch: a fetch at
//     its old log end would have the leader take it back into the ISR
//     with the bad batch still in its log.
//
// The only in-sync replica cannot leave: its partition keeps serving below
// X, and the error it logs says so. Nothing about a corruption is kept
// across a restart: the scrub finds it again.

// repairTick is how often the repairer retries what it could not finish.
const repairTick = time.Second

// scrubChunk is how many bytes the scrub checks at a time; a step costs the
// scrub's rate budget at least this much, so small logs are not re-read
// in a tight loop.
const scrubChunk = 64 << 10

// corruptFrom is the lowest offset found corrupt and not yet repaired, and
// whether there is one.
func (p *partition) corruptFrom() (int64, bool) {
	if ce := p.corrupt.Load(); ce != nil {
		return ce.Offset, true
	}
	return 0, false
}

// noteCorrupt records a corrupt batch that a read or the scrub found (err
// is a *storage.CorruptError; other errors are ignored) and wakes the
// repairer. It reports whether err was a corruption.
func (p *partition) noteCorrupt(err error) bool {
	var ce *storage.CorruptError
	if !errors.As(err, &ce) {
		return false
	}
	for {
		cur := p.corrupt.Load()
		if cur != nil && cur.Offset <= ce.Offset {
			return true
		}
		if p.corrupt.CompareAndSwap(cur, ce) {
			break
		}
	}
	p.b.corruptFound.Add(1)
	p.b.log.Error("corrupt batch found: reads from it on answer CORRUPT_MESSAGE; the replica repairs from another in-sync one if there is one",
		"topic", p.topic, "partition", p.index, "offset", ce.Offset, "err", err)
	select {
	case p.b.repairKick <- struct{}{}:
	default:
	}
	return true
}

// repairLoop repairs the partitions noteCorrupt marked, owned by
// Broker.Run.
func (b *Broker) repairLoop(ctx context.Context) error {
	t := b.env.Clock.Ticker(repairTick)
	defer t.Stop()
	warned := map[*partition]int64{} // the offset each unrepairable partition was last logged at
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-b.repairKick:
		}
		for _, p := range b.partitionsSnapshot() {
			if _, ok := p.corruptFrom(); ok && p.err() == nil {
				b.repair(ctx, p, warned)
			}
		}
	}
}

// repair takes one step of p's repair: leave the ISR, or, once out of it,
// truncate and fetch again.
func (b *Broker) repair(ctx context.Context, p *partition, warned map[*partition]int64) {
	ce := p.corrupt.Load()
	if ce == nil {
		return
	}
	at := ce.Offset
	st := b.node.State()
	t, ok := st.Topic(p.topic)
	if !ok || int(p.index) >= len(t.Partitions) {
		return
	}
	ps := t.Partitions[p.index]
	self := b.cfg.NodeID
	if slices.Contains(ps.ISR, self) {
		code := b.leaveISR(ctx, p, ps.LeaderEpoch, ps.PartitionEpoch, ps.ISR)
		if code != kerr.NotEnoughReplicas.Code {
			return // the metadata will show the new ISR, or the next tick retries
		}
		if at < p.log.StartOffset() {
			// DeleteRecords moved the log start past it: the mark goes
			// (a read that still meets the batch marks it again).
			p.corrupt.CompareAndSwap(ce, nil)
			delete(warned, p)
			return
		}
		if warned[p] != at+1 {
			warned[p] = at + 1
			b.log.Error("corrupt batch cannot be repaired: no other in-sync replica holds it; reads from this offset on fail with CORRUPT_MESSAGE; "+
				"DeleteRecords past it lets consumers skip it (its records are lost)",
				"topic", p.topic, "partition", p.index, "offset", at, "isr", ps.ISR)
		}
		return
	}
	if ps.Leader == self {
		return // cannot be: a leader is in its ISR
	}
	// Cut at the bad batch's byte position: its header may be the flipped
	// part, which a cut by offset would have to read.
	end, err := p.truncateCorrupt(ce)
	if err != nil {
		return // the partition failed: offline until restart
	}
	p.corrupt.CompareAndSwap(ce, nil)
	delete(warned, p)
	b.repairs.Add(1)
	b.log.Warn("corrupt replica truncated: fetching the rest from the leader again", "topic", p.topic, "partition", p.index,
		"offset", at, "log_end", end, "leader", ps.Leader)
	b.fetch.retruncate(p)
}

// leaveISR asks the controller to take this broker out of p's ISR (a
// LeaveISR request: AlterPartition naming the ISR without the requester)
// and returns the partition's error code.
func (b *Broker) leaveISR(ctx context.Context, p *partition, leaderEpoch, partitionEpoch int32, isr []int32) int16 {
	req := kmsg.NewPtrAlterPartitionRequest()
	req.SetVersion(3)
	req.BrokerID, req.BrokerEpoch = b.cfg.NodeID, b.epoch
	rt := kmsg.NewAlterPartitionRequestTopic()
	rt.TopicID = p.topicID
	rp := kmsg.NewAlterPartitionRequestTopicPartition()
	rp.Partition, rp.LeaderEpoch, rp.PartitionEpoch = p.index, leaderEpoch, partitionEpoch
	for _, id := range isr {
		if id != b.cfg.NodeID {
			m := kmsg.NewAlterPartitionRequestTopicPartitionNewEpochISR()
			m.BrokerID, m.BrokerEpoch = id, -1
			rp.NewEpochISR = append(rp.NewEpochISR, m)
		}
	}
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := b.controllerRequest(ctx, req, (*Broker).handleAlterPartition)
	if err != nil {
		return kerr.RequestTimedOut.Code
	}
	ar := resp.(*kmsg.AlterPartitionResponse)
	if ar.ErrorCode != 0 || len(ar.Topics) != 1 || len(ar.Topics[0].Partitions) != 1 {
		return ar.ErrorCode
	}
	return ar.Topics[0].Partitions[0].ErrorCode
}

// scrubLoop checks every local log, a chunk at a time, round after round,
// at log.scrub.bytes.per.second (0: off); owned by Broker.Run.
func (b *Broker) scrubLoop(ctx context.Context) error {
	cursor := map[*partition]int64{}
	buf := make([]byte, scrubChunk)
	for ctx.Err() == nil {
		rate := b.brokerInt(b.node.State(), "log.scrub.bytes.per.second")
		parts := b.partitionsSnapshot()
		if rate <= 0 || len(parts) == 0 {
			// Off, or nothing open yet (a starting broker opens its
			// partitions after the loop starts): look again soon, so a
			// restarted broker scrubs within a tick of opening its logs.
			if b.sleep(ctx, repairTick) != nil {
				return nil
			}
			continue
		}
		live := map[*partition]int64{}
		scrubbed := false
		for _, p := range parts {
			if ctx.Err() != nil {
				return nil
			}
			from := cursor[p]
			live[p] = from
			if _, ok := p.corruptFrom(); ok || p.err() != nil {
				continue // known corrupt: the repairer has it
			}
			next, n, err := p.log.Scrub(from, buf)
			switch {
			case p.noteCorrupt(err):
				next = 0
			case err != nil:
				next = 0 // closed or truncated meanwhile: start over
			case next >= p.log.EndOffset():
				next = 0 // a pass done: the next one starts at the log start
			}
			live[p] = next
			scrubbed = true
			b.scrubbed.Add(uint64(n))
			cost := max(n, scrubChunk)
			if b.sleep(ctx, time.Duration(int64(cost)*int64(time.Second)/rate)) != nil {
				return nil
			}
		}
		cursor = live // partitions gone since are forgotten
		if !scrubbed && b.sleep(ctx, repairTick) != nil {
			return nil // every partition skipped: none to scrub for now
		}
	}
	return nil
}
