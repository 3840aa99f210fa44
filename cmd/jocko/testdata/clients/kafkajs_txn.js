// kafkajs transactions for Jocko's end-to-end tests (e2e_txn_clients_test.go).
//
// Usage:
//   node kafkajs_txn.js produce BOOTSTRAP TOPIC TXN_ID
//     three transactions of 9 records each, value "t<k>-<i>" to partition
//     i%3: the first committed, the second aborted, the third committed.
//   node kafkajs_txn.js consume BOOTSTRAP TOPIC GROUP STOP[,STOP...]
//     a read_committed consumer (kafkajs's default, readUncommitted: false)
//     in a fresh GROUP reads TOPIC from the beginning and prints each record
//     as a JSON line {"p","o","v"}; it stops once it has printed every STOP
//     value (the last record of each partition).
//   node kafkajs_txn.js transform BOOTSTRAP IN OUT GROUP ABORT_GROUP TXN_ID N
//     first a transaction that sends "aborted-0" to OUT and the offset of
//     IN/0 at 2 for ABORT_GROUP (sendOffsets), then aborts it; then
//     consume-transform-produce: GROUP consumes IN, and each batch is one
//     transaction that sends "out-<value>" to OUT (same partition) and
//     commits the batch's next offset for GROUP with sendOffsets; it stops
//     after N records.
// Errors go to stderr with exit status 1; every mode gives up after 15 s
// (exit status 2). kafkajs is found next to this file (npm install --prefix
// cmd/jocko/testdata/clients kafkajs@2.2.4) or on NODE_PATH.
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'
const { Kafka, logLevel } = require('kafkajs')

const [mode, bootstrap, ...args] = process.argv.slice(2)

setTimeout(() => {
  console.error(`${mode}: gave up after 15 s`)
  process.exit(2)
}, 15000).unref()

const kafka = new Kafka({
  clientId: 'kafkajs-txn-' + mode,
  brokers: [bootstrap],
  logLevel: logLevel.WARN,
  retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 10 },
})

// txnProducer retries without a count (kafkajs warns that a limit may
// break exactly-once); the 15 s deadline bounds it.
function txnProducer (transactionalId) {
  return kafka.producer({
    transactionalId,
    idempotent: true,
    maxInFlightRequests: 1,
    retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: Number.MAX_SAFE_INTEGER },
  })
}

async function produce (topic, transactionalId) {
  const producer = txnProducer(transactionalId)
  await producer.connect()
  for (const [k, commit] of [[1, true], [2, false], [3, true]]) {
    const txn = await producer.transaction()
    const messages = []
    for (let i = 0; i < 9; i++) messages.push({ partition: i % 3, value: `t${k}-${i}` })
    await txn.send({ topic, messages })
    if (commit) await txn.commit()
    else await txn.abort()
  }
  await producer.disconnect()
}

// consumeUntil runs a consumer of topic in group, calling each for every
// message, until done() holds.
async function consumeUntil (consumer, topic, each, done) {
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  await new Promise((resolve, reject) => {
    consumer.run({
      eachMessage: async ({ partition, message }) => {
        await each(partition, message)
        if (done()) resolve()
      },
    }).catch(reject)
  })
  await consumer.disconnect()
}

async function consume (topic, group, stops) {
  const left = new Set(stops.split(','))
  const consumer = kafka.consumer({ groupId: group, readUncommitted: false, maxWaitTimeInMs: 100 })
  await consumeUntil(consumer, topic, async (partition, message) => {
    const v = message.value.toString()
    console.log(JSON.stringify({ p: partition, o: Number(message.offset), v }))
    left.delete(v)
  }, () => left.size === 0)
}

async function transform (input, output, group, abortGroup, transactionalId, n) {
  const producer = txnProducer(transactionalId)
  await producer.connect()
  const aborted = await producer.transaction()
  await aborted.send({ topic: output, messages: [{ partition: 0, value: 'aborted-0' }] })
  await aborted.sendOffsets({
    consumerGroupId: abortGroup,
    topics: [{ topic: input, partitions: [{ partition: 0, offset: '2' }] }],
  })
  await aborted.abort()

  let done = 0
  const consumer = kafka.consumer({ groupId: group, maxWaitTimeInMs: 100 })
  await consumer.connect()
  await consumer.subscribe({ topics: [input], fromBeginning: true })
  await new Promise((resolve, reject) => {
    consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        if (batch.messages.length === 0) return
        const txn = await producer.transaction()
        try {
          await txn.send({
            topic: output,
            messages: batch.messages.map((m) => ({ partition: batch.partition, value: 'out-' + m.value.toString() })),
          })
          const next = (Number(batch.lastOffset()) + 1).toString()
          await txn.sendOffsets({
            consumerGroupId: group,
            topics: [{ topic: input, partitions: [{ partition: batch.partition, offset: next }] }],
          })
          await txn.commit()
        } catch (e) {
          await txn.abort().catch(() => {})
          reject(e)
          return
        }
        done += batch.messages.length
        console.log(JSON.stringify({ p: batch.partition, committed: Number(batch.lastOffset()) + 1 }))
        if (done >= n) resolve()
      },
    }).catch(reject)
  })
  await consumer.disconnect()
  await producer.disconnect()
}

async function main () {
  switch (mode) {
    case 'produce': return produce(args[0], args[1])
    case 'consume': return consume(args[0], args[1], args[2])
    case 'transform': return transform(args[0], args[1], args[2], args[3], args[4], Number(args[5]))
    default: throw new Error('unknown mode ' + mode)
  }
}

main().then(() => process.exit(0), (e) => {
  console.error(mode + ': ' + (e && e.stack ? e.stack : e))
  process.exit(1)
})
