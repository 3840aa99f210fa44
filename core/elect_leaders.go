package core

// ElectLeaders: v0-2
//
// Behavior: the controller elects leaders as KRaft does
// (controller.ElectLeader): PREFERRED (v0, and ElectionType 0) moves
// leadership to the first replica if it is an eligible ISR member
// (ELECTION_NOT_NEEDED if it leads already, PREFERRED_LEADER_NOT_AVAILABLE
// if it cannot); UNCLEAN (1) gives a leaderless partition a leader, from
// outside the ISR if it must. Null Topics means every partition, and then
// partitions that need no election are left out of the answer, as in
// Kafka. Unknown partitions get UNKNOWN_TOPIC_OR_PARTITION. Any broker
// answers: the request is forwarded to the controller. Each election is
// committed before the answer; other brokers' metadata may lag.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jocko/jocko/cluster"
	"github.com/jocko/jocko/cluster/controller"
)

func init() { register(kmsg.ElectLeaders, 0, 2, (*Broker).handleElectLeaders) }

func (b *Broker) handleElectLeaders(ctx context.Context, r *request) reply {
	req := r.msg.(*kmsg.ElectLeadersRequest)
	notController := func(msg string) kmsg.Response {
		resp := req.ResponseKind().(*kmsg.ElectLeadersResponse)
		resp.ErrorCode, _ = notControllerCode(msg)
		for _, rt := range req.Topics { // v0 has no top-level error
			t := kmsg.NewElectLeadersResponseTopic()
			t.Topic = rt.Topic
			for _, p := range rt.Partitions {
				pr := kmsg.NewElectLeadersResponseTopicPartition()
				pr.Partition = p
				pr.ErrorCode, pr.ErrorMessage = notControllerCode(msg)
				t.Partitions = append(t.Partitions, pr)
			}
			resp.Topics = append(resp.Topics, t)
		}
		return resp
	}
	return b.controllerAdmin(ctx, r, func(ctx context.Context) kmsg.Response {
		return b.ctrl.electLeaders(ctx, req)
	}, notController)
}

// electLeaders decides and commits each requested election; the caller
// holds the round lock.
func (c *controllerShell) electLeaders(ctx context.Context, req *kmsg.ElectLeadersRequest) *kmsg.ElectLeadersResponse {
	resp := req.ResponseKind().(*kmsg.ElectLeadersResponse)
	ctx, cancel := c.b.requestContext(ctx, req.TimeoutMillis)
	defer cancel()
	typ := controller.ElectionType(req.ElectionType)
	if req.Version == 0 {
		typ = controller.Preferred
	}
	all := req.Topics == nil
	for _, rt := range electionTargets(c.b.node.State(), req) {
		t := kmsg.NewElectLeadersResponseTopic()
		t.Topic = rt.Topic
		for _, p := range rt.Partitions {
			err := c.proposeDecision(ctx, func(st *cluster.State) (cluster.Command, error) {
				return controller.ElectLeader(st, c.brokerInfos(st), typ, rt.Topic, p)
			})
			pr := kmsg.NewElectLeadersResponseTopicPartition()
			pr.Partition = p
			pr.ErrorCode, pr.ErrorMessage = decisionError(err)
			if all && pr.ErrorCode == kerr.ElectionNotNeeded.Code {
				continue
			}
			if err == nil {
				c.b.log.Info("leader elected on request", "topic", rt.Topic, "partition", p, "type", typ)
			}
			t.Partitions = append(t.Partitions, pr)
		}
		if !all || len(t.Partitions) > 0 {
			resp.Topics = append(resp.Topics, t)
		}
	}
	return resp
}

// electionTargets returns the requested partitions, or every partition
// (in topic name order) when Topics is null.
func electionTargets(st *cluster.State, req *kmsg.ElectLeadersRequest) []kmsg.ElectLeadersRequestTopic {
	if req.Topics != nil {
		return req.Topics
	}
	var out []kmsg.ElectLeadersRequestTopic
	for _, name := range st.SortedTopicNames() {
		rt := kmsg.NewElectLeadersRequestTopic()
		rt.Topic = name
		for _, p := range st.Topics[name].Partitions {
			rt.Partitions = append(rt.Partitions, p.Index)
		}
		out = append(out, rt)
	}
	return out
}
