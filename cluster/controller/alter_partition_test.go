package controller

import (
	"fmt"
	"slices"
	"testing"

	"github.com/jocko/jocko/cluster"
	"github.com/twmb/franz-go/pkg/kerr"
	"pgregory.net/rapid"
)

func members(ids ...int32) []ISRMember {
	out := make([]ISRMember, len(ids))
	for i, id := range ids {
		out[i] = ISRMember{ID: id, Epoch: -1}
	}
	return out
}

// AlterPartition, KRaft's checks in KRaft's order. The partition: replicas
// [1 2 3], led by 1 in leader epoch 1 and partition epoch 2, ISR [1 2].
func TestAlterPartition(t *testing.T) {
	ok := AlterPartitionRequest{Broker: 1, BrokerEpoch: 10, Topic: "t", LeaderEpoch: 1, PartitionEpoch: 2, NewISR: members(1, 2, 3)}
	with := func(f func(r *AlterPartitionRequest)) AlterPartitionRequest {
		r := ok
		r.NewISR = slices.Clone(ok.NewISR)
		f(&r)
		return r
	}
	healthy := []BrokerInfo{{ID: 1, Epoch: 10}, {ID: 2, Epoch: 20}, {ID: 3, Epoch: 30}}
	tests := []struct {
		name    string
		req     AlterPartitionRequest
		brokers []BrokerInfo
		code    *kerr.Error
		isr     string // the ISR after; "" when nothing changes
	}{
		{"expand", ok, healthy, nil, "[1 2 3]"},
		{"shrink", with(func(r *AlterPartitionRequest) { r.NewISR = members(1) }), healthy, nil, "[1]"},
		{"same ISR: no command", with(func(r *AlterPartitionRequest) { r.NewISR = members(1, 2) }), healthy, nil, ""},
		{"matching member epochs (KIP-903)", with(func(r *AlterPartitionRequest) { r.NewISR = []ISRMember{{1, 10}, {3, 30}} }), healthy, nil, "[1 3]"},
		{"untracked broker epochs are not checked", with(func(r *AlterPartitionRequest) { r.NewISR = []ISRMember{{1, 5}, {3, 6}} }), live(1, 2, 3), nil, "[1 3]"},
		{"requester unknown", with(func(r *AlterPartitionRequest) { r.Broker = 9 }), healthy, kerr.StaleBrokerEpoch, ""},
		{"requester's epoch stale", with(func(r *AlterPartitionRequest) { r.BrokerEpoch = 9 }), healthy, kerr.StaleBrokerEpoch, ""},
		{"unknown topic", with(func(r *AlterPartitionRequest) { r.Topic = "u" }), healthy, kerr.UnknownTopicOrPartition, ""},
		{"unknown partition", with(func(r *AlterPartitionRequest) { r.Partition = 1 }), healthy, kerr.UnknownTopicOrPartition, ""},
		{"leader epoch ahead: this controller is behind", with(func(r *AlterPartitionRequest) { r.LeaderEpoch = 2 }), healthy, kerr.NotController, ""},
		{"partition epoch ahead", with(func(r *AlterPartitionRequest) { r.PartitionEpoch = 3 }), healthy, kerr.NotController, ""},
		{"leader epoch behind", with(func(r *AlterPartitionRequest) { r.LeaderEpoch = 0 }), healthy, kerr.FencedLeaderEpoch, ""},
		{"not the leader", with(func(r *AlterPartitionRequest) { r.Broker, r.BrokerEpoch = 2, -1 }), healthy, kerr.InvalidRequest, ""},
		{"partition epoch behind", with(func(r *AlterPartitionRequest) { r.PartitionEpoch = 1 }), healthy, kerr.InvalidUpdateVersion, ""},
		{"non-replica in the ISR", with(func(r *AlterPartitionRequest) { r.NewISR = members(1, 4) }), healthy, kerr.InvalidRequest, ""},
		{"member twice", with(func(r *AlterPartitionRequest) { r.NewISR = members(1, 2, 2) }), healthy, kerr.InvalidRequest, ""},
		{"leader left out", with(func(r *AlterPartitionRequest) { r.NewISR = members(2, 3) }), healthy, kerr.InvalidRequest, ""},
		{"fenced member", ok, []BrokerInfo{{ID: 1, Epoch: 10}, {ID: 2}, {ID: 3, Fenced: true}}, kerr.IneligibleReplica, ""},
		{"shutting-down member", ok, []BrokerInfo{{ID: 1, Epoch: 10}, {ID: 2}, {ID: 3, ShuttingDown: true}}, kerr.IneligibleReplica, ""},
		{"unregistered member", ok, []BrokerInfo{{ID: 1, Epoch: 10}, {ID: 2}}, kerr.IneligibleReplica, ""},
		{"member from an old incarnation (KIP-903)", with(func(r *AlterPartitionRequest) { r.NewISR = []ISRMember{{1, 10}, {3, 29}} }), healthy, kerr.IneligibleReplica, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newState(t, 3, map[string][]part{"t": {{[]int32{1, 2, 3}, []int32{1, 2}, 1}}})
			st = mustApply(t, st, cluster.UpdatePartition{Topic: "t", Leader: 1, LeaderEpoch: 1, ISR: []int32{1, 2}, ExpectedPartitionEpoch: 1})
			before := partitionOf(st, "t", 0)
			if before.LeaderEpoch != 1 || before.PartitionEpoch != 2 {
				t.Fatalf("setup: %+v", before)
			}
			cmd, changed, err := AlterPartition(st, tc.brokers, tc.req)
			if code := codeOf(t, err); code != tc.code {
				t.Fatalf("got %+v, %v; want %v", cmd, err, tc.code)
			}
			if changed != (tc.isr != "") {
				t.Fatalf("changed %v, want ISR %q", changed, tc.isr)
			}
			if !changed {
				return
			}
			after := partitionOf(applyAll(t, st, []cluster.UpdatePartition{cmd}), "t", 0)
			if fmt.Sprint(after.ISR) != tc.isr || after.Leader != 1 || after.LeaderEpoch != 1 || after.PartitionEpoch != 3 {
				t.Fatalf("after: %+v, want ISR %s, leader 1 in epoch 1, partition epoch 3", after, tc.isr)
			}
		})
	}
}

// AlterPartition against a model: a request is accepted exactly when every
// condition holds, the first failed check names the code, and an accepted
// change applies and sets the requested ISR.
func TestAlterPartitionProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := drawWorld(t)
		for i := range w.brokers {
			w.brokers[i].Epoch = int64(rapid.IntRange(0, 2).Draw(t, "epoch"))
		}
		idx := indexBrokers(w.brokers)
		topic := rapid.SampledFrom(w.st.SortedTopicNames()).Draw(t, "topic")
		parts := w.st.Topics[topic].Partitions
		p := parts[rapid.IntRange(0, len(parts)-1).Draw(t, "partition")]
		req, ids := drawAlter(t, idx, topic, p)
		cmd, changed, err := AlterPartition(w.st, w.brokers, req)
		if got, want := codeOf(t, err), alterModel(idx, p, req); got != want {
			t.Fatalf("%+v on %+v with %+v: got %v (%v), model says %v", req, p, w.brokers, got, err, want)
		}
		if err != nil {
			return
		}
		if !changed {
			if !slices.Equal(ids, p.ISR) {
				t.Fatalf("ISR %v requested over %v: no command", ids, p.ISR)
			}
			return
		}
		q := applyAll(t, w.st, []cluster.UpdatePartition{cmd}).Topics[topic].Partitions[p.Index]
		if !slices.Equal(q.ISR, ids) || q.Leader != p.Leader || q.LeaderEpoch != p.LeaderEpoch {
			t.Fatalf("%+v -> %+v for ISR %v", p, q, ids)
		}
	})
}

// drawAlter draws a request that the leader of p could send, with each
// field broken now and then.
func drawAlter(t *rapid.T, idx brokerIndex, topic string, p cluster.Partition) (AlterPartitionRequest, []int32) {
	broken := func(label string) bool { return rapid.IntRange(0, 7).Draw(t, label) == 0 }
	epochOf := func(id int32, label string) int64 {
		if broken(label) {
			return int64(rapid.IntRange(-1, 2).Draw(t, label+"Value"))
		}
		return rapid.SampledFrom([]int64{-1, idx[id].Epoch}).Draw(t, label+"Value")
	}
	req := AlterPartitionRequest{Broker: p.Leader, Topic: topic, Partition: p.Index, LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch}
	if broken("broker") {
		req.Broker = rapid.SampledFrom(p.Replicas).Draw(t, "brokerValue")
	}
	req.BrokerEpoch = epochOf(req.Broker, "brokerEpoch")
	if broken("leaderEpoch") {
		req.LeaderEpoch += rapid.SampledFrom([]int32{-1, 1}).Draw(t, "leaderEpochValue")
	}
	if broken("partitionEpoch") {
		req.PartitionEpoch += rapid.SampledFrom([]int32{-1, 1}).Draw(t, "partitionEpochValue")
	}
	var ids []int32
	for _, id := range p.Replicas {
		if id == p.Leader && !broken("dropLeader") || rapid.Bool().Draw(t, "inISR") {
			ids = append(ids, id)
		}
	}
	ids = rapid.Permutation(ids).Draw(t, "isrOrder")
	if broken("extra") {
		ids = append(ids, rapid.Int32Range(1, 7).Draw(t, "extraValue"))
	}
	for _, id := range ids {
		req.NewISR = append(req.NewISR, ISRMember{id, epochOf(id, "memberEpoch")})
	}
	return req, ids
}

// alterModel is the reference: the Kafka error the request must get.
func alterModel(idx brokerIndex, p cluster.Partition, r AlterPartitionRequest) *kerr.Error {
	epochOK := func(req, reg int64) bool { return req == -1 || reg == 0 || req == reg }
	req, ok := idx[r.Broker]
	var ids []int32
	distinct, eligible := true, true
	for _, m := range r.NewISR {
		b, ok := idx[m.ID]
		distinct = distinct && slices.Contains(p.Replicas, m.ID) && !slices.Contains(ids, m.ID)
		eligible = eligible && ok && !b.Fenced && !b.ShuttingDown && epochOK(m.Epoch, b.Epoch)
		ids = append(ids, m.ID)
	}
	switch {
	case !ok || !epochOK(r.BrokerEpoch, req.Epoch):
		return kerr.StaleBrokerEpoch
	case r.LeaderEpoch > p.LeaderEpoch || r.PartitionEpoch > p.PartitionEpoch:
		return kerr.NotController
	case r.LeaderEpoch < p.LeaderEpoch:
		return kerr.FencedLeaderEpoch
	case r.Broker != p.Leader:
		return kerr.InvalidRequest
	case r.PartitionEpoch < p.PartitionEpoch:
		return kerr.InvalidUpdateVersion
	case !distinct || !slices.Contains(ids, p.Leader):
		return kerr.InvalidRequest
	case !eligible:
		return kerr.IneligibleReplica
	}
	return nil
}

// LeaveISR: replicas [1 2 3], led by 1 in leader epoch 1 and partition
// epoch 2, ISR [1 2].
func TestLeaveISR(t *testing.T) {
	healthy := []BrokerInfo{{ID: 1, Epoch: 10}, {ID: 2, Epoch: 20}, {ID: 3, Epoch: 30}}
	req := func(broker int32, isr ...int32) AlterPartitionRequest {
		return AlterPartitionRequest{Broker: broker, BrokerEpoch: -1, Topic: "t", LeaderEpoch: 1, PartitionEpoch: 2, NewISR: members(isr...)}
	}
	with := func(r AlterPartitionRequest, f func(r *AlterPartitionRequest)) AlterPartitionRequest { f(&r); return r }
	tests := []struct {
		name    string
		req     AlterPartitionRequest
		brokers []BrokerInfo
		code    *kerr.Error
		after   string // leader, leader epoch and ISR after; "" when nothing changes
	}{
		{"a follower leaves", req(2, 1), healthy, nil, "leader 1 epoch 1 isr [1]"},
		{"the leader leaves: the other member leads in a new epoch", req(1, 2), healthy, nil, "leader 2 epoch 2 isr [2]"},
		{"already out: nothing to do", req(3, 1, 2), healthy, nil, ""},
		{"the new ISR must be the old one without the requester", req(2, 1, 3), healthy, kerr.InvalidRequest, ""},
		{"the only other member is fenced", req(1, 2), []BrokerInfo{{ID: 1}, {ID: 2, Fenced: true}, {ID: 3}}, kerr.NotEnoughReplicas, ""},
		{"stale requester", with(req(2, 1), func(r *AlterPartitionRequest) { r.BrokerEpoch = 19 }), healthy, kerr.StaleBrokerEpoch, ""},
		{"leader epoch behind", with(req(2, 1), func(r *AlterPartitionRequest) { r.LeaderEpoch = 0 }), healthy, kerr.FencedLeaderEpoch, ""},
		{"partition epoch behind", with(req(2, 1), func(r *AlterPartitionRequest) { r.PartitionEpoch = 1 }), healthy, kerr.InvalidUpdateVersion, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newState(t, 3, map[string][]part{"t": {{[]int32{1, 2, 3}, []int32{1, 2}, 1}}})
			st = mustApply(t, st, cluster.UpdatePartition{Topic: "t", Leader: 1, LeaderEpoch: 1, ISR: []int32{1, 2}, ExpectedPartitionEpoch: 1})
			if !Leaving(tc.req) {
				t.Fatalf("%+v is not a leave request", tc.req)
			}
			cmd, changed, err := LeaveISR(st, tc.brokers, tc.req)
			if code := codeOf(t, err); code != tc.code {
				t.Fatalf("got %+v, %v; want %v", cmd, err, tc.code)
			}
			if changed != (tc.after != "") {
				t.Fatalf("changed %v, want %q", changed, tc.after)
			}
			if !changed {
				return
			}
			p := partitionOf(applyAll(t, st, []cluster.UpdatePartition{cmd}), "t", 0)
			if got := fmt.Sprintf("leader %d epoch %d isr %v", p.Leader, p.LeaderEpoch, p.ISR); got != tc.after {
				t.Fatalf("after: %s, want %s", got, tc.after)
			}
		})
	}
	st := newState(t, 3, map[string][]part{"t": {{[]int32{1, 2, 3}, []int32{1}, 1}}})
	if _, _, err := LeaveISR(st, healthy, AlterPartitionRequest{Broker: 1, BrokerEpoch: -1, Topic: "t", LeaderEpoch: partitionOf(st, "t", 0).LeaderEpoch,
		PartitionEpoch: partitionOf(st, "t", 0).PartitionEpoch}); codeOf(t, err) != kerr.NotEnoughReplicas {
		t.Fatalf("the only ISR member left: %v", err)
	}
}
