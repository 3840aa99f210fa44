package runner

import (
	"fmt"
	"slices"
	"time"

	"github.com/jocko/jocko/core"
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
// the metadata as the other live brokers had applied when it came up and,
// if it was a voter (wasVoter), to be a voter again in the controller's
// Raft configuration (the controller removes a voter that lost its disk
// and adds it back once it has caught up: until then the group tolerates
// one failure less). Then it takes its wipe off b.wiped: once none is
// left, another broker's disk may be wiped. If b does not catch up, or
// crashes again first, the count stays: no other broker is wiped for the
// rest of the run (and the convergence check reports a broker that never
// catches up).
func (c *cluster) awaitCaughtUp(b *broker, wasVoter bool, wait time.Duration) {
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
		st, _ := br.Metadata()
		voter := !wasVoter || c.isVoter(b.id)
		if st.AppliedIndex >= target && voter {
			c.mu.Lock()
			b.wiped--
			c.mu.Unlock()
			return
		}
		if time.Now().After(deadline) {
			c.tr.Logf("%s: metadata not caught up (index %d of %d, voter again: %v) after %v; no further disk wipes",
				b.name, st.AppliedIndex, target, voter, wait)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// isVoter reports whether broker id is a voter in the Raft configuration
// of the live broker that leads the metadata group (false when none does).
// Raft is asked without c.mu held.
func (c *cluster) isVoter(id int32) bool {
	type live struct {
		id int32
		b  *core.Broker
	}
	var ls []live
	c.mu.Lock()
	for _, o := range c.brokers {
		if o.up && o.b != nil {
			ls = append(ls, live{o.id, o.b})
		}
	}
	c.mu.Unlock()
	for _, l := range ls {
		if _, ctrl := l.b.Metadata(); ctrl == l.id {
			return slices.Contains(l.b.Voters(), id)
		}
	}
	return false
}
