#!/usr/bin/env python3
"""kafka-python's KafkaAdminClient for Jocko's end-to-end tests (e2e_admin_clients_test.go).

Usage: kafka_python_admin.py BOOTSTRAP BROKER_ID PREFIX

PREFIX-cfg is a topic with segment.ms overridden and PREFIX-dr a topic of
two partitions. In order, each step printing one JSON line {"step", ...}:
  describe_topic   describe_configs of PREFIX-cfg with synonyms, asking for
                   segment.ms, retention.ms, segment.bytes and cleanup.policy
                   (DescribeConfigs v2, the newest kafka-python 2.0.2 has)
  describe_broker  describe_configs of broker BROKER_ID, asking for
                   log.retention.ms and num.partitions (sent to that broker)
  alter_topic      alter_configs of PREFIX-cfg (AlterConfigs v1: the whole
                   set): retention.ms=86400000, max.message.bytes=300000
  alter_bad        retention.ms=forever: "error" is the Kafka error code
  alter_broker     alter_configs of broker BROKER_ID: log.retention.ms=3600000
                   (kafka-python sends it to the least loaded broker, the
                   only one here)
  describe_after   describe_configs of PREFIX-cfg again, every setting
  cluster          describe_cluster and describe_topics (Metadata: 2.0.2 has
                   no DescribeCluster)
kafka-python 2.0.2 (Debian's) has no admin call for DeleteRecords,
DescribeLogDirs ("not yet implemented" in its source), client quotas,
IncrementalAlterConfigs or features, and alter_configs has no validate-only
flag. A config entry is {"value", "source", "read_only", "default",
"sensitive", "synonyms": ["name=value/source"]}, sources Kafka's numbers
(DescribeConfigs v2 has no is_default: "default" is source 5). Errors go to
stderr with exit status 1; gives up after 12 s (exit status 2).
"""

import json
import os
import sys
import threading

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType


def give_up():
    print("gave up after 12 s", file=sys.stderr, flush=True)
    os._exit(2)


timer = threading.Timer(12, give_up)
timer.daemon = True
timer.start()

bootstrap, broker_id, prefix = sys.argv[1:4]
topic, dr = prefix + "-cfg", prefix + "-dr"
admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="kafka-python-admin",
                         request_timeout_ms=8000, retry_backoff_ms=50)


def out(step, **fields):
    print(json.dumps(dict(step=step, **fields)), flush=True)


def describe(restype, name, names=None):
    configs = {n: None for n in names} if names else None
    responses = admin.describe_configs([ConfigResource(restype, name, configs=configs)], include_synonyms=True)
    resources = [r for resp in responses for r in resp.to_object()["resources"]]
    if len(resources) != 1 or resources[0]["error_code"] != 0:
        raise RuntimeError("describe_configs %s: %s" % (name, resources))
    entries = {}
    for e in resources[0]["config_entries"]:
        entries[e["config_names"]] = {
            "value": e["config_value"], "source": e["config_source"], "read_only": e["read_only"],
            "default": e["config_source"] == 5, "sensitive": e["is_sensitive"],
            "synonyms": ["%s=%s/%d" % (s["config_name"], s["config_value"], s["config_source"])
                         for s in e["config_synonyms"]]}
    return entries


def alter(restype, name, kv):
    """Returns the Kafka error code of the alter, 0 when it succeeded."""
    resp = admin.alter_configs([ConfigResource(restype, name, configs=kv)]).to_object()
    codes = [r["error_code"] for r in resp["resources"]]
    if len(codes) != 1:
        raise RuntimeError("alter_configs %s: %s" % (name, resp))
    return codes[0]


T, B = ConfigResourceType.TOPIC, ConfigResourceType.BROKER
out("describe_topic", configs=describe(T, topic, ["segment.ms", "retention.ms", "segment.bytes", "cleanup.policy"]))
out("describe_broker", configs=describe(B, broker_id, ["log.retention.ms", "num.partitions"]))
out("alter_topic", error=alter(T, topic, {"retention.ms": "86400000", "max.message.bytes": "300000"}))
out("alter_bad", error=alter(T, topic, {"retention.ms": "forever"}))
out("alter_broker", error=alter(B, broker_id, {"log.retention.ms": "3600000"}))
out("describe_after", configs=describe(T, topic))

cluster = admin.describe_cluster()
topics = admin.describe_topics([dr])
out("cluster", cluster_id=cluster["cluster_id"], controller=cluster["controller_id"],
    brokers=[{"id": b["node_id"], "host": b["host"], "port": b["port"]} for b in cluster["brokers"]],
    topics=sorted(t["topic"] for t in topics if t["error_code"] == 0),
    partition_counts={t["topic"]: len(t["partitions"]) for t in topics})
admin.close()
