package group

// LeaveGroup: v0-5.
//
// Behavior, as Kafka's GroupCoordinator.handleLeaveGroup: v0-2 name one
// member and carry its error at the top level; v3+ (KIP-345) name a batch
// of members, each by member id or, for static members removed by an
// admin, by group.instance.id alone, and answer each one. A member that
// leaves is removed at once and the group rebalances.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Leave takes a LeaveGroup; its reply is always in the returned Output.
func (g *Group) Leave(nowMs int64, to Handle, req *kmsg.LeaveGroupRequest) Output {
	return g.input(nowMs, func(out *Output) {
		r := kmsg.NewPtrLeaveGroupResponse()
		r.Version = req.Version
		if g.state == Dead {
			r.ErrorCode = code(kerr.CoordinatorNotAvailable)
			out.reply(to, r)
			return
		}
		for _, lm := range leavingMembers(req) {
			rm := kmsg.NewLeaveGroupResponseMember()
			rm.MemberID = lm.MemberID
			rm.InstanceID = cloneString(lm.InstanceID)
			rm.ErrorCode = code(g.leave(nowMs, lm, out))
			r.Members = append(r.Members, rm)
		}
		if req.Version < 3 {
			r.ErrorCode = r.Members[0].ErrorCode
			r.Members = nil
		}
		out.reply(to, r)
	})
}

// leavingMembers turns a v0-2 request into the v3+ batch form.
func leavingMembers(req *kmsg.LeaveGroupRequest) []kmsg.LeaveGroupRequestMember {
	if req.Version >= 3 {
		return req.Members
	}
	lm := kmsg.NewLeaveGroupRequestMember()
	lm.MemberID = req.MemberID
	return []kmsg.LeaveGroupRequestMember{lm}
}

// leave removes one member.
func (g *Group) leave(nowMs int64, lm kmsg.LeaveGroupRequestMember, out *Output) error {
	if lm.MemberID == "" {
		if lm.InstanceID == nil {
			return kerr.UnknownMemberID
		}
		id, ok := g.static[*lm.InstanceID]
		if !ok {
			return kerr.UnknownMemberID
		}
		g.removeMember(nowMs, id, out)
		return nil
	}
	if _, ok := g.pending[lm.MemberID]; ok {
		delete(g.pending, lm.MemberID)
		if g.state == PreparingRebalance {
			g.tryCompleteJoin(nowMs, out)
		}
		return nil
	}
	if err := g.validateMember(lm.MemberID, lm.InstanceID); err != nil {
		return err
	}
	g.removeMember(nowMs, lm.MemberID, out)
	return nil
}
