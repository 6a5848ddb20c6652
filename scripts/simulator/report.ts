import type { OrganizationScenarioReport } from './organization-scenario.js';
import type { RelayClient } from '../../shared/client/index.js';
import type { AlertIntent } from './alert-profiles.js';
import type { GraphEndpoints } from '../../shared/device/device-schemas.js';
import type { SentNotification } from './played-exchange.js';
import type { SentGraphNotification } from './played-graph.js';
import type { PlannedDevice, PlannedMailbox } from './plan.js';
import type { RelayTarget } from './relay-target.js';

/** What a simulation run found, and the state it keeps per device and mailbox while it runs. */

export type NotificationKind = 'new-mail-single' | 'new-mail-batch' | 'heartbeat' | 'retry' | 'superseded' | 'migrated';
export const NOTIFICATION_KINDS: readonly NotificationKind[] = ['new-mail-single', 'new-mail-batch', 'heartbeat', 'retry', 'superseded', 'migrated'];

/** What Graph POSTs: new mail (one `created` message each), exact retries, notifications of a replaced subscription, lifecycle events. */
export type GraphNotificationKind = 'new-mail' | 'retry' | 'superseded' | 'lifecycle';
export const GRAPH_NOTIFICATION_KINDS: readonly GraphNotificationKind[] = ['new-mail', 'retry', 'superseded', 'lifecycle'];

export interface GraphTally {
  sent: number;
  /** Answered 202. */
  accepted: number;
  errors: number;
}

export interface AnswerTally {
  sent: number;
  ok: number;
  unsubscribe: number;
  /** Anything but a 200 SendNotificationResult, or no answer at all. */
  errors: number;
}

export interface Expectation {
  name: string;
  /** undefined: could not be checked in this run (say why in `detail`). */
  ok: boolean | undefined;
  detail: string;
}

export interface SimulationReport {
  seed: number;
  target: { kind: RelayTarget['kind']; baseUrl: string };
  durationMs: number;
  devices: {
    count: number;
    mailboxes: number;
    delegated: number;
    delegatedAddedLater: number;
    timeZones: number;
    byIntent: Record<AlertIntent, number>;
    settingsChanged: number;
  };
  subscriptions: { subscribed: number; resubscribed: number; busyRetries: number };
  notifications: Record<NotificationKind, AnswerTally>;
  graph: {
    /** Mailboxes on Graph at the end, of which moved from EWS during the run. */
    mailboxes: number;
    migrated: number;
    /** Graph subscriptions created (first ones, migrations and resubscriptions). */
    subscriptions: number;
    /** Validation requests the played Graph sent to the relay's URLs, and those answered with the exact token. */
    validations: { sent: number; echoed: number };
    notifications: Record<GraphNotificationKind, GraphTally>;
  };
  apns: {
    /** False when the relay pushes to an APNs server whose pushes this simulator cannot see. */
    visible: boolean;
    alerts: number;
    /** Sum of `newMessages` over the alert pushes. */
    newMessages: number;
    resubscribeRequests: number;
    reauthorizeRequests: number;
    syncRequests: number;
    backgroundRefreshes: number;
    other: number;
    refused: number;
    devicesReached: number;
  };
  /** Every decision of every device's event log, counted by outcome and reason. */
  decisions: Array<{ outcome: DecisionOutcomeName; reason: string; count: number }>;
  expectations: Expectation[];
  /** Organization mode, played against the in-process relay only (it needs the relay's admin secret). */
  organization?: OrganizationScenarioReport;
  ok: boolean;
}

/** One entry of a device's event log (`GET /v1/devices/{id}/events`). */
export type Decision = Awaited<ReturnType<RelayClient['getEvents']>>[number];
export type DecisionOutcomeName = Decision['outcome'];

/** What the relay should have decided for one mailbox, from the answers it gave and the device's settings. */
export interface MailboxExpectation {
  alertNotifications: number;
  alertItems: number;
  suppressed: Map<string, number>;
  duplicates: number;
}

export interface MailboxRun {
  plan: PlannedMailbox;
  callbackUrl: string;
  /** The mailbox's Graph URLs and clientState, from the registration. */
  graph: GraphEndpoints | undefined;
  /** The protocol the device subscribes with now (EWS until it moves a mailbox to Graph). */
  protocol: 'ews' | 'graph';
  lastNewMail: SentNotification | undefined;
  lastGraphMail: SentGraphNotification | undefined;
  /** Which of the two the last new mail was. */
  lastMailProtocol: 'ews' | 'graph' | undefined;
  /** Lifecycle events Graph sent for the mailbox and the relay accepted (each should lead to one `*-requested`). */
  lifecycleAccepted: number;
  supersededItems: string[];
  expected: MailboxExpectation;
}

export interface DeviceRun {
  plan: PlannedDevice;
  client: RelayClient;
  intent: AlertIntent;
  mailboxes: Map<string, MailboxRun>;
  /** Final decisions seen in its event log at the last look. */
  decided: number;
}

/** Final decisions the relay should have logged for a device so far: one per accepted notification with new mail. */
export function expectedDecisions(device: DeviceRun): number {
  let total = 0;
  for (const { expected } of device.mailboxes.values()) {
    total += expected.alertNotifications + expected.duplicates + [...expected.suppressed.values()].reduce((a, b) => a + b, 0);
  }
  return total;
}
