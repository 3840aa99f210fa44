#!/usr/bin/env python3
"""librdkafka transactions (confluent-kafka-python) for Jocko's end-to-end tests.

Usage:
  confluent_txn.py produce BOOTSTRAP TOPIC TXN_ID
    init_transactions, then three transactions of 9 records each, value
    "t<k>-<i>" to partition i%3: the first committed, the second aborted,
    the third committed.
  confluent_txn.py consume BOOTSTRAP TOPIC STOP[,STOP...]
    a consumer with isolation.level=read_committed (librdkafka's default)
    assigned every partition of TOPIC from the beginning prints each record
    as a JSON line {"p","o","v"}; it stops once it has printed every STOP
    value (the last record of each partition).
  confluent_txn.py transform BOOTSTRAP IN OUT GROUP ABORT_GROUP TXN_ID N
    first a transaction that produces "aborted-0" to OUT and sends the
    offset of IN/0 at 2 for ABORT_GROUP (send_offsets_to_transaction), then
    aborts it; then consume-transform-produce: a consumer subscribed to IN
    in GROUP, each record one transaction that produces "out-<value>" to
    OUT (same partition) and sends the record's next offset with the
    consumer's group metadata (generation and member id); it stops after N
    records.
Errors go to stderr with exit status 1; every mode gives up after 15 s
(exit status 2). JOCKO_TEST_RDKAFKA_DEBUG=eos,protocol (say) sets
librdkafka's debug contexts; its log goes to stderr. Debian's
python3-confluent-kafka (1.7.0 on bookworm).
"""

import json
import os
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

TIMEOUT = 10  # seconds, for each transactional call
deadline = time.monotonic() + 15


def check_deadline(what):
    if time.monotonic() > deadline:
        print("%s: gave up after 15 s" % what, file=sys.stderr, flush=True)
        sys.exit(2)


def conf(**kv):
    """librdkafka's configuration from kv, keys with dots for underscores."""
    c = {k.replace("_", "."): v for k, v in kv.items()}
    if os.environ.get("JOCKO_TEST_RDKAFKA_DEBUG"):
        c["debug"] = os.environ["JOCKO_TEST_RDKAFKA_DEBUG"]
    return c


def txn_producer(bootstrap, txn_id):
    p = Producer(conf(bootstrap_servers=bootstrap, transactional_id=txn_id, linger_ms=5))
    p.init_transactions(TIMEOUT)
    return p


def abort(p):
    """Aborts the transaction once its records are written: abort alone
    would purge them unsent (so the log would hold nothing to abort), and
    librdkafka 2.0 then sends EndTxn(ABORT) even when the AddPartitionsToTxn
    it sent was refused (CONCURRENT_TRANSACTIONS: the previous transaction's
    markers were still being written), and the coordinator, which has no
    transaction open, answers INVALID_TXN_STATE, fatal to the producer;
    Kafka does the same (librdkafka issue 4849)."""
    remaining = p.flush(TIMEOUT)
    if remaining:
        raise RuntimeError("%d records still unsent before abort" % remaining)
    p.abort_transaction(TIMEOUT)


def produce(bootstrap, topic, txn_id):
    p = txn_producer(bootstrap, txn_id)
    for k, commit in ((1, True), (2, False), (3, True)):
        p.begin_transaction()
        for i in range(9):
            p.produce(topic, value=("t%d-%d" % (k, i)).encode(), partition=i % 3)
        if commit:
            p.commit_transaction(TIMEOUT)
        else:
            abort(p)


def consume(bootstrap, topic, stops):
    left = set(stops.split(","))
    c = Consumer(conf(bootstrap_servers=bootstrap, group_id="confluent-txn-reader",
                      isolation_level="read_committed", enable_auto_commit=False,
                      fetch_wait_max_ms=100))
    md = c.list_topics(topic, timeout=TIMEOUT).topics[topic]
    if md.error is not None:
        raise KafkaException(md.error)
    c.assign([TopicPartition(topic, p, -2) for p in md.partitions])  # -2: OFFSET_BEGINNING
    while left:
        check_deadline("consume")
        m = c.poll(0.2)
        if m is None:
            continue
        if m.error():
            raise KafkaException(m.error())
        v = m.value().decode()
        print(json.dumps({"p": m.partition(), "o": m.offset(), "v": v}), flush=True)
        left.discard(v)
    c.close()


def transform(bootstrap, src, dst, group, abort_group, txn_id, n):
    p = txn_producer(bootstrap, txn_id)

    other = Consumer(conf(bootstrap_servers=bootstrap, group_id=abort_group))
    p.begin_transaction()
    p.produce(dst, value=b"aborted-0", partition=0)
    p.send_offsets_to_transaction([TopicPartition(src, 0, 2)], other.consumer_group_metadata(), TIMEOUT)
    abort(p)
    other.close()

    c = Consumer(conf(bootstrap_servers=bootstrap, group_id=group,
                      isolation_level="read_committed", enable_auto_commit=False,
                      auto_offset_reset="earliest", fetch_wait_max_ms=100,
                      session_timeout_ms=6000, heartbeat_interval_ms=300))
    c.subscribe([src])
    done = 0
    while done < n:
        check_deadline("transform")
        m = c.poll(0.2)
        if m is None:
            continue
        if m.error():
            raise KafkaException(m.error())
        p.begin_transaction()
        p.produce(dst, value=b"out-" + m.value(), partition=m.partition())
        p.send_offsets_to_transaction([TopicPartition(src, m.partition(), m.offset() + 1)],
                                      c.consumer_group_metadata(), TIMEOUT)
        p.commit_transaction(TIMEOUT)
        done += 1
        print(json.dumps({"p": m.partition(), "committed": m.offset() + 1}), flush=True)
    c.close()


def main():
    mode, bootstrap, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    try:
        if mode == "produce":
            produce(bootstrap, *args)
        elif mode == "consume":
            consume(bootstrap, *args)
        elif mode == "transform":
            transform(bootstrap, *args[:5], int(args[5]))
        else:
            raise ValueError("unknown mode " + mode)
    except (KafkaException, RuntimeError) as e:
        print("%s: %s" % (mode, e), file=sys.stderr, flush=True)
        sys.exit(1)


main()
