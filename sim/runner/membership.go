package runner

import (
	"context"
	"sync"

	jcluster "github.com/jocko/jocko/cluster"
)

// staticMembership is the simulator's membership for brokers beyond the
// initial voters: every broker of the simulated cluster is a member,
// always reported alive (the controller's broker sessions are the failure
// detector that matters; Serf's gossip is production-only). It gives a
// joining broker the members' Kafka addresses, which is all the join path
// (core/join.go) and the metadata pull need from it.
type staticMembership struct {
	local   jcluster.Member
	members []jcluster.Member // every broker, sorted by name
	events  chan jcluster.Event

	closeOnce sync.Once
}

var _ jcluster.Membership = (*staticMembership)(nil)

// membership returns the factory core.Config.Membership wants.
func (c *cluster) membership(b *broker) func(jcluster.Member, string) (jcluster.Membership, error) {
	return func(local jcluster.Member, _ string) (jcluster.Membership, error) {
		m := &staticMembership{local: local, events: make(chan jcluster.Event)}
		for _, o := range c.brokers {
			m.members = append(m.members, jcluster.Member{ID: o.id, Name: jcluster.MemberName(o.id),
				KafkaAddr: c.addr(o), RaftAddr: c.raftAddr(o), GossipAddr: o.name + ":9094", Status: jcluster.StatusAlive})
		}
		return m, nil
	}
}

func (m *staticMembership) Local() jcluster.Member                         { return m.local }
func (m *staticMembership) Members() []jcluster.Member                     { return m.members }
func (m *staticMembership) Events() <-chan jcluster.Event                  { return m.events }
func (m *staticMembership) Join(ctx context.Context, addrs []string) error { return ctx.Err() }
func (m *staticMembership) UpdateTags(l jcluster.Member) error {
	m.local.ID, m.local.ClusterID = l.ID, l.ClusterID
	return nil
}
func (m *staticMembership) Leave() error { return m.Close() }
func (m *staticMembership) Close() error {
	m.closeOnce.Do(func() { close(m.events) })
	return nil
}
func (m *staticMembership) Err() error { return nil }
