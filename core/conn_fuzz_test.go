package core

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jocko/jocko/cluster"
	"github.com/jocko/jocko/wire"
)

// FuzzConn sends random and mutated byte streams into a live broker's
// Kafka port, one connection each, and then checks that the broker still
// serves a well-formed request on a fresh connection. Whatever a client's
// bytes are, the broker answers, closes that connection, or waits for more;
// it never panics (see "Panics" in docs/design-notes.md). The seeds are
// real requests of the APIs a peer reaches most (and ones that write:
// Produce, CreateTopics, group joins), whole, cut and concatenated.
func FuzzConn(f *testing.F) {
	tc := startTestCluster(f, 1, withSettings("connections.max.idle.ms", "2000"))
	b := tc.brokers[0]
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := b.commit(ctx, cluster.CreateTopic{Name: "fz", ID: [16]byte{7}, Assignments: [][]int32{{1}}}); err != nil {
		f.Fatal(err)
	}
	format := func(req kmsg.Request, version int16, corr int32) []byte {
		req.SetVersion(version)
		return kmsg.NewRequestFormatter(kmsg.FormatterClientID("fuzz")).AppendRequest(nil, req, corr)
	}
	var seeds [][]byte
	seeds = append(seeds, format(kmsg.NewPtrApiVersionsRequest(), 3, 1))
	md := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr("fz")
	md.Topics = append(md.Topics, mt)
	seeds = append(seeds, format(md, 12, 2), format(md, 1, 3))
	prod := kmsg.NewPtrProduceRequest()
	prod.Acks, prod.TimeoutMillis = -1, 1000
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = "fz"
	pp := kmsg.NewProduceRequestTopicPartition()
	batch, err := wire.AppendBatch(nil, wire.Batch{FirstTimestamp: 1, MaxTimestamp: 2, ProducerID: -1, ProducerEpoch: -1,
		BaseSequence: -1, Records: []wire.Record{{Value: []byte("a")}, {TimestampDelta: 1, Value: []byte("b")}}})
	if err != nil {
		f.Fatal(err)
	}
	pp.Records = batch
	pt.Partitions = append(pt.Partitions, pp)
	prod.Topics = append(prod.Topics, pt)
	seeds = append(seeds, format(prod, 9, 4), format(prod, 3, 5))
	fetch := kmsg.NewPtrFetchRequest()
	fetch.ReplicaID, fetch.MaxWaitMillis, fetch.MaxBytes = -1, 100, 1<<20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "fz"
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 1 << 20
	ft.Partitions = append(ft.Partitions, fp)
	fetch.Topics = append(fetch.Topics, ft)
	seeds = append(seeds, format(fetch, 11, 6), format(fetch, 4, 7))
	ct := kmsg.NewPtrCreateTopicsRequest()
	ctt := kmsg.NewCreateTopicsRequestTopic()
	ctt.Topic, ctt.NumPartitions, ctt.ReplicationFactor = "fz2", 1, 1
	ct.Topics = append(ct.Topics, ctt)
	seeds = append(seeds, format(ct, 5, 8))
	jg := kmsg.NewPtrJoinGroupRequest()
	jg.Group, jg.ProtocolType, jg.SessionTimeoutMillis, jg.RebalanceTimeoutMillis = "g", "consumer", 6000, 6000
	jp := kmsg.NewJoinGroupRequestProtocol()
	jp.Name, jp.Metadata = "range", []byte{0, 1, 2}
	jg.Protocols = append(jg.Protocols, jp)
	seeds = append(seeds, format(jg, 5, 9))
	dr := kmsg.NewPtrDeleteRecordsRequest()
	drt := kmsg.NewDeleteRecordsRequestTopic()
	drt.Topic = "fz"
	drp := kmsg.NewDeleteRecordsRequestTopicPartition()
	drp.Offset = -1
	drt.Partitions = append(drt.Partitions, drp)
	dr.Topics = append(dr.Topics, drt)
	dld := kmsg.NewPtrDescribeLogDirsRequest()
	uf := kmsg.NewPtrUpdateFeaturesRequest()
	ufu := kmsg.NewUpdateFeaturesRequestFeatureUpdate()
	ufu.Feature, ufu.MaxVersionLevel, ufu.UpgradeType = "metadata.version", 25, 1
	uf.FeatureUpdates = append(uf.FeatureUpdates, ufu)
	seeds = append(seeds, format(dr, 2, 10), format(dld, 4, 11), format(uf, 1, 12))
	acq := kmsg.NewPtrAlterClientQuotasRequest()
	acqe := kmsg.NewAlterClientQuotasRequestEntry()
	acqn := kmsg.NewAlterClientQuotasRequestEntryEntity()
	acqn.Type = "client-id"
	acqo := kmsg.NewAlterClientQuotasRequestEntryOp()
	acqo.Key, acqo.Value = "producer_byte_rate", 1024
	acqe.Entity, acqe.Ops = append(acqe.Entity, acqn), append(acqe.Ops, acqo)
	acq.Entries = append(acq.Entries, acqe)
	dcq := kmsg.NewPtrDescribeClientQuotasRequest()
	dcqc := kmsg.NewDescribeClientQuotasRequestComponent()
	dcqc.EntityType, dcqc.MatchType = "client-id", 2
	dcq.Components = append(dcq.Components, dcqc)
	seeds = append(seeds, format(acq, 1, 13), format(dcq, 1, 14), format(acq, 0, 15), format(dcq, 0, 16))
	// Transactions: the coordinator's requests, a transactional produce
	// and WriteTxnMarkers (which a client may send: Kafka's admin abort).
	tid := "fz-txn"
	ip := kmsg.NewPtrInitProducerIDRequest()
	ip.TransactionalID, ip.TransactionTimeoutMillis, ip.ProducerID, ip.ProducerEpoch = &tid, 60000, -1, -1
	ap := kmsg.NewPtrAddPartitionsToTxnRequest()
	ap.TransactionalID, ap.ProducerID, ap.ProducerEpoch = tid, 0, 0
	apt := kmsg.NewAddPartitionsToTxnRequestTopic()
	apt.Topic, apt.Partitions = "fz", []int32{0, 7}
	ap.Topics = append(ap.Topics, apt)
	ao := kmsg.NewPtrAddOffsetsToTxnRequest()
	ao.TransactionalID, ao.Group = tid, "g"
	toc := kmsg.NewPtrTxnOffsetCommitRequest()
	toc.TransactionalID, toc.Group, toc.Generation, toc.ProducerID = tid, "g", -1, 0
	toct := kmsg.NewTxnOffsetCommitRequestTopic()
	toct.Topic = "fz"
	toct.Partitions = append(toct.Partitions, kmsg.TxnOffsetCommitRequestTopicPartition{Partition: 0, Offset: 1, LeaderEpoch: -1})
	toc.Topics = append(toc.Topics, toct)
	et := kmsg.NewPtrEndTxnRequest()
	et.TransactionalID, et.Commit = tid, true
	wtm := kmsg.NewPtrWriteTxnMarkersRequest()
	wm := kmsg.NewWriteTxnMarkersRequestMarker()
	wm.ProducerID, wm.Committed = 0, false
	wm.Topics = append(wm.Topics, kmsg.WriteTxnMarkersRequestMarkerTopic{Topic: "fz", Partitions: []int32{0, 3}})
	wtm.Markers = append(wtm.Markers, wm)
	dtx := kmsg.NewPtrDescribeTransactionsRequest()
	dtx.TransactionalIDs = []string{tid, ""}
	ltx := kmsg.NewPtrListTransactionsRequest()
	ltx.StateFilters, ltx.TransactionalIDPattern = []string{"Ongoing", "Nope"}, kmsg.StringPtr("fz.*")
	dpr := kmsg.NewPtrDescribeProducersRequest()
	dpr.Topics = append(dpr.Topics, kmsg.DescribeProducersRequestTopic{Topic: "fz", Partitions: []int32{0, 1}})
	tbatch, err := wire.AppendBatch(nil, wire.Batch{Attributes: 0x10, FirstTimestamp: 1, MaxTimestamp: 1, ProducerID: 0,
		ProducerEpoch: 0, BaseSequence: 0, Records: []wire.Record{{Value: []byte("t")}}})
	if err != nil {
		f.Fatal(err)
	}
	tprod := kmsg.NewPtrProduceRequest()
	tprod.TransactionID, tprod.Acks, tprod.TimeoutMillis = &tid, -1, 1000
	tpt := kmsg.NewProduceRequestTopic()
	tpt.Topic = "fz"
	tpt.Partitions = append(tpt.Partitions, kmsg.ProduceRequestTopicPartition{Partition: 0, Records: tbatch})
	tprod.Topics = append(tprod.Topics, tpt)
	seeds = append(seeds, format(ip, 4, 17), format(ap, 3, 18), format(ao, 3, 19), format(toc, 3, 20), format(et, 3, 21),
		format(wtm, 1, 22), format(dtx, 0, 23), format(ltx, 2, 24), format(dpr, 0, 25), format(tprod, 11, 26), format(et, 5, 27))
	for _, s := range seeds {
		f.Add(s)
		f.Add(s[:len(s)/2])
		f.Add(append(append([]byte(nil), s...), seeds[0]...))
	}
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1, 2, 3})
	f.Add([]byte{0x7f, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := net.Dial("tcp", b.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write(data)
		c.(*net.TCPConn).CloseWrite()
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		io.Copy(io.Discard, c) // whatever it answers, until it closes or the deadline
		// The broker still serves.
		ok := dialRaw(t, b.Addr())
		ok.apiVersions()
	})
}
