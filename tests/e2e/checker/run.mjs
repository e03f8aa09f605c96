// The randomized checker of the client, in the real browser against the real server.
//
// One run (`runSeed`) is a seeded sequence of random operations over several devices
// (isolated browser contexts) sharing an account: writes and deletes of a small key space,
// sync rounds, per-context clock skew, contexts closed or crashed mid-round and reopened,
// server restarts, one restore of the server's database to an older copy and one device
// switching to a second account (signing out, then in, keeping or not keeping its data). Device 0 has several contexts on the
// same database: two tabs and a dedicated Worker loading the same wasm (as the service
// worker's sync module opens its own store). Then everything quiesces (true clocks, sync
// rounds until nothing moves) and the invariants are checked:
//   (a) every device of an account shows the same records with the same clocks;
//   (b) no acknowledged write vanishes unmerged and unlogged: each is the converged value
//       (same clock and value, or its value written anew by a merge), or in a device's
//       conflict log (or its set-aside list), or replaced knowingly — by its device's next
//       write to the record, or by a change made from it (its base); in a run whose server
//       database was restored, beaten by a higher clock also counts (replays are merged by
//       clock alone);
//   (c) on each device, acknowledged writes to one key have strictly increasing clocks
//       in the order they were acknowledged (across that device's contexts) — except
//       after a write stamped beyond the drift limit, which the server refuses and
//       after which the clock restarts at the server's time;
//   (d) no device has pending changes left;
//   (e) a record written under one account appears under another only if a device
//       chose to keep its data when switching.
//
// Operation choices come only from the seeded PRNG and the driver awaits operations in a
// fixed order, so a seed replays the same run as far as the browser's timing allows.
//
// Environment: CAIRN_SERVER_BIN, CHROMIUM, CAIRN_CHECKER_PAGE (the built page: index.html,
// worker.js, checker.js, checker_bg.wasm). Run directly (`node checker/run.mjs`) it runs
// CHECKER_SEED (one seed) or CHECKER_SEEDS random seeds of CHECKER_OPS operations.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchBrowser, startServer } from '../support.mjs';

/** The protocol's drift limit (`cairn_protocol::hlc::MAX_DRIFT_MS`). */
const DRIFT_MS = 24 * 60 * 60 * 1000;

export const COLLECTIONS = ['notes', 'tasks'];
const IDS = ['k0', 'k1', 'k2'];
const DB = 'cairn';
const PASSWORD = 'checker-password';
const SECOND = 1000;
const HOUR = 3600 * SECOND;
const DAY = 24 * HOUR;
/** Clock offsets a context may get: behind and ahead by seconds to days. */
const SKEWS = [0, 0, 0, -2 * SECOND, 3 * SECOND, -45 * SECOND, 90 * SECOND, -5 * HOUR, 6 * HOUR, -3 * DAY, 30 * HOUR, 3 * DAY];
const TRACE_SHOWN = 30;
const QUIESCE_ROUNDS = 8;

/** The regression seeds, always run first: `[{seed, ops, note}]`. */
export function regressions() {
  return JSON.parse(readFileSync(fileURLToPath(new URL('./regressions.json', import.meta.url)), 'utf8'));
}

/** mulberry32: a small seeded PRNG. */
function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n) => Math.floor(next() * n);
  return {
    next,
    int,
    pick: (xs) => xs[int(xs.length)],
    weighted: (table) => {
      let r = next() * table.reduce((s, [, w]) => s + w, 0);
      for (const [x, w] of table) if ((r -= w) < 0) return x;
      return table[table.length - 1][0];
    },
  };
}

/** JSON with sorted keys, to compare values. */
function canon(v) {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canon(v[k])}`).join(',')}}`;
}
const keyOf = (r) => `${r.collection}/${r.id}`;
const short = (r) => (r ? `${keyOf(r)}@${r.hlc}=${r.deleted ? 'DELETED' : canon(r.value)}` : 'none');

// Set on every page before its scripts: Date.now runs `globalThis.__checkerSkew` ms off.
function skewScript(skew) {
  const real = Date.now.bind(Date);
  globalThis.__checkerSkew = skew;
  Date.now = () => real() + globalThis.__checkerSkew;
}

/** One JavaScript context on a device: a tab, or the dedicated worker (in its host page). */
class Ctx {
  constructor(device, name, kind) {
    Object.assign(this, { device, name, kind, skew: 0, page: null, open: false });
  }

  get label() {
    return `${this.device.name}.${this.name}`;
  }

  async start() {
    const { context, run } = this.device;
    if (this.kind === 'tab') {
      this.page = await context.newPage();
      await this.page.addInitScript(skewScript, this.skew);
      await this.page.goto(`${run.server.url}/index.html`);
    } else {
      if (!this.page || this.page.isClosed()) {
        this.page = await context.newPage();
        await this.page.goto(`${run.server.url}/index.html?role=worker-host`);
      }
    }
    await this.page.waitForFunction(() => document.documentElement.dataset.ready === 'true');
    if (this.kind === 'worker') await this.page.evaluate((skew) => window.startWorker(skew), this.skew);
    await this.call('open', [DB]);
    this.open = true;
  }

  /** Calls the checker export `method` in this context; its JSON answer, parsed. */
  async call(method, args = []) {
    const text = await this.page.evaluate(([m, a]) => window.rpc(m, a), [method, args]);
    return JSON.parse(text);
  }

  async setSkew(skew) {
    this.skew = skew;
    if (this.open) await this.page.evaluate((s) => window.setSkew(s), skew);
  }

  /** Ends this context abruptly: `close` (tab), `crash` (tab, CDP Page.crash), `terminate` (worker). */
  async kill(how) {
    this.open = false;
    if (this.kind === 'worker') {
      await this.page.evaluate(() => window.terminateWorker());
    } else if (how === 'crash') {
      const crashed = new Promise((resolve) => this.page.once('crash', resolve));
      const cdp = await this.device.context.newCDPSession(this.page);
      cdp.send('Page.crash').catch(() => {});
      // Guards against a hang only (the crash event normally follows at once).
      let guard;
      const timedOut = new Promise((_, reject) => {
        guard = setTimeout(() => reject(new Error(`${this.label} did not crash`)), 15_000);
      });
      await Promise.race([crashed, timedOut]).finally(() => clearTimeout(guard));
      await this.page.close().catch(() => {});
    } else {
      await this.page.close();
    }
  }

  /** Closes this context cleanly (drops its store first). */
  async stop() {
    if (!this.open) return;
    await this.call('close').catch(() => {});
    await this.kill('close');
  }
}

class Device {
  constructor(run, name, { tabs = 1, worker = false, observer = false } = {}) {
    Object.assign(this, { run, name, observer, context: null, account: null, acks: [], switched: null });
    this.contexts = [];
    for (let i = 0; i < tabs; i++) this.contexts.push(new Ctx(this, `tab${i}`, 'tab'));
    if (worker) this.contexts.push(new Ctx(this, 'worker', 'worker'));
  }

  async start() {
    this.context = await this.run.browser.newContext();
    for (const c of this.contexts) await c.start();
  }

  openContexts() {
    return this.contexts.filter((c) => c.open);
  }

  /** An open context, opening the first one if none is. */
  async anyOpen(rand) {
    const open = this.openContexts();
    if (open.length) return rand ? rand.pick(open) : open[0];
    await this.contexts[0].start();
    return this.contexts[0];
  }
}

/**
 * The kinds of faults a run injects (all by default): `skew` (clock offsets up to hours),
 * `farskew` (offsets over a day), `kill` (contexts closed, crashed or terminated
 * mid-round), `restart` (server restarts), `restore` (the server's database restored to
 * an older copy), `switch` (a device switching account). `CHECKER_FAULTS=skew,kill`
 * narrows a run down to some; a seed replays only with the same faults.
 */
export const FAULTS = ['skew', 'farskew', 'kill', 'restart', 'restore', 'switch'];
export function faultsFromEnv() {
  const list = process.env.CHECKER_FAULTS;
  return list ? list.split(',').filter((f) => FAULTS.includes(f)) : FAULTS;
}

/** Runs one seed; resolves to `{ok, seed, ops, violations, trace, stats}`. */
export async function runSeed({ browser, seed, ops, faults = faultsFromEnv(), page = process.env.CAIRN_CHECKER_PAGE, log = () => {} }) {
  if (!page) throw new Error('CAIRN_CHECKER_PAGE is not set: run the checker with `cargo xtask test`');
  const rand = prng(seed);
  const has = (fault) => faults.includes(fault);
  const skews = SKEWS.filter((s) => (Math.abs(s) > DAY ? has('farskew') : s === 0 || has('skew')));
  const dataDir = mkdtempSync(join(tmpdir(), 'cairn-checker-'));
  const snapshotDir = mkdtempSync(join(tmpdir(), 'cairn-checker-snapshot-'));
  const serverArgs = ['--user-rate-per-minute', '0', '--auth-rate-per-minute', '0'];
  const run = { browser, server: null, devices: [], observers: [] };
  const trace = [];
  const violations = [];
  const stats = { acks: 0, syncs: 0, syncErrors: 0, kills: 0, restarts: 0, restored: false, switched: false };
  const note = (op, line) => {
    trace.push(`#${op} ${line}`);
    log(`#${op} ${line}`);
  };
  // Quiescing is traced apart: its first and last rounds are shown.
  const quiesceTrace = [];
  const violate = (invariant, text, op) => violations.push({ invariant, text, op });
  const accounts = {
    A: `a-${seed}@checker.test`,
    B: `b-${seed}@checker.test`,
  };
  let serial = 0;

  const startOurServer = async (port = 0) => {
    run.server = await startServer({ dataDir, staticDir: page, port, args: serverArgs });
  };
  const stopOurServer = async () => {
    await run.server.stop();
  };
  const dbFiles = (dir) => ['cairn.db', 'cairn.db-wal', 'cairn.db-shm'].map((f) => [f, join(dir, f)]);

  // When the server's database is copied away, restored, and the account switched.
  let snapshotAt = 1 + rand.int(Math.max(1, Math.floor(ops * 0.3)));
  let restoreAt = Math.floor(ops * 0.5) + rand.int(Math.max(1, Math.floor(ops * 0.35)));
  let switchAt = Math.floor(ops * 0.2) + rand.int(Math.max(1, Math.floor(ops * 0.6)));
  if (!has('restore')) snapshotAt = restoreAt = -1;
  if (!has('switch')) switchAt = -1;
  const switchChoice = rand.pick(['keep', 'empty']);
  const deviceCount = 2 + rand.int(2);

  /** Records an acknowledged write and checks (c) at once. */
  const acknowledge = (op, ctx, record) => {
    const device = ctx.device;
    // A clock beyond the protocol's drift limit (a day ahead of true time) is refused by
    // the server; once the server's time is known, the device's clock restarts behind it.
    const beyondDrift = parseInt(record.hlc.slice(0, 12), 16) > Date.now() + DRIFT_MS;
    const ack = { ...record, op, ctx: ctx.label, device: device.name, account: device.account, skew: ctx.skew, beyondDrift };
    const earlier = [...device.acks].reverse().find((a) => keyOf(a) === keyOf(ack) && !a.beyondDrift);
    if (earlier && !(ack.hlc > earlier.hlc)) {
      violate(
        'c',
        `${device.name}: ${ctx.label} was acknowledged ${short(ack)} (op #${op}) after ${earlier.ctx} was acknowledged ${short(earlier)} (op #${earlier.op}): the clock did not increase`,
        op,
      );
    }
    device.acks.push(ack);
    stats.acks++;
  };

  const syncIn = async (op, ctx, what = 'sync') => {
    stats.syncs++;
    const res = await ctx.call('sync_once');
    if (res.ok) {
      note(op, `${what} ${ctx.label}: pushed ${res.pushed}, pulled ${res.pulled}, conflicts ${res.conflicts}${res.refused.length ? `, refused ${res.refused.map((r) => `${r.collection}/${r.id} (${r.reason})`).join('; ')}` : ''}`);
    } else {
      stats.syncErrors++;
      note(op, `${what} ${ctx.label}: error (${res.kind}) ${res.error}`);
      if (res.kind === 'signed_out' || res.kind === 'unauthorized') {
        // What the user does when the app says the session ended: sign in again.
        await signIn(op, ctx, ctx.device.account);
      }
    }
    return res;
  };

  const signIn = async (op, ctx, email, choice = 'keep') => {
    const res = await ctx.call('sign_in', [email, PASSWORD, choice]);
    note(op, `sign in ${ctx.label} to ${email}: ${res.switch}`);
    return res;
  };

  const writeIn = async (op, ctx, del) => {
    const collection = rand.pick(COLLECTIONS);
    const id = rand.pick(IDS);
    try {
      let record;
      if (del) {
        record = await ctx.call('delete_record', [collection, id]);
      } else {
        const value = { n: ++serial, by: ctx.label };
        record = await ctx.call('write', [collection, id, JSON.stringify(value)]);
      }
      note(op, `${del ? 'delete' : 'write'} ${ctx.label} (skew ${ctx.skew}) -> ${short(record)}`);
      acknowledge(op, ctx, record);
    } catch (e) {
      note(op, `${del ? 'delete' : 'write'} ${ctx.label} ${collection}/${id} failed: ${e.message.split('\n')[0]}`);
    }
  };

  /** Resolves when the device's next request (or response) to `path` is seen. */
  const networkPoint = (device, event, path) => {
    let handler;
    const promise = new Promise((resolve) => {
      handler = (r) => r.url().includes(path) && resolve();
      device.context.on(event, handler);
    });
    return { promise, cancel: () => device.context.off(event, handler) };
  };

  const interrupt = async (op, ctx) => {
    const how = ctx.kind === 'worker' ? 'terminate' : rand.pick(['close', 'close', 'crash']);
    const point = rand.pick(['start', 'push', 'push-reply', 'pull', 'pull-reply']);
    const [event, path] = {
      start: [null, null],
      push: ['request', '/sync/push'],
      'push-reply': ['response', '/sync/push'],
      pull: ['request', '/sync/pull'],
      'pull-reply': ['response', '/sync/pull'],
    }[point];
    const seen = event ? networkPoint(ctx.device, event, path) : null;
    const round = ctx.call('sync_once').then(
      (r) => `finished first: ${r.ok ? `pushed ${r.pushed}, pulled ${r.pulled}` : r.error}`,
      () => 'cut short',
    );
    if (seen) await Promise.race([seen.promise, round]);
    seen?.cancel();
    await ctx.kill(how);
    stats.kills++;
    note(op, `${how} ${ctx.label} at ${point} of a round: ${await round}`);
  };

  const restartServer = async (op, action) => {
    const port = run.server.port;
    await stopOurServer();
    if (action === 'snapshot') {
      for (const [f, path] of dbFiles(dataDir)) if (existsSync(path)) cpSync(path, join(snapshotDir, f));
    } else if (action === 'restore') {
      for (const [, path] of dbFiles(dataDir)) rmSync(path, { force: true });
      for (const [f, path] of dbFiles(snapshotDir)) if (existsSync(path)) cpSync(path, join(dataDir, f));
      stats.restored = true;
      run.restored = true;
    }
    await startOurServer(port);
    stats.restarts++;
    note(op, `server restarted${action ? ` (${action === 'snapshot' ? 'database copied away' : 'database restored to the copy'})` : ''}`);
  };

  const switchAccount = async (op) => {
    const device = run.devices[run.devices.length - 1];
    const ctx = await device.anyOpen();
    // Unsynced at the switch: queued changes, and those set aside (refused by the server).
    const pending = [
      ...(await ctx.call('outbox')),
      ...((await ctx.call('set_aside')) ?? []).map((s) => s.record),
    ];
    await ctx.call('sign_out');
    const res = await signIn(op, ctx, accounts.B, switchChoice);
    device.switched = { from: device.account, choice: res.switch, op, pending: new Set(pending.map((e) => `${e.collection}/${e.id}@${e.hlc}`)) };
    // Starting empty, the device keeps the old account's data in a local snapshot: what
    // that snapshot holds, read back from the device.
    const snapshot = res.switch === 'empty' ? ((await ctx.call('snapshots')) ?? [])[0] : null;
    device.switched.kept = new Set((snapshot?.records ?? []).map((r) => `${keyOf(r)}@${r.hlc}`));
    device.account = accounts.B;
    stats.switched = true;
    note(op, `${device.name} switched from ${device.switched.from} to ${accounts.B} (asked ${switchChoice}, got ${res.switch}); ${pending.length} pending`);
  };

  const allContexts = () => run.devices.flatMap((d) => d.contexts);

  try {
    await startOurServer();
    note(0, `seed ${seed}, ${ops} ops, faults ${faults.join(',')}, ${deviceCount} devices; snapshot at #${snapshotAt}, restore at #${restoreAt}, switch at #${switchAt} (${switchChoice}); ${run.server.url}`);
    // Account B exists from the start (so the database copy has it).
    const created = await fetch(`${run.server.url}/api/v1/accounts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: accounts.B, password: PASSWORD }),
    });
    if (created.status !== 201) throw new Error(`cannot create account B: ${created.status}`);
    for (let i = 0; i < deviceCount; i++) {
      const device = new Device(run, `d${i}`, i === 0 ? { tabs: 2, worker: true } : {});
      await device.start();
      device.account = accounts.A;
      if (i === 0) await device.contexts[0].call('sign_up', [accounts.A, PASSWORD]);
      else await signIn(0, device.contexts[0], accounts.A);
      run.devices.push(device);
    }

    for (let op = 1; op <= ops; op++) {
      if (op === snapshotAt) {
        await restartServer(op, 'snapshot');
        continue;
      }
      if (op === restoreAt) {
        await restartServer(op, 'restore');
        continue;
      }
      if (op === switchAt) {
        await switchAccount(op);
        continue;
      }
      const kind = rand.weighted([
        ['write', 30],
        ['delete', 7],
        ['sync', 22],
        ['syncDuringWrite', 5],
        ['skew', skews.length > 1 ? 8 : 0],
        ['interrupt', has('kill') ? 6 : 0],
        ['reopen', 8],
        ['reload', 4],
        ['restart', has('restart') ? 2 : 0],
      ]);
      const device = rand.pick(run.devices);
      const closed = device.contexts.filter((c) => !c.open);
      if (kind === 'reopen' || !device.openContexts().length) {
        const ctx = closed.length ? rand.pick(closed) : null;
        if (ctx) {
          await ctx.start();
          note(op, `reopen ${ctx.label} (skew ${ctx.skew})`);
        } else {
          note(op, `reopen ${device.name}: nothing closed`);
        }
        continue;
      }
      const ctx = rand.pick(device.openContexts());
      switch (kind) {
        case 'write':
        case 'delete':
          await writeIn(op, ctx, kind === 'delete');
          break;
        case 'sync':
          await syncIn(op, ctx);
          break;
        case 'syncDuringWrite': {
          // A round in one context while another context of the device writes.
          const other = rand.pick(device.openContexts());
          const round = syncIn(op, ctx, 'sync (during a write)');
          await writeIn(op, other, rand.next() < 0.2);
          await round;
          break;
        }
        case 'skew': {
          const target = rand.pick(device.contexts);
          const skew = rand.pick(skews);
          note(op, `skew ${target.label}: ${target.skew} -> ${skew} ms`);
          await target.setSkew(skew);
          break;
        }
        case 'interrupt':
          await interrupt(op, ctx);
          break;
        case 'reload':
          await ctx.stop();
          await ctx.start();
          note(op, `reload ${ctx.label} (skew ${ctx.skew})`);
          break;
        case 'restart':
          await restartServer(op, null);
          break;
      }
    }

    // Quiesce: true clocks everywhere, every context open, a fresh observer device per
    // account, then rounds on every device until none pushes or pulls anything.
    const end = ops + 1;
    for (const ctx of allContexts()) {
      if (!ctx.open) await ctx.start();
      await ctx.setSkew(0);
    }
    for (const [label, email] of Object.entries(accounts)) {
      if (!run.devices.some((d) => d.account === email)) continue;
      const observer = new Device(run, `observer-${label}`, { observer: true });
      await observer.start();
      observer.account = email;
      await signIn(end, observer.contexts[0], email);
      run.observers.push(observer);
    }
    const everyone = [...run.devices, ...run.observers];
    for (const device of everyone) {
      const ctx = device.contexts[0];
      if ((await ctx.call('account')) !== device.account) await signIn(end, ctx, device.account);
    }
    let quiet = false;
    for (let round = 0; round < QUIESCE_ROUNDS && !quiet; round++) {
      quiet = true;
      const from = trace.length;
      for (const device of everyone) {
        const ctx = device.contexts[0];
        // With every clock right again, the user retries what the server refused.
        const retried = (await ctx.call('retry_set_aside')) ?? [];
        for (const record of retried) {
          note(end, `retry set-aside ${ctx.label} -> ${short(record)}`);
          acknowledge(end, ctx, record);
        }
        const res = await syncIn(end, ctx, `quiesce ${round}`);
        if (retried.length || !res.ok || res.pushed || res.pulled || res.refused.length) quiet = false;
      }
      quiesceTrace.push(trace.splice(from));
    }
    if (!quiet) violate('d', `sync did not quiesce within ${QUIESCE_ROUNDS} rounds per device`);

    // What each device shows, read from a context of its own.
    for (const device of everyone) {
      const ctx = device.contexts[device.contexts.length > 1 ? 1 : 0];
      const records = await ctx.call('dump', [COLLECTIONS.join(',')]);
      device.state = new Map(records.map((r) => [keyOf(r), r]));
      device.conflicts = await ctx.call('conflicts');
      device.setAside = (await ctx.call('set_aside')) ?? [];
      device.pending = await ctx.call('pending_count');
      device.outbox = device.pending ? await ctx.call('outbox') : [];
    }
    checkInvariants(run, accounts, violate);
  } catch (e) {
    violate('harness', `the run stopped: ${e.stack ?? e}`);
  } finally {
    for (const device of [...run.devices, ...run.observers]) await device.context?.close().catch(() => {});
    await run.server?.stop().catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(snapshotDir, { recursive: true, force: true });
  }
  const rounds = quiesceTrace.length;
  const quiescing = rounds <= 2 ? quiesceTrace.flat() : [...quiesceTrace[0], `… quiesce rounds 1-${rounds - 2} left out …`, ...quiesceTrace[rounds - 1]];
  return { ok: violations.length === 0, seed, ops, faults, violations, trace, quiescing, stats };
}

function checkInvariants(run, accounts, violate) {
  const everyone = [...run.devices, ...run.observers];
  const groups = new Map();
  for (const d of everyone) groups.set(d.account, [...(groups.get(d.account) ?? []), d]);
  const allAcks = run.devices.flatMap((d) => d.acks);
  const ackByClock = new Map(allAcks.map((a) => [a.hlc, a]));

  // (a) every device of an account shows the same records with the same clocks.
  for (const [account, devices] of groups) {
    const [ref, ...rest] = devices.sort((x, y) => Number(y.observer) - Number(x.observer));
    for (const d of rest) {
      for (const key of new Set([...ref.state.keys(), ...d.state.keys()])) {
        const [x, y] = [ref.state.get(key), d.state.get(key)];
        if (!x || !y || x.hlc !== y.hlc || canon(x.value) !== canon(y.value) || x.deleted !== y.deleted) {
          const aside = [ref, d]
            .flatMap((dev) => dev.setAside.filter((a) => keyOf(a.record) === key).map((a) => `${dev.name} set aside ${short(a.record)}: ${a.reason}`))
            .join('; ');
          violate('a', `${account}: ${key} differs: ${ref.name} has ${short(x)}, ${d.name} has ${short(y)}${aside ? ` (${aside})` : ''}`);
        }
      }
    }
  }

  // (b) every acknowledged write is converged, logged, set aside or knowingly replaced.
  const converged = (account) => groups.get(account)?.[0]?.state ?? new Map();
  for (const device of run.devices) {
    for (const ack of device.acks) {
      let account = ack.account;
      const sw = device.switched;
      const pendingAtSwitch = sw && sw.from === ack.account && sw.pending.has(`${keyOf(ack)}@${ack.hlc}`);
      const inSnapshot = sw && sw.choice === 'empty' && sw.from === ack.account && sw.kept.has(`${keyOf(ack)}@${ack.hlc}`);
      if (pendingAtSwitch) {
        // Unpushed at the switch: it goes with the data the device kept, or to the snapshot.
        if (sw.choice === 'empty') continue;
        account = accounts.B;
      }
      const current = converged(account).get(keyOf(ack));
      if (current && current.hlc === ack.hlc) {
        if (canon(current.value) !== canon(ack.value) || current.deleted !== ack.deleted) {
          violate('b', `${ack.ctx} was acknowledged ${short(ack)} (op #${ack.op}), but ${account} converged on ${short(current)}: the same clock for another change`);
        }
        continue;
      }
      // Carried into the converged version: a device that merged it with a concurrent
      // version wrote its value anew, with a new clock.
      if (current && canon(current.value) === canon(ack.value) && current.deleted === ack.deleted) continue;
      // Its copies: the versions a merge wrote anew with its value (each a conflict's winner).
      const copies = new Set([ack.hlc]);
      for (const d of run.devices) {
        for (const c of d.conflicts) {
          if (keyOf(c.winner) === keyOf(ack) && !ack.deleted && canon(c.winner.value) === canon(ack.value)) copies.add(c.winner.hlc);
        }
      }
      // In a conflict log, itself or a copy: the device that met it and a concurrent
      // version kept one and logged the other (maybe another device than its own).
      // (A copy's clock may be known only to a log gone since, with an account switch,
      // so a written value, unique per write, counts as well.)
      const isCopy = (r) => copies.has(r.hlc) || (!ack.deleted && !r.deleted && canon(r.value) === canon(ack.value));
      if (run.devices.some((d) => d.conflicts.some((c) => keyOf(c.loser) === keyOf(ack) && isCopy(c.loser)))) continue;
      if (device.setAside.some((s) => keyOf(s.record) === keyOf(ack) && s.record.hlc === ack.hlc)) continue;
      // Replaced knowingly: its own device wrote the record again after it, or a change
      // somewhere was made from it (or from the copy of it a merge wrote anew).
      const index = device.acks.indexOf(ack);
      if (device.acks.slice(index + 1).some((a) => keyOf(a) === keyOf(ack))) continue;
      if (allAcks.some((x) => keyOf(x) === keyOf(ack) && copies.has(x.base))) continue;
      // After the server's database was restored to an older copy, devices re-send what
      // they hold as replays, which the server merges by clock alone (the protocol's
      // documented exception): a replay may then replace a version it never saw.
      if (run.restored && current && current.hlc > ack.hlc) continue;
      // Pushed, then lost by that restore after its device had left the account: the
      // server's copy is older than the write, and the only device that held it now keeps
      // it in the snapshot it took when it started the other account empty (restorable
      // from its Storage page).
      if (run.restored && inSnapshot) continue;
      violate('b', `${ack.ctx} was acknowledged ${short(ack)} (op #${ack.op}, skew ${ack.skew} ms) under ${ack.account}; ${account} converged on ${short(current)}: not merged into it, not replaced by a change made from it, and in no conflict log`);
    }
  }
  // ... and every converged record is one somebody wrote.
  for (const [account, devices] of groups) {
    for (const r of devices[0].state.values()) {
      // By its clock, or (a merge wrote it anew) by its value.
      const ack =
        ackByClock.get(r.hlc) ??
        allAcks.find((a) => keyOf(a) === keyOf(r) && canon(a.value) === canon(r.value) && a.deleted === r.deleted);
      if (!ack || canon(ack.value) !== canon(r.value) || keyOf(ack) !== keyOf(r)) {
        violate('b', `${account} converged on ${short(r)}, which no context was acknowledged (${ack ? `that clock was ${short(ack)}` : 'unknown clock'})`);
      }
    }
  }

  // (d) nothing is left to push.
  for (const d of [...run.devices, ...run.observers]) {
    if (d.pending) {
      violate('d', `${d.name} has ${d.pending} pending change(s): ${d.outbox.map((e) => `${e.collection}/${e.id}@${e.hlc}`).join(', ')}`);
    }
  }

  // (e) another account's records appear only where a device chose to keep its data.
  const kept = run.devices.some((d) => d.switched?.choice === 'keep');
  for (const [account, devices] of groups) {
    for (const r of devices[0].state.values()) {
      const ack = ackByClock.get(r.hlc);
      if (ack && ack.account !== account && !kept) {
        const sw = run.devices.find((d) => d.switched)?.switched;
        violate('e', `${short(r)}, written under ${ack.account} by ${ack.ctx} (op #${ack.op}), appears under ${account} though no device chose to keep its data (switch answered ${sw?.choice})`);
      }
    }
  }
}

/** The report of a failed run: seed, each violated invariant, the last operations. */
export function describeFailure(result) {
  const byInvariant = new Map();
  for (const v of result.violations) byInvariant.set(v.invariant, [...(byInvariant.get(v.invariant) ?? []), v.text]);
  const faults = result.faults.length === FAULTS.length ? '' : ` CHECKER_FAULTS=${result.faults.join(',')}`;
  const lines = [`checker seed ${result.seed} (${result.ops} ops) failed; reproduce with CHECKER_SEED=${result.seed} CHECKER_OPS=${result.ops}${faults}`];
  for (const [inv, texts] of byInvariant) {
    lines.push(`invariant (${inv}): ${texts.length} violation(s)`);
    for (const t of texts.slice(0, 6)) lines.push(`  - ${t}`);
    if (texts.length > 6) lines.push(`  … and ${texts.length - 6} more`);
  }
  const first = result.violations.filter((v) => v.op !== undefined).sort((x, y) => x.op - y.op)[0];
  if (first) {
    lines.push(`the operations up to the first violation during the run (#${first.op}):`);
    const upTo = result.trace.findLastIndex((t) => t.startsWith(`#${first.op} `));
    for (const t of result.trace.slice(Math.max(0, upTo - 12), upTo + 1)) lines.push(`  ${t}`);
  }
  lines.push(`the last ${Math.min(TRACE_SHOWN, result.trace.length)} of ${result.trace.length} operations:`);
  for (const t of result.trace.slice(-TRACE_SHOWN)) lines.push(`  ${t}`);
  if (result.quiescing.length) lines.push('quiescing:');
  for (const t of result.quiescing) lines.push(`  ${t}`);
  return lines.join('\n');
}

/** Seeds for a run: CHECKER_SEED alone, else `count` fresh ones. */
export function seedsFromEnv(count) {
  if (process.env.CHECKER_SEED) return [Number(process.env.CHECKER_SEED)];
  const n = Number(process.env.CHECKER_SEEDS ?? count);
  return Array.from({ length: n }, () => Math.floor(Math.random() * 2 ** 31));
}

// `node checker/run.mjs`: the seeds of the environment, one line per seed.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const ops = Number(process.env.CHECKER_OPS ?? 150);
  const browser = await launchBrowser();
  let failed = 0;
  const seeds = seedsFromEnv(3);
  const started = Date.now();
  for (const seed of seeds) {
    const t = Date.now();
    const result = await runSeed({ browser, seed, ops, log: process.env.CHECKER_VERBOSE ? console.log : () => {} });
    const secs = ((Date.now() - t) / 1000).toFixed(1);
    if (result.ok) console.log(`seed ${seed}: ok (${secs} s) ${JSON.stringify(result.stats)}`);
    else {
      failed++;
      console.log(`${describeFailure(result)}\n(${secs} s) ${JSON.stringify(result.stats)}`);
    }
  }
  await browser.close();
  const total = ((Date.now() - started) / 1000).toFixed(1);
  console.log(failed ? `${seeds.length} seeds, ${ops} ops: ${failed} failed (${total} s)` : `${seeds.length} seeds, ${ops} ops: ok (${total} s)`);
  process.exit(failed ? 1 : 0);
}
