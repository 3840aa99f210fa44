#!/usr/bin/env python3
"""A kafka-python reader of a transactional topic for Jocko's end-to-end tests.

Usage: kafka_python_txn.py BOOTSTRAP TOPIC ISOLATION STOP[,STOP...]

Assigns every partition of TOPIC from the beginning and prints each record
as a JSON line {"p","o","v","k"} (k: the key in hex, or null). ISOLATION
is read_uncommitted or read_committed; kafka-python only has the
isolation_level setting from 2.1 (Debian's 2.0.2 always reads
uncommitted, and hands the transaction markers' control records to the
application as ordinary records). read_uncommitted stops once the position
of every partition is at its end offset (taken at the start), so control
records at the end are printed too; read_committed once every STOP value
(the last record of each partition) was printed. Gives up after 15 s (exit
status 2).
"""

import json
import sys
import time

from kafka import KafkaConsumer, TopicPartition

bootstrap, topic, isolation, stops = sys.argv[1:5]
deadline = time.monotonic() + 15

config = dict(bootstrap_servers=bootstrap, enable_auto_commit=False,
              fetch_max_wait_ms=100, retry_backoff_ms=50)
if isolation != "read_uncommitted":
    config["isolation_level"] = isolation
consumer = KafkaConsumer(**config)
parts = None
while not parts:
    if time.monotonic() > deadline:
        print("no partitions of %s after 15 s" % topic, file=sys.stderr, flush=True)
        sys.exit(2)
    parts = consumer.partitions_for_topic(topic)
tps = [TopicPartition(topic, p) for p in sorted(parts)]
consumer.assign(tps)
consumer.seek_to_beginning(*tps)
ends = consumer.end_offsets(tps)
left = set(stops.split(","))


def finished():
    if isolation == "read_committed":
        return not left
    return all(consumer.position(tp) >= ends[tp] for tp in tps)


while not finished():
    if time.monotonic() > deadline:
        print("gave up after 15 s: positions %s, ends %s, stop values left %s" % (
            {tp.partition: consumer.position(tp) for tp in tps},
            {tp.partition: o for tp, o in ends.items()}, sorted(left)), file=sys.stderr, flush=True)
        sys.exit(2)
    for tp, records in consumer.poll(timeout_ms=100).items():
        for r in records:
            v = r.value.decode("utf-8", "replace") if r.value is not None else None
            k = r.key.hex() if r.key is not None else None
            print(json.dumps({"p": r.partition, "o": r.offset, "v": v, "k": k}), flush=True)
            left.discard(v)
consumer.close()
