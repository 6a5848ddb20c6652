import { execFileSync, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeBenchCharts } from './support/charts.js';
import { progress } from './support/progress.js';
import { renderReport, type BenchReport } from './support/report.js';
import { stableJson } from './support/stats.js';

/**
 * `npm run bench`: runs the six benchmark groups of issue 6, each in a process of its own, prints the results as
 * tables on stdout (progress goes to stderr) and writes them as JSON.
 *
 *   npm run bench                      all groups, full size (under 10 minutes on 2 cores); writes bench/results/latest.json
 *   npm run bench -- --quick           all groups, small (under a minute); writes bench/results/partial.json
 *   npm run bench -- --only growth     one group (name or number; repeat or comma-separate for more)
 *   npm run bench -- --out file.json   write the JSON elsewhere
 *   npm run bench -- --print [file]    print the tables of an earlier run (default bench/results/latest.json)
 *   npm run bench -- --charts [file]   redraw the SVG charts of an earlier run next to its JSON (default latest.json)
 *
 * Every run also draws its charts next to its JSON (`latest.latency-vs-load.svg`, `latest.cost-per-component.svg`).
 *
 * Benchmarks print numbers; nothing here passes or fails on a time.
 */

interface GroupSpec {
  id: string;
  key: keyof BenchReport['groups'];
  /** Wall-time limit of the group's process, full and quick. */
  limitSeconds: { full: number; quick: number };
}

const GROUPS: GroupSpec[] = [
  { id: 'callback', key: 'callback', limitSeconds: { full: 240, quick: 60 } },
  // EWS, then the same levels for Graph on a second stack.
  { id: 'end-to-end', key: 'endToEnd', limitSeconds: { full: 480, quick: 120 } },
  { id: 'push-delivery', key: 'pushDelivery', limitSeconds: { full: 240, quick: 60 } },
  { id: 'aws-calls', key: 'awsCalls', limitSeconds: { full: 360, quick: 90 } },
  { id: 'bundles', key: 'bundles', limitSeconds: { full: 600, quick: 120 } },
  { id: 'growth', key: 'growth', limitSeconds: { full: 420, quick: 90 } },
];

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPOSITORY_ROOT = path.dirname(BENCH_DIR);
const RESULTS_DIR = path.join(BENCH_DIR, 'results');
const LATEST = path.join(RESULTS_DIR, 'latest.json');

function parseArgs(argv: string[]): { quick: boolean; only: GroupSpec[]; out?: string; print?: string; charts?: string } {
  let quick = false;
  const only: GroupSpec[] = [];
  let out: string | undefined;
  let print: string | undefined;
  let charts: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') quick = true;
    else if (arg === '--only') {
      for (const name of (argv[++i] ?? '').split(',').filter(Boolean)) {
        const spec = GROUPS.find((g, index) => g.id === name || String(index + 1) === name);
        if (!spec) throw new Error(`unknown group "${name}"; groups: ${GROUPS.map((g, index) => `${index + 1} ${g.id}`).join(', ')}`);
        if (!only.includes(spec)) only.push(spec);
      }
    } else if (arg === '--out') out = argv[++i];
    else if (arg === '--print') print = argv[i + 1] && !argv[i + 1]!.startsWith('--') ? argv[++i] : LATEST;
    else if (arg === '--charts') charts = argv[i + 1] && !argv[i + 1]!.startsWith('--') ? argv[++i] : LATEST;
    else throw new Error(`unknown argument ${arg}`);
  }
  return { quick, only: GROUPS.filter((g) => only.includes(g)), ...(out ? { out } : {}), ...(print ? { print } : {}), ...(charts ? { charts } : {}) };
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: REPOSITORY_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

/**
 * CPU seconds the whole machine has been busy, and those this process and its finished children used (Linux
 * /proc; undefined elsewhere). Their difference over a group is what other processes took meanwhile: the noise.
 */
function cpuSnapshot(): { busy: number; own: number } | undefined {
  try {
    // USER_HZ is 100 on every Linux Node supports.
    const ticks = 100;
    const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
    const [user, nice, system, , , irq, softirq, steal] = fields.map(Number);
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // Fields after the command name (which may hold spaces): utime, stime, cutime, cstime are 14-17 of the line.
    const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
    const own = after[11]! + after[12]! + after[13]! + after[14]!;
    return { busy: (user! + nice! + system! + irq! + softirq! + steal!) / ticks, own: own / ticks };
  } catch {
    return undefined;
  }
}

/** Runs one group in a child process; its stdout (the service's logs and metrics) goes to a log file. */
async function runGroup(spec: GroupSpec, options: { quick: boolean; rate?: number; workDir: string }): Promise<unknown> {
  const resultFile = path.join(options.workDir, `${spec.id}.json`);
  const logFile = path.join(options.workDir, `${spec.id}.log`);
  const args = ['--import', 'tsx', path.join(BENCH_DIR, 'support', 'run-group.ts'), spec.id, resultFile];
  if (options.quick) args.push('--quick');
  if (options.rate !== undefined) args.push('--rate', String(options.rate));
  const limit = options.quick ? spec.limitSeconds.quick : spec.limitSeconds.full;
  // A file, not a pipe: Node writes stdout to a pipe synchronously, and a pipe to this process would make every
  // metrics line the service prints wait for this process to read it.
  const log = openSync(logFile, 'w');
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: REPOSITORY_ROOT,
      stdio: ['ignore', log, 'inherit'],
      env: { ...process.env, NODE_NO_WARNINGS: '1' },
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${spec.id} did not finish within ${limit} s (its log: ${logFile})`));
    }, limit * 1000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      closeSync(log);
      if (code === 0) resolve();
      else reject(new Error(`${spec.id} exited with ${code ?? signal} (its log: ${logFile})`));
    });
  });
  return JSON.parse(await readFile(resultFile, 'utf8'));
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args.print) {
    process.stdout.write(renderReport(JSON.parse(await readFile(args.print, 'utf8')) as BenchReport));
    return 0;
  }
  if (args.charts) {
    const written = await writeBenchCharts(JSON.parse(await readFile(args.charts, 'utf8')) as BenchReport, args.charts);
    progress('run', `charts: ${written.map((file) => path.relative(process.cwd(), file)).join(', ') || 'none (the run has no end-to-end or aws-calls group)'}`);
    return 0;
  }
  const groups = args.only.length > 0 ? args.only : GROUPS;
  const complete = groups.length === GROUPS.length && !args.quick;
  const out = args.out ?? (complete ? LATEST : path.join(RESULTS_DIR, 'partial.json'));
  const started = performance.now();
  const report: BenchReport = {
    schema: 1,
    mode: args.quick ? 'quick' : 'full',
    command: ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
    date: new Date().toISOString(),
    durationSeconds: 0,
    git: { commit: git(['rev-parse', 'HEAD']) || 'unknown', dirty: git(['status', '--porcelain']) !== '' },
    machine: {
      cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
      cpus: os.cpus().length,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      os: `${os.type()} ${os.release()} ${os.arch()}`,
      node: process.version,
      loadAverage: { before: Math.round(os.loadavg()[0]! * 100) / 100, after: 0 },
      otherProcessesCores: {},
    },
    groups: {},
    errors: {},
  };
  if (report.machine.loadAverage.before > 1) {
    progress('run', `the machine is busy (load average ${report.machine.loadAverage.before} on ${report.machine.cpus} cores): expect slower numbers than it can do`);
  }
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'inbox-relay-bench-run-'));
  let failed = false;
  let rate: number | undefined;
  try {
    for (const spec of groups) {
      progress('run', `group ${GROUPS.indexOf(spec) + 1}/6: ${spec.id}`);
      const cpuBefore = cpuSnapshot();
      const wallBefore = performance.now();
      try {
        const needsRate = spec.id === 'end-to-end' || spec.id === 'growth';
        const result = await runGroup(spec, { quick: args.quick, workDir, ...(needsRate && rate !== undefined ? { rate } : {}) });
        (report.groups as Record<string, unknown>)[spec.key] = result;
        if (spec.id === 'callback') rate = (result as { pipeline: { notificationsPerSecond: number } }).pipeline.notificationsPerSecond;
      } catch (error) {
        failed = true;
        report.errors[spec.id] = error instanceof Error ? error.message : String(error);
        progress('run', `${spec.id} failed: ${report.errors[spec.id]}`);
      }
      const cpuAfter = cpuSnapshot();
      if (cpuBefore && cpuAfter) {
        const seconds = (performance.now() - wallBefore) / 1000;
        const others = (cpuAfter.busy - cpuBefore.busy - (cpuAfter.own - cpuBefore.own)) / seconds;
        report.machine.otherProcessesCores[spec.id] = Math.max(0, Math.round(others * 100) / 100);
      }
    }
  } finally {
    if (!failed) await rm(workDir, { recursive: true, force: true });
  }
  report.durationSeconds = Math.round((performance.now() - started) / 1000);
  report.machine.loadAverage.after = Math.round(os.loadavg()[0]! * 100) / 100;
  await mkdir(path.dirname(out), { recursive: true });
  await writeFile(out, stableJson(report));
  const charts = await writeBenchCharts(report, out);
  process.stdout.write(renderReport(report));
  progress('run', `done in ${report.durationSeconds} s; JSON in ${path.relative(process.cwd(), out)}${charts.length ? `, charts in ${charts.map((file) => path.relative(process.cwd(), file)).join(', ')}` : ''}`);
  return failed ? 1 : 0;
}

process.exitCode = await main();
