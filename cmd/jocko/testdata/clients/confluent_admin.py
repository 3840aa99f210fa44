#!/usr/bin/env python3
"""confluent-kafka-python's AdminClient for Jocko's end-to-end tests (e2e_admin_clients_test.go).

Usage: confluent_admin.py BOOTSTRAP BROKER_ID PREFIX

PREFIX-cfg is a topic with segment.ms overridden and PREFIX-dr a topic of
two partitions. In order, each step printing one JSON line {"step", ...}:
  describe_topic   describe_configs of PREFIX-cfg (librdkafka sends
                   DescribeConfigs v1, synonyms included)
  describe_broker  describe_configs of broker BROKER_ID
  alter_topic      alter_configs of PREFIX-cfg (AlterConfigs: the whole set):
                   retention.ms=86400000, max.message.bytes=300000
  alter_validate   the same with validate_only, retention.ms=1
  alter_bad        retention.ms=forever: "error" is the Kafka error code
  alter_broker     alter_configs of broker BROKER_ID: log.retention.ms=3600000
  describe_after   describe_configs of PREFIX-cfg again
  cluster          list_topics: the cluster ID, controller and brokers
                   (Metadata; 1.7 has no describe_cluster)
confluent-kafka-python 1.7.0 (Debian's) exposes no admin call for
DeleteRecords, DescribeLogDirs, client quotas, IncrementalAlterConfigs,
DescribeCluster or features, though its librdkafka (2.0.2) has some of
them. A config entry is {"value", "source", "read_only", "default",
"sensitive", "synonyms": ["name=value/source"]}, sources Kafka's numbers.
Errors go to stderr with exit status 1; gives up after 12 s (exit status 2).
"""

import json
import sys
import threading
import os

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource

TIMEOUT = 8  # seconds, for each call


def give_up():
    print("gave up after 12 s", file=sys.stderr, flush=True)
    os._exit(2)


timer = threading.Timer(12, give_up)
timer.daemon = True
timer.start()

bootstrap, broker_id, prefix = sys.argv[1:4]
topic, dr = prefix + "-cfg", prefix + "-dr"
admin = AdminClient({"bootstrap.servers": bootstrap, "client.id": "confluent-admin", "socket.timeout.ms": TIMEOUT * 1000})


def out(step, **fields):
    print(json.dumps(dict(step=step, **fields)), flush=True)


def entry(e):
    syn = e.synonyms.values() if isinstance(e.synonyms, dict) else e.synonyms
    return {"value": e.value, "source": e.source.value if hasattr(e.source, "value") else e.source,
            "read_only": e.is_read_only, "default": e.is_default, "sensitive": e.is_sensitive,
            "synonyms": ["%s=%s/%d" % (s.name, s.value, s.source.value if hasattr(s.source, "value") else s.source)
                         for s in syn]}


def describe(restype, name, names=None):
    res = ConfigResource(restype, name)
    configs = admin.describe_configs([res], request_timeout=TIMEOUT)[res].result(TIMEOUT)
    return {k: entry(e) for k, e in configs.items() if names is None or k in names}


def alter(restype, name, kv, validate_only=False):
    """Returns the Kafka error code of the alter, 0 when it succeeded."""
    res = ConfigResource(restype, name, set_config=kv)
    try:
        admin.alter_configs([res], validate_only=validate_only, request_timeout=TIMEOUT)[res].result(TIMEOUT)
        return 0
    except KafkaException as e:
        return e.args[0].code()


T, B = ConfigResource.Type.TOPIC, ConfigResource.Type.BROKER
out("describe_topic", configs=describe(T, topic, {"segment.ms", "retention.ms", "segment.bytes", "cleanup.policy"}))
out("describe_broker", configs=describe(B, broker_id, {"log.retention.ms", "num.partitions"}))
for step, res, kv, validate in [
        ("alter_topic", T, {"retention.ms": "86400000", "max.message.bytes": "300000"}, False),
        ("alter_validate", T, {"retention.ms": "1"}, True),
        ("alter_bad", T, {"retention.ms": "forever"}, False),
        ("alter_broker", B, {"log.retention.ms": "3600000"}, False)]:
    out(step, error=alter(res, broker_id if res == B else topic, kv, validate))
out("describe_after", configs=describe(T, topic))

md = admin.list_topics(timeout=TIMEOUT)
out("cluster", cluster_id=md.cluster_id, controller=md.controller_id,
    brokers=[{"id": b.id, "host": b.host, "port": b.port} for b in md.brokers.values()],
    topics=sorted(t for t in md.topics))
