package main

// sarama's ClusterAdmin against the real broker (see e2e_admin_clients_test.go).

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// saramaAdmin is sarama's ClusterAdmin speaking the protocol versions of
// Kafka version, with short timeouts.
func saramaAdmin(t *testing.T, b *proc, version sarama.KafkaVersion) sarama.ClusterAdmin {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Version = version
	cfg.ClientID = "sarama-admin"
	cfg.Admin.Timeout = 5 * time.Second
	cfg.Admin.Retry.Backoff = 50 * time.Millisecond
	cfg.Metadata.Retry.Backoff = 50 * time.Millisecond
	cfg.Net.DialTimeout, cfg.Net.ReadTimeout, cfg.Net.WriteTimeout = 5*time.Second, 5*time.Second, 5*time.Second
	adm, err := sarama.NewClusterAdmin([]string{b.addr}, cfg)
	if err != nil {
		t.Fatalf("sarama cluster admin: %v\nbroker log:\n%s", err, txnTail(b.logText()))
	}
	t.Cleanup(func() { adm.Close() })
	return adm
}

// saramaDo runs one sarama call (which takes no context) with a deadline
// of 10 s and returns its error; a call still running then fails the test
// with the broker's log.
func saramaDo(t *testing.T, b *proc, what string, call func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- call() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("sarama %s: no answer in 10 s\nbroker log:\n%s", what, txnTail(b.logText()))
		return nil
	}
}

// saramaMust is saramaDo for a call that must succeed.
func saramaMust(t *testing.T, b *proc, what string, call func() error) {
	t.Helper()
	if err := saramaDo(t, b, what, call); err != nil {
		t.Fatalf("sarama %s: %v\nbroker log:\n%s", what, err, txnTail(b.logText()))
	}
}

// TestE2EAdminClientsSarama: every admin call of sarama's ClusterAdmin
// among DeleteRecords (KIP-107), DescribeLogDirs (KIP-113), client quotas
// (KIP-546, and KIP-219's throttling of sarama's producer), configs
// (DescribeConfigs with synonyms and documentation, AlterConfigs,
// IncrementalAlterConfigs KIP-339, on topics, a broker and the cluster
// default, KIP-226), DescribeCluster and UpdateFeatures (KIP-584), plus
// ListTopics, DescribeTopics and ListOffsets; each result checked as
// sarama reports it and again through kadm. Twice: with Kafka 4.0's
// versions (DeleteRecords v2, DescribeLogDirs v4, quotas v1,
// DescribeConfigs v4, AlterConfigs v2, IncrementalAlterConfigs v1,
// DescribeCluster v2) and with Kafka 2.6's, the oldest sarama sends quotas
// at (DescribeLogDirs v2, quotas v0, DescribeConfigs v3, AlterConfigs v1,
// DescribeCluster answered from Metadata, no UpdateFeatures). The request
// versions are pinned through the recording proxy.
func TestE2EAdminClientsSarama(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		version  sarama.KafkaVersion
		versions map[kmsg.Key]int16 // what sarama sends of each admin API
	}{
		{"kafka-4.0", sarama.V4_0_0_0, map[kmsg.Key]int16{kmsg.DeleteRecords: 2, kmsg.DescribeLogDirs: 4,
			kmsg.DescribeClientQuotas: 1, kmsg.AlterClientQuotas: 1, kmsg.DescribeConfigs: 4, kmsg.AlterConfigs: 2,
			kmsg.IncrementalAlterConfigs: 1, kmsg.DescribeCluster: 2, kmsg.UpdateFeatures: 0}},
		{"kafka-2.6", sarama.V2_6_0_0, map[kmsg.Key]int16{kmsg.DeleteRecords: 2, kmsg.DescribeLogDirs: 2,
			kmsg.DescribeClientQuotas: 0, kmsg.AlterClientQuotas: 0, kmsg.DescribeConfigs: 3, kmsg.AlterConfigs: 1,
			kmsg.IncrementalAlterConfigs: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, px := startProxiedBroker(t, "--log.retention.ms=1234")
			adm := saramaAdmin(t, b, tc.version)
			ka := b.admin(t)
			id := brokerID(t, b)
			saramaAdminDeleteRecords(t, b, adm, ka, tc.version)
			saramaAdminLogDirs(t, b, adm, ka, id, tc.version)
			saramaAdminQuotas(t, b, adm, ka)
			if tc.version == sarama.V4_0_0_0 {
				saramaQuotaThrottle(t, b, id, tc.version)
			}
			saramaAdminTopicConfigs(t, b, adm, ka)
			saramaAdminBrokerConfigs(t, b, adm, ka, id)
			saramaAdminCluster(t, b, adm, ka, id, tc.version)
			want := map[int16][]int16{}
			for k, v := range tc.versions {
				want[k.Int16()] = []int16{v}
			}
			admVersions(t, px, "sarama-admin", want)
		})
	}
}

// saramaAdminDeleteRecords: DeleteRecords moves partition 0's start to 4
// and partition 1's to its high watermark (-1); kadm and sarama's own
// ListOffsets read the new starts; an offset past the high watermark is
// OFFSET_OUT_OF_RANGE.
func saramaAdminDeleteRecords(t *testing.T, b *proc, adm sarama.ClusterAdmin, ka *kadm.Client, version sarama.KafkaVersion) {
	t.Helper()
	cgCreateTopic(t, b, "sarama-dr", 2)
	cgProduce(t, b, "sarama-dr", 2, 0, 20)
	saramaMust(t, b, "DeleteRecords", func() error { return adm.DeleteRecords("sarama-dr", map[int32]int64{0: 4, 1: -1}) })
	if got := admStartOffsets(t, b, ka, "sarama-dr"); !maps.Equal(got, map[int32]int64{0: 4, 1: 10}) {
		t.Fatalf("kadm: log starts %v after sarama's DeleteRecords, want 0:4 1:10", got)
	}
	var offs map[string]map[int32]*sarama.OffsetResult
	saramaMust(t, b, "ListOffsets", func() (err error) {
		offs, err = adm.ListOffsets(map[string]map[int32]int64{"sarama-dr": {0: sarama.OffsetOldest, 1: sarama.OffsetOldest}}, nil)
		return err
	})
	for p, want := range map[int32]int64{0: 4, 1: 10} {
		if r := offs["sarama-dr"][p]; r == nil || r.Err != nil && !errors.Is(r.Err, sarama.ErrNoError) || r.Offset != want {
			t.Fatalf("sarama ListOffsets earliest of partition %d: %+v, want %d", p, r, want)
		}
	}
	err := saramaDo(t, b, "DeleteRecords past the end", func() error { return adm.DeleteRecords("sarama-dr", map[int32]int64{0: 11}) })
	if !errors.Is(err, sarama.ErrOffsetOutOfRange) {
		t.Fatalf("sarama DeleteRecords past the high watermark: %v, want OFFSET_OUT_OF_RANGE", err)
	}
	if got := admStartOffsets(t, b, ka, "sarama-dr"); got[0] != 4 {
		t.Fatalf("kadm: log start of partition 0 %d after a refused DeleteRecords, want 4", got[0])
	}
}

// saramaAdminLogDirs: DescribeLogDirs answers the data directory with
// sarama-dr's partitions at the sizes kadm reads, and (v4) the volume's
// total and usable bytes.
func saramaAdminLogDirs(t *testing.T, b *proc, adm sarama.ClusterAdmin, ka *kadm.Client, id int32, version sarama.KafkaVersion) {
	t.Helper()
	var dirs map[int32][]sarama.DescribeLogDirsResponseDirMetadata
	saramaMust(t, b, "DescribeLogDirs", func() (err error) {
		dirs, err = adm.DescribeLogDirs([]int32{id})
		return err
	})
	kd, err := ka.DescribeBrokerLogDirs(testCtx(t), id, kadm.TopicsSet{"sarama-dr": {0: {}, 1: {}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs[id]) != 1 || dirs[id][0].Path != b.dataDir || dirs[id][0].ErrorCode != sarama.ErrNoError {
		t.Fatalf("sarama DescribeLogDirs of broker %d: %+v, want the one directory %s", id, dirs, b.dataDir)
	}
	d := dirs[id][0]
	sizes := map[int32]int64{}
	for _, tp := range d.Topics {
		if tp.Topic != "sarama-dr" {
			continue
		}
		for _, p := range tp.Partitions {
			sizes[p.PartitionID] = p.Size
			if p.OffsetLag != 0 || p.IsTemporary {
				t.Errorf("sarama DescribeLogDirs: sarama-dr/%d lag %d future %v, want 0 and false", p.PartitionID, p.OffsetLag, p.IsTemporary)
			}
		}
	}
	for p := range int32(2) {
		kp, ok := kd.LookupPartition("sarama-dr", p)
		// Partition 0 keeps records 4-9; partition 1, emptied to its
		// high watermark, may have dropped its only segment.
		if !ok || sizes[p] != kp.Size || p == 0 && sizes[p] <= 0 {
			t.Fatalf("sarama-dr/%d: sarama reads size %d, kadm %d (%v); want the same (above 0 for partition 0)", p, sizes[p], kp.Size, ok)
		}
	}
	if version.IsAtLeast(sarama.V3_3_0_0) && (d.TotalBytes <= 0 || d.UsableBytes <= 0 || d.UsableBytes > d.TotalBytes || d.TotalBytes != kd[b.dataDir].TotalBytes) {
		t.Fatalf("sarama DescribeLogDirs v4: total %d usable %d bytes, kadm total %d", d.TotalBytes, d.UsableBytes, kd[b.dataDir].TotalBytes)
	}
}

func saramaClientID(name string) []sarama.QuotaEntityComponent {
	return []sarama.QuotaEntityComponent{{EntityType: sarama.QuotaEntityClientID, MatchType: sarama.QuotaMatchExact, Name: name}}
}

// saramaAdminQuotas: quotas sarama sets on a client ID are what kadm
// describes (a validate-only one is not), a bad key is refused with the
// broker's message, sarama describes what kadm set (the default client
// ID, strict or not), and a quota sarama removes is gone.
func saramaAdminQuotas(t *testing.T, b *proc, adm sarama.ClusterAdmin, ka *kadm.Client) {
	t.Helper()
	ctx := testCtx(t)
	const name = "sarama-q"
	alter := func(op sarama.ClientQuotasOp, validate bool) error {
		return saramaDo(t, b, "AlterClientQuotas", func() error { return adm.AlterClientQuotas(saramaClientID(name), op, validate) })
	}
	for _, op := range []sarama.ClientQuotasOp{{Key: "producer_byte_rate", Value: 10240}, {Key: "consumer_byte_rate", Value: 20480}} {
		if err := alter(op, false); err != nil {
			t.Fatalf("sarama AlterClientQuotas %s: %v", op.Key, err)
		}
	}
	if err := alter(sarama.ClientQuotasOp{Key: "request_percentage", Value: 50}, true); err != nil {
		t.Fatalf("sarama AlterClientQuotas validate-only: %v", err)
	}
	if err := alter(sarama.ClientQuotasOp{Key: "no_such_quota", Value: 1}, false); err == nil || !strings.Contains(err.Error(), "unknown quota key") {
		t.Fatalf("sarama AlterClientQuotas no_such_quota: %v, want the broker's message about an unknown quota key", err)
	}
	want := map[string]float64{"producer_byte_rate": 10240, "consumer_byte_rate": 20480}
	exact := kadm.DescribeClientQuotaComponent{Type: "client-id", MatchName: quotaName(name)}
	if got := describeQuotas(t, ctx, ka, false, exact); !maps.Equal(got["{client-id="+name+"}"], want) || len(got) != 1 {
		t.Fatalf("kadm describes %v after sarama's AlterClientQuotas, want %s: %v", got, name, want)
	}
	setQuotaEntity(t, ctx, ka, kadm.ClientQuotaEntity{{Type: "client-id"}}, "request_percentage", 25)
	setQuotaEntity(t, ctx, ka, kadm.ClientQuotaEntity{{Type: "user", Name: quotaName("alice")}, {Type: "client-id", Name: quotaName(name)}}, "request_percentage", 30)

	describe := func(strict bool, f ...sarama.QuotaFilterComponent) map[string]map[string]float64 {
		var es []sarama.DescribeClientQuotasEntry
		saramaMust(t, b, "DescribeClientQuotas", func() (err error) { es, err = adm.DescribeClientQuotas(f, strict); return err })
		out := map[string]map[string]float64{}
		for _, e := range es {
			out[saramaEntity(e.Entity)] = e.Values
		}
		return out
	}
	anyClient := sarama.QuotaFilterComponent{EntityType: sarama.QuotaEntityClientID, MatchType: sarama.QuotaMatchAny}
	got := describe(true, anyClient)
	if len(got) != 2 || !maps.Equal(got["client-id="+name], want) || got["client-id=<default>"]["request_percentage"] != 25 {
		t.Fatalf("sarama DescribeClientQuotas any client-id, strict: %v", got)
	}
	if got = describe(false, anyClient); len(got) != 3 || got["client-id="+name+",user=alice"]["request_percentage"] != 30 {
		t.Fatalf("sarama DescribeClientQuotas any client-id: %v, want also alice's", got)
	}
	got = describe(false, sarama.QuotaFilterComponent{EntityType: sarama.QuotaEntityClientID, MatchType: sarama.QuotaMatchDefault})
	if len(got) != 1 || got["client-id=<default>"]["request_percentage"] != 25 {
		t.Fatalf("sarama DescribeClientQuotas default client-id: %v", got)
	}
	if err := alter(sarama.ClientQuotasOp{Key: "consumer_byte_rate", Remove: true}, false); err != nil {
		t.Fatalf("sarama AlterClientQuotas remove: %v", err)
	}
	if got := describeQuotas(t, ctx, ka, true, exact); !maps.Equal(got["{client-id="+name+"}"], map[string]float64{"producer_byte_rate": 10240}) {
		t.Fatalf("kadm describes %v after sarama removed consumer_byte_rate", got)
	}
}

// saramaEntity is an entity as "type=name,..." sorted by type (Kafka
// keeps the components in no order), <default> for a default name.
func saramaEntity(cs []sarama.QuotaEntityComponent) string {
	var parts []string
	for _, c := range cs {
		n := c.Name
		if c.MatchType == sarama.QuotaMatchDefault {
			n = "<default>"
		}
		parts = append(parts, string(c.EntityType)+"="+n)
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// saramaQuotaThrottle (KIP-219): sarama's producer with the client ID
// whose producer_byte_rate is 10 KiB/s (saramaAdminQuotas) is answered
// with a throttle time once it passes the first burst (ten windows of the
// quota), which sarama records in its throttle-time-in-ms histogram and
// waits out before its next request.
func saramaQuotaThrottle(t *testing.T, b *proc, id int32, version sarama.KafkaVersion) {
	t.Helper()
	cgCreateTopic(t, b, "sarama-quota", 1)
	cfg := sarama.NewConfig()
	cfg.Version = version
	cfg.ClientID = "sarama-q"
	cfg.Producer.Return.Successes = true
	cfg.Producer.Compression = sarama.CompressionNone
	prod, err := sarama.NewSyncProducer([]string{b.addr}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	throttles := func() int64 {
		h, ok := cfg.MetricRegistry.Get(fmt.Sprintf("throttle-time-in-ms-for-broker-%d", id)).(interface{ Count() int64 })
		if !ok {
			return 0
		}
		return h.Count()
	}
	value := make([]byte, 8<<10)
	sent := 0
	for ; sent < 40 && throttles() == 0; sent++ {
		err := saramaDo(t, b, "produce", func() error {
			_, _, err := prod.SendMessage(&sarama.ProducerMessage{Topic: "sarama-quota", Value: sarama.ByteEncoder(value)})
			return err
		})
		if err != nil {
			t.Fatalf("sarama produce %d: %v", sent, err)
		}
	}
	if throttles() == 0 {
		t.Fatalf("sarama's producer with producer_byte_rate 10240 sent %d records of 8 KiB and was never throttled", sent)
	}
	t.Logf("sarama's producer throttled after %d records of 8 KiB", sent)
}

// saramaConfigs describes one resource with sarama (synonyms and
// documentation asked for) and returns its entries by name.
func saramaConfigs(t *testing.T, b *proc, adm sarama.ClusterAdmin, typ sarama.ConfigResourceType, name string) map[string]sarama.ConfigEntry {
	t.Helper()
	var rs []*sarama.ConfigResourceResult
	saramaMust(t, b, "DescribeConfigs "+name, func() (err error) {
		rs, err = adm.DescribeConfigs([]*sarama.ConfigResource{{Type: typ, Name: name}},
			sarama.DescribeConfigsOptions{IncludeSynonyms: true, IncludeDocumentation: true})
		return err
	})
	if len(rs) != 1 || rs[0].ErrorCode != sarama.ErrNoError {
		t.Fatalf("sarama DescribeConfigs %q: %+v", name, rs)
	}
	out := map[string]sarama.ConfigEntry{}
	for _, e := range rs[0].Configs {
		out[e.Name] = e
	}
	return out
}

// wantSarama checks a setting as sarama describes it.
func wantSarama(t *testing.T, label string, cs map[string]sarama.ConfigEntry, name, value string, source sarama.ConfigSource) {
	t.Helper()
	if c, ok := cs[name]; !ok || c.Value != value || c.Source != source || c.Default != (source == sarama.SourceDefault) {
		t.Errorf("sarama %s: %s = %q from %v (default %v, described %v), want %q from %v", label, name, c.Value, c.Source, c.Default, ok, value, source)
	}
}

// saramaAlterErr checks an alter's error is the Kafka error want.
func saramaAlterErr(t *testing.T, label string, err error, want sarama.KError) {
	t.Helper()
	var ae *sarama.AlterConfigError
	if errors.As(err, &ae) && ae.Err == want && ae.ErrMsg != "" || errors.Is(err, want) {
		return
	}
	t.Errorf("sarama %s: %v, want %v with a message", label, err, want)
}

// saramaAdminTopicConfigs: sarama describes the override kadm set, with
// synonyms, type and documentation; its AlterConfigs replaces the whole
// set (validate-only and bad values change nothing); its
// IncrementalAlterConfigs appends to, subtracts from and deletes
// settings; kadm sees each change.
func saramaAdminTopicConfigs(t *testing.T, b *proc, adm sarama.ClusterAdmin, ka *kadm.Client) {
	t.Helper()
	ctx := testCtx(t)
	const topic = "sarama-cfg"
	s := kadm.StringPtr
	if _, err := ka.CreateTopic(ctx, 1, 1, map[string]*string{"segment.ms": s("7200000")}, topic); err != nil {
		t.Fatal(err)
	}
	res := sarama.TopicResource
	cs := saramaConfigs(t, b, adm, res, topic)
	wantSarama(t, "describe", cs, "segment.ms", "7200000", sarama.SourceTopic)
	wantSarama(t, "describe", cs, "retention.ms", "1234", sarama.SourceStaticBroker)
	wantSarama(t, "describe", cs, "segment.bytes", "1073741824", sarama.SourceDefault)
	rt := cs["retention.ms"]
	if syn := saramaSynonyms(rt.Synonyms); syn != "log.retention.ms=1234/4 log.retention.ms=604800000/5" {
		t.Errorf("sarama: retention.ms synonyms %s", syn)
	}
	if rt.Type != sarama.LongConfigType || rt.Documentation == nil || *rt.Documentation == "" {
		t.Errorf("sarama: retention.ms type %v documentation %v, want LONG and a text", rt.Type, rt.Documentation)
	}

	alter := func(validate bool, kv ...string) error {
		m := map[string]*string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = s(kv[i+1])
		}
		return saramaDo(t, b, "AlterConfig", func() error { return adm.AlterConfig(res, topic, m, validate) })
	}
	if err := alter(false, "retention.ms", "86400000", "max.message.bytes", "300000"); err != nil {
		t.Fatalf("sarama AlterConfig: %v", err)
	}
	if err := alter(true, "retention.ms", "1"); err != nil {
		t.Fatalf("sarama AlterConfig validate-only: %v", err)
	}
	saramaAlterErr(t, "AlterConfig retention.ms=forever", alter(false, "retention.ms", "forever"), sarama.ErrInvalidConfig)
	kc := describeConfigs(t, ctx, ka, topic)
	wantConfig(t, "kadm after sarama's AlterConfig", kc, "retention.ms", "86400000", srcTopic)
	wantConfig(t, "kadm after sarama's AlterConfig", kc, "max.message.bytes", "300000", srcTopic)
	wantConfig(t, "kadm after sarama's AlterConfig (replaced)", kc, "segment.ms", "604800000", srcDefault)

	inc := func(e map[string]sarama.IncrementalAlterConfigsEntry) error {
		return saramaDo(t, b, "IncrementalAlterConfig", func() error { return adm.IncrementalAlterConfig(res, topic, e, false) })
	}
	err := inc(map[string]sarama.IncrementalAlterConfigsEntry{
		"cleanup.policy": {Operation: sarama.IncrementalAlterConfigsOperationAppend, Value: s("compact")},
		"retention.ms":   {Operation: sarama.IncrementalAlterConfigsOperationDelete},
	})
	if err != nil {
		t.Fatalf("sarama IncrementalAlterConfig append and delete: %v", err)
	}
	kc = describeConfigs(t, ctx, ka, topic)
	wantConfig(t, "kadm after sarama's append", kc, "cleanup.policy", "delete,compact", srcTopic)
	wantConfig(t, "kadm after sarama's delete", kc, "retention.ms", "1234", srcStatic)
	wantConfig(t, "kadm after sarama's incremental alter", kc, "max.message.bytes", "300000", srcTopic)
	if err := inc(map[string]sarama.IncrementalAlterConfigsEntry{
		"cleanup.policy": {Operation: sarama.IncrementalAlterConfigsOperationSubtract, Value: s("delete")}}); err != nil {
		t.Fatalf("sarama IncrementalAlterConfig subtract: %v", err)
	}
	err = inc(map[string]sarama.IncrementalAlterConfigsEntry{"retention.ms": {Operation: sarama.IncrementalAlterConfigsOperationAppend, Value: s("1")}})
	if !errors.Is(err, sarama.ErrInvalidConfig) {
		t.Errorf("sarama IncrementalAlterConfig append to retention.ms: %v, want INVALID_CONFIG", err)
	}
	cs = saramaConfigs(t, b, adm, res, topic)
	wantSarama(t, "describe after alters", cs, "cleanup.policy", "compact", sarama.SourceTopic)
	wantSarama(t, "describe after alters", cs, "max.message.bytes", "300000", sarama.SourceTopic)
	wantConfig(t, "kadm after sarama's subtract", describeConfigs(t, ctx, ka, topic), "cleanup.policy", "compact", srcTopic)
}

func saramaSynonyms(ss []*sarama.ConfigSynonym) string {
	s := ""
	for i, y := range ss {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%s=%s/%d", y.ConfigName, y.ConfigValue, y.Source)
	}
	return s
}

// saramaAdminBrokerConfigs: sarama describes broker id's static flag;
// its AlterConfig sets a per-broker value and its IncrementalAlterConfig
// the cluster default (resource "") and then deletes the per-broker
// value, each seen by kadm and inherited by a topic; a read-only setting
// is refused with INVALID_REQUEST.
func saramaAdminBrokerConfigs(t *testing.T, b *proc, adm sarama.ClusterAdmin, ka *kadm.Client, id int32) {
	t.Helper()
	ctx := testCtx(t)
	s := kadm.StringPtr
	res, bid := sarama.BrokerResource, strconv.Itoa(int(id))
	cs := saramaConfigs(t, b, adm, res, bid)
	wantSarama(t, "broker", cs, "log.retention.ms", "1234", sarama.SourceStaticBroker)
	wantSarama(t, "broker", cs, "num.partitions", "1", sarama.SourceDefault)

	saramaMust(t, b, "AlterConfig broker", func() error {
		return adm.AlterConfig(res, bid, map[string]*string{"log.retention.ms": s("3600000")}, false)
	})
	wantConfig(t, "kadm broker after sarama's AlterConfig", describeConfigs(t, ctx, ka, "", id), "log.retention.ms", "3600000", srcDynBroker)
	wantConfig(t, "kadm topic after sarama's broker AlterConfig", describeConfigs(t, ctx, ka, "sarama-dr"), "retention.ms", "3600000", srcDynBroker)
	saramaMust(t, b, "IncrementalAlterConfig cluster default", func() error {
		return adm.IncrementalAlterConfig(res, "", map[string]sarama.IncrementalAlterConfigsEntry{
			"log.retention.ms": {Operation: sarama.IncrementalAlterConfigsOperationSet, Value: s("5000")}}, false)
	})
	wantConfig(t, "kadm cluster default after sarama's IncrementalAlterConfig", describeConfigs(t, ctx, ka, ""), "log.retention.ms", "5000", srcDynDefault)
	wantConfig(t, "kadm broker after sarama set the cluster default", describeConfigs(t, ctx, ka, "", id), "log.retention.ms", "3600000", srcDynBroker)
	saramaMust(t, b, "IncrementalAlterConfig broker delete", func() error {
		return adm.IncrementalAlterConfig(res, bid, map[string]sarama.IncrementalAlterConfigsEntry{
			"log.retention.ms": {Operation: sarama.IncrementalAlterConfigsOperationDelete}}, false)
	})
	wantConfig(t, "kadm topic after sarama deleted the broker's value", describeConfigs(t, ctx, ka, "sarama-dr"), "retention.ms", "5000", srcDynDefault)
	wantSarama(t, "cluster default", saramaConfigs(t, b, adm, res, ""), "log.retention.ms", "5000", sarama.SourceDynamicDefaultBroker)
	wantSarama(t, "broker", saramaConfigs(t, b, adm, res, bid), "log.retention.ms", "5000", sarama.SourceDynamicDefaultBroker)
	err := saramaDo(t, b, "AlterConfig read-only", func() error {
		return adm.AlterConfig(res, bid, map[string]*string{"auto.create.topics.enable": s("false")}, false)
	})
	saramaAlterErr(t, "AlterConfig auto.create.topics.enable", err, sarama.ErrInvalidRequest)
}

// saramaAdminCluster: DescribeCluster (DescribeCluster v2, or Metadata
// before Kafka 2.8) names the broker and the controller kadm's Metadata
// names; ListTopics and DescribeTopics see the topics with their
// partitions and overrides; UpdateFeatures v0 downgrades metadata.version
// (AllowDowngrade) and upgrades it back, as ApiVersions v3 then reports,
// and refuses a downgrade not allowed.
func saramaAdminCluster(t *testing.T, b *proc, adm sarama.ClusterAdmin, ka *kadm.Client, id int32, version sarama.KafkaVersion) {
	t.Helper()
	ctx := testCtx(t)
	md, err := ka.BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var brokers []*sarama.Broker
	var controller int32
	saramaMust(t, b, "DescribeCluster", func() (err error) { brokers, controller, err = adm.DescribeCluster(); return err })
	if len(brokers) != 1 || brokers[0].ID() != id || brokers[0].Addr() != b.addr || controller != md.Controller || controller != id {
		t.Fatalf("sarama DescribeCluster: %d brokers (first %v), controller %d; kadm: controller %d, want broker %d at %s",
			len(brokers), brokers, controller, md.Controller, id, b.addr)
	}
	var topics map[string]sarama.TopicDetail
	saramaMust(t, b, "ListTopics", func() (err error) { topics, err = adm.ListTopics(); return err })
	if d := topics["sarama-cfg"]; d.NumPartitions != 1 || d.ReplicationFactor != 1 || d.ConfigEntries["max.message.bytes"] == nil ||
		*d.ConfigEntries["max.message.bytes"] != "300000" || topics["sarama-dr"].NumPartitions != 2 {
		t.Fatalf("sarama ListTopics: %v", topics)
	}
	var tms []*sarama.TopicMetadata
	saramaMust(t, b, "DescribeTopics", func() (err error) { tms, err = adm.DescribeTopics([]string{"sarama-dr"}); return err })
	if len(tms) != 1 || tms[0].Err != sarama.ErrNoError || len(tms[0].Partitions) != 2 || tms[0].Partitions[0].Leader != id {
		t.Fatalf("sarama DescribeTopics: %+v", tms)
	}

	update := func(level int16, allowDowngrade bool) []sarama.UpdatableFeatureResult {
		var rs []sarama.UpdatableFeatureResult
		saramaMust(t, b, "UpdateFeatures", func() (err error) {
			rs, err = adm.UpdateFeatures([]sarama.FeatureUpdate{{Feature: "metadata.version", MaxVersionLevel: level, AllowDowngrade: allowDowngrade}})
			return err
		})
		return rs
	}
	if !version.IsAtLeast(sarama.V2_7_0_0) {
		return // sarama sends UpdateFeatures from Kafka 2.7
	}
	if rs := update(21, false); len(rs) != 1 || rs[0].ErrorCode != sarama.ErrInvalidUpdateVersion {
		t.Fatalf("sarama UpdateFeatures downgrade not allowed: %+v, want INVALID_UPDATE_VERSION", rs)
	}
	for _, level := range []int16{21, 25} {
		if rs := update(level, level == 21); len(rs) != 1 || rs[0].ErrorCode != sarama.ErrNoError {
			t.Fatalf("sarama UpdateFeatures metadata.version %d: %+v", level, rs)
		}
		if got, _, _, _ := finalizedMetadataVersion(t, ctx, b); got != level {
			t.Fatalf("ApiVersions v3 after sarama's UpdateFeatures to %d: metadata.version %d", level, got)
		}
	}
}
