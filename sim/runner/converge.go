package runner

import (
	"fmt"
	"slices"
	"time"
)

// convergeWithin bounds how long after the final read a healed cluster may
// take to converge.
const convergeWithin = 20 * time.Second

// checkConvergence is the cluster's liveness check, after healing: within
// convergeWithin every live broker's metadata reaches the same applied
// index and the same state (every broker converges to the controller's
// metadata; the voters' Raft FSMs are equal), and in it
// every workload partition has a leader, an ISR holding every replica
// whose broker is live and unfenced, and no reassignment in progress, and
// no broker holds a copy of a partition it is not a replica of.
func (r *run) checkConvergence() {
	c := r.c
	if len(c.brokers) < 2 {
		return
	}
	deadline := time.Now().Add(convergeWithin)
	for {
		why := r.converged()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			r.fail("no-convergence", fmt.Sprintf("%v after the final read: %s", convergeWithin, why))
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// converged returns what is not converged yet, or "".
func (r *run) converged() string {
	c := r.c
	c.mu.Lock()
	var live []*broker
	for _, b := range c.brokers {
		if b.up && b.b != nil {
			live = append(live, b)
		}
	}
	c.mu.Unlock()
	if len(live) == 0 {
		return "no broker is up"
	}
	var applied []uint64
	var prints []string
	var ctrl int32 = -1
	for _, b := range live {
		st, leader := b.b.Metadata()
		applied = append(applied, st.AppliedIndex)
		prints = append(prints, st.Fingerprint())
		if leader == b.id {
			ctrl = b.id
		}
	}
	if slices.Min(applied) != slices.Max(applied) {
		return fmt.Sprintf("metadata applied indexes differ across live brokers: %v", applied)
	}
	// Same index, so the same commands applied: the states must be equal
	// (the voters' Raft FSMs, and every observer's pulled copy).
	if slices.Min(prints) != slices.Max(prints) {
		return fmt.Sprintf("metadata at index %d differs across live brokers: fingerprints %v", applied[0], prints)
	}
	if ctrl < 0 {
		return "no live controller"
	}
	st, _ := live[0].b.Metadata()
	t, ok := st.Topic(topic)
	if !ok {
		return "the workload topic is missing"
	}
	up := map[int32]bool{}
	for _, b := range live {
		if br, ok := st.Brokers[b.id]; ok && !br.Fenced {
			up[b.id] = true
		}
	}
	for _, p := range t.Partitions {
		if p.Leader < 0 {
			return fmt.Sprintf("partition %d has no leader", p.Index)
		}
		for _, rep := range p.Replicas {
			if up[rep] && !slices.Contains(p.ISR, rep) {
				return fmt.Sprintf("partition %d: live broker %d is not in the ISR %v", p.Index, rep, p.ISR)
			}
		}
		if p.Reassigning() {
			return fmt.Sprintf("partition %d: the reassignment (adding %v, removing %v) has not completed",
				p.Index, p.AddingReplicas, p.RemovingReplicas)
		}
	}
	// A broker keeps a copy only of what it replicates: one moved away by a
	// reassignment is deleted.
	for _, b := range live {
		for _, v := range b.b.Inspect() {
			if v.Topic == topic && int(v.Partition) < len(t.Partitions) &&
				!slices.Contains(t.Partitions[v.Partition].Replicas, b.id) {
				return fmt.Sprintf("broker %d still holds partition %d, whose replicas are %v",
					b.id, v.Partition, t.Partitions[v.Partition].Replicas)
			}
		}
	}
	return ""
}

// awaitCaughtUp waits, up to wait, for wiped broker b to apply as much of
// the metadata as the other live brokers had applied when it came up, and
// then clears b.wiped (another disk may be wiped from then on). If it does
// not catch up, b stays wiped: no further wipe runs, and the convergence
// check reports the broker.
func (c *cluster) awaitCaughtUp(b *broker, wait time.Duration) {
	target := uint64(0)
	c.mu.Lock()
	br := b.b
	up := b.up
	for _, o := range c.brokers {
		if o != b && o.up && o.b != nil {
			st, _ := o.b.Metadata()
			target = max(target, st.AppliedIndex)
		}
	}
	c.mu.Unlock()
	if !up || br == nil {
		return // crashed again meanwhile: its next start is another heal's
	}
	for deadline := time.Now().Add(wait); ; {
		if st, _ := br.Metadata(); st.AppliedIndex >= target {
			c.mu.Lock()
			b.wiped = false
			c.mu.Unlock()
			return
		}
		if time.Now().After(deadline) {
			c.tr.Logf("%s: metadata not caught up to index %d after %v; no further disk wipes", b.name, target, wait)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
