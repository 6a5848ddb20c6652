import {
  GRAPH_IMMUTABLE_ID_HEADERS,
  RelayClient,
  buildGraphSubscriptionRequestFor,
  buildMailboxSubscribeRequest,
  decodePush,
  parseAppConfig,
  readGraphSubscriptionResponse,
  readSubscribeResponse,
  type AppConfig,
} from '../../shared/client/index.js';
import { ALERT_INTENTS, alertSettingsFor, suppressionReason, type AlertIntent } from './alert-profiles.js';
import { mapWithConcurrency, sleep } from './concurrency.js';
import { PlayedExchange, type CallbackAnswer, type SentNotification } from './played-exchange.js';
import { PlayedGraph } from './played-graph.js';
import { MIGRATION_BEFORE_ROUND, ROUNDS, SETTINGS_CHANGE_BEFORE_ROUND, planSimulation, type PlannedDevice, type PlannedSend, type SimulationPlan } from './plan.js';
import { seedFrom } from './random.js';
import { connectToRelay, startInProcessRelay, type ObservedPush, type RelayTarget } from './relay-target.js';
import { runOrganizationScenario, type OrganizationScenarioReport } from './organization-scenario.js';
import { startPlayedEws } from '../../test/support/played/played-ews.js';
import { startPlayedGraph } from '../../test/support/played/played-graph.js';
import { checkExpectations } from './expectations.js';
import {
  GRAPH_NOTIFICATION_KINDS,
  NOTIFICATION_KINDS,
  expectedDecisions,
  type AnswerTally,
  type GraphNotificationKind,
  type GraphTally,
  type DecisionOutcomeName,
  type DeviceRun,
  type MailboxRun,
  type NotificationKind,
  type SimulationReport,
} from './report.js';

export type { AnswerTally, Expectation, NotificationKind, SimulationReport } from './report.js';

/**
 * Plays N devices and their Exchange server against a relay, then checks what the relay did. The devices act through
 * the client library only (`shared/client`), exactly as the app would; the relay is reached over HTTP only.
 */

export interface SimulationOptions {
  /** Devices to play (default 20). */
  devices?: number;
  /** Same seed, same devices and traffic (default: a random one, reported). */
  seed?: number | string;
  /** Base URL of a running relay; without it, one is started in-process and stopped at the end. */
  url?: string;
  /** Organization token for `url` (`npm run org-token -- <orgId>`); ignored in-process, where one is issued. */
  orgToken?: string;
  /** One line per phase, for a human watching. */
  progress?: (line: string) => void;
  /** How long to wait for the relay to decide one round's notifications before calling it a failure (default 60 s). */
  settleTimeoutMs?: number;
  /** Requests in flight at once (default 16). */
  concurrency?: number;
}

const ORGANIZATION_ID = 'org-simulator';
/** Devices whose event logs are watched at once while a round settles. */
const SETTLE_WATCHERS = 4;
/** Outcomes that settle a notification; `retried` and `resubscribe-requested` are on the way to one or unrelated. */
const FINAL_OUTCOMES: ReadonlySet<string> = new Set(['pushed', 'suppressed', 'duplicate', 'failed', 'dead-lettered', 'token-retired']);

export async function runSimulation(options: SimulationOptions = {}): Promise<SimulationReport> {
  const startedAt = Date.now();
  const deviceCount = options.devices ?? 20;
  const seed = seedFrom(options.seed ?? Math.floor(Math.random() * 0xffffffff));
  const concurrency = options.concurrency ?? 16;
  const settleTimeoutMs = options.settleTimeoutMs ?? 60_000;
  const progress = options.progress ?? (() => {});
  if (options.url && !options.orgToken) throw new Error('--url needs --org-token (npm run org-token -- <orgId> prints one)');

  const plan = planSimulation(seed, deviceCount);
  const allMailboxes = plan.devices.flatMap((d) => d.mailboxes);
  // One more phase for organization mode, which only the in-process relay plays (its admin secret is known).
  const phases = 7 + ROUNDS.length + (options.url ? 0 : 1);
  let phase = 0;
  const elapsed = () => `${((Date.now() - startedAt) / 1000).toFixed(1).padStart(5)} s`;
  const step = (text: string) => progress(`${elapsed()}  [${++phase}/${phases}] ${text}`);
  const detail = (text: string) => progress(`${elapsed()}        ${text}`);

  step(options.url ? `relay: connecting to ${options.url}` : 'relay: starting one in-process (dynalite, fauxqs, APNs sandbox)');
  const relay = options.url ? await connectToRelay(options.url, options.orgToken!) : await startInProcessRelay(ORGANIZATION_ID);
  let exchange: PlayedExchange | undefined;
  let graph: PlayedGraph | undefined;
  try {
    exchange = await PlayedExchange.start({
      seed,
      busyOnFirstSubscribe: new Set(allMailboxes.filter((m) => m.busyOnFirstSubscribe).map((m) => m.address)),
    });
    graph = await PlayedGraph.start(seed);
    detail(`relay at ${relay.baseUrl}, played Exchange at ${exchange.baseUrl}/EWS/Exchange.asmx, played Graph at ${graph.subscriptionsUrl}`);
    const report = await simulate({ plan, relay, exchange, graph, concurrency, settleTimeoutMs, startedAt, step, detail });
    if (relay.adminToken && relay.orgTokenFor) {
      step('organization mode: VIP senders and encrypted detailed alerts against a played Exchange and a played Graph');
      report.organization = await playOrganizationMode(relay, detail);
      report.ok &&= report.organization.ok;
      report.durationMs = Date.now() - startedAt;
    }
    return report;
  } finally {
    await graph?.stop();
    await exchange?.stop();
    await relay.stop();
  }
}

/** Organization mode against the in-process relay: its own played EWS server, orgs and devices. */
async function playOrganizationMode(relay: RelayTarget, detail: (text: string) => void): Promise<OrganizationScenarioReport> {
  const credentials = { username: 'svc-inbox-relay', password: `sim-${Math.random().toString(36).slice(2)}` };
  const mailboxes = ['ada@example.com', 'grace@example.com'];
  const ews = await startPlayedEws({ ...credentials, mailboxes });
  const app = { tenantId: 'contoso.onmicrosoft.com', clientId: '11111111-2222-3333-4444-555555555555', clientSecret: `sim-${Math.random().toString(36).slice(2)}` };
  const graph = await startPlayedGraph({ ...app, mailboxes });
  try {
    return await runOrganizationScenario({
      baseUrl: relay.baseUrl,
      adminToken: relay.adminToken!,
      orgToken: relay.orgTokenFor!,
      pushes: () => relay.pushes(),
      ews,
      ewsCredentials: credentials,
      graph: { server: graph, ...app },
      progress: detail,
    });
  } finally {
    await ews.close();
    await graph.close();
  }
}

interface RunContext {
  plan: SimulationPlan;
  relay: RelayTarget;
  exchange: PlayedExchange;
  graph: PlayedGraph;
  concurrency: number;
  settleTimeoutMs: number;
  startedAt: number;
  step(text: string): void;
  detail(text: string): void;
}

async function simulate({ plan, relay, exchange, graph, concurrency, settleTimeoutMs, startedAt, step, detail }: RunContext): Promise<SimulationReport> {
  const allMailboxes = plan.devices.flatMap((d) => d.mailboxes);
  const notifications = Object.fromEntries(NOTIFICATION_KINDS.map((kind) => [kind, emptyTally()])) as Record<NotificationKind, AnswerTally>;
  const graphNotifications = Object.fromEntries(GRAPH_NOTIFICATION_KINDS.map((kind) => [kind, { sent: 0, accepted: 0, errors: 0 }])) as Record<GraphNotificationKind, GraphTally>;
  const subscriptions = { subscribed: 0, resubscribed: 0, busyRetries: 0, graph: 0 };
  const played: Played = { exchange, graph, notifications, graphNotifications };
  const settingsAnswers: string[] = [];
  const unsettled: string[] = [];

  // What an administrator hands every device through MDM.
  const { config, problems } = parseAppConfig({
    allow_realtime_notifications: 'true',
    notification_server_host: relay.baseUrl,
    notification_server_authorization: `Bearer ${relay.orgToken}`,
    notification_server_organization_id: ORGANIZATION_ID,
    email_ews_host: exchange.baseUrl,
    enabled_features: 'delegated_shared_mailbox',
    allow_detailed_notifications: 'true',
    sentry_server_host: 'https://sentry.contoso.example',
  });
  if (problems.length > 0) throw new Error(`the simulated app configuration has problems: ${problems.map((p) => p.message).join('; ')}`);

  step(`devices: registering ${plan.devices.length} with ${allMailboxes.length} mailboxes`);
  const devices = await mapWithConcurrency(plan.devices, concurrency, (device) => registerDevice(device, config));
  const addedLater = allMailboxes.filter((m) => m.addedAfterRegistration).length;
  detail(`${devices.length} registered, ${addedLater} delegated mailboxes added afterwards`);

  step(`subscriptions: subscribing ${allMailboxes.length} mailboxes at Exchange and reporting them to the relay`);
  const mailboxRuns = devices.flatMap((device) => [...device.mailboxes.values()].map((mailbox) => ({ device, mailbox })));
  await mapWithConcurrency(mailboxRuns, concurrency, ({ device, mailbox }) => subscribe(device, mailbox, config, subscriptions, graph));
  subscriptions.subscribed = mailboxRuns.length;
  detail(
    `${mailboxRuns.length} subscribed, ${subscriptions.graph} through Graph (${subscriptions.busyRetries} answered ErrorServerBusy first and were retried)`,
  );

  for (const [round, name] of ROUNDS.entries()) {
    if (round === MIGRATION_BEFORE_ROUND) {
      const moving = mailboxRuns.filter(({ mailbox }) => mailbox.plan.migratesToGraphBeforeRound === round);
      step(`migration: ${moving.length} mailboxes move from EWS to Graph (their Exchange moved to Exchange Online)`);
      await mapWithConcurrency(moving, concurrency, async ({ device, mailbox }) => {
        await subscribeGraph(device, mailbox, graph, subscriptions);
        // Exchange, not told yet, still pushes on the EWS subscription: the relay ends it with Unsubscribe, no alert.
        const { answer } = await exchange.newMail(mailbox.plan.address, 'current', 1);
        count(notifications.migrated, answer);
        expectRefusedEws(mailbox, answer);
      });
      detail(`${moving.length} moved; their leftover EWS subscriptions answered Unsubscribe ${notifications.migrated.unsubscribe}/${notifications.migrated.sent}`);
    }
    if (round === SETTINGS_CHANGE_BEFORE_ROUND) {
      const changing = devices.filter((d) => d.plan.settingsChange);
      step(`settings: ${changing.length} devices change their alert settings`);
      await mapWithConcurrency(changing, concurrency, (device) => changeSettings(device, settingsAnswers));
      const now = settingsAnswers.filter((a) => a === 'now').length;
      detail(`${changing.length} changed; the client says ${now} apply now`);
    }
    const resubscribing = mailboxRuns.filter(({ mailbox }) => mailbox.plan.rounds[round]?.resubscribe);
    const sends = mailboxRuns.reduce((sum, { mailbox }) => sum + (mailbox.plan.rounds[round]?.sends.length ?? 0), 0);
    step(`round ${round + 1}, ${name}: ${sends} notifications${resubscribing.length > 0 ? `, ${resubscribing.length} mailboxes resubscribe first` : ''}`);
    const before = tallyTotal(notifications);
    await mapWithConcurrency(mailboxRuns, concurrency, async ({ device, mailbox }) => {
      const planned = mailbox.plan.rounds[round];
      if (!planned) return;
      // A retry repeats what an earlier round sent, never this round's own mail.
      const earlier: Earlier = { ews: mailbox.lastNewMail, graph: mailbox.lastGraphMail, protocol: mailbox.lastMailProtocol };
      if (planned.resubscribe) {
        await subscribe(device, mailbox, config, subscriptions, graph);
        subscriptions.resubscribed += 1;
      }
      for (const send of planned.sends) await deliver(device, mailbox, send, earlier, played);
    });
    const after = tallyTotal(notifications);
    const expected = devices.reduce((sum, d) => sum + expectedDecisions(d), 0);
    detail(
      `sent ${after.sent - before.sent}: OK ${after.ok - before.ok}, Unsubscribe ${after.unsubscribe - before.unsubscribe}, ` +
        `errors ${after.errors - before.errors}; waiting for the relay to decide (${expected} so far)`,
    );
    const missing = await settle(devices, settleTimeoutMs);
    if (missing.length > 0) unsettled.push(...missing.map((m) => `round ${round + 1}: ${m}`));
    detail(missing.length === 0 ? 'decided' : `${missing.length} devices still undecided after ${settleTimeoutMs / 1000} s`);
  }

  const withLifecycle = mailboxRuns.filter(({ mailbox }) => mailbox.protocol === 'graph' && mailbox.plan.lifecycleEvent);
  step(`lifecycle: Graph sends ${withLifecycle.length} lifecycle events (missed, reauthorizationRequired, subscriptionRemoved)`);
  await mapWithConcurrency(withLifecycle, concurrency, async ({ mailbox }) => {
    const answer = await graph.lifecycle(mailbox.plan.address, mailbox.plan.lifecycleEvent!);
    tallyGraph(graphNotifications.lifecycle, answer.status);
    if (answer.status === 202) mailbox.lifecycleAccepted += 1;
  });
  const lifecycleLate = await settleLifecycle(devices, settleTimeoutMs);
  if (lifecycleLate.length > 0) unsettled.push(...lifecycleLate.map((m) => `lifecycle: ${m}`));
  detail(lifecycleLate.length === 0 ? 'each answered by its push' : `${lifecycleLate.length} devices still without their lifecycle push`);

  step('results: reading every device\'s events and what reached APNs');
  const events = await mapWithConcurrency(devices, concurrency, async (device) => ({ device, events: await device.client.getEvents() }));
  const pushes = await relay.pushes();
  const ours = pushes && ownPushes(pushes, devices, startedAt);

  const report: SimulationReport = {
    seed: plan.seed,
    target: { kind: relay.kind, baseUrl: relay.baseUrl },
    durationMs: 0,
    devices: {
      count: devices.length,
      mailboxes: allMailboxes.length,
      delegated: allMailboxes.filter((m) => m.kind === 'delegated').length,
      delegatedAddedLater: addedLater,
      timeZones: new Set(plan.devices.flatMap((d) => [d.timeZone, d.settingsChange?.timeZone ?? d.timeZone])).size,
      byIntent: Object.fromEntries(ALERT_INTENTS.map((i) => [i, plan.devices.filter((d) => d.profile.intent === i).length])) as Record<AlertIntent, number>,
      settingsChanged: plan.devices.filter((d) => d.settingsChange).length,
    },
    subscriptions: { subscribed: subscriptions.subscribed, resubscribed: subscriptions.resubscribed, busyRetries: subscriptions.busyRetries },
    notifications,
    graph: {
      mailboxes: mailboxRuns.filter(({ mailbox }) => mailbox.protocol === 'graph').length,
      migrated: mailboxRuns.filter(({ mailbox }) => mailbox.plan.migratesToGraphBeforeRound !== undefined).length,
      subscriptions: subscriptions.graph,
      validations: { ...graph.validations },
      notifications: graphNotifications,
    },
    apns: summarizePushes(ours),
    decisions: countDecisions(events.flatMap((e) => e.events)),
    expectations: [],
    ok: false,
  };
  report.expectations = checkExpectations({ report, devices, events, pushes: ours, settingsAnswers, unsettled });
  report.ok = report.expectations.every((e) => e.ok !== false);
  report.durationMs = Date.now() - startedAt;
  return report;
}

async function registerDevice(device: PlannedDevice, config: AppConfig): Promise<DeviceRun> {
  const client = new RelayClient({ baseUrl: config.notificationServerUrl!, organizationToken: config.organizationToken! });
  const atRegistration = device.mailboxes.filter((m) => !m.addedAfterRegistration);
  const registration = await client.register({
    pushToken: device.pushToken,
    apnsEnvironment: device.apnsEnvironment,
    mode: config.deliveryMode,
    timeZone: device.timeZone,
    alerts: alertSettingsFor(device.profile, device.timeZone, new Date()),
    mailboxes: atRegistration.map(({ id, kind }) => ({ id, kind })),
  });
  const registered = new Map(registration.mailboxes.map((m) => [m.id, m]));
  for (const mailbox of device.mailboxes.filter((m) => m.addedAfterRegistration)) {
    if (!config.features.delegatedMailboxes) throw new Error('delegated mailboxes are not enabled in the app configuration');
    registered.set(mailbox.id, await client.addDelegatedMailbox(mailbox.id));
  }
  const mailboxes = new Map(
    device.mailboxes.map((plan) => [
      plan.id,
      {
        plan,
        callbackUrl: registered.get(plan.id)!.callbackUrl,
        graph: registered.get(plan.id)!.graph,
        protocol: plan.protocol,
        lastNewMail: undefined,
        lastGraphMail: undefined,
        lastMailProtocol: undefined,
        lifecycleAccepted: 0,
        supersededItems: [],
        expected: { alertNotifications: 0, alertItems: 0, suppressed: new Map(), duplicates: 0 },
      } satisfies MailboxRun,
    ]),
  );
  return { plan: device, client, intent: device.profile.intent, mailboxes, decided: 0 };
}

/** What the app does to (re)subscribe a mailbox: Subscribe at Exchange (EWS or Graph), then tell the relay which subscription is current. */
async function subscribe(device: DeviceRun, mailbox: MailboxRun, config: AppConfig, tally: { busyRetries: number; graph: number }, graph: PlayedGraph): Promise<void> {
  if (mailbox.protocol === 'graph') return subscribeGraph(device, mailbox, graph, tally);
  const delegated = mailbox.plan.kind === 'delegated';
  const body = buildMailboxSubscribeRequest({ callbackUrl: mailbox.callbackUrl, ...(delegated ? { impersonateSmtpAddress: mailbox.plan.address } : {}) });
  for (let attempt = 1; ; attempt++) {
    const response = await fetch(config.ewsUrl!, {
      method: 'POST',
      headers: { 'content-type': 'text/xml; charset=utf-8', 'x-anchormailbox': mailbox.plan.address },
      body,
    });
    const result = readSubscribeResponse(await response.text(), { now: Date.now(), subscriptionValidMinutes: config.subscriptionValidMinutes });
    if (result.ok) {
      await device.client.reportSubscription(mailbox.plan.id, result.report);
      return;
    }
    if (result.responseCode === 'ErrorServerBusy' && attempt < 3) {
      tally.busyRetries += 1;
      continue;
    }
    throw new Error(`Exchange refused to subscribe ${device.plan.name}/${mailbox.plan.id}: ${result.responseCode}`);
  }
}

/**
 * The app on Exchange Online: a Graph subscription with the mailbox's relay URLs and clientState (`shared/client`),
 * created at the played Graph with the user's token, then reported with `protocol: graph`, which moves the mailbox
 * there at the relay (its EWS subscription, if any, is answered Unsubscribe from then on).
 */
async function subscribeGraph(device: DeviceRun, mailbox: MailboxRun, graph: PlayedGraph, tally: { graph: number }): Promise<void> {
  if (!mailbox.graph) throw new Error(`${device.plan.name}/${mailbox.plan.id}: the relay handed out no Graph URLs`);
  const response = await fetch(graph.subscriptionsUrl, {
    method: 'POST',
    headers: { authorization: `Bearer sim:${mailbox.plan.address}`, 'content-type': 'application/json', ...GRAPH_IMMUTABLE_ID_HEADERS },
    body: JSON.stringify(buildGraphSubscriptionRequestFor({ graph: mailbox.graph, now: Date.now() })),
  });
  const result = readGraphSubscriptionResponse({ status: response.status, body: await response.text() });
  if (!result.ok) throw new Error(`Graph refused to subscribe ${device.plan.name}/${mailbox.plan.id}: ${result.status} ${result.code ?? ''}`);
  await device.client.reportSubscription(mailbox.plan.id, result.report);
  mailbox.protocol = 'graph';
  tally.graph += 1;
}

async function changeSettings(device: DeviceRun, answers: string[]): Promise<void> {
  const change = device.plan.settingsChange;
  if (!change) return;
  const timeZone = change.timeZone ?? device.plan.timeZone;
  const update = await device.client.updateSettings({
    ...(change.timeZone ? { timeZone: change.timeZone } : {}),
    alerts: alertSettingsFor(change.profile, timeZone, new Date()),
  });
  answers.push(update.appliesFrom === 'now' && update.changes.every((c) => c.appliesFrom === 'now') ? 'now' : 'later');
  // The client says the change applies now, so the very next mail must follow it: that is what the next round checks.
  device.intent = change.profile.intent;
}

interface Played {
  exchange: PlayedExchange;
  graph: PlayedGraph;
  notifications: Record<NotificationKind, AnswerTally>;
  graphNotifications: Record<GraphNotificationKind, GraphTally>;
}

/** The mailbox's last new mail before the round, for a retry. */
interface Earlier {
  ews: SentNotification | undefined;
  graph: MailboxRun['lastGraphMail'];
  protocol: MailboxRun['lastMailProtocol'];
}

async function deliver(device: DeviceRun, mailbox: MailboxRun, send: PlannedSend, earlier: Earlier, played: Played): Promise<void> {
  const { exchange, notifications: tally } = played;
  if (mailbox.protocol === 'graph') return deliverGraph(device, mailbox, send, earlier, played);
  const address = mailbox.plan.address;
  switch (send.kind) {
    case 'heartbeat':
      count(tally.heartbeat, (await exchange.heartbeat(address, 'current')).answer);
      return;
    case 'new-mail': {
      const sent = await exchange.newMail(address, 'current', send.items, send.sameItemsAsSuperseded ? mailbox.supersededItems : undefined);
      count(tally[sent.itemIds.length > 1 ? 'new-mail-batch' : 'new-mail-single'], sent.answer);
      mailbox.lastNewMail = sent;
      mailbox.lastMailProtocol = 'ews';
      if (sent.answer.subscriptionStatus !== 'OK') return;
      expectNewMail(device, mailbox, sent.itemIds.length);
      return;
    }
    case 'retry': {
      if (!earlier.ews) throw new Error(`${device.plan.name}/${mailbox.plan.id}: a retry was planned before any mail`);
      const sent = await exchange.retry(earlier.ews);
      count(tally.retry, sent.answer);
      if (sent.answer.subscriptionStatus === 'OK') mailbox.expected.duplicates += 1;
      return;
    }
    case 'superseded': {
      const sent = send.carries === 'new-mail' ? await exchange.newMail(address, 'previous', send.items) : await exchange.heartbeat(address, 'previous');
      count(tally.superseded, sent.answer);
      expectRefusedEws(mailbox, sent.answer);
      mailbox.supersededItems = sent.itemIds;
      return;
    }
  }
}

/**
 * The same plan on Graph: Graph reports one message per notification and sends no heartbeats; an item of a replaced
 * subscription is answered 202 like any other and recorded `suppressed`, reason `superseded`. A retry of mail that
 * went through EWS before the mailbox moved reaches the leftover EWS subscription, which is answered Unsubscribe.
 */
async function deliverGraph(device: DeviceRun, mailbox: MailboxRun, send: PlannedSend, earlier: Earlier, played: Played): Promise<void> {
  const { graph, graphNotifications: tally } = played;
  const address = mailbox.plan.address;
  switch (send.kind) {
    case 'heartbeat':
      return;
    case 'new-mail': {
      const sent = await graph.newMail(address, 'current', send.sameItemsAsSuperseded ? mailbox.supersededItems : undefined);
      tallyGraph(tally['new-mail'], sent.answer.status);
      mailbox.lastGraphMail = sent;
      mailbox.lastMailProtocol = 'graph';
      if (sent.answer.status === 202) expectNewMail(device, mailbox, sent.messageIds.length);
      return;
    }
    case 'retry': {
      if (earlier.protocol === 'ews' && earlier.ews) {
        const { answer } = await played.exchange.retry(earlier.ews);
        count(played.notifications.migrated, answer);
        expectRefusedEws(mailbox, answer);
        return;
      }
      if (!earlier.graph) throw new Error(`${device.plan.name}/${mailbox.plan.id}: a retry was planned before any mail`);
      const sent = await graph.retry(earlier.graph);
      tallyGraph(tally.retry, sent.answer.status);
      if (sent.answer.status === 202) mailbox.expected.duplicates += 1;
      return;
    }
    case 'superseded': {
      if (send.carries !== 'new-mail') return;
      const sent = await graph.newMail(address, 'previous');
      tallyGraph(tally.superseded, sent.answer.status);
      mailbox.supersededItems = sent.messageIds;
      if (sent.answer.status === 202) mailbox.expected.suppressed.set('superseded', (mailbox.expected.suppressed.get('superseded') ?? 0) + 1);
      return;
    }
  }
}

/** What the relay should decide for new mail it accepted: an alert, or the rule that suppresses it. */
function expectNewMail(device: DeviceRun, mailbox: MailboxRun, items: number): void {
  const reason = suppressionReason(device.intent);
  if (reason === undefined) {
    mailbox.expected.alertNotifications += 1;
    mailbox.expected.alertItems += items;
  } else {
    mailbox.expected.suppressed.set(reason, (mailbox.expected.suppressed.get(reason) ?? 0) + 1);
  }
}

function tallyGraph(tally: GraphTally, status: number): void {
  tally.sent += 1;
  if (status === 202) tally.accepted += 1;
  else tally.errors += 1;
}

/** Waits until every accepted lifecycle event has its `*-requested` decision (the dispatcher sent its push). */
async function settleLifecycle(devices: DeviceRun[], timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  const late: string[] = [];
  const expected = (device: DeviceRun) => [...device.mailboxes.values()].reduce((sum, m) => sum + m.lifecycleAccepted, 0);
  await mapWithConcurrency(devices.filter((d) => expected(d) > 0), SETTLE_WATCHERS, async (device) => {
    for (;;) {
      const requested = (await device.client.getEvents()).filter((e) => e.reason.startsWith('lifecycle:') && e.outcome.endsWith('-requested')).length;
      if (requested >= expected(device)) return;
      if (Date.now() > deadline) {
        late.push(device.plan.name);
        return;
      }
      await sleep(200);
    }
  });
  return late;
}

/** An EWS notification the relay refused for a known mailbox (Unsubscribe) is explained as `suppressed`, `superseded`. */
function expectRefusedEws(mailbox: MailboxRun, answer: CallbackAnswer): void {
  if (answer.status === 200 && answer.subscriptionStatus === 'Unsubscribe') {
    mailbox.expected.suppressed.set('superseded', (mailbox.expected.suppressed.get('superseded') ?? 0) + 1);
  }
}

function count(tally: AnswerTally, answer: CallbackAnswer): void {
  tally.sent += 1;
  if (answer.status === 200 && answer.subscriptionStatus === 'OK') tally.ok += 1;
  else if (answer.status === 200 && answer.subscriptionStatus === 'Unsubscribe') tally.unsubscribe += 1;
  else tally.errors += 1;
}

function emptyTally(): AnswerTally {
  return { sent: 0, ok: 0, unsubscribe: 0, errors: 0 };
}

function tallyTotal(tally: Record<NotificationKind, AnswerTally>): AnswerTally {
  const total = emptyTally();
  for (const t of Object.values(tally)) {
    total.sent += t.sent;
    total.ok += t.ok;
    total.unsubscribe += t.unsubscribe;
    total.errors += t.errors;
  }
  return total;
}

/**
 * Waits until every device's event log holds a final decision for every notification the relay accepted. The
 * relay answers Exchange before it pushes (it only queues), so this is how the simulation knows a round is over; it
 * also keeps rounds apart, so that one round's mail is never coalesced with the next round's.
 *
 * Each device is watched until it is done before the next one is read: the queue drains roughly in the order the
 * mail arrived, so by the time the first devices are done most others are too, and the event logs are read about
 * once per device instead of once per device per poll (each read is a query on the store the relay is writing).
 */
async function settle(devices: DeviceRun[], timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  const late: string[] = [];
  await mapWithConcurrency(devices.filter((d) => expectedDecisions(d) > d.decided), SETTLE_WATCHERS, async (device) => {
    for (;;) {
      device.decided = (await device.client.getEvents()).filter((e) => FINAL_OUTCOMES.has(e.outcome)).length;
      if (device.decided >= expectedDecisions(device)) return;
      if (Date.now() > deadline) {
        late.push(device.plan.name);
        return;
      }
      await sleep(200);
    }
  });
  return late;
}

function ownPushes(pushes: ObservedPush[], devices: DeviceRun[], since: number): ObservedPush[] {
  const tokens = new Set(devices.map((d) => d.plan.pushToken.toLowerCase()));
  return pushes.filter((p) => tokens.has(p.token.toLowerCase()) && p.at >= since);
}

function summarizePushes(pushes: ObservedPush[] | undefined): SimulationReport['apns'] {
  const apns = { visible: pushes !== undefined, alerts: 0, newMessages: 0, resubscribeRequests: 0, reauthorizeRequests: 0, syncRequests: 0, backgroundRefreshes: 0, other: 0, refused: 0, devicesReached: 0 };
  if (!pushes) return apns;
  const reached = new Set<string>();
  for (const push of pushes) {
    if (push.status !== 200) {
      apns.refused += 1;
      continue;
    }
    reached.add(push.token.toLowerCase());
    const instruction = decodePush(push.payload);
    if (instruction.type === 'sync-mailbox') {
      apns.alerts += 1;
      apns.newMessages += instruction.newMessages;
    } else if (instruction.type === 'resubscribe') apns.resubscribeRequests += 1;
    else if (instruction.type === 'reauthorize') apns.reauthorizeRequests += 1;
    else if (instruction.type === 'sync') apns.syncRequests += 1;
    else if (instruction.type === 'background-refresh') apns.backgroundRefreshes += 1;
    else apns.other += 1;
  }
  apns.devicesReached = reached.size;
  return apns;
}

function countDecisions(events: Array<{ outcome: DecisionOutcomeName; reason: string }>): SimulationReport['decisions'] {
  const counts = new Map<string, { outcome: DecisionOutcomeName; reason: string; count: number }>();
  for (const { outcome, reason } of events) {
    const key = `${outcome}\u0000${reason}`;
    const entry = counts.get(key) ?? { outcome, reason, count: 0 };
    entry.count += 1;
    counts.set(key, entry);
  }
  const order = ['pushed', 'suppressed', 'duplicate', 'retried', 'resubscribe-requested', 'reauthorize-requested', 'sync-requested', 'token-retired', 'failed', 'dead-lettered'];
  return [...counts.values()].sort((a, b) => order.indexOf(a.outcome) - order.indexOf(b.outcome) || a.reason.localeCompare(b.reason));
}
