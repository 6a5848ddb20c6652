import apn from '@parse/node-apn';
import { ApnsClient, Notification } from 'apns2';
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Pool } from 'undici';
import { ApnsProviderToken } from '../functions/_lib/adapters/apns-provider-token.js';
import { ApnsPushGateway } from '../functions/_lib/adapters/apns-push-gateway.js';
import {
  generateApnsTestKey,
  generateLoopbackCertificate,
  startApnsSandbox,
  type ApnsSandbox,
} from '../infra/local/apns-sandbox.js';

/**
 * Pushes per second from one process to a local APNs look-alike, for our gateway and the two maintained Node clients,
 * with the same payloads, device tokens and number of pushes in flight. The peer is the APNs sandbox (it verifies
 * every JWT) in a child process, so it does not share the client's event loop. All clients talk h2 over TLS, since
 * neither library speaks h2c; our gateway also runs over h2c to show what TLS costs.
 *
 * Run: `npx tsx bench/apns-gateway.bench.ts [--pushes 20000] [--in-flight 100] [--rounds 3]`.
 */

export type ApnsBenchClient =
  | 'inbox-relay ApnsPushGateway (h2c)'
  | 'inbox-relay ApnsPushGateway (TLS)'
  | '@parse/node-apn 8.1.0 (TLS)'
  | 'apns2 12.2.0 (TLS, 1 connection)'
  | 'apns2 12.2.0 (TLS, its default pool)';

export const APNS_BENCH_CLIENTS: readonly ApnsBenchClient[] = [
  'inbox-relay ApnsPushGateway (h2c)',
  'inbox-relay ApnsPushGateway (TLS)',
  '@parse/node-apn 8.1.0 (TLS)',
  'apns2 12.2.0 (TLS, 1 connection)',
  'apns2 12.2.0 (TLS, its default pool)',
];

export interface ApnsBenchOptions {
  /** Timed pushes per round and client. Default 20000. */
  pushes?: number;
  /** Pushes in flight at any time. Default 100. */
  inFlight?: number;
  /** Timed rounds per client; clients take turns each round so drift hits all alike. Default 3. */
  rounds?: number;
  /** Untimed pushes per client before the first round (connection, JIT). Default 2000. */
  warmup?: number;
  clients?: readonly ApnsBenchClient[];
  /** Prints progress and the table; default true. */
  print?: boolean;
}

export interface ApnsBenchRow {
  client: ApnsBenchClient;
  /** Median over the rounds. */
  pushesPerSecond: number;
  roundsPushesPerSecond: number[];
  /** Client-process CPU time (user + system) per push, median over rounds: the cost that does not depend on the peer. */
  clientCpuMicrosPerPush: number;
  /** Peer CPU time over wall time during the median round; near 1.0 means the peer, not the client, was the limit. */
  peerCpuShare: number;
  latencyMs: { p50: number; p99: number };
  /** Pushes that did not end delivered, over all rounds (must be 0 for a valid run). */
  failures: number;
}

export interface ApnsBenchReport {
  node: string;
  cpus: number;
  cpuModel: string;
  pushes: number;
  inFlight: number;
  rounds: number;
  payloadBytes: number;
  rows: ApnsBenchRow[];
}

const TOPIC = 'com.example.inboxrelay';
const KEY_ID = 'BENCHKEY01';
const TEAM_ID = 'BENCHTEAM1';
const PAYLOAD = {
  aps: { alert: { title: 'New mail', body: 'You have new messages' }, 'thread-id': 'primary', 'mutable-content': 1 },
  mailbox: 'primary',
};

interface Sender {
  /** Resolves true when delivered. */
  send(deviceToken: string): Promise<boolean>;
  close(): Promise<void>;
}

interface PeerUrls {
  h2c: string;
  tls: string;
}

interface PeerStats {
  received: number;
  delivered: number;
  cpuMicros: number;
}

/** Runs the comparison and returns JSON-serializable results. */
export async function runApnsGatewayBench(opts: ApnsBenchOptions = {}): Promise<ApnsBenchReport> {
  const pushes = opts.pushes ?? 20_000;
  const inFlight = opts.inFlight ?? 100;
  const rounds = opts.rounds ?? 3;
  const warmup = opts.warmup ?? 2000;
  const clients = opts.clients ?? APNS_BENCH_CLIENTS;
  const print = opts.print ?? true;
  const log = (line: string): void => {
    if (print) process.stdout.write(`${line}\n`);
  };

  const key = generateApnsTestKey();
  const certificate = generateLoopbackCertificate();
  const deviceTokens = Array.from({ length: 1000 }, () => randomBytes(32).toString('hex'));
  const peer = await Peer.start({ publicKeyPem: key.publicKeyPem, certificate });
  const senders = new Map<ApnsBenchClient, Sender>();
  const samples = new Map<ApnsBenchClient, Array<{ rate: number; cpu: number; peerShare: number; latencies: number[] }>>();
  let failures = new Map<ApnsBenchClient, number>();
  try {
    for (const client of clients) {
      senders.set(client, createSender(client, peer.urls, key.privateKeyPem, certificate.certPem));
      samples.set(client, []);
    }
    for (const client of clients) {
      log(`warming up ${client}`);
      await peer.reset();
      const warm = await drive(senders.get(client)!, warmup, inFlight, deviceTokens);
      const stats = await peer.stats();
      if (warm.failures > 0 || stats.delivered !== warmup) {
        throw new Error(`${client} failed the warm-up: ${warm.failures} failures, peer accepted ${stats.delivered} of ${warmup}`);
      }
    }
    failures = new Map(clients.map((c) => [c, 0]));
    for (let round = 0; round < rounds; round += 1) {
      // Rotate the order so no client always runs right after the same one.
      const order = clients.map((_, i) => clients[(i + round) % clients.length]!);
      for (const client of order) {
        await peer.reset();
        const before = await peer.stats();
        const run = await drive(senders.get(client)!, pushes, inFlight, deviceTokens);
        const after = await peer.stats();
        failures.set(client, failures.get(client)! + run.failures + (pushes - run.failures - after.delivered));
        samples.get(client)!.push({
          rate: pushes / (run.wallMs / 1000),
          cpu: run.cpuMicros / pushes,
          peerShare: (after.cpuMicros - before.cpuMicros) / 1000 / run.wallMs,
          latencies: run.latencies,
        });
        log(`round ${round + 1}/${rounds} ${client}: ${Math.round(pushes / (run.wallMs / 1000))} pushes/s`);
      }
    }
  } finally {
    for (const sender of senders.values()) await sender.close().catch(() => undefined);
    await peer.stop();
  }

  const rows: ApnsBenchRow[] = clients.map((client) => {
    const runs = samples.get(client)!;
    const byRate = [...runs].sort((a, b) => a.rate - b.rate);
    const median = byRate[Math.floor(byRate.length / 2)]!;
    const latencies = runs.flatMap((r) => r.latencies).sort((a, b) => a - b);
    return {
      client,
      pushesPerSecond: Math.round(median.rate),
      roundsPushesPerSecond: runs.map((r) => Math.round(r.rate)),
      clientCpuMicrosPerPush: round1(medianOf(runs.map((r) => r.cpu))),
      peerCpuShare: round2(median.peerShare),
      latencyMs: { p50: round2(percentile(latencies, 0.5)), p99: round2(percentile(latencies, 0.99)) },
      failures: failures.get(client) ?? 0,
    };
  });
  const report: ApnsBenchReport = {
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    pushes,
    inFlight,
    rounds,
    payloadBytes: Buffer.byteLength(JSON.stringify(PAYLOAD)),
    rows,
  };
  if (print) printTable(report);
  return report;
}

/** Sends `count` pushes keeping `inFlight` outstanding; measures wall time, client CPU and per-push latency. */
async function drive(
  sender: Sender,
  count: number,
  inFlight: number,
  deviceTokens: string[],
): Promise<{ wallMs: number; cpuMicros: number; failures: number; latencies: number[] }> {
  let next = 0;
  let failures = 0;
  const latencies = new Array<number>(count);
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  const lane = async (): Promise<void> => {
    while (next < count) {
      const index = next++;
      const sentAt = performance.now();
      const delivered = await sender.send(deviceTokens[index % deviceTokens.length]!).catch(() => false);
      latencies[index] = performance.now() - sentAt;
      if (!delivered) failures += 1;
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, lane));
  const wallMs = performance.now() - start;
  const cpu = process.cpuUsage(cpuBefore);
  return { wallMs, cpuMicros: cpu.user + cpu.system, failures, latencies };
}

function createSender(client: ApnsBenchClient, urls: PeerUrls, privateKeyPem: string, caPem: string): Sender {
  switch (client) {
    case 'inbox-relay ApnsPushGateway (h2c)':
    case 'inbox-relay ApnsPushGateway (TLS)': {
      const url = client.endsWith('(h2c)') ? urls.h2c : urls.tls;
      const gateway = new ApnsPushGateway({
        production: url,
        sandbox: url,
        topic: TOPIC,
        token: new ApnsProviderToken({ keyId: KEY_ID, teamId: TEAM_ID, privateKeyPem }),
        ca: caPem,
      });
      return {
        send: async (pushToken) =>
          (await gateway.send({ deviceId: 'bench', pushToken, environment: 'production' }, { kind: 'alert', priority: 10, payload: PAYLOAD }))
            .outcome === 'delivered',
        close: () => gateway.close(),
      };
    }
    case '@parse/node-apn 8.1.0 (TLS)': {
      const { hostname, port } = new URL(urls.tls);
      const provider = new apn.Provider({
        token: { key: privateKeyPem, keyId: KEY_ID, teamId: TEAM_ID },
        address: hostname,
        port: Number(port),
        ca: [caPem],
        production: false,
      });
      return {
        send: async (deviceToken) => {
          const note = new apn.Notification();
          note.topic = TOPIC;
          note.pushType = 'alert';
          note.priority = 10;
          note.rawPayload = PAYLOAD;
          const result = await provider.send(note, deviceToken);
          return result.sent.length === 1;
        },
        close: async () => {
          await provider.shutdown();
        },
      };
    }
    case 'apns2 12.2.0 (TLS, 1 connection)':
    case 'apns2 12.2.0 (TLS, its default pool)': {
      const apnsClient = new ApnsClient({ team: TEAM_ID, keyId: KEY_ID, signingKey: privateKeyPem, defaultTopic: TOPIC });
      // apns2 always dials <host>:443 with the system CAs; only its undici Pool is swapped for one aimed at the
      // peer, with apns2's own pool settings except the connection count in the one-connection variant.
      const replaced = apnsClient.client;
      const pool = new Pool(new URL(urls.tls).origin, {
        connections: client.includes('1 connection') ? 1 : 32,
        pipelining: 1,
        allowH2: true,
        maxConcurrentStreams: 100,
        connect: { ca: caPem },
      });
      Object.defineProperty(apnsClient, 'client', { value: pool });
      void replaced.close();
      return {
        send: async (deviceToken) => {
          await apnsClient.send(
            new Notification(deviceToken, {
              alert: PAYLOAD.aps.alert,
              threadId: PAYLOAD.aps['thread-id'],
              mutableContent: true,
              data: { mailbox: PAYLOAD.mailbox },
            }),
          );
          return true;
        },
        close: () => apnsClient.close(),
      };
    }
  }
}

/** The sandbox in a child process, reached over IPC. */
class Peer {
  private constructor(
    private readonly child: ChildProcess,
    readonly urls: PeerUrls,
  ) {}

  static async start(init: { publicKeyPem: string; certificate: { keyPem: string; certPem: string } }): Promise<Peer> {
    // Keep tsx's loader flags so the child can run this TypeScript file too.
    const execArgv = process.execArgv.filter((arg, i, all) => !['--eval', '-e', '--print', '-p'].includes(arg) && !['--eval', '-e'].includes(all[i - 1] ?? ''));
    const child = fork(fileURLToPath(import.meta.url), [PEER_FLAG], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.send({ type: 'start', ...init });
    const urls = await once<PeerUrls>(child, 'started');
    return new Peer(child, urls);
  }

  async reset(): Promise<void> {
    this.child.send({ type: 'reset' });
    await once(this.child, 'reset');
  }

  async stats(): Promise<PeerStats> {
    this.child.send({ type: 'stats' });
    return once<PeerStats>(this.child, 'stats');
  }

  async stop(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.send({ type: 'stop' });
    await exited;
  }
}

function once<T = void>(child: ChildProcess, type: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onMessage = (message: { type: string; value: T }): void => {
      if (message.type !== type) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(message.value);
    };
    const onExit = (code: number | null): void => reject(new Error(`the APNs peer exited (${code})`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

const PEER_FLAG = '--apns-bench-peer';

async function runPeer(): Promise<void> {
  let sandboxes: ApnsSandbox[] = [];
  const reply = (type: string, value?: unknown): void => {
    process.send?.({ type, value });
  };
  process.on('message', async (message: { type: string; publicKeyPem?: string; certificate?: { keyPem: string; certPem: string } }) => {
    switch (message.type) {
      case 'start': {
        const common = { topic: TOPIC, keyId: KEY_ID, teamId: TEAM_ID, publicKeyPem: message.publicKeyPem };
        sandboxes = [await startApnsSandbox(common), await startApnsSandbox({ ...common, tls: message.certificate })];
        reply('started', { h2c: sandboxes[0]!.url, tls: sandboxes[1]!.url });
        break;
      }
      case 'reset':
        for (const sandbox of sandboxes) sandbox.reset();
        reply('reset');
        break;
      case 'stats': {
        const pushes = sandboxes.flatMap((s) => s.pushes());
        const cpu = process.cpuUsage();
        reply('stats', {
          received: pushes.length,
          delivered: pushes.filter((p) => p.status === 200).length,
          cpuMicros: cpu.user + cpu.system,
        } satisfies PeerStats);
        break;
      }
      case 'stop':
        await Promise.all(sandboxes.map((s) => s.stop()));
        process.exit(0);
    }
  });
}

function printTable(report: ApnsBenchReport): void {
  const header = ['client', 'pushes/s (median)', 'rounds', 'client CPU µs/push', 'peer CPU share', 'p50 ms', 'p99 ms', 'failures'];
  const lines = report.rows.map((r) => [
    r.client,
    String(r.pushesPerSecond),
    r.roundsPushesPerSecond.join(' / '),
    String(r.clientCpuMicrosPerPush),
    String(r.peerCpuShare),
    String(r.latencyMs.p50),
    String(r.latencyMs.p99),
    String(r.failures),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const row = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  process.stdout.write(
    [
      '',
      `${report.pushes} pushes per round, ${report.inFlight} in flight, ${report.rounds} rounds, ${report.payloadBytes}-byte payload; ` +
        `Node ${report.node}, ${report.cpus} × ${report.cpuModel}`,
      row(header),
      row(widths.map((w) => '-'.repeat(w))),
      ...lines.map(row),
      '',
    ].join('\n'),
  );
}

function percentile(sorted: number[], q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function medianOf(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

const round1 = (n: number): number => Math.round(n * 10) / 10;
const round2 = (n: number): number => Math.round(n * 100) / 100;

function numberArg(name: string): number | undefined {
  const index = process.argv.indexOf(name);
  return index === -1 ? undefined : Number(process.argv[index + 1]);
}

if (process.argv.includes(PEER_FLAG)) {
  void runPeer();
} else if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const report = await runApnsGatewayBench({
    pushes: numberArg('--pushes'),
    inFlight: numberArg('--in-flight'),
    rounds: numberArg('--rounds'),
    warmup: numberArg('--warmup'),
  });
  if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}
