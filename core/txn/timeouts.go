package txn

// AbortTimedOut is Kafka's abortTimedOutTransactions: every Ongoing
// transaction with no pending transition whose start is more than its
// timeout ago is fenced and aborted (its epoch bumped, so the producer gets
// PRODUCER_FENCED on its next request). Kafka runs it every
// transaction.abort.timed.out.transaction.cleanup.interval.ms (10 s); a
// late call is fine.
func (c *Coordinator) AbortTimedOut(nowMs int64) Output {
	var out Output
	for _, t := range c.sortedTxns() {
		if t.pend == nil && t.m.State == Ongoing && t.m.StartMs+int64(t.m.TimeoutMs) < nowMs {
			c.fence(t, nowMs, nil, &out)
		}
	}
	return out
}

// ExpireIDs is Kafka's removeExpiredTransactionalIds: a transactional id
// in Empty, CompleteCommit or CompleteAbort with no pending transition,
// not updated for transactional.id.expiration.ms, gets a tombstone and is
// forgotten once it is durable. Kafka runs it every
// transactional.id.expiration.ms check interval (an hour).
func (c *Coordinator) ExpireIDs(nowMs int64) Output {
	var out Output
	for _, t := range c.sortedTxns() {
		if t.pend == nil && !t.fresh && t.m.State.expirable() && t.m.UpdateMs <= nowMs-c.cfg.IDExpirationMs {
			c.begin(t, &pending{kind: opDead, to: t.m, lastEpoch: t.lastEpoch}, &out)
		}
	}
	return out
}

// Tick runs both: the shell may call it on one timer instead.
func (c *Coordinator) Tick(nowMs int64) Output {
	out := c.AbortTimedOut(nowMs)
	e := c.ExpireIDs(nowMs)
	out.Records = append(out.Records, e.Records...)
	return out
}
