package main

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func quotaName(s string) *string { return &s }

// describeQuotas describes with one filter component and returns each
// entity (kadm's String form) with its values.
func describeQuotas(t *testing.T, ctx context.Context, adm *kadm.Client, strict bool, comps ...kadm.DescribeClientQuotaComponent) map[string]map[string]float64 {
	t.Helper()
	described, err := adm.DescribeClientQuotas(ctx, strict, comps)
	if err != nil {
		t.Fatalf("DescribeClientQuotas %+v: %v", comps, err)
	}
	out := map[string]map[string]float64{}
	for _, d := range described {
		vals := map[string]float64{}
		for _, v := range d.Values {
			vals[v.Key] = v.Value
		}
		out[d.Entity.String()] = vals
	}
	return out
}

func entityKeys(m map[string]map[string]float64) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// TestE2EClientQuotasAdmin (KIP-546, AlterClientQuotas and
// DescribeClientQuotas v1 through kadm): quotas set on a client ID, the
// default client ID and a user with a client ID are described by exact,
// default and any matches (strict or not), removed, refused with a message
// when a key or value is bad, left alone by ValidateOnly, and still there
// after a restart.
func TestE2EClientQuotasAdmin(t *testing.T) {
	t.Parallel()
	b := startBroker(t, "")
	ctx := testCtx(t)
	adm := b.admin(t)
	clientX := kadm.ClientQuotaEntity{{Type: "client-id", Name: quotaName("X")}}
	clientDefault := kadm.ClientQuotaEntity{{Type: "client-id"}}
	userClient := kadm.ClientQuotaEntity{{Type: "user", Name: quotaName("alice")}, {Type: "client-id", Name: quotaName("X")}}
	alter := func(validate bool, e kadm.ClientQuotaEntity, ops ...kadm.AlterClientQuotaOp) (error, string) {
		t.Helper()
		entry := []kadm.AlterClientQuotaEntry{{Entity: e, Ops: ops}}
		var res kadm.AlteredClientQuotas
		var err error
		if validate {
			res, err = adm.ValidateAlterClientQuotas(ctx, entry)
		} else {
			res, err = adm.AlterClientQuotas(ctx, entry)
		}
		if err != nil || len(res) != 1 {
			t.Fatalf("AlterClientQuotas %v: %v (%d results)", e, err, len(res))
		}
		return res[0].Err, res[0].ErrMessage
	}
	set := func(k string, v float64) kadm.AlterClientQuotaOp { return kadm.AlterClientQuotaOp{Key: k, Value: v} }
	for _, c := range []struct {
		e   kadm.ClientQuotaEntity
		ops []kadm.AlterClientQuotaOp
	}{
		{clientX, []kadm.AlterClientQuotaOp{set("producer_byte_rate", 1024), set("consumer_byte_rate", 2048)}},
		{clientDefault, []kadm.AlterClientQuotaOp{set("producer_byte_rate", 512), set("request_percentage", 12.5)}},
		{userClient, []kadm.AlterClientQuotaOp{set("controller_mutation_rate", 3)}},
		{kadm.ClientQuotaEntity{{Type: "ip", Name: quotaName("10.0.0.1")}}, []kadm.AlterClientQuotaOp{set("connection_creation_rate", 7)}},
	} {
		if err, msg := alter(false, c.e, c.ops...); err != nil {
			t.Fatalf("set %v: %v %s", c.e, err, msg)
		}
	}
	for _, bad := range []struct {
		e    kadm.ClientQuotaEntity
		op   kadm.AlterClientQuotaOp
		want string
	}{
		{clientX, set("no_such_quota", 1), "unknown quota key"},
		{clientX, set("producer_byte_rate", -5), "must be positive"},
		{clientX, set("producer_byte_rate", 0), "must be positive"},
		{clientX, set("consumer_byte_rate", 10.5), "whole number"},
		{clientX, set("connection_creation_rate", 1), "unknown quota key"},
		{kadm.ClientQuotaEntity{{Type: "ip", Name: quotaName("not-an-ip")}}, set("connection_creation_rate", 1), "not a valid IP"},
		{kadm.ClientQuotaEntity{{Type: "ip"}, {Type: "user"}}, set("producer_byte_rate", 1), "cannot be combined"},
		{kadm.ClientQuotaEntity{{Type: "group", Name: quotaName("g")}}, set("producer_byte_rate", 1), "entity type"},
	} {
		err, msg := alter(false, bad.e, bad.op)
		if !errors.Is(err, kerr.InvalidRequest) || !strings.Contains(msg, bad.want) {
			t.Fatalf("%v %s=%v: %v %q, want INVALID_REQUEST saying %q", bad.e, bad.op.Key, bad.op.Value, err, msg, bad.want)
		}
	}
	if err, msg := alter(true, clientX, set("producer_byte_rate", 1)); err != nil {
		t.Fatalf("validate only: %v %s", err, msg)
	}

	check := func(when string) {
		t.Helper()
		exact := describeQuotas(t, ctx, adm, false, kadm.DescribeClientQuotaComponent{Type: "client-id", MatchName: quotaName("X")})
		if got := entityKeys(exact); !slices.Equal(got, []string{"{client-id=X, user=alice}", "{client-id=X}"}) &&
			!slices.Equal(got, []string{"{client-id=X}", "{user=alice, client-id=X}"}) {
			t.Fatalf("%s: exact client-id=X: %v", when, exact)
		}
		if v := exact["{client-id=X}"]; v["producer_byte_rate"] != 1024 || v["consumer_byte_rate"] != 2048 || len(v) != 2 {
			t.Fatalf("%s: client-id=X values %v (validate-only must not change them)", when, v)
		}
		strict := describeQuotas(t, ctx, adm, true, kadm.DescribeClientQuotaComponent{Type: "client-id", MatchName: quotaName("X")})
		if len(strict) != 1 || strict["{client-id=X}"] == nil {
			t.Fatalf("%s: strict exact client-id=X: %v", when, strict)
		}
		dflt := describeQuotas(t, ctx, adm, false, kadm.DescribeClientQuotaComponent{Type: "client-id", MatchType: 1})
		if v := dflt["{client-id=<default>}"]; len(dflt) != 1 || v["producer_byte_rate"] != 512 || v["request_percentage"] != 12.5 {
			t.Fatalf("%s: default client-id: %v", when, dflt)
		}
		anyClient := describeQuotas(t, ctx, adm, true, kadm.DescribeClientQuotaComponent{Type: "client-id", MatchType: 2})
		if len(anyClient) != 2 || anyClient["{client-id=X}"] == nil || anyClient["{client-id=<default>}"] == nil {
			t.Fatalf("%s: strict any client-id: %v", when, anyClient)
		}
		if all := describeQuotas(t, ctx, adm, false); len(all) != 4 {
			t.Fatalf("%s: no filter: %v, want 4 entities", when, all)
		}
		ip := describeQuotas(t, ctx, adm, false, kadm.DescribeClientQuotaComponent{Type: "ip", MatchType: 2})
		if ip["{ip=10.0.0.1}"]["connection_creation_rate"] != 7 || len(ip) != 1 {
			t.Fatalf("%s: any ip: %v", when, ip)
		}
	}
	check("after setting")
	if _, err := adm.DescribeClientQuotas(ctx, false, []kadm.DescribeClientQuotaComponent{{Type: "client-id"}}); !errors.Is(err, kerr.InvalidRequest) {
		t.Fatalf("exact match with no name: %v, want INVALID_REQUEST", err)
	}
	b.stop()
	b.restart()
	check("after a restart")
	if err, msg := alter(false, userClient, kadm.AlterClientQuotaOp{Key: "controller_mutation_rate", Remove: true}); err != nil {
		t.Fatalf("remove: %v %s", err, msg)
	}
	if got := describeQuotas(t, ctx, adm, false, kadm.DescribeClientQuotaComponent{Type: "user", MatchType: 2}); len(got) != 0 {
		t.Fatalf("after removing the user's only quota: %v", got)
	}
}

// setQuota sets one quota on one client ID.
func setQuota(t *testing.T, ctx context.Context, adm *kadm.Client, clientID, key string, v float64) {
	t.Helper()
	res, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{
		Entity: kadm.ClientQuotaEntity{{Type: "client-id", Name: &clientID}},
		Ops:    []kadm.AlterClientQuotaOp{{Key: key, Value: v}},
	}})
	if err != nil || len(res) != 1 || res[0].Err != nil {
		t.Fatalf("set %s for %s: %v %+v", key, clientID, err, res)
	}
}

// throttleHook counts the throttle times a client was given.
type throttleHook struct{ n, maxMs atomic.Int64 }

func (h *throttleHook) OnBrokerThrottle(_ kgo.BrokerMetadata, d time.Duration, _ bool) {
	if d > 0 {
		h.n.Add(1)
		if ms := d.Milliseconds(); ms > h.maxMs.Load() {
			h.maxMs.Store(ms)
		}
	}
}

const quotaRate = 200 << 10 // bytes per second

// quotaBound is what a client held to quotaRate may have moved in elapsed:
// twice the rate over the time, plus the first burst Kafka's rate allows
// (ten one-second windows of the quota), plus slack.
func quotaBound(elapsed time.Duration, slack int64) int64 {
	return int64(2*quotaRate*elapsed.Seconds()) + 10*quotaRate + slack
}

// produceFor produces 1 KiB records as fast as the client goes for d and
// returns the value bytes acknowledged within d and the time taken.
func produceFor(t *testing.T, cl *kgo.Client, topic string, d time.Duration) (int64, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	var acked atomic.Int64
	var wg sync.WaitGroup
	value := make([]byte, 1024)
	for ctx.Err() == nil {
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Topic: topic, Value: value}, func(r *kgo.Record, err error) {
			defer wg.Done()
			if err == nil && ctx.Err() == nil {
				acked.Add(int64(len(r.Value)))
			}
		})
	}
	elapsed := time.Since(start)
	wg.Wait()
	return acked.Load(), elapsed
}

// TestE2EProduceQuota (KIP-13, KIP-219): a producer whose client ID has
// producer_byte_rate = 200 KiB/s, producing as fast as it can for 4 s,
// gets throttle times and moves no more than the quota allows (with a
// generous bound: no timing is tight); a producer with another client ID
// is not throttled.
func TestE2EProduceQuota(t *testing.T) {
	t.Parallel()
	b := startBroker(t, "")
	ctx := testCtx(t)
	adm := b.admin(t)
	if _, err := adm.CreateTopics(ctx, 1, 1, nil, "pq"); err != nil {
		t.Fatal(err)
	}
	setQuota(t, ctx, adm, "X", "producer_byte_rate", quotaRate)
	var hx, hy throttleHook
	opts := []kgo.Opt{kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerBatchMaxBytes(64 << 10), kgo.DefaultProduceTopic("pq")}
	x := b.client(t, append(opts, kgo.ClientID("X"), kgo.WithHooks(&hx))...)
	n, elapsed := produceFor(t, x, "pq", 4*time.Second)
	if bound := quotaBound(elapsed, 2*(64<<10)); n > bound || n == 0 {
		t.Fatalf("client X had %d bytes acknowledged in %v, want between 1 and %d", n, elapsed, bound)
	}
	if hx.n.Load() == 0 {
		t.Fatalf("client X was never throttled (%d bytes in %v)", n, elapsed)
	}
	t.Logf("client X: %d bytes in %v (%.0f B/s), %d throttles, the longest %d ms", n, elapsed, float64(n)/elapsed.Seconds(), hx.n.Load(), hx.maxMs.Load())
	y := b.client(t, append(opts, kgo.ClientID("Y"), kgo.WithHooks(&hy))...)
	ny, ey := produceFor(t, y, "pq", time.Second)
	if hy.n.Load() != 0 || ny == 0 {
		t.Fatalf("client Y: %d throttles, %d bytes in %v; want none and some bytes", hy.n.Load(), ny, ey)
	}
}

// TestE2EFetchQuota (KIP-13, KIP-219): a consumer whose client ID has
// consumer_byte_rate = 200 KiB/s reads a topic of 8 MiB for 4 s: it gets
// throttle times and no more than the quota allows; a consumer with
// another client ID reads everything unthrottled.
func TestE2EFetchQuota(t *testing.T) {
	t.Parallel()
	b := startBroker(t, "")
	ctx := testCtx(t)
	adm := b.admin(t)
	if _, err := adm.CreateTopics(ctx, 1, 1, nil, "fq"); err != nil {
		t.Fatal(err)
	}
	const records = 8 << 10
	loader := b.client(t, kgo.DefaultProduceTopic("fq"), kgo.ProducerBatchCompression(kgo.NoCompression()))
	value := make([]byte, 1024)
	var rs []*kgo.Record
	for range records {
		rs = append(rs, &kgo.Record{Value: value})
	}
	if err := loader.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	setQuota(t, ctx, adm, "C", "consumer_byte_rate", quotaRate)
	consume := func(clientID string, h *throttleHook, d time.Duration, want int) (int64, time.Duration) {
		cl := b.client(t, kgo.ClientID(clientID), kgo.WithHooks(h), kgo.ConsumeTopics("fq"),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		cctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		start := time.Now()
		var n int64
		got := 0
		for cctx.Err() == nil && got < want {
			fs := cl.PollFetches(cctx)
			fs.EachRecord(func(r *kgo.Record) { n += int64(len(r.Value)); got++ })
		}
		return n, time.Since(start)
	}
	var hc, hd throttleHook
	n, elapsed := consume("C", &hc, 4*time.Second, records)
	if bound := quotaBound(elapsed, 1<<20); n > bound || n == 0 {
		t.Fatalf("consumer C read %d bytes in %v, want between 1 and %d", n, elapsed, bound)
	}
	if hc.n.Load() == 0 {
		t.Fatalf("consumer C was never throttled (%d bytes in %v)", n, elapsed)
	}
	t.Logf("consumer C: %d bytes in %v, %d throttles, the longest %d ms", n, elapsed, hc.n.Load(), hc.maxMs.Load())
	nd, ed := consume("D", &hd, time.Minute, records)
	if nd != records*1024 || hd.n.Load() != 0 {
		t.Fatalf("consumer D read %d bytes in %v with %d throttles, want %d and none", nd, ed, hd.n.Load(), records*1024)
	}
}
