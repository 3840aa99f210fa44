#!/usr/bin/env python3
"""A kafka-python group consumer for Jocko's end-to-end tests.

Usage: kafka_python_group.py BOOTSTRAP GROUP TOPIC CLIENT_ID [ASSIGNOR [SESSION_MS]]

Joins GROUP on TOPIC (from the earliest offset when the group has no
commit), prints "<partition> <offset> <value>" for each record and
"# assigned <p> <p> ..." after each rebalance on stdout, and commits after
each poll. On SIGTERM it commits and closes (which leaves the group).
ASSIGNOR is range (the default) or roundrobin; SESSION_MS the session
timeout (6000 by default).
"""

import signal
import sys

from kafka import ConsumerRebalanceListener, KafkaConsumer
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from kafka.errors import CommitFailedError

bootstrap, group, topic, client_id = sys.argv[1:5]
assignor = sys.argv[5] if len(sys.argv) > 5 else "range"
session_ms = int(sys.argv[6]) if len(sys.argv) > 6 else 6000

stop = False


def on_term(signum, frame):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)


class Listener(ConsumerRebalanceListener):
    def on_partitions_revoked(self, revoked):
        print("# assigned", flush=True)

    def on_partitions_assigned(self, assigned):
        parts = sorted(tp.partition for tp in assigned if tp.topic == topic)
        print("# assigned " + " ".join(str(p) for p in parts), flush=True)


consumer = KafkaConsumer(
    bootstrap_servers=bootstrap,
    group_id=group,
    client_id=client_id,
    auto_offset_reset="earliest",
    enable_auto_commit=False,
    session_timeout_ms=session_ms,
    heartbeat_interval_ms=300,
    fetch_max_wait_ms=100,
    retry_backoff_ms=50,
    metadata_max_age_ms=5000,
    partition_assignment_strategy=[
        {"range": RangePartitionAssignor, "roundrobin": RoundRobinPartitionAssignor}[assignor]
    ],
)
consumer.subscribe([topic], listener=Listener())

while not stop:
    batches = consumer.poll(timeout_ms=100)
    for tp, records in batches.items():
        for r in records:
            print("%d %d %s" % (r.partition, r.offset, r.value.decode()), flush=True)
    if batches:
        try:
            consumer.commit()
        except CommitFailedError as e:
            # a rebalance took the partitions: the next owner reads the
            # uncommitted records again
            print("commit failed: %s" % e, file=sys.stderr, flush=True)

try:
    consumer.commit()
except CommitFailedError as e:
    print("commit failed: %s" % e, file=sys.stderr, flush=True)
consumer.close()
print("closed", file=sys.stderr, flush=True)
