package main

// The admin APIs with every outside client (issue 10), against the real
// broker binary behind the recording proxy: each client's calls for
// DeleteRecords, DescribeLogDirs, client quotas, configs, DescribeCluster
// and features, as far as the client has them, checked as the client
// reports them and again through franz-go's kadm, and the request versions
// the client sent pinned. sarama's ClusterAdmin runs in-process
// (e2e_admin_clients_sarama_test.go); kafkajs, confluent-kafka-python and
// kafka-python run a script in testdata/clients (kafkajs_admin.js,
// confluent_admin.py, kafka_python_admin.py) that performs a fixed
// sequence of steps and prints one JSON line per step.
//
// What each client has, from its source:
//   - sarama 1.61: all of them (DeleteRecords, DescribeLogDirs,
//     Describe/AlterClientQuotas, DescribeConfigs, AlterConfigs,
//     IncrementalAlterConfigs, DescribeCluster, UpdateFeatures) but
//     DescribeFeatures.
//   - kafkajs 2.2.4: deleteTopicRecords (DeleteRecords v1), describeConfigs
//     (v2) and alterConfigs (v1); describeCluster is answered from
//     Metadata. No quotas, log directories, IncrementalAlterConfigs or
//     features.
//   - confluent-kafka-python 1.7.0: describe_configs and alter_configs
//     (librdkafka 2.0.2 underneath sends DescribeConfigs v1 and
//     AlterConfigs v0); list_topics (Metadata) for the cluster. No delete_records, describe_log_dirs, quotas,
//     incremental_alter_configs or describe_cluster: they came in 1.9-2.3.
//   - kafka-python 2.0.2: describe_configs (v2), alter_configs (v1),
//     describe_cluster and describe_topics (Metadata). No DeleteRecords,
//     DescribeLogDirs, quotas, IncrementalAlterConfigs or features.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// admStartOffsets returns each partition's log start as kadm reads it
// (ListOffsets earliest).
func admStartOffsets(t *testing.T, b *proc, adm *kadm.Client, topic string) map[int32]int64 {
	t.Helper()
	lo, err := adm.ListStartOffsets(cgCtx(t, 10*time.Second), topic)
	if err != nil {
		t.Fatalf("kadm ListStartOffsets %s: %v", topic, err)
	}
	out := map[int32]int64{}
	lo.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			t.Fatalf("kadm ListStartOffsets %s/%d: %v", topic, o.Partition, o.Err)
		}
		out[o.Partition] = o.Offset
	})
	return out
}

// setQuotaEntity sets one quota on entity e with kadm.
func setQuotaEntity(t *testing.T, ctx context.Context, adm *kadm.Client, e kadm.ClientQuotaEntity, key string, v float64) {
	t.Helper()
	res, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{Entity: e, Ops: []kadm.AlterClientQuotaOp{{Key: key, Value: v}}}})
	if err != nil || len(res) != 1 || res[0].Err != nil {
		t.Fatalf("kadm set %s for %v: %v %+v", key, e, err, res)
	}
}

// admVersions checks the versions client sent of each API in want.
func admVersions(t *testing.T, px *cgProxy, client string, want map[int16][]int16) {
	t.Helper()
	got := px.versions(client)
	for k, vs := range want {
		if !slices.Equal(got[k], vs) {
			t.Errorf("%s sent %s versions %v, want %v (all it sent: %s)", client, kmsg.NameForKey(k), got[k], vs, px.describe(client))
		}
	}
	t.Logf("%s sent: %s", client, px.describe(client))
}

// admConfig is a config entry as a script printed it.
type admConfig struct {
	Value     *string  `json:"value"`
	Source    int8     `json:"source"`
	ReadOnly  bool     `json:"read_only"`
	Default   bool     `json:"default"`
	Sensitive bool     `json:"sensitive"`
	Synonyms  []string `json:"synonyms"`
}

// admStep is a line a script printed: one step's result.
type admStep struct {
	Step            string               `json:"step"`
	Configs         map[string]admConfig `json:"configs"`
	Error           *int16               `json:"error"`
	Partitions      []admOffsets         `json:"partitions"`
	ClusterID       string               `json:"cluster_id"`
	Controller      int32                `json:"controller"`
	Brokers         []admBroker          `json:"brokers"`
	Topics          []string             `json:"topics"`
	PartitionCounts map[string]int32     `json:"partition_counts"`
}

// admOffsets is a partition's low and high watermark as a script read them.
type admOffsets struct {
	P    int32 `json:"p"`
	Low  int64 `json:"low"`
	High int64 `json:"high"`
}

type admBroker struct {
	ID   int32  `json:"id"`
	Host string `json:"host"`
	Port int    `json:"port"`
}

// admRun runs an admin script to completion within 15 s and returns its
// steps by name; on failure it shows the script's stderr and stdout and
// the broker's log.
func admRun(t *testing.T, b *proc, name string, argv ...string) map[string]admStep {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = filepath.Dir(argv[1])
	cmd.WaitDelay = time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("killed after 15 s: %w", err)
	}
	steps := map[string]admStep{}
	sc := bufio.NewScanner(bytes.NewReader(stdout.Bytes()))
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		if !bytes.HasPrefix(sc.Bytes(), []byte("{")) {
			continue
		}
		var s admStep
		if jerr := json.Unmarshal(sc.Bytes(), &s); jerr != nil && err == nil {
			err = fmt.Errorf("bad line %q: %v", sc.Bytes(), jerr)
		}
		steps[s.Step] = s
	}
	if err != nil {
		t.Fatalf("%s: %v\n--- stderr:\n%s\n--- stdout:\n%s\n--- broker log:\n%s",
			name, err, txnTail(stderr.String()), txnTail(stdout.String()), txnTail(b.logText()))
	}
	t.Logf("%s: %d steps in %v", name, len(steps), time.Since(start).Round(time.Millisecond))
	if testing.Verbose() && stderr.Len() > 0 {
		t.Logf("%s stderr:\n%s", name, txnTail(stderr.String()))
	}
	return steps
}

// admPrepare creates prefix-dr (two partitions of ten records each) and
// prefix-cfg (segment.ms overridden to 7200000) with franz-go.
func admPrepare(t *testing.T, b *proc, prefix string) {
	t.Helper()
	cgCreateTopic(t, b, prefix+"-dr", 2)
	cgProduce(t, b, prefix+"-dr", 2, 0, 20)
	_, err := b.admin(t).CreateTopic(cgCtx(t, 10*time.Second), 1, 1, map[string]*string{"segment.ms": kadm.StringPtr("7200000")}, prefix+"-cfg")
	if err != nil {
		t.Fatal(err)
	}
}

// admStepOf returns the step a script must have printed.
func admStepOf(t *testing.T, who string, steps map[string]admStep, name string) admStep {
	t.Helper()
	s, ok := steps[name]
	if !ok {
		t.Fatalf("%s printed no %s step (steps: %v)", who, name, slices.Sorted(maps.Keys(steps)))
	}
	return s
}

// wantClient checks a setting as the client described it: value, Kafka
// source number, and the synonym chain when synonyms is not nil.
func wantClient(t *testing.T, label string, cs map[string]admConfig, name, value string, source int8, synonyms ...string) {
	t.Helper()
	c, ok := cs[name]
	if !ok || c.Value == nil || *c.Value != value || c.Source != source || c.Default != (source == 5) || c.Sensitive {
		t.Errorf("%s: %s = %+v (described %v), want %q from source %d", label, name, c, ok, value, source)
		return
	}
	if synonyms != nil && !slices.Equal(c.Synonyms, synonyms) {
		t.Errorf("%s: %s synonyms %v, want %v", label, name, c.Synonyms, synonyms)
	}
}

// admWantError checks a step's Kafka error code.
func admWantError(t *testing.T, who string, steps map[string]admStep, name string, want int16) {
	t.Helper()
	if s := admStepOf(t, who, steps, name); s.Error == nil || *s.Error != want {
		t.Errorf("%s %s: error %v, want %d", who, name, s.Error, want)
	}
}

// admRetentionSynonyms is the synonym chain of a topic's retention.ms
// without an override on a broker started with --log.retention.ms=1234
// (source numbers: 4 STATIC_BROKER_CONFIG, 5 DEFAULT_CONFIG).
var admRetentionSynonyms = []string{"log.retention.ms=1234/4", "log.retention.ms=604800000/5"}

// admCheckConfigs checks the config steps every script runs: what the
// client described before and after its alters (the topic's filtered
// settings exactly when filtered asks for it; retention.ms's synonyms as
// the client shows them), the alters' errors, and through kadm what the
// alters left.
func admCheckConfigs(t *testing.T, b *proc, who string, steps map[string]admStep, prefix string, filtered bool, retentionSynonyms ...string) {
	t.Helper()
	topic := prefix + "-cfg"
	cs := admStepOf(t, who, steps, "describe_topic").Configs
	if filtered && len(cs) != 4 {
		t.Errorf("%s asked for 4 settings of %s and got %d: %v", who, topic, len(cs), slices.Sorted(maps.Keys(cs)))
	}
	wantClient(t, who+" describe "+topic, cs, "segment.ms", "7200000", 1)
	wantClient(t, who+" describe "+topic, cs, "retention.ms", "1234", 4, retentionSynonyms...)
	wantClient(t, who+" describe "+topic, cs, "segment.bytes", "1073741824", 5)
	wantClient(t, who+" describe "+topic, cs, "cleanup.policy", "delete", 5)
	bc := admStepOf(t, who, steps, "describe_broker").Configs
	wantClient(t, who+" describe broker", bc, "log.retention.ms", "1234", 4)
	wantClient(t, who+" describe broker", bc, "num.partitions", "1", 5)

	admWantError(t, who, steps, "alter_topic", 0)
	if _, ok := steps["alter_validate"]; ok {
		admWantError(t, who, steps, "alter_validate", 0)
	}
	admWantError(t, who, steps, "alter_bad", 40) // INVALID_CONFIG
	admWantError(t, who, steps, "alter_broker", 0)
	after := admStepOf(t, who, steps, "describe_after").Configs
	wantClient(t, who+" describe after its alter", after, "retention.ms", "86400000", 1)
	wantClient(t, who+" describe after its alter", after, "max.message.bytes", "300000", 1)
	wantClient(t, who+" describe after its alter", after, "segment.ms", "604800000", 5)

	ctx := cgCtx(t, 10*time.Second)
	adm := b.admin(t)
	kc := describeConfigs(t, ctx, adm, topic)
	wantConfig(t, "kadm after "+who+"'s AlterConfigs", kc, "retention.ms", "86400000", srcTopic)
	wantConfig(t, "kadm after "+who+"'s AlterConfigs", kc, "max.message.bytes", "300000", srcTopic)
	wantConfig(t, "kadm after "+who+"'s AlterConfigs (replaced)", kc, "segment.ms", "604800000", srcDefault)
	wantConfig(t, "kadm after "+who+"'s broker AlterConfigs", describeConfigs(t, ctx, adm, "", brokerID(t, b)), "log.retention.ms", "3600000", srcDynBroker)
	wantConfig(t, "kadm after "+who+"'s broker AlterConfigs", describeConfigs(t, ctx, adm, prefix+"-dr"), "retention.ms", "3600000", srcDynBroker)
}

// admCheckCluster checks the cluster step: the cluster ID, controller and
// broker kadm's Metadata names, and prefix-dr among the topics.
func admCheckCluster(t *testing.T, b *proc, who string, steps map[string]admStep, prefix string) {
	t.Helper()
	c := admStepOf(t, who, steps, "cluster")
	md, err := b.admin(t).BrokerMetadata(cgCtx(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(b.addr)
	id := brokerID(t, b)
	if c.ClusterID != md.Cluster || c.ClusterID == "" || c.Controller != md.Controller || c.Controller != id ||
		len(c.Brokers) != 1 || c.Brokers[0].ID != id || c.Brokers[0].Host != host || strconv.Itoa(c.Brokers[0].Port) != port {
		t.Errorf("%s cluster: %+v; kadm: cluster %q controller %d, want broker %d at %s", who, c, md.Cluster, md.Controller, id, b.addr)
	}
	if !slices.Contains(c.Topics, prefix+"-dr") {
		t.Errorf("%s cluster: topics %v, want %s among them", who, c.Topics, prefix+"-dr")
	}
}

// adminScript returns the absolute path of testdata/clients/name.
func adminScript(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata/clients", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestE2EAdminClientsKafkaJS: kafkajs's admin (kafkajs_admin.js)
// describes a topic's and the broker's configs (DescribeConfigs v2 with
// synonyms and a name filter), replaces the topic's set and sets a broker
// value (AlterConfigs v1, validate-only and a refused value too), deletes
// records (DeleteRecords v1: partition 0 up to 4, partition 1 up to the
// high watermark; past it OFFSET_OUT_OF_RANGE) and reads the new low
// watermarks with fetchTopicOffsets, and describes the cluster; kadm sees
// each change.
func TestE2EAdminClientsKafkaJS(t *testing.T) {
	t.Parallel()
	node, _ := needKafkaJS(t)
	b, px := startProxiedBroker(t, "--log.retention.ms=1234")
	admPrepare(t, b, "kjs")
	steps := admRun(t, b, "kafkajs admin", node, adminScript(t, "kafkajs_admin.js"), b.addr, strconv.Itoa(int(brokerID(t, b))), "kjs")
	admCheckConfigs(t, b, "kafkajs", steps, "kjs", true, admRetentionSynonyms...)
	admCheckCluster(t, b, "kafkajs", steps, "kjs")
	offs := admStepOf(t, "kafkajs", steps, "offsets").Partitions
	slices.SortFunc(offs, func(x, y admOffsets) int { return int(x.P - y.P) })
	if len(offs) != 2 || offs[0].Low != 4 || offs[0].High != 10 || offs[1].Low != 10 || offs[1].High != 10 {
		t.Errorf("kafkajs fetchTopicOffsets after deleteTopicRecords: %+v, want 0: 4-10, 1: 10-10", offs)
	}
	admWantError(t, "kafkajs", steps, "delete_bad", 1) // OFFSET_OUT_OF_RANGE
	if got := admStartOffsets(t, b, b.admin(t), "kjs-dr"); !maps.Equal(got, map[int32]int64{0: 4, 1: 10}) {
		t.Errorf("kadm: log starts %v after kafkajs's deleteTopicRecords, want 0:4 1:10", got)
	}
	admVersions(t, px, "kafkajs-admin", map[int16][]int16{
		kmsg.DescribeConfigs.Int16(): {2}, kmsg.AlterConfigs.Int16(): {1}, kmsg.DeleteRecords.Int16(): {1}})
}

// TestE2EAdminClientsConfluent: confluent-kafka-python's AdminClient
// (confluent_admin.py, librdkafka underneath) describes a topic's and the
// broker's configs with synonyms, replaces the topic's set and sets a
// broker value with alter_configs (validate-only and a refused value
// too), and lists the cluster's brokers and topics; kadm sees each
// change.
func TestE2EAdminClientsConfluent(t *testing.T) {
	t.Parallel()
	py := needConfluentPython(t)
	b, px := startProxiedBroker(t, "--log.retention.ms=1234")
	admPrepare(t, b, "ck")
	steps := admRun(t, b, "confluent admin", py, adminScript(t, "confluent_admin.py"), b.addr, strconv.Itoa(int(brokerID(t, b))), "ck")
	// confluent-kafka-python keeps an entry's synonyms in a dict by name:
	// of log.retention.ms static and default, only the last is left.
	admCheckConfigs(t, b, "confluent-kafka-python", steps, "ck", false, "log.retention.ms=604800000/5")
	admCheckCluster(t, b, "confluent-kafka-python", steps, "ck")
	admVersions(t, px, "confluent-admin", map[int16][]int16{kmsg.DescribeConfigs.Int16(): {1}, kmsg.AlterConfigs.Int16(): {0}})
}

// TestE2EAdminClientsKafkaPython: kafka-python's KafkaAdminClient
// (kafka_python_admin.py) describes a topic's and the broker's configs
// (DescribeConfigs v2 with synonyms and a name filter), replaces the
// topic's set and sets a broker value (AlterConfigs v1, a refused value
// too), and describes the cluster and a topic; kadm sees each change.
func TestE2EAdminClientsKafkaPython(t *testing.T) {
	t.Parallel()
	py := needKafkaPython(t)
	b, px := startProxiedBroker(t, "--log.retention.ms=1234")
	admPrepare(t, b, "kpy")
	steps := admRun(t, b, "kafka-python admin", py, adminScript(t, "kafka_python_admin.py"), b.addr, strconv.Itoa(int(brokerID(t, b))), "kpy")
	admCheckConfigs(t, b, "kafka-python", steps, "kpy", true, admRetentionSynonyms...)
	admCheckCluster(t, b, "kafka-python", steps, "kpy")
	if n := admStepOf(t, "kafka-python", steps, "cluster").PartitionCounts["kpy-dr"]; n != 2 {
		t.Errorf("kafka-python describe_topics: kpy-dr has %d partitions, want 2", n)
	}
	admVersions(t, px, "kafka-python-admin", map[int16][]int16{kmsg.DescribeConfigs.Int16(): {2}, kmsg.AlterConfigs.Int16(): {1}})
}
