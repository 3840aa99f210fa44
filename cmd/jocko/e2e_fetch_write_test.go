package main

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestE2EReusedBuffersKeepRecordsIntact: a consumer long-polls (Fetch
// MinBytes/MaxWait) while a producer sends many Produce requests of varying
// sizes over one connection, and every record comes back byte for byte. It
// covers the broker's buffer reuse: request frames reused after Produce
// and Fetch, pooled read buffers released only once a spliced Fetch
// response (records written with writev, not copied) is on the wire.
func TestE2EReusedBuffersKeepRecordsIntact(t *testing.T) {
	b := startBroker(t, "")
	ctx := testCtx(t)
	const topic, total = "reuse", 3000
	if _, err := b.admin(t).CreateTopic(ctx, 4, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	cl := b.client(t, kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(time.Millisecond))
	var want []*kgo.Record
	var perr error
	done := make(chan struct{})
	go func() { // produce while the consumer below long-polls
		defer close(done)
		for round := range 30 {
			var batch []*kgo.Record
			for i := range total / 30 {
				n := len(want) + len(batch)
				batch = append(batch, &kgo.Record{
					Key:     []byte(fmt.Sprintf("key-%d", n%13)),
					Value:   bytes.Repeat([]byte{byte(n), byte(round)}, 10+(n*37)%3000),
					Headers: []kgo.RecordHeader{{Key: "h", Value: []byte(fmt.Sprint(i))}},
				})
			}
			if perr = cl.ProduceSync(ctx, batch...).FirstErr(); perr != nil {
				return
			}
			want = append(want, batch...)
		}
	}()
	got := consumeAll(t, b, topic, total,
		kgo.FetchMinBytes(64<<10), kgo.FetchMaxWait(200*time.Millisecond),
		kgo.FetchMaxPartitionBytes(32<<10))
	<-done
	if perr != nil {
		t.Fatalf("produce: %v", perr)
	}
	checkSameRecords(t, "reuse", want, got)
}
