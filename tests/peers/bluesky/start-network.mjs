// A real Bluesky network on loopback for Kindling's integration tests: PLC (in-memory mock),
// PDS, AppView (+ bsync, ozone) from @atproto/dev-env, all on 127.0.0.1 at free ports.
//
// Usage: node start-network.mjs [full|noappview]
// Env:
//   KINDLING_BSKY_DEPS   directory holding node_modules/ (made by setup.sh); required
//   READY_FILE           where to write the ready JSON (URLs, accounts, DIDs, passwords)
//   ACCOUNTS             comma-separated account names to create (default "alice,bob");
//                        each gets handle NAME.test and password NAME-pass
//   DB_POSTGRES_URL      PostgreSQL for the AppView (full mode)
//   REDIS_HOST           asserted by dev-env, unused by the AppView
//   PARENT_PID           exit when this process is gone (no orphaned network after a crash)
//   TMPDIR               dev-env's data and blob directories go here
//
// Adapted from shared/reference/bluesky-local-network: free ports instead of fixed ones,
// named accounts from the environment, a guard against any connection off loopback, and a
// tiny stats endpoint counting the XRPC calls the PDS served (tests prove "no new session"
// and "26 URIs -> 2 calls" with it).
import dns from 'node:dns'
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'

// 1. Everything listens on loopback only.
const origListen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' || (typeof args[0] === 'string' && /^\d+$/.test(args[0]))) {
    if (typeof args[1] !== 'string') args.splice(1, 0, '127.0.0.1')
  } else if (args[0] && typeof args[0] === 'object' && args[0].port !== undefined && !args[0].host) {
    args[0] = { ...args[0], host: '127.0.0.1' }
  }
  return origListen.apply(this, args)
}

// 2. Nothing connects anywhere but loopback (or a unix socket): no traffic off the machine.
const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|::1|\[::1\]|::ffff:127\.\d+\.\d+\.\d+)$/i
const blocked = []
const origConnect = net.Socket.prototype.connect
net.Socket.prototype.connect = function (...args) {
  const opts = args[0]
  let host = null
  if (Array.isArray(opts)) {
    host = opts[0]?.host ?? null // internal normalized form
  } else if (opts && typeof opts === 'object') {
    host = opts.path ? null : (opts.host ?? 'localhost')
  } else if (typeof opts === 'number' || /^\d+$/.test(String(opts))) {
    host = typeof args[1] === 'string' ? args[1] : 'localhost'
  }
  if (host !== null && !LOOPBACK.test(host)) {
    blocked.push(host)
    console.error(`blocked a connection to ${host}: this network stays on loopback`)
    const err = Object.assign(new Error(`connect to ${host} blocked (loopback only)`), {
      code: 'ECONNREFUSED',
    })
    process.nextTick(() => this.destroy(err))
    return this
  }
  return origConnect.apply(this, args)
}
const refuseDns = (name) =>
  Object.assign(new Error(`DNS lookup of ${name} blocked (loopback only)`), { code: 'ENOTFOUND' })
dns.resolveTxt = (name, cb) => process.nextTick(() => cb(refuseDns(name)))
dns.promises.resolveTxt = async (name) => {
  throw refuseDns(name)
}

const t0 = Date.now()
const mode = process.argv[2] || 'full'
const deps = process.env.KINDLING_BSKY_DEPS
if (!deps) throw new Error('KINDLING_BSKY_DEPS (the directory holding node_modules) is not set')
const require = createRequire(path.join(deps, 'package.json'))
const devEnv = await import(pathToFileURL(require.resolve('@atproto/dev-env')).href)
const { TestNetwork, TestNetworkNoAppView } = devEnv

let network
if (mode === 'full') {
  network = await TestNetwork.create({
    dbPostgresSchema: 'kindling',
    pds: { hostname: 'localhost' },
    bsky: { dbPostgresSchema: 'bsky' },
  })
} else {
  network = await TestNetworkNoAppView.create({ pds: { hostname: 'localhost' } })
}
const tNet = Date.now()

// 3. Count the XRPC calls the PDS serves (by method), for the tests.
const counts = {}
network.pds.server.server.on('request', (req) => {
  const match = /^\/xrpc\/([^?]+)/.exec(req.url || '')
  if (match) counts[match[1]] = (counts[match[1]] || 0) + 1
})
const stats = http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json')
  res.end(JSON.stringify({ xrpc: counts, blocked }))
})
await new Promise((resolve) => stats.listen(0, '127.0.0.1', resolve))

const agent = network.pds.getAgent()
const accounts = {}
const names = (process.env.ACCOUNTS || 'alice,bob').split(',').map((s) => s.trim()).filter(Boolean)
for (const name of names) {
  const handle = `${name}.test`
  const password = `${name}-pass`
  const { data } = await agent.com.atproto.server.createAccount({
    handle,
    email: `${name}@test.invalid`,
    password,
  })
  accounts[name] = { handle, password, did: data.did }
}
await network.processAll()

const info = {
  mode,
  pdsUrl: network.pds.url,
  appviewUrl: network.bsky?.url ?? null,
  appviewDid: network.bsky?.serverDid ?? null,
  plcUrl: network.plc.url,
  statsUrl: `http://127.0.0.1:${stats.address().port}`,
  adminPassword: 'admin-pass',
  accounts,
  networkStartMs: tNet - t0,
  readyMs: Date.now() - t0,
  pid: process.pid,
}
const readyFile = process.env.READY_FILE || 'ready.json'
fs.writeFileSync(readyFile + '.partial', JSON.stringify(info, null, 2))
fs.renameSync(readyFile + '.partial', readyFile) // readers never see half a file
console.log('READY ' + JSON.stringify(info))

let stopping = false
const shutdown = async () => {
  if (stopping) return
  stopping = true
  console.log('shutting down')
  stats.close()
  try {
    await network.close()
  } catch (e) {
    console.error(e)
  }
  process.exit(0)
}
process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)
const parent = Number(process.env.PARENT_PID || 0)
setInterval(() => {
  if (!parent) return
  try {
    process.kill(parent, 0)
  } catch {
    console.log(`parent ${parent} is gone`)
    shutdown()
  }
}, 1000)
