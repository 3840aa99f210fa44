package core

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/jocko/jocko/cluster"
)

// TestCreatePartitionsInternalTopicRefused: the partition count of
// __consumer_offsets and __transaction_state never changes (a group's
// coordinator partition is hash(group) mod the count, so a new count
// loses every group's committed offsets). CreatePartitions on them gets
// INVALID_REQUEST with a message, also with ValidateOnly, as Kafka's
// TopicCommand refused it ("The number of partitions for the internal
// topics ... cannot be changed", KAFKA-7801); the group's offset stays.
func TestCreatePartitionsInternalTopicRefused(t *testing.T) {
	tc := startTestCluster(t, 1, func(c *Config) {
		c.Defaults = map[string]string{"offsets.topic.num.partitions": "3"}
	})
	b := tc.brokers[0]
	adm, _ := tc.admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.commit(ctx, cluster.CreateTopic{Name: "t", ID: [16]byte{8}, Assignments: [][]int32{{1}}}); err != nil {
		t.Fatal(err)
	}
	// A later version's transaction log, as the metadata would carry it.
	if err := b.commit(ctx, cluster.CreateTopic{Name: transactionStateTopic, ID: [16]byte{9}, Assignments: [][]int32{{1}}, Internal: true}); err != nil {
		t.Fatal(err)
	}
	offs := kadm.Offsets{}
	offs.AddOffset("t", 0, 42, -1)
	var err error
	waitFor(t, 20*time.Second, "the offset committed", func() bool {
		var resp kadm.OffsetResponses
		resp, err = adm.CommitOffsets(ctx, "g", offs)
		return err == nil && resp.Ok()
	})
	for _, topic := range []string{offsetsTopic, transactionStateTopic} {
		for _, validate := range []bool{true, false} {
			f := adm.CreatePartitions
			if validate {
				f = adm.ValidateCreatePartitions
			}
			resp, err := f(ctx, 1, topic)
			if err != nil {
				t.Fatal(err)
			}
			r := resp[topic]
			if !errors.Is(r.Err, kerr.InvalidRequest) || r.ErrMessage == "" {
				t.Fatalf("%s (validate only %v): %v %q, want INVALID_REQUEST with a message", topic, validate, r.Err, r.ErrMessage)
			}
		}
	}
	st := b.node.State()
	for topic, want := range map[string]int{offsetsTopic: 3, transactionStateTopic: 1} {
		if top, _ := st.Topic(topic); len(top.Partitions) != want {
			t.Fatalf("%s has %d partitions, want %d", topic, len(top.Partitions), want)
		}
	}
	got, err := adm.FetchOffsets(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := got.Lookup("t", 0); !ok || o.At != 42 {
		t.Fatalf("committed offset after the refusals: %+v, want 42", o)
	}
}
