import { execFile } from 'node:child_process';
import { readdir, readFile, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, type Metafile } from 'esbuild';
import { functionBundleOptions } from '../infra/constructs/function-bundle.js';
import { progress } from './support/progress.js';
import { fixed, median } from './support/stats.js';

/**
 * Group 5, Lambda bundles: every `functions/<name>/handler.ts`, bundled as the CDK stack bundles it (RelayFunction with
 * infra/constructs/function-bundle.ts: esbuild, ESM, node22, minified, `@aws-sdk/*` left to the runtime, split into
 * chunks), then imported cold in a fresh `node` process, timed around the `import()` of its `index.mjs`. The size that
 * counts is what that import loads: the entry and every chunk it imports statically; chunks it imports only with
 * `import()` (organization mode, relay-managed subscriptions) load on first use and are reported apart.
 *
 * The device API and the org API read their token secret with a top-level await at import: they are pointed at a
 * loopback stub of Secrets Manager, so their time includes one GetSecretValue round trip on loopback (on AWS add the
 * network).
 * The dispatcher and supervisor are imported with PUSH_GATEWAY=sns (the default), which reads no secret at import.
 *
 * Next to each function, a reference handler (issue 15's yardstick): it imports only the AWS SDK packages the
 * function uses and imports at cold start (AWS_SDK_USES, from the services its IAM role grants), creates one client of
 * each at module scope and, for the device API and the org API, makes the same GetSecretValue call at import. It is
 * bundled the same way and imported cold in the same run, alternating with the function, so `coldImportRatio`
 * (function / reference) holds on a loaded machine where the absolute milliseconds do not. The target is a ratio of
 * at most 1.5.
 */

export interface BundleFigures {
  name: string;
  /** What a cold start loads: the entry and the chunks it imports statically, minified. */
  minifiedBytes: number;
  gzipBytes: number;
  /** Everything deployed, the lazily imported chunks included (absent in runs from before the bundles were split). */
  totalMinifiedBytes?: number;
  /** Median over the runs, ms, measured inside the process around `await import(bundle)`. */
  coldImportMs: number;
  runs: number;
  /** The largest contributors to the bundle, by package (or `(project)` for this repository's code). */
  largestInputs: Array<{ input: string; bytes: number }>;
  /** What the import time includes beyond loading the code, when anything. */
  note?: string;
  /** The reference handler for this function (absent in runs from before it existed). */
  reference?: ReferenceFigures;
  /** coldImportMs / reference.coldImportMs, from runs that alternate the two. */
  coldImportRatio?: number;
}

export interface ReferenceFigures {
  /** The `@aws-sdk/*` packages the function uses, which the reference imports. */
  awsSdkPackages: string[];
  /** `@aws-sdk/*` packages the function's bundle imports although the function does not use them (a cost to remove). */
  unusedInBundle: string[];
  minifiedBytes: number;
  /** Median over the same number of runs as the function, ms. */
  coldImportMs: number;
}

export interface BundlesResult {
  node: string;
  bundles: BundleFigures[];
}

const SCOPE = 'bundles';
const REPOSITORY_ROOT = fileURLToPath(new URL('../', import.meta.url));

const IMPORT_ENV: Record<string, string> = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  TABLE_NAME: 'inbox-relay-bench',
  EVENT_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/inbox-relay-bench',
  CALLBACK_BASE_URL: 'https://relay.example.com',
  ORG_TOKEN_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:bench-org-token',
  ADMIN_TOKEN_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:bench-admin-token',
  ORG_SECRETS_KEY_ARN: 'arn:aws:kms:us-east-1:000000000000:key/00000000-0000-0000-0000-000000000000',
  PUSH_GATEWAY: 'sns',
  SNS_PLATFORM_APPLICATION_ARN: 'arn:aws:sns:us-east-1:000000000000:app/APNS/bench',
  SNS_SANDBOX_PLATFORM_APPLICATION_ARN: 'arn:aws:sns:us-east-1:000000000000:app/APNS_SANDBOX/bench',
  MAX_RECEIVE_COUNT: '5',
  POWERTOOLS_SERVICE_NAME: 'inbox-relay',
  POWERTOOLS_METRICS_NAMESPACE: 'InboxRelay',
};

/** What one function's cold start loads: the bytes of the bundle's files Node loaded, and the sources they hold. */
export interface ColdStart {
  name: string;
  bytes: number;
  /** Source files (repository-relative, or `node_modules/...`) whose code the loaded files hold. */
  inputs: Set<string>;
  /** The same for every file of the bundle, those imported on first use included. */
  bundled: Set<string>;
}

/**
 * Bundles each named function as the stack does and imports it once in a fresh `node`, recording what it loads: what
 * test/unit/function-bundles.test.ts holds against issue 15's budget, without the timing runs of the bench.
 */
export async function coldStarts(names: string[]): Promise<ColdStart[]> {
  const outDir = await mkdtemp(path.join(os.tmpdir(), 'inbox-relay-cold-starts-'));
  const secrets = await startSecretsManagerStub();
  try {
    await symlink(path.join(REPOSITORY_ROOT, 'node_modules'), path.join(outDir, 'node_modules'), 'dir');
    const lister = await writeLoadLister(outDir);
    const results: ColdStart[] = [];
    for (const name of names) {
      const functionDir = path.join(outDir, name);
      const metafile = await bundle(path.join(REPOSITORY_ROOT, 'functions', name, 'handler.ts'), functionDir);
      const loaded = await loadedFiles(lister, path.join(functionDir, 'index.mjs'), secrets.url);
      const inputs = new Set<string>();
      const bundled = new Set<string>();
      let bytes = 0;
      for (const [file, output] of Object.entries(metafile.outputs)) {
        const isLoaded = loaded.includes(path.resolve(file));
        if (isLoaded) bytes += output.bytes;
        for (const input of Object.keys(output.inputs)) {
          const absolute = path.resolve(input);
          const inModules = absolute.lastIndexOf(`${path.sep}node_modules${path.sep}`);
          const source = inModules === -1 ? path.relative(REPOSITORY_ROOT, absolute) : absolute.slice(inModules + 1);
          bundled.add(source);
          if (isLoaded) inputs.add(source);
        }
      }
      results.push({ name, bytes, inputs, bundled });
    }
    return results;
  } finally {
    await secrets.stop();
    await rm(outDir, { recursive: true, force: true });
  }
}

export async function runBundlesBench(options: { quick: boolean }): Promise<BundlesResult> {
  const runs = options.quick ? 1 : 5;
  const outDir = await mkdtemp(path.join(os.tmpdir(), 'inbox-relay-bundles-'));
  const secrets = await startSecretsManagerStub();
  try {
    // The bundles leave @aws-sdk/* external, as Lambda's runtime provides it; here the project's copy stands in.
    await symlink(path.join(REPOSITORY_ROOT, 'node_modules'), path.join(outDir, 'node_modules'), 'dir');
    const runner = path.join(outDir, 'measure-import.mjs');
    await writeFile(
      runner,
      'const started = performance.now();\nawait import(process.argv[2]);\nprocess.stdout.write(JSON.stringify({ ms: performance.now() - started }));\nprocess.exit(0);\n',
    );
    const lister = await writeLoadLister(outDir);
    const names = (await readdir(path.join(REPOSITORY_ROOT, 'functions'), { withFileTypes: true }))
      .filter((entry) => entry.isDirectory() && !entry.name.startsWith('_'))
      .map((entry) => entry.name)
      .sort();
    const bundles: BundleFigures[] = [];
    for (const name of names) {
      const entry = path.join(REPOSITORY_ROOT, 'functions', name, 'handler.ts');
      if (!(await stat(entry).catch(() => undefined))) continue;
      const functionDir = path.join(outDir, name);
      const outfile = path.join(functionDir, 'index.mjs');
      const metafile = await bundle(entry, functionDir);
      // What a cold start loads, as Node reports it: the entry, the chunks it imports, and those its initialization
      // imports (the push gateway of the configured kind); not those imported on first use.
      const loaded = await loadedFiles(lister, outfile, secrets.url);
      const code = Buffer.concat(await Promise.all(loaded.map((file) => readFile(file))));
      const imported = awsSdkImports(metafile, loaded);
      // A function not listed yet is measured against what its bundle imports, which hides unused clients. A client the
      // function uses but imports only lazily (KMS, for organization mode) is left out of the reference as well.
      const uses = AWS_SDK_USES[name] ?? imported;
      const awsSdkPackages = uses.filter((sdk) => imported.includes(sdk));
      const referenceEntry = path.join(outDir, `${name}-reference.mjs`);
      await writeFile(referenceEntry, referenceHandler(awsSdkPackages, TOP_LEVEL_SECRET_READS[name]));
      const referenceOutfile = path.join(outDir, `${name}-reference`, 'index.mjs');
      await bundle(referenceEntry, path.dirname(referenceOutfile));
      const referenceCode = await readFile(referenceOutfile);
      const times: number[] = [];
      const referenceTimes: number[] = [];
      for (let run = 0; run < runs; run++) {
        times.push(await coldImport(runner, outfile, secrets.url));
        referenceTimes.push(await coldImport(runner, referenceOutfile, secrets.url));
      }
      const coldImportMs = fixed(median(times), 1);
      const reference: ReferenceFigures = {
        awsSdkPackages,
        unusedInBundle: imported.filter((sdk) => !uses.includes(sdk)),
        minifiedBytes: referenceCode.byteLength,
        coldImportMs: fixed(median(referenceTimes), 1),
      };
      const figures: BundleFigures = {
        name,
        minifiedBytes: code.byteLength,
        gzipBytes: gzipSync(code, { level: 9 }).byteLength,
        totalMinifiedBytes: totalBytes(metafile),
        coldImportMs,
        runs,
        largestInputs: largestInputs(metafile, loaded),
        ...(TOP_LEVEL_SECRET_READS[name] ? { note: 'includes one GetSecretValue round trip to a loopback stub (so does its reference)' } : {}),
        reference,
        coldImportRatio: fixed(median(times.map((ms, run) => ms / referenceTimes[run]!)), 2),
      };
      progress(
        SCOPE,
        `${name}: ${Math.round(figures.minifiedBytes / 1024)} KiB minified at cold start (${Math.round(figures.totalMinifiedBytes! / 1024)} with lazy chunks), cold import ${figures.coldImportMs} ms, ` +
          `reference ${reference.coldImportMs} ms, ratio ${figures.coldImportRatio}`,
      );
      bundles.push(figures);
    }
    return { node: process.version, bundles };
  } finally {
    await secrets.stop();
    await rm(outDir, { recursive: true, force: true });
  }
}

const DYNAMODB = ['@aws-sdk/client-dynamodb', '@aws-sdk/lib-dynamodb'];
const SECRETS = '@aws-sdk/client-secrets-manager';
const KMS = '@aws-sdk/client-kms';
const SNS = '@aws-sdk/client-sns';
const SQS = '@aws-sdk/client-sqs';
/**
 * The AWS SDK packages each function needs, from the services its role is granted (infra/stacks/relay-stack.ts,
 * infra/constructs/push-delivery.ts): SNS and Secrets Manager for the push functions, which send through SNS or read
 * the direct-APNs key; SQS where a function queues; KMS where organizations' data keys are wrapped or opened.
 */
const AWS_SDK_USES: Record<string, string[]> = {
  'device-api': [...DYNAMODB, SECRETS, SNS, SQS, KMS],
  dispatcher: [...DYNAMODB, SECRETS, SNS, SQS, KMS],
  'exchange-callback': [...DYNAMODB, SQS],
  'org-api': [...DYNAMODB, SECRETS, SQS, KMS],
  'platform-application': [SECRETS, SNS],
  'sns-feedback': [...DYNAMODB, SNS],
  supervisor: [...DYNAMODB, SECRETS, SNS, SQS],
};

/** What a function does at import besides loading code: the device API and the org API read their token secret. */
const TOP_LEVEL_SECRET_READS: Record<string, string> = { 'device-api': 'ORG_TOKEN_SECRET_ARN', 'org-api': 'ADMIN_TOKEN_SECRET_ARN' };

/** Bundles as RelayFunction does (infra/constructs/function-bundle.ts), into `outdir` (`index.mjs` and its chunks). */
async function bundle(entry: string, outdir: string): Promise<Metafile> {
  const { metafile } = await build({ ...functionBundleOptions(entry, outdir), metafile: true, logLevel: 'silent' });
  return metafile;
}

/** Every JavaScript file of the bundle (no source maps), lazily imported chunks included. */
function totalBytes(metafile: Metafile): number {
  return Object.entries(metafile.outputs)
    .filter(([file]) => file.endsWith('.mjs'))
    .reduce((sum, [, output]) => sum + output.bytes, 0);
}

/** The `@aws-sdk/*` packages the cold-start files leave to the runtime, by package name. */
function awsSdkImports(metafile: Metafile, files: string[]): string[] {
  const packages = new Set<string>();
  for (const [file, output] of Object.entries(metafile.outputs)) {
    if (!files.includes(path.resolve(file))) continue;
    for (const { path: imported, external } of output.imports) {
      const match = /^(@aws-sdk\/[^/]+)/.exec(imported);
      if (external && match) packages.add(match[1]!);
    }
  }
  return [...packages].sort();
}

/**
 * A handler that only loads the AWS SDK packages and creates one client per service package at module scope, as a
 * function doing nothing else would; `secretEnv` names a secret it reads at import, as the function does.
 */
function referenceHandler(packages: string[], secretEnv: string | undefined): string {
  const lines = packages.map((name, index) => `import * as sdk${index} from '${name}';`);
  lines.push(
    `const clients = [${packages.map((_, index) => `sdk${index}`).join(', ')}].flatMap((sdk) =>`,
    "  Object.entries(sdk).filter(([key, value]) => /^[A-Z][A-Za-z]*Client$/.test(key) && !key.includes('Document') && typeof value === 'function').map(([, Client]) => new Client({})),",
    ');',
  );
  if (secretEnv !== undefined && packages.includes('@aws-sdk/client-secrets-manager')) {
    const index = packages.indexOf('@aws-sdk/client-secrets-manager');
    lines.push(
      `const secret = await new sdk${index}.SecretsManagerClient({}).send(new sdk${index}.GetSecretValueCommand({ SecretId: process.env.${secretEnv} }));`,
    );
  } else {
    lines.push('const secret = undefined;');
  }
  lines.push('export const handler = async () => ({ statusCode: 200, body: String(clients.length + (secret ? 1 : 0)) });');
  return `${lines.join('\n')}\n`;
}

/**
 * A runner that imports a bundle as `measure-import.mjs` does, with a module hook that records every file Node loads,
 * and prints those of the bundle's own directory. Run apart from the timed imports, which the hook would slow.
 */
async function writeLoadLister(outDir: string): Promise<string> {
  const hooks = path.join(outDir, 'record-loads.mjs');
  await writeFile(hooks, 'let port;\nexport function initialize(data) { port = data.port; }\nexport async function load(url, context, next) { port.postMessage(url); return next(url, context); }\n');
  const lister = path.join(outDir, 'list-loads.mjs');
  await writeFile(
    lister,
    [
      "import { register } from 'node:module';",
      "import { MessageChannel } from 'node:worker_threads';",
      'const { port1, port2 } = new MessageChannel();',
      'const loaded = new Set();',
      "port1.on('message', (url) => loaded.add(url));",
      "register('./record-loads.mjs', import.meta.url, { data: { port: port2 }, transferList: [port2] });",
      'await import(process.argv[2]);',
      'await new Promise((resolve) => setTimeout(resolve, 100));',
      'process.stdout.write(JSON.stringify([...loaded]));',
      'process.exit(0);',
      '',
    ].join('\n'),
  );
  return lister;
}

/** The files of `entry`'s directory a fresh `node` loads when it imports `entry`. */
function loadedFiles(lister: string, entry: string, secretsUrl: string): Promise<string[]> {
  const directory = path.dirname(entry) + path.sep;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [lister, entry],
      { env: { PATH: process.env.PATH ?? '', ...IMPORT_ENV, AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsUrl, NODE_NO_WARNINGS: '1' }, timeout: 30_000 },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`importing ${path.basename(path.dirname(entry))} failed: ${stderr || error.message}`));
        const urls = JSON.parse(stdout) as string[];
        const files = urls.filter((url) => url.startsWith('file:')).map((url) => fileURLToPath(url));
        resolve(files.filter((file) => file.startsWith(directory) && file.endsWith('.mjs')).sort());
      },
    );
  });
}

function coldImport(runner: string, bundle: string, secretsUrl: string): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [runner, bundle],
      { env: { PATH: process.env.PATH ?? '', ...IMPORT_ENV, AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsUrl, NODE_NO_WARNINGS: '1' }, timeout: 30_000 },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`importing ${path.basename(path.dirname(bundle))} failed: ${stderr || error.message}`));
        try {
          resolve((JSON.parse(stdout) as { ms: number }).ms);
        } catch {
          reject(new Error(`importing ${path.basename(path.dirname(bundle))} printed no time: ${stdout} ${stderr}`));
        }
      },
    );
  });
}

function largestInputs(metafile: Metafile, files: string[]): Array<{ input: string; bytes: number }> {
  const byPackage = new Map<string, number>();
  for (const [file, output] of Object.entries(metafile.outputs)) {
    if (!files.includes(path.resolve(file))) continue;
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
      const key = match ? match[1]! : '(project)';
      byPackage.set(key, (byPackage.get(key) ?? 0) + bytesInOutput);
    }
  }
  return [...byPackage]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, 5)
    .map(([input, bytes]) => ({ input, bytes }));
}

/** Answers every GetSecretValue (AWS JSON 1.1) with a fixed string: all the cold imports need. */
async function startSecretsManagerStub(): Promise<{ url: string; stop(): Promise<void> }> {
  const server: Server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      response.end(JSON.stringify({ ARN: IMPORT_ENV.ORG_TOKEN_SECRET_ARN, Name: 'bench', SecretString: 'bench-org-token-secret', VersionId: 'v1' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
