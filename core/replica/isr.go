package replica

import "slices"

// ISRCommitted applies the controller's acceptance of proposal p (an
// AlterPartition answered without error): the committed ISR and partition
// epoch it returned. It is ignored unless p is still the pending proposal
// and partitionEpoch is at least the current one (Kafka's
// handleAlterPartitionUpdate; an equal epoch means the controller found
// nothing to change).
func (l *Leader) ISRCommitted(p *Proposal, isr []int32, partitionEpoch int32, nowMs int64) Update {
	if p == nil || p != l.pending || partitionEpoch < l.partitionEpoch {
		return l.update(l.advance(nowMs))
	}
	return l.commit(l.replicas, isr, partitionEpoch, nowMs)
}

// ISRRejected ends proposal p when the controller answered that it was not
// applied (OPERATION_NOT_ATTEMPTED, INELIGIBLE_REPLICA): the committed state
// stands, and a later fetch or Tick may propose again. It is ignored unless
// p is the pending proposal.
func (l *Leader) ISRRejected(p *Proposal, nowMs int64) Update {
	if p != nil && p == l.pending {
		l.pending = nil
	}
	return l.update(l.advance(nowMs))
}

// PartitionChanged applies a metadata update of this partition within this
// leader epoch: the replica set and ISR the controller committed at
// partitionEpoch. A partition epoch not above the current one is ignored;
// a newer one ends any pending proposal (its answer, if it comes, is then
// ignored). Followers that leave the replica set are forgotten; new ones
// start as never fetched.
func (l *Leader) PartitionChanged(replicas, isr []int32, partitionEpoch int32, nowMs int64) Update {
	if partitionEpoch <= l.partitionEpoch {
		return l.update(l.advance(nowMs))
	}
	return l.commit(replicas, isr, partitionEpoch, nowMs)
}

func (l *Leader) commit(replicas, isr []int32, partitionEpoch int32, nowMs int64) Update {
	l.setAssignment(replicas, isr)
	l.partitionEpoch = partitionEpoch
	l.pending = nil
	return l.update(l.advance(nowMs))
}

// SetIneligible replaces the set of brokers that may not join the ISR
// (KIP-841: fenced or shutting down; KIP-903: a Fetch with a broker epoch
// other than the registered one). They are not proposed for addition and do
// not hold the high watermark unless they are in the ISR.
func (l *Leader) SetIneligible(ids []int32, nowMs int64) Update {
	l.ineligible = slices.Compact(slices.Sorted(slices.Values(ids)))
	return l.update(l.advance(nowMs))
}

// SetConfig changes the settings (min.insync.replicas may change at any
// time; lowering it may let the high watermark move).
func (l *Leader) SetConfig(cfg Config, nowMs int64) Update {
	l.cfg = cfg
	return l.update(l.advance(nowMs))
}
