package main

import (
	"net"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"
)

// groupDescription is `group describe --format json`: the same facts as the
// text, with null where the text prints "-".
type groupDescription struct {
	Group        string            `json:"group"`
	State        string            `json:"state"`
	ProtocolType string            `json:"protocol_type"`
	Protocol     string            `json:"protocol"`
	Coordinator  brokerAddress     `json:"coordinator"`
	Members      []describedMember `json:"members"`
	Offsets      []groupOffsetLag  `json:"offsets"`
}

type brokerAddress struct {
	ID      int32  `json:"id"`
	Address string `json:"address"`
}

type describedMember struct {
	MemberID string `json:"member_id"`
	ClientID string `json:"client_id"`
	Host     string `json:"host"`
	// Assigned maps each topic to its partitions (consumer protocol only).
	Assigned map[string][]int32 `json:"assigned"`
}

type groupOffsetLag struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	Committed *int64  `json:"committed"` // null: no commit
	End       *int64  `json:"end"`       // null: unknown (see error)
	Lag       *int64  `json:"lag"`
	Owner     *string `json:"owner"` // the member assigned the partition
	Error     string  `json:"error,omitempty"`
}

func describeGroupJSON(name string, l kadm.DescribedGroupLag) groupDescription {
	c := l.Coordinator
	d := groupDescription{Group: name, State: l.State, ProtocolType: l.ProtocolType, Protocol: l.Protocol,
		Coordinator: brokerAddress{c.NodeID, net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port)))},
		Members:     []describedMember{}, Offsets: []groupOffsetLag{}}
	for _, m := range l.Members {
		gm := describedMember{MemberID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost, Assigned: map[string][]int32{}}
		if a, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range a.Topics {
				gm.Assigned[t.Topic] = slices.Sorted(slices.Values(t.Partitions))
			}
		}
		d.Members = append(d.Members, gm)
	}
	for _, r := range l.Lag.Sorted() {
		o := groupOffsetLag{Topic: r.Topic, Partition: r.Partition}
		if r.Commit.At >= 0 {
			o.Committed = &r.Commit.At
		}
		if r.End.Err == nil {
			o.End = &r.End.Offset
		}
		if r.Err == nil {
			o.Lag = &r.Lag
		} else {
			o.Error = r.Err.Error()
		}
		if r.Member != nil {
			o.Owner = &r.Member.MemberID
		}
		d.Offsets = append(d.Offsets, o)
	}
	return d
}
