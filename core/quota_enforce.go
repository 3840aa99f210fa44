package core

// Byte-rate quotas (KIP-13) with KIP-219's throttling: a Produce's record
// bytes count against producer_byte_rate and a consumer's Fetch response
// bytes against consumer_byte_rate, per (user, client-id) with Kafka's
// precedence (core/quota.Resolve; every client is the ANONYMOUS user, as
// Jocko has no authentication). Over its quota a client is answered at
// once with throttle_time_ms set, and its connection is muted: the broker
// reads no further request from it until that time has passed
// (connState.mutedUntilMs, awaited in readRequest before a frame is
// admitted, so a muted connection holds no request bytes). A throttled
// Fetch carries no records and its bytes are given back, and a consumer's
// fetch is cut to what its quota allows over the window, as Kafka does.
// Followers' fetches are never throttled.

import (
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jocko/jocko/core/quota"
)

// quotaSensors is the broker's byte-rate accounting.
type quotaSensors struct {
	mu sync.Mutex // guards s
	s  quota.Sensors
}

// resolveQuota finds the quota key that applies to r's client.
func (b *Broker) resolveQuota(r *request, key string) quota.Resolved {
	clientID := ""
	if r.hdr.ClientID != nil {
		clientID = *r.hdr.ClientID
	}
	return quota.Resolve(b.node.State().ClientQuotas, quota.Anonymous, clientID, key)
}

// recordQuota counts n bytes against q now and returns the throttle time
// in ms (0: none).
func (b *Broker) recordQuota(q quota.Resolved, n int) int32 {
	if q.Sensor == "" {
		return 0
	}
	b.quotas.mu.Lock()
	defer b.quotas.mu.Unlock()
	return int32(b.quotas.s.Record(q, float64(n), b.env.Clock.Now().UnixMilli()))
}

func (b *Broker) unrecordQuota(q quota.Resolved, n int) {
	b.quotas.mu.Lock()
	defer b.quotas.mu.Unlock()
	b.quotas.s.Unrecord(q, float64(n), b.env.Clock.Now().UnixMilli())
}

// mute keeps r's connection from reading requests for ms.
func (b *Broker) mute(r *request, ms int32) {
	if ms <= 0 || r.conn == nil {
		return
	}
	until := b.env.Clock.Now().UnixMilli() + int64(ms)
	for {
		cur := r.conn.mutedUntilMs.Load()
		if cur >= until || r.conn.mutedUntilMs.CompareAndSwap(cur, until) {
			return
		}
	}
}

// awaitUnmuted waits until the connection's mute is over.
func (b *Broker) awaitUnmuted(ctx context.Context, cs *connState) error {
	d := time.Duration(cs.mutedUntilMs.Load()-b.env.Clock.Now().UnixMilli()) * time.Millisecond
	if d <= 0 {
		return nil
	}
	t := b.env.Clock.Timer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// throttleProduce counts a Produce's record bytes against the client's
// producer_byte_rate; it sets the response's throttle time and mutes the
// connection when the client is over.
func (b *Broker) throttleProduce(r *request, req *kmsg.ProduceRequest, resp *kmsg.ProduceResponse) {
	q := b.resolveQuota(r, quota.ProducerByteRate)
	if q.Sensor == "" {
		return
	}
	n := 0
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			n += len(p.Records)
		}
	}
	ms := b.recordQuota(q, n)
	resp.ThrottleMillis = max(resp.ThrottleMillis, ms)
	b.mute(r, ms)
}

// limitFetch cuts a consumer's fetch to what its consumer_byte_rate allows
// over the quota window (Kafka's getMaxValueInQuotaWindow) and returns the
// quota (zero: none applies, or a follower).
func (b *Broker) limitFetch(r *request, req *kmsg.FetchRequest) quota.Resolved {
	if _, _, replica := fetchReplica(req); replica {
		return quota.Resolved{}
	}
	q := b.resolveQuota(r, quota.ConsumerByteRate)
	if q.Sensor != "" && (req.MaxBytes <= 0 || float64(req.MaxBytes) > q.BytesMax()) {
		req.MaxBytes = int32(max(q.BytesMax(), 1))
	}
	return q
}

// throttleFetch counts a Fetch response's record bytes against q; over
// the quota the response carries no records (their bytes are given back),
// its throttle time is set and the connection is muted.
func (b *Broker) throttleFetch(r *request, q quota.Resolved, resp kmsg.Response) {
	fr, ok := resp.(*fetchResponse)
	if !ok || q.Sensor == "" {
		return
	}
	n := 0
	for _, t := range fr.Topics {
		for _, p := range t.Partitions {
			n += len(p.RecordBatches)
		}
	}
	ms := b.recordQuota(q, n)
	if ms <= 0 {
		return
	}
	b.unrecordQuota(q, n)
	fr.release()
	for i := range fr.Topics {
		for j := range fr.Topics[i].Partitions {
			fr.Topics[i].Partitions[j].RecordBatches = standInEmpty
		}
	}
	fr.ThrottleMillis = max(fr.ThrottleMillis, ms)
	b.mute(r, ms)
}
