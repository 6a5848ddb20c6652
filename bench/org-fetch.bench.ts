import { performance } from 'node:perf_hooks';
import { encryptAlertDetails } from '../functions/_lib/alert-encryption.js';
import { ewsMessageDetailsReader } from '../functions/_lib/adapters/ews-message-details-reader.js';
import { graphMessageDetailsReader } from '../functions/_lib/adapters/graph-message-details-reader.js';
import { exportAlertPublicKey, generateAlertKeyPair } from '../shared/client/alert-key.js';
import type { MessageDetailsReader } from '../shared/org/ports.js';
import { startPlayedEws } from '../test/support/played/played-ews.js';
import { startPlayedGraph } from '../test/support/played/played-graph.js';
import { summarizeLatencies, type LatencySummary } from './support/stats.js';

/**
 * Organization mode: what one fetch of a new mail's sender, subject and preview adds to the dispatcher's work, against
 * the played EWS and Graph servers on loopback (so: the adapters' own cost, XML/JSON, one HTTP round trip on a fresh
 * connection each, no network), plus the JWE encryption of a detailed alert. On AWS add the round trip to the mail
 * server (Exchange Online from the same region: tens of ms; an on-premises server: whatever the WAN gives).
 *
 *   npm run bench:org-fetch            400 fetches per adapter
 *   npm run bench:org-fetch -- --quick 50
 *
 * Prints numbers; nothing passes or fails on a time.
 */
export interface OrgFetchResult {
  ewsGetItem: LatencySummary;
  graphGetMessage: LatencySummary;
  graphFirstTokenMs: number;
  jweEncrypt: LatencySummary;
}

async function measure(count: number, run: (index: number) => Promise<unknown>): Promise<LatencySummary> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const startedAt = performance.now();
    await run(i);
    times.push(performance.now() - startedAt);
  }
  return summarizeLatencies(times);
}

export async function runOrgFetchBench(options: { quick: boolean }): Promise<OrgFetchResult> {
  const count = options.quick ? 50 : 400;
  const mailbox = 'ada@example.com';
  const receivedAt = '2026-12-07T08:00:00.000Z';
  const from = { name: 'Grace Hopper', address: 'grace@example.com' };
  const subject = 'Quarterly numbers';
  const preview = 'Here are the numbers you asked for. '.repeat(7).slice(0, 255);
  const policy = { allowLoopback: true };

  const ews = await startPlayedEws({ username: 'svc', password: 'pw', mailboxes: [mailbox] });
  const graph = await startPlayedGraph({ tenantId: 'contoso.example', clientId: 'bench-client', clientSecret: 'secret', mailboxes: [mailbox] });
  try {
    const ewsIds = Array.from({ length: count + 20 }, () => {
      const itemId = ews.newItemId();
      ews.addMessage({ itemId, mailbox, from, subject, preview, receivedAt });
      return itemId;
    });
    const graphIds = Array.from({ length: count + 20 }, () => {
      const id = graph.newMessageId();
      graph.addMessage({ id, mailbox, from, subject, preview, receivedAt });
      return id;
    });
    const ewsReader: MessageDetailsReader = ewsMessageDetailsReader({ type: 'ews', url: ews.url, username: 'svc', auth: 'basic' }, 'pw', { policy });
    const graphReader = graphMessageDetailsReader(
      { type: 'graph', tenantId: 'contoso.example', clientId: 'bench-client', graphUrl: graph.graphUrl, loginUrl: graph.loginUrl, scope: graph.scope },
      'secret',
      { policy },
    );
    const tokenStartedAt = performance.now();
    await graphReader.readMessage(mailbox, graphIds[0]!);
    const graphFirstTokenMs = Math.round((performance.now() - tokenStartedAt) * 10) / 10;
    for (let i = 1; i < 20; i++) {
      await ewsReader.readMessage(mailbox, ewsIds[i]!);
      await graphReader.readMessage(mailbox, graphIds[i]!);
    }
    const ewsGetItem = await measure(count, (i) => ewsReader.readMessage(mailbox, ewsIds[20 + i]!));
    const graphGetMessage = await measure(count, (i) => graphReader.readMessage(mailbox, graphIds[20 + i]!));
    const alertKey = await exportAlertPublicKey((await generateAlertKeyPair()).publicKey);
    const jweEncrypt = await measure(count, () => encryptAlertDetails({ mailbox: 'inbox', from, subject, preview, receivedAt }, alertKey, 3_900));
    return { ewsGetItem, graphGetMessage, graphFirstTokenMs, jweEncrypt };
  } finally {
    await ews.close();
    await graph.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await runOrgFetchBench({ quick: process.argv.includes('--quick') });
  const row = (name: string, s: LatencySummary) => `| ${name} | ${s.count} | ${s.p50} | ${s.p90} | ${s.p99} | ${s.max} |`;
  console.log('| what (ms) | n | p50 | p90 | p99 | max |\n|---|---|---|---|---|---|');
  console.log(row('EWS GetItem (impersonation, played Exchange)', result.ewsGetItem));
  console.log(row('Graph GET message (cached token, played Graph)', result.graphGetMessage));
  console.log(row('JWE encrypt (ECDH-ES + A256GCM)', result.jweEncrypt));
  console.log(`\nGraph first fetch including the token request: ${result.graphFirstTokenMs} ms`);
}
