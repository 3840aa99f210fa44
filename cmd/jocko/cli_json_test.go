package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// wantJSON runs a jocko command line in-process, expects exit 0 and decodes
// its stdout into v.
func wantJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	code, out, errOut := runCLI(args...)
	if code != 0 {
		t.Fatalf("jocko %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("jocko %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestCLIListingsJSON: topic list and describe, group list and describe
// and cluster describe print with --format json what their tables show,
// checked against what the test produced, consumed and configured.
func TestCLIListingsJSON(t *testing.T) {
	t.Parallel()
	b := startBroker(t, "")
	br := "--brokers=" + b.addr
	wantRun(t, 0, "", "topic", "create", "orders", "--partitions", "2", "--config", "retention.ms=60000", br)
	wantRun(t, 0, "a\nb\nc\n", "produce", "orders", "--partition", "1", br)
	if out, _ := wantRun(t, 0, "", "consume", "orders", "--group", "billing", br); out != "a\nb\nc\n" {
		t.Fatalf("consume: %q", out)
	}
	id := brokerID(t, b)

	var topics []listedTopic
	wantJSON(t, &topics, "topic", "list", br, "--format", "json")
	i := slices.IndexFunc(topics, func(lt listedTopic) bool { return lt.Topic == "orders" })
	if i < 0 || topics[i].Partitions != 2 || topics[i].ReplicationFactor != 1 || topics[i].ID == "" {
		t.Fatalf("topic list --format json: %+v", topics)
	}

	var d topicDescription
	wantJSON(t, &d, "topic", "describe", "orders", br, "--format", "json")
	if d.Topic != "orders" || d.ID != topics[i].ID || len(d.Partitions) != 2 {
		t.Fatalf("topic describe --format json: %+v", d)
	}
	p1 := d.Partitions[1]
	if p1.Partition != 1 || p1.Leader != id || !slices.Equal(p1.Replicas, []int32{id}) || !slices.Equal(p1.ISR, []int32{id}) ||
		p1.StartOffset != 0 || p1.EndOffset != 3 || d.Partitions[0].EndOffset != 0 {
		t.Fatalf("topic describe --format json: partitions %+v", d.Partitions)
	}
	c := slices.IndexFunc(d.Configs, func(e configEntry) bool { return e.Name == "retention.ms" })
	if c < 0 || d.Configs[c].Value == nil || *d.Configs[c].Value != "60000" || d.Configs[c].Source != "topic" {
		t.Fatalf("topic describe --format json: configs %+v", d.Configs)
	}

	var groups []listedGroup
	wantJSON(t, &groups, "group", "list", br, "--format", "json")
	if !slices.Contains(groups, listedGroup{"billing", "Empty", "consumer"}) {
		t.Fatalf("group list --format json: %+v", groups)
	}

	var g groupDescription
	wantJSON(t, &g, "group", "describe", "billing", br, "--format", "json")
	k := slices.IndexFunc(g.Offsets, func(o groupOffsetLag) bool { return o.Topic == "orders" && o.Partition == 1 })
	if g.Group != "billing" || g.State != "Empty" || len(g.Members) != 0 || g.Coordinator.ID != id || g.Coordinator.Address != b.addr || k < 0 {
		t.Fatalf("group describe --format json: %+v", g)
	}
	if o := g.Offsets[k]; o.Committed == nil || *o.Committed != 3 || o.End == nil || *o.End != 3 || o.Lag == nil || *o.Lag != 0 || o.Owner != nil {
		t.Fatalf("group describe --format json: offsets %+v", g.Offsets)
	}

	var cd clusterDescription
	wantJSON(t, &cd, "cluster", "describe", br, "--format", "json")
	if cd.ClusterID == "" || cd.Controller != id || len(cd.Brokers) != 1 || cd.Brokers[0].ID != id || cd.Brokers[0].Fenced ||
		cd.Brokers[0].Epoch == nil || *cd.Brokers[0].Epoch <= 0 {
		t.Fatalf("cluster describe --format json: %+v", cd)
	}
	if q := cd.Quorum; q.Leader != id || len(q.Voters) != 1 || !q.Voters[0].Leader || q.Voters[0].RaftAddress == nil ||
		q.Voters[0].LogEnd == nil || q.CommittedIndex <= 0 || len(cd.Offline) != 0 || len(cd.UnderReplicated) != 0 {
		t.Fatalf("cluster describe --format json: %+v", cd)
	}

	for _, args := range [][]string{{"topic", "list"}, {"topic", "describe", "orders"}, {"group", "list"}, {"group", "describe", "billing"}, {"cluster", "describe"}} {
		code, _, errOut := runCLI(append(args, br, "--format", "csv")...)
		if code != 2 || !strings.Contains(errOut, `--format "csv": want text or json`) {
			t.Errorf("jocko %s --format csv: exit %d, %q", strings.Join(args, " "), code, errOut)
		}
	}
}
