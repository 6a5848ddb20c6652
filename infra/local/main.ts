import { parseMaxDevicesPerOrg } from '../../functions/_lib/config.js';
import { printingDecisions, printingPushes, printingSettlements } from './activity-lines.js';
import { generateApnsTestKey } from './apns-sandbox.js';
import type { LocalApnsCredentials } from './service.js';

/**
 * `npm start`: runs inbox-relay on this machine, configured by the environment variables of contract section 1.
 * This file and org-token.ts are the local runtime's only readers of process.env.
 *
 *   npm start                    one readable line per push and decision; warnings and errors only from the logs
 *   npm start -- --json-logs     the functions' Powertools JSON logs and metrics lines, as Lambda writes them
 */
const USAGE = 'usage: npm start [-- --json-logs]   (configuration: PORT, PUBLIC_URL, DATA_DIR, ORG_TOKEN_SECRET, APNS_*; see README)';

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  console.log(USAGE);
  process.exit(0);
}
const unknown = args.filter((arg) => arg !== '--json-logs');
if (unknown.length > 0) {
  console.error(`unknown argument ${unknown[0]}\n${USAGE}`);
  process.exit(2);
}
const jsonLogs = args.includes('--json-logs');
if (!jsonLogs) {
  // Read by Powertools when its logger and metrics are built, which happens when service.js is imported below: the
  // JSON lines of every invocation would bury the lines a person reads. An explicit setting still wins.
  process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
}
const local = await import('./service.js');
const { LOCAL_APNS_KEY_ID, LOCAL_APNS_TEAM_ID, LOCAL_APNS_TOPIC, LOCAL_ORG_TOKEN_SECRET } = local;

function apnsFromEnv(): LocalApnsCredentials | undefined {
  const url = process.env.APNS_URL;
  if (!url) return undefined;
  const keyId = process.env.APNS_KEY_ID;
  const teamId = process.env.APNS_TEAM_ID;
  const privateKeyPem = process.env.APNS_PRIVATE_KEY;
  const missing = [!keyId && 'APNS_KEY_ID', !teamId && 'APNS_TEAM_ID', !privateKeyPem && 'APNS_PRIVATE_KEY'].filter(Boolean);
  if (missing.length > 0) {
    // Contract section 1: each of these defaults to the sandbox's value, also with APNS_URL (a test peer may not check).
    console.warn(
      `warning: APNS_URL is set without ${missing.join(', ')}; using the sandbox values (key id ${LOCAL_APNS_KEY_ID}, ` +
        `team ${LOCAL_APNS_TEAM_ID}, a signing key generated for this run). A server that verifies provider tokens will refuse them.`,
    );
  }
  return {
    url,
    keyId: keyId || LOCAL_APNS_KEY_ID,
    teamId: teamId || LOCAL_APNS_TEAM_ID,
    privateKeyPem: privateKeyPem ? privateKeyPem.replace(/\\n/g, '\n') : generateApnsTestKey().privateKeyPem,
    topic: process.env.APNS_TOPIC || LOCAL_APNS_TOPIC,
  };
}

async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? '8080');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a TCP port number, not "${process.env.PORT}"`);
  const orgTokenSecret = process.env.ORG_TOKEN_SECRET;
  if (!orgTokenSecret) {
    console.warn('warning: ORG_TOKEN_SECRET is not set; using the fixed local default. Never use it outside this machine.');
  }
  const publicUrl = process.env.PUBLIC_URL || undefined;
  const adminTokenSecret = process.env.ADMIN_TOKEN_SECRET;
  if (!adminTokenSecret) {
    console.warn('warning: ADMIN_TOKEN_SECRET is not set; using the fixed local default. Never use it outside this machine.');
  }
  const apns = apnsFromEnv();
  const print = (line: string) => console.log(line);
  const service = await local.startLocalService({
    port,
    ...(publicUrl ? { publicUrl } : {}),
    ...(jsonLogs
      ? {}
      : {
          wrapDecisionLog: (decisions) => printingDecisions(decisions, print, Date.now),
          wrapSettlementLog: (settlements) => printingSettlements(settlements, print, Date.now),
          wrapPushGateway: (gateway) => printingPushes(gateway, print, Date.now),
        }),
    dataDir: process.env.DATA_DIR ?? '.data',
    maxDevicesPerOrg: parseMaxDevicesPerOrg(process.env.MAX_DEVICES_PER_ORG),
    orgTokenSecret: orgTokenSecret || LOCAL_ORG_TOKEN_SECRET,
    ...(adminTokenSecret ? { adminTokenSecret } : {}),
    ...(apns ? { apns } : {}),
  });
  console.log(`inbox-relay is running at ${service.baseUrl}`);
  console.log(`  callback URLs start with ${service.publicUrl.replace(/\/+$/, '')}/v1/callbacks/`);
  console.log(`  data: ${process.env.DATA_DIR ?? '.data'}`);
  console.log(
    service.apnsSandbox
      ? `  APNs sandbox: ${service.apnsSandbox.url} (pushes listed at ${service.baseUrl}/_local/apns/pushes)`
      : `  APNs: ${process.env.APNS_URL}`,
  );
  console.log(`  status page: ${service.baseUrl}/status`);
  console.log(`  an organization token: npm run org-token -- <orgId>; an admin token: npm run admin-token -- <name>`);
  console.log(`  organization mode: mail-server passwords and client secrets are stored encrypted with ${service.orgSecretsKeptWith}`);
  console.log(`  stop it with Ctrl-C or kill ${process.pid}`);
  console.log(jsonLogs ? '  logs: Powertools JSON (--json-logs)' : '  one line per push and decision below, times in UTC (npm start -- --json-logs for the JSON logs)');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping`);
    await service.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  // npm start execs this process, so a TERM to npm's pid reaches it; but a parent killed outright (kill -9, a closed
  // terminal) would leave it listening and holding DATA_DIR, so it stops when it finds itself adopted by another.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) void stop('parent process gone');
  }, 1000).unref();
}

main().catch((error: unknown) => {
  console.error(`inbox-relay could not start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
