// A kafkajs group consumer for Jocko's end-to-end tests.
//
// Usage: node kafkajs_group.js BOOTSTRAP GROUP TOPIC CLIENT_ID [SESSION_MS]
//
// Joins GROUP on TOPIC (from the beginning when the group has no commit),
// prints "<partition> <offset> <value>" for each record and
// "# assigned <p> <p> ..." after each join on stdout; kafkajs commits the
// resolved offsets after each batch. On SIGTERM it disconnects, which
// commits and leaves the group. kafkajs is found next to this file
// (npm install --prefix cmd/jocko/testdata/clients kafkajs@2.2.4) or on
// NODE_PATH.
const { Kafka, logLevel } = require('kafkajs')

const [bootstrap, group, topic, clientId, sessionMs = '6000'] = process.argv.slice(2)

const kafka = new Kafka({
  clientId,
  brokers: [bootstrap],
  logLevel: logLevel.WARN,
  retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 30 },
})
const consumer = kafka.consumer({
  groupId: group,
  sessionTimeout: Number(sessionMs),
  heartbeatInterval: 300,
  rebalanceTimeout: 10000,
  maxWaitTimeInMs: 100,
})

consumer.on(consumer.events.GROUP_JOIN, (e) => {
  const parts = (e.payload.memberAssignment[topic] || []).slice().sort((a, b) => a - b)
  console.log('# assigned ' + parts.join(' '))
})

let stopping = false
process.on('SIGTERM', async () => {
  if (stopping) return
  stopping = true
  try {
    await consumer.disconnect()
    console.error('closed')
    process.exit(0)
  } catch (e) {
    console.error('disconnect: ' + e)
    process.exit(1)
  }
})

async function main () {
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      console.log(`${partition} ${message.offset} ${message.value.toString()}`)
    },
  })
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
