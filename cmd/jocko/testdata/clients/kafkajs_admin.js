// kafkajs's admin client for Jocko's end-to-end tests (e2e_admin_clients_test.go).
//
// Usage: node kafkajs_admin.js BOOTSTRAP BROKER_ID PREFIX
//
// PREFIX-cfg is a topic with segment.ms overridden and PREFIX-dr a topic of
// two partitions of 10 records each. In order, each step printing one JSON
// line {"step", ...}:
//   describe_topic   describeConfigs of PREFIX-cfg (v2 with synonyms) for
//                    segment.ms, retention.ms, segment.bytes, cleanup.policy
//   describe_broker  describeConfigs of broker BROKER_ID for
//                    log.retention.ms and num.partitions
//   alter_topic      alterConfigs of PREFIX-cfg (the whole set):
//                    retention.ms=86400000, max.message.bytes=300000
//   alter_validate   the same with validateOnly, retention.ms=1
//   alter_bad        retention.ms=forever: "error" is the Kafka error code
//   alter_broker     alterConfigs of broker BROKER_ID: log.retention.ms=3600000
//   describe_after   describeConfigs of PREFIX-cfg again, naming no setting:
//                    kafkajs sends an empty list, which Kafka reads as all
//   offsets          deleteTopicRecords of PREFIX-dr partition 0 up to 4 and
//                    partition 1 up to the high watermark (-1), then
//                    fetchTopicOffsets: each partition's low and high
//   delete_bad       deleteTopicRecords of PREFIX-dr partition 0 at 11, past
//                    the high watermark: "error" is the Kafka error code
//   cluster          describeCluster (kafkajs answers it from Metadata: it
//                    has no DescribeCluster) and listTopics
// kafkajs 2.2.4 has no admin call for quotas, log directories,
// IncrementalAlterConfigs or features. A config entry is {"value", "source",
// "read_only", "default", "sensitive", "synonyms": ["name=value/source"]};
// sources are Kafka's numbers. Errors go to stderr with exit status 1; gives
// up after 12 s (exit status 2).
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'
const { Kafka, logLevel, ConfigResourceTypes } = require('kafkajs')

const [bootstrap, brokerId, prefix] = process.argv.slice(2)

setTimeout(() => {
  console.error('gave up after 12 s')
  process.exit(2)
}, 12000).unref()

const kafka = new Kafka({
  clientId: 'kafkajs-admin',
  brokers: [bootstrap],
  logLevel: logLevel.WARN,
  retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 5 },
})

function print (step, fields) {
  console.log(JSON.stringify({ step, ...fields }))
}

function entries (resource) {
  const out = {}
  for (const e of resource.configEntries) {
    out[e.configName] = {
      value: e.configValue,
      source: e.configSource,
      read_only: e.readOnly,
      default: e.isDefault,
      sensitive: e.isSensitive,
      synonyms: (e.configSynonyms || []).map((s) => `${s.configName}=${s.configValue}/${s.configSource}`),
    }
  }
  return out
}

async function describe (admin, type, name, configNames) {
  const { resources } = await admin.describeConfigs({ includeSynonyms: true, resources: [{ type, name, configNames }] })
  if (resources.length !== 1 || resources[0].errorCode !== 0) {
    throw new Error(`describeConfigs ${name}: ${JSON.stringify(resources)}`)
  }
  return entries(resources[0])
}

// errorCode runs call and returns the Kafka error code it failed with (0:
// none): kafkajs's retrier wraps the broker's error as the cause, and
// deleteTopicRecords's error holds one per partition.
async function errorCode (call) {
  try {
    await call()
    return 0
  } catch (e) {
    for (let c = e; c; c = c.cause === c ? null : c.cause) {
      if (c.partitions && c.partitions.length) return c.partitions[0].error.code
      if (c.code !== undefined) return c.code
    }
    throw e
  }
}

async function main () {
  const admin = kafka.admin()
  await admin.connect()
  const topic = prefix + '-cfg'
  const dr = prefix + '-dr'
  const T = ConfigResourceTypes.TOPIC
  const B = ConfigResourceTypes.BROKER
  print('describe_topic', { configs: await describe(admin, T, topic, ['segment.ms', 'retention.ms', 'segment.bytes', 'cleanup.policy']) })
  print('describe_broker', { configs: await describe(admin, B, brokerId, ['log.retention.ms', 'num.partitions']) })

  const alter = (type, name, kv, validateOnly) => admin.alterConfigs({
    validateOnly,
    resources: [{ type, name, configEntries: Object.entries(kv).map(([name, value]) => ({ name, value })) }],
  })
  await alter(T, topic, { 'retention.ms': '86400000', 'max.message.bytes': '300000' }, false)
  print('alter_topic', { error: 0 })
  await alter(T, topic, { 'retention.ms': '1' }, true)
  print('alter_validate', { error: 0 })
  print('alter_bad', { error: await errorCode(() => alter(T, topic, { 'retention.ms': 'forever' }, false)) })
  await alter(B, brokerId, { 'log.retention.ms': '3600000' }, false)
  print('alter_broker', { error: 0 })
  print('describe_after', { configs: await describe(admin, T, topic) })

  await admin.deleteTopicRecords({ topic: dr, partitions: [{ partition: 0, offset: '4' }, { partition: 1, offset: '-1' }] })
  const offsets = await admin.fetchTopicOffsets(dr)
  print('offsets', { partitions: offsets.map((o) => ({ p: o.partition, low: Number(o.low), high: Number(o.high) })) })
  print('delete_bad', { error: await errorCode(() => admin.deleteTopicRecords({ topic: dr, partitions: [{ partition: 0, offset: '11' }] })) })

  const cluster = await admin.describeCluster()
  print('cluster', {
    cluster_id: cluster.clusterId,
    controller: cluster.controller,
    brokers: cluster.brokers.map((b) => ({ id: b.nodeId, host: b.host, port: b.port })),
    topics: (await admin.listTopics()).sort(),
  })
  await admin.disconnect()
}

main().then(() => process.exit(0), (e) => {
  console.error(e && e.stack ? e.stack : e)
  process.exit(1)
})
