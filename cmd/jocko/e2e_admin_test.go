package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jocko/jocko/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func describeCluster(t *testing.T, r *rawKafka, version int16) *kmsg.DescribeClusterResponse {
	t.Helper()
	req := kmsg.NewPtrDescribeClusterRequest()
	req.Version = version
	resp := r.do(req).(*kmsg.DescribeClusterResponse)
	if resp.ErrorCode != 0 {
		t.Fatalf("DescribeCluster v%d: error %d", version, resp.ErrorCode)
	}
	return resp
}

// metadata sends a Metadata request at version for topics (names, or IDs
// when byID); nil topics asks for all.
func metadata(t *testing.T, r *rawKafka, version int16, allowAuto bool, topics []string, ids ...[16]byte) *kmsg.MetadataResponse {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	req.Version = version
	req.AllowAutoTopicCreation = allowAuto
	if topics != nil {
		req.Topics = []kmsg.MetadataRequestTopic{}
	}
	for _, name := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(name)
		req.Topics = append(req.Topics, rt)
	}
	for _, id := range ids {
		rt := kmsg.NewMetadataRequestTopic()
		rt.TopicID = id
		req.Topics = append(req.Topics, rt)
	}
	return r.do(req).(*kmsg.MetadataResponse)
}

func metaTopic(resp *kmsg.MetadataResponse, name string) (kmsg.MetadataResponseTopic, bool) {
	for _, t := range resp.Topics {
		if t.Topic != nil && *t.Topic == name {
			return t, true
		}
	}
	return kmsg.MetadataResponseTopic{}, false
}

// wantOneBroker checks that the broker list is exactly broker 1 at addr.
func wantOneBroker(t *testing.T, label string, ids []int32, hosts []string, ports []int32, addr string) {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	if len(ids) != 1 || ids[0] != 1 || hosts[0] != host || strconv.Itoa(int(ports[0])) != port {
		t.Errorf("%s: brokers %v %v %v, want [1] at %s", label, ids, hosts, ports, addr)
	}
}

// TestE2EDescribeClusterAndMetadata covers DescribeCluster v0-1 (KIP-700)
// and Metadata v0, v1, v4, v9 (flexible), v12 and v10+ topic IDs (KIP-516):
// the controller and broker list, auto-creation (always before v4, only
// when AllowAutoTopicCreation from v4), INVALID_TOPIC_EXCEPTION for a bad
// name, UNKNOWN_TOPIC_ID, and a cluster ID and topic ID that survive a
// restart.
func TestE2EDescribeClusterAndMetadata(t *testing.T) {
	b := startBroker(t, "")
	ctx := testCtx(t)
	if _, err := b.admin(t).CreateTopic(ctx, 3, 1, nil, "meta"); err != nil {
		t.Fatal(err)
	}
	r := dialRaw(t, b.addr)

	dc0 := describeCluster(t, r, 0)
	dc1 := describeCluster(t, r, 1)
	if dc0.ClusterID == "" || dc1.ClusterID != dc0.ClusterID || dc0.ControllerID != 1 || dc1.ControllerID != 1 || dc1.EndpointType != 1 {
		t.Fatalf("DescribeCluster: v0 cluster %q controller %d, v1 cluster %q controller %d endpoint type %d; want one cluster ID, controller 1, endpoint type 1",
			dc0.ClusterID, dc0.ControllerID, dc1.ClusterID, dc1.ControllerID, dc1.EndpointType)
	}
	var ids, ports []int32
	var hosts []string
	for _, br := range dc1.Brokers {
		ids, hosts, ports = append(ids, br.NodeID), append(hosts, br.Host), append(ports, br.Port)
	}
	wantOneBroker(t, "DescribeCluster", ids, hosts, ports, b.addr)

	for _, v := range []int16{0, 1, 4, 9, 12} {
		resp := metadata(t, r, v, false, []string{"meta"})
		ids, hosts, ports = nil, nil, nil
		for _, br := range resp.Brokers {
			ids, hosts, ports = append(ids, br.NodeID), append(hosts, br.Host), append(ports, br.Port)
		}
		wantOneBroker(t, fmt.Sprintf("Metadata v%d", v), ids, hosts, ports, b.addr)
		if v >= 1 && resp.ControllerID != 1 {
			t.Errorf("Metadata v%d: controller %d, want 1", v, resp.ControllerID)
		}
		if v >= 2 && (resp.ClusterID == nil || *resp.ClusterID != dc0.ClusterID) {
			t.Errorf("Metadata v%d: cluster ID %v, want %q", v, resp.ClusterID, dc0.ClusterID)
		}
		mt, ok := metaTopic(resp, "meta")
		if !ok || mt.ErrorCode != 0 || len(mt.Partitions) != 3 {
			t.Fatalf("Metadata v%d: topic meta %+v, want 3 partitions", v, mt)
		}
		for i, p := range mt.Partitions {
			if p.Partition != int32(i) || p.Leader != 1 || len(p.Replicas) != 1 || len(p.ISR) != 1 || p.ErrorCode != 0 {
				t.Errorf("Metadata v%d: partition %+v, want index %d led by 1", v, p, i)
			}
		}
		if v >= 10 && mt.TopicID == ([16]byte{}) {
			t.Errorf("Metadata v%d: no topic ID", v)
		}
	}
	metaID, _ := metaTopic(metadata(t, r, 12, false, []string{"meta"}), "meta")

	// All topics: an empty list in v0, a null list from v1; from v1 an
	// empty list asks for none.
	if _, ok := metaTopic(metadata(t, r, 0, false, []string{}), "meta"); !ok {
		t.Error("Metadata v0 with an empty topic list does not list meta")
	}
	if _, ok := metaTopic(metadata(t, r, 1, false, nil), "meta"); !ok {
		t.Error("Metadata v1 with a null topic list does not list meta")
	}
	if resp := metadata(t, r, 9, false, []string{}); len(resp.Topics) != 0 {
		t.Errorf("Metadata v9 with an empty topic list lists %d topics, want none", len(resp.Topics))
	}

	// By topic ID (v10+, KIP-516), and an unknown ID.
	resp := metadata(t, r, 12, false, []string{}, metaID.TopicID, [16]byte{1, 2, 3})
	if len(resp.Topics) != 2 || resp.Topics[0].Topic == nil || *resp.Topics[0].Topic != "meta" || len(resp.Topics[0].Partitions) != 3 {
		t.Fatalf("Metadata v12 by topic ID: %+v, want meta with 3 partitions", resp.Topics)
	}
	if resp.Topics[1].ErrorCode != kerr.UnknownTopicID.Code {
		t.Errorf("Metadata v12 by an unknown topic ID: error %d, want UNKNOWN_TOPIC_ID (100)", resp.Topics[1].ErrorCode)
	}

	// Auto-creation: before v4 always asked for; from v4 only when allowed.
	resp = metadata(t, r, 4, false, []string{"no-auto"})
	if mt, _ := metaTopic(resp, "no-auto"); mt.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("Metadata v4 AllowAutoTopicCreation=false: error %d, want UNKNOWN_TOPIC_OR_PARTITION (3)", mt.ErrorCode)
	}
	for _, tc := range []struct {
		v    int16
		name string
	}{{0, "auto-v0"}, {1, "auto-v1"}, {4, "auto-v4"}, {12, "auto-v12"}} {
		resp = metadata(t, r, tc.v, true, []string{tc.name})
		if mt, _ := metaTopic(resp, tc.name); mt.ErrorCode != 0 || len(mt.Partitions) != 1 || mt.Partitions[0].Leader != 1 {
			t.Errorf("Metadata v%d auto-creating %s: %+v, want 1 partition led by 1 in the same answer", tc.v, tc.name, mt)
		}
	}
	// An invalid name is refused, whatever the request allows.
	for _, bad := range []string{"bad/name", "..", strings.Repeat("x", 250)} {
		resp = metadata(t, r, 9, true, []string{bad})
		if mt, _ := metaTopic(resp, bad); mt.ErrorCode != kerr.InvalidTopicException.Code {
			t.Errorf("Metadata v9 for %.20q: error %d, want INVALID_TOPIC_EXCEPTION (17)", bad, mt.ErrorCode)
		}
	}
	all := metadata(t, r, 1, false, nil)
	var names []string
	for _, mt := range all.Topics {
		names = append(names, *mt.Topic)
	}
	if got := strings.Join(names, ","); got != "auto-v0,auto-v1,auto-v12,auto-v4,meta" {
		t.Errorf("topics after the metadata requests: %s, want only meta and the auto-created ones", got)
	}

	// The cluster ID and topic IDs survive a restart.
	b.stop()
	b.restart()
	r = dialRaw(t, b.addr)
	if got := describeCluster(t, r, 1); got.ClusterID != dc0.ClusterID || got.ControllerID != 1 {
		t.Errorf("after restart: cluster %q controller %d, want %q and 1", got.ClusterID, got.ControllerID, dc0.ClusterID)
	}
	if mt, _ := metaTopic(metadata(t, r, 12, false, []string{"meta"}), "meta"); mt.TopicID != metaID.TopicID {
		t.Errorf("after restart: topic ID %x, want %x", mt.TopicID, metaID.TopicID)
	}
}

// TestE2EAutoCreateDisabled checks --auto.create.topics.enable=false: no
// Metadata version (not even v0, which always asks) creates a topic, and a
// produce to a missing topic is UNKNOWN_TOPIC_OR_PARTITION.
func TestE2EAutoCreateDisabled(t *testing.T) {
	b := startBroker(t, "", "--auto.create.topics.enable=false")
	r := dialRaw(t, b.addr)
	for _, v := range []int16{0, 4, 12} {
		resp := metadata(t, r, v, true, []string{"nope"})
		if mt, _ := metaTopic(resp, "nope"); mt.ErrorCode != kerr.UnknownTopicOrPartition.Code {
			t.Errorf("Metadata v%d with auto-creation disabled: error %d, want UNKNOWN_TOPIC_OR_PARTITION (3)", v, mt.ErrorCode)
		}
	}
	code, _ := produceRaw(t, r, 9, "nope", [16]byte{}, plainBatch(t, "x"))
	if code != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("produce to a missing topic: error %d, want UNKNOWN_TOPIC_OR_PARTITION (3)", code)
	}
	if all := metadata(t, r, 1, false, nil); len(all.Topics) != 0 {
		t.Errorf("%d topics exist, want none", len(all.Topics))
	}
}

var lastBatchMs atomic.Int64

// plainBatch is a non-idempotent batch of the given values, timestamped
// later than every batch built before it (so ListOffsets' max timestamp is
// the newest batch, not a tie).
func plainBatch(t *testing.T, values ...string) []byte {
	t.Helper()
	now := time.Now().UnixMilli()
	for {
		last := lastBatchMs.Load()
		if now <= last {
			now = last + 1
		}
		if lastBatchMs.CompareAndSwap(last, now) {
			break
		}
	}
	b := wire.Batch{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, FirstTimestamp: now, MaxTimestamp: now}
	for _, v := range values {
		b.Records = append(b.Records, wire.Record{Value: []byte(v)})
	}
	out, err := wire.AppendBatch(nil, b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// fetchReq is a one-partition fetch of topic (or id) at offset.
func fetchReq(version int16, topic string, id [16]byte, offset int64, maxWaitMs, minBytes int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.MaxWaitMillis, req.MinBytes = version, maxWaitMs, minBytes
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, id
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.FetchOffset, rp.PartitionMaxBytes = offset, 1<<20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// fetchedValues checks a one-partition fetch answer and returns its record
// values and high watermark.
func fetchedValues(t *testing.T, label string, resp *kmsg.FetchResponse) ([]string, int64) {
	t.Helper()
	if resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("%s: error %d with %d topics", label, resp.ErrorCode, len(resp.Topics))
	}
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 {
		t.Fatalf("%s: partition error %d (%v)", label, p.ErrorCode, kerr.ErrorForCode(p.ErrorCode))
	}
	var out []string
	for data := p.RecordBatches; len(data) > 0; {
		h, err := wire.ParseBatchHeader(data)
		if err != nil || h.Size() > len(data) {
			t.Fatalf("%s: bad batch: %v", label, err)
		}
		recs, err := wire.Records(data[:h.Size()])
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		for _, rec := range recs {
			out = append(out, fmt.Sprintf("%d:%s", h.BaseOffset+int64(rec.OffsetDelta), rec.Value))
		}
		data = data[h.Size():]
	}
	return out, p.HighWatermark
}

// TestE2EProduceFetchListOffsetsVersions drives the data path at chosen
// versions: Produce v3, v7, v9 (flexible) and v13 (topic IDs, KIP-516);
// Produce v2, advertised but refused by closing the connection as Kafka 4
// does (KAFKA-18659); Fetch v4, v11, v13 (topic IDs) and v18; ListOffsets v1
// and v11 (max timestamp, KIP-734); FETCH_SESSION_ID_NOT_FOUND for a session
// never created (KIP-227); and the Fetch long poll, woken by a produce and
// timing out empty.
func TestE2EProduceFetchListOffsetsVersions(t *testing.T) {
	b := startBroker(t, "")
	ctx := testCtx(t)
	if _, err := b.admin(t).CreateTopic(ctx, 1, 1, nil, "pv"); err != nil {
		t.Fatal(err)
	}
	r := dialRaw(t, b.addr)
	id := metaTopicID(t, r, "pv")

	// ApiVersions advertises Produce from v0 and the served ranges.
	avReq := kmsg.NewPtrApiVersionsRequest()
	avReq.Version = 3
	av := r.do(avReq).(*kmsg.ApiVersionsResponse)
	ranges := map[int16][2]int16{}
	for _, k := range av.ApiKeys {
		ranges[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
	}
	for key, want := range map[kmsg.Key][2]int16{kmsg.Produce: {0, 13}, kmsg.Fetch: {4, 18}, kmsg.ListOffsets: {1, 11}, kmsg.Metadata: {0, 13}} {
		if ranges[int16(key)] != want {
			t.Errorf("ApiVersions: %s v%d-%d, want v%d-%d", key.Name(), ranges[int16(key)][0], ranges[int16(key)][1], want[0], want[1])
		}
	}

	var want []string
	for i, v := range []int16{3, 7, 9, 13} {
		topic, tid := "pv", [16]byte{}
		if v >= 13 {
			topic, tid = "", id
		}
		val := fmt.Sprintf("produce-v%d", v)
		code, base := produceRaw(t, r, v, topic, tid, plainBatch(t, val))
		if code != 0 || base != int64(i) {
			t.Errorf("Produce v%d: error %d base offset %d, want 0 and %d", v, code, base, i)
		}
		want = append(want, fmt.Sprintf("%d:%s", i, val))
	}
	if code, _ := produceRaw(t, r, 13, "", [16]byte{9, 9}, plainBatch(t, "lost")); code != kerr.UnknownTopicID.Code {
		t.Errorf("Produce v13 to an unknown topic ID: error %d, want UNKNOWN_TOPIC_ID (100)", code)
	}

	// Produce v2 is advertised but the broker closes the connection.
	c2 := rawConn(t, b.addr)
	p2 := kmsg.NewPtrProduceRequest()
	p2.Version, p2.Acks, p2.TimeoutMillis = 2, -1, 5000
	p2.Topics = []kmsg.ProduceRequestTopic{{Topic: "pv", Partitions: []kmsg.ProduceRequestTopicPartition{{Records: plainBatch(t, "v2")}}}}
	c2.Write(request(p2, 1))
	expectClosed(t, c2, "Produce v2")

	for _, v := range []int16{4, 11, 13, 18} {
		topic, tid := "pv", [16]byte{}
		if v >= 13 {
			topic, tid = "", id
		}
		got, hw := fetchedValues(t, fmt.Sprintf("Fetch v%d", v), r.do(fetchReq(v, topic, tid, 0, 0, 0)).(*kmsg.FetchResponse))
		if strings.Join(got, " ") != strings.Join(want, " ") || hw != 4 {
			t.Errorf("Fetch v%d: %v with high watermark %d, want %v and 4 (nothing from Produce v2)", v, got, hw, want)
		}
	}
	fr := r.do(fetchReq(13, "", [16]byte{7}, 0, 0, 0)).(*kmsg.FetchResponse)
	if len(fr.Topics) != 1 || fr.Topics[0].Partitions[0].ErrorCode != kerr.UnknownTopicID.Code {
		t.Errorf("Fetch v13 of an unknown topic ID: %+v, want UNKNOWN_TOPIC_ID (100)", fr.Topics)
	}
	sess := fetchReq(11, "pv", [16]byte{}, 0, 0, 0)
	sess.SessionID, sess.SessionEpoch = 12345, 1
	if fr := r.do(sess).(*kmsg.FetchResponse); fr.ErrorCode != kerr.FetchSessionIDNotFound.Code {
		t.Errorf("Fetch v11 in an unknown session: error %d, want FETCH_SESSION_ID_NOT_FOUND (70)", fr.ErrorCode)
	}

	// ListOffsets v1 and v11: latest, earliest, max timestamp (v7+).
	for _, v := range []int16{1, 11} {
		stamps := map[int64]int64{-1: 4, -2: 0}
		if v >= 7 {
			stamps[-3] = 3
		}
		for ts, wantOff := range stamps {
			req := kmsg.NewPtrListOffsetsRequest()
			req.Version = v
			rt := kmsg.NewListOffsetsRequestTopic()
			rt.Topic = "pv"
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Timestamp = ts
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			resp := r.do(req).(*kmsg.ListOffsetsResponse)
			p := resp.Topics[0].Partitions[0]
			if p.ErrorCode != 0 || p.Offset != wantOff {
				t.Errorf("ListOffsets v%d timestamp %d: error %d offset %d, want %d", v, ts, p.ErrorCode, p.Offset, wantOff)
			}
		}
	}

	// At the end of the log, MinBytes=1 and a 200 ms wait: an empty answer.
	got, hw := fetchedValues(t, "fetch at the end", r.do(fetchReq(11, "pv", [16]byte{}, 4, 200, 1)).(*kmsg.FetchResponse))
	if len(got) != 0 || hw != 4 {
		t.Errorf("fetch at the end after its wait: %v with high watermark %d, want nothing and 4", got, hw)
	}

	// Long poll: a fetch at the end waits and is answered by the next
	// produce. Its wait is longer than the connection's deadline, so only
	// the produce can answer it in time.
	lp := dialRaw(t, b.addr)
	lp.corr++
	if _, err := lp.c.Write(request(fetchReq(11, "pv", [16]byte{}, 4, 600_000, 1), lp.corr)); err != nil {
		t.Fatal(err)
	}
	done := make(chan *kmsg.FetchResponse, 1)
	go func() {
		resp := kmsg.NewPtrFetchResponse()
		resp.Version = 11
		readResponseErr(lp.c, lp.corr, resp, done)
	}()
	if code, base := produceRaw(t, r, 9, "pv", [16]byte{}, plainBatch(t, "wake up")); code != 0 || base != 4 {
		t.Fatalf("produce during the long poll: error %d base %d", code, base)
	}
	var lresp *kmsg.FetchResponse
	select {
	case lresp = <-done:
	case <-ctx.Done():
		t.Fatal("long-poll fetch not answered")
	}
	if lresp == nil {
		t.Fatal("long-poll fetch: no answer before the connection deadline (not woken by the produce)")
	}
	if got, hw := fetchedValues(t, "long poll", lresp); len(got) != 1 || got[0] != "4:wake up" || hw != 5 {
		t.Errorf("long poll answered %v with high watermark %d, want [4:wake up] and 5", got, hw)
	}
}

// readResponseErr is readResponse for a goroutine: it sends the decoded
// response, or nil on any failure (such as the connection deadline).
func readResponseErr(c net.Conn, corr int32, resp *kmsg.FetchResponse, out chan<- *kmsg.FetchResponse) {
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		out <- nil
		return
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c, body); err != nil || len(body) < 5 || int32(binary.BigEndian.Uint32(body)) != corr {
		out <- nil
		return
	}
	body = body[4:]
	if resp.IsFlexible() {
		body = body[1:] // empty tag buffer
	}
	if err := resp.ReadFrom(body); err != nil {
		out <- nil
		return
	}
	out <- resp
}

func metaTopicID(t *testing.T, r *rawKafka, name string) [16]byte {
	t.Helper()
	mt, ok := metaTopic(metadata(t, r, 12, false, []string{name}), name)
	if !ok || mt.TopicID == ([16]byte{}) {
		t.Fatalf("no topic ID for %s", name)
	}
	return mt.TopicID
}
