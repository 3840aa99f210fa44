package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// metricsRE finds the metrics listener the broker printed at start.
var metricsRE = regexp.MustCompile(`metrics listening.* metrics=(\S+)`)

// metricsAddr is the broker's metrics listener, from its logs.
func (p *proc) metricsAddr(t *testing.T) string {
	t.Helper()
	m := metricsRE.FindStringSubmatch(p.logText())
	if m == nil {
		t.Fatalf("no metrics listener in the broker's logs:\n%s", p.logText())
	}
	return m[1]
}

// scrape fetches and parses /metrics with the Prometheus text parser.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// metricValue is the value of the series of family name whose labels
// include want (name=value pairs); ok=false when there is none.
func metricValue(fams map[string]*dto.MetricFamily, name string, want ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if labels[want[i]] != want[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// requestCounter counts the requests a client wrote and had answered, by
// API key.
type requestCounter struct {
	mu sync.Mutex // guards n
	n  map[int16]int
}

func (c *requestCounter) OnBrokerE2E(_ kgo.BrokerMetadata, key int16, e2e kgo.BrokerE2E) {
	if e2e.Err() != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[int16]int{}
	}
	c.n[key]++
}

func (c *requestCounter) get(key kmsg.Key) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[int16(key)]
}

// batchBytes adds up the bytes of the record batches a producer wrote, by
// partition: each batch's records plus the v2 batch header.
type batchBytes struct {
	mu    sync.Mutex // guards bytes
	bytes map[int32]int
}

func (b *batchBytes) OnProduceBatchWritten(_ kgo.BrokerMetadata, _ string, part int32, m kgo.ProduceBatchMetrics) {
	const batchHeaderLen = 61
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bytes == nil {
		b.bytes = map[int32]int{}
	}
	b.bytes[part] += m.CompressedBytes + batchHeaderLen
}

// byPartition returns the bytes written per partition, and their sum.
func (b *batchBytes) byPartition() (map[int32]int, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	sum := 0
	for _, n := range b.bytes {
		sum += n
	}
	return maps.Clone(b.bytes), sum
}

// TestE2EMetrics: /metrics, scraped and parsed with the Prometheus text
// parser, shows what a test did to a broker (issue 11, item 4): records
// and bytes in and out per topic, the Produce and Fetch requests the
// clients had answered, an error code after a request that must fail,
// log sizes, partition counts, the Raft leader, and a group's lag per
// partition; /healthz and /readyz answer 200.
func TestE2EMetrics(t *testing.T) {
	t.Parallel()
	p := startBroker(t, "")
	addr := p.metricsAddr(t)
	ctx := testCtx(t)
	const topic, group = "metrics-t", "metrics-g"
	adm := p.admin(t)
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	// A request that must fail: the topic exists.
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, topic); !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Fatalf("creating %s again: %v, want TOPIC_ALREADY_EXISTS", topic, err)
	}

	perPart := map[int32]int{0: 30, 1: 20}
	var reqs requestCounter
	var written batchBytes
	prod := p.client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.WithHooks(&reqs, &written))
	var recs []*kgo.Record
	for part, n := range perPart {
		for i := range n {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: part, Value: []byte(fmt.Sprintf("value-%d-%03d", part, i))})
		}
	}
	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	produced := len(recs)
	// franz-go calls OnProduceBatchWritten after it has handled the
	// response, which may be after ProduceSync returned (CI saw 0 bytes):
	// wait for both partitions' batches (one each: 30 and 20 small
	// records sent at once).
	deadline := time.Now().Add(10 * time.Second)
	for {
		if parts, _ := written.byPartition(); len(parts) == len(perPart) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	partBytes, bytesIn := written.byPartition()

	var fetches requestCounter
	got := consumeAll(t, p, topic, produced, kgo.WithHooks(&fetches))
	if len(got) != produced {
		t.Fatalf("consumed %d records, want %d", len(got), produced)
	}
	// The group has consumed 10 of partition 0 and 5 of partition 1.
	committed := map[int32]int64{0: 10, 1: 5}
	offs := kadm.Offsets{}
	for part, o := range committed {
		offs.Add(kadm.Offset{Topic: topic, Partition: part, At: o, LeaderEpoch: -1})
	}
	if _, err := adm.CommitOffsets(ctx, group, offs); err != nil {
		t.Fatal(err)
	}

	fams := scrape(t, addr)
	check := func(what string, got, want float64) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	value := func(name string, labels ...string) float64 {
		t.Helper()
		v, ok := metricValue(fams, name, labels...)
		if !ok {
			t.Errorf("no %s%v in /metrics", name, labels)
		}
		return v
	}
	check("records in", value("jocko_topic_records_in_total", "topic", topic), float64(produced))
	check("bytes in", value("jocko_topic_bytes_in_total", "topic", topic), float64(bytesIn))
	check("records out", value("jocko_topic_records_out_total", "topic", topic), float64(produced))
	check("bytes out", value("jocko_topic_bytes_out_total", "topic", topic), float64(bytesIn))
	check("Produce requests", value("jocko_requests_total", "api", "Produce"), float64(reqs.get(kmsg.Produce)))
	check("Produce latencies", value("jocko_request_duration_seconds", "api", "Produce"), float64(reqs.get(kmsg.Produce)))
	// A consumer's last fetch may still be waiting (long poll) when the
	// test scrapes: counted once answered.
	if n := value("jocko_requests_total", "api", "Fetch"); n < float64(fetches.get(kmsg.Fetch)) || n < 1 {
		t.Errorf("Fetch requests = %v, want at least the %d the consumer had answered", n, fetches.get(kmsg.Fetch))
	}
	check("CreateTopics TOPIC_ALREADY_EXISTS", value("jocko_request_errors_total", "api", "CreateTopics",
		"code", fmt.Sprint(kerr.TopicAlreadyExists.Code), "error", "TOPIC_ALREADY_EXISTS"), 1)
	for part, n := range partBytes {
		if size := value("jocko_log_size_bytes", "topic", topic, "partition", fmt.Sprint(part)); size < float64(n) {
			t.Errorf("log size of %s-%d = %v, want at least the %d bytes produced", topic, part, size, n)
		}
		check(fmt.Sprintf("segments of %s-%d", topic, part), value("jocko_log_segments", "topic", topic, "partition", fmt.Sprint(part)), 1)
	}
	for part, o := range committed {
		check(fmt.Sprintf("lag of %s on %s-%d", group, topic, part),
			value("jocko_group_lag_records", "group", group, "topic", topic, "partition", fmt.Sprint(part)), float64(int64(perPart[part])-o))
	}
	check("Empty groups", value("jocko_groups", "state", "Empty"), 1)
	check("lag series dropped", value("jocko_group_lag_dropped_series"), 0)
	// One broker: it holds and leads every partition (the topic's and
	// __consumer_offsets'), each with one log.
	parts := float64(len(fams["jocko_log_size_bytes"].GetMetric()))
	if parts < 3 {
		t.Errorf("%v partitions have a log size, want the topic's 2 and __consumer_offsets'", parts)
	}
	check("partitions", value("jocko_partitions"), parts)
	check("leader partitions", value("jocko_leader_partitions"), parts)
	check("under-replicated partitions", value("jocko_under_replicated_partitions"), 0)
	check("offline partitions", value("jocko_offline_partitions"), 0)
	check("Raft leader", value("jocko_raft_state", "state", "Leader"), 1)
	if term := value("jocko_raft_term"); term < 1 {
		t.Errorf("Raft term %v, want 1 or more", term)
	}
	if commit := value("jocko_raft_commit_index"); commit < 1 {
		t.Errorf("Raft commit index %v, want 1 or more", commit)
	}
	if lc := value("jocko_raft_leader_changes_total"); lc < 1 {
		t.Errorf("Raft leader changes %v, want 1 or more (this broker was elected)", lc)
	}
	if n := value("jocko_log_fsync_duration_seconds"); n < 1 {
		t.Errorf("%v fsyncs measured, want 1 or more", n)
	}
	if f := fams["jocko_log_fsync_batch_records"]; f == nil || f.GetMetric()[0].GetHistogram().GetSampleSum() < float64(produced) {
		t.Errorf("fsync batches add up to fewer records than the %d produced: %v", produced, f)
	}
	if n := value("jocko_connections"); n < 1 {
		t.Errorf("%v connections, want the test's clients'", n)
	}
	if _, ok := metricValue(fams, "go_goroutines"); !ok {
		t.Error("no Go runtime metrics (go_goroutines)")
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %s %s", path, resp.Status, body)
		}
	}
	if t.Failed() {
		var names []string
		for n := range fams {
			if strings.HasPrefix(n, "jocko_") {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		t.Logf("jocko metrics: %v", names)
	}
}

// TestE2EMetricsOff: --metrics-listen off runs the broker without a
// metrics listener, and says so.
func TestE2EMetricsOff(t *testing.T) {
	t.Parallel()
	p := startBroker(t, "", "--metrics-listen", "off")
	if !strings.Contains(p.logText(), "metrics off") || metricsRE.MatchString(p.logText()) {
		t.Fatalf("want 'metrics off' and no metrics listener:\n%s", p.logText())
	}
}
