import type { PushGateway } from '../../shared/push/push-gateway.js';
import type { RegistrationSeal } from '../../shared/queue/carried-registration.js';
import type { EventQueue, ManagedSubscriptionMessage, QueueMessage } from '../../shared/queue/queue-messages.js';
import type { AlertBudget, BurstBudget, CallbackDirectory, DecisionLog, DedupeStore, DeviceReader, MailboxActionLimit, SettlementLog, TokenRetirement } from '../../shared/store/ports.js';
import type { OutcomeCounter, UseCaseLogger } from '../_lib/powertools.js';
import type { OrganizationDetails } from './organization-details.js';

/** What the dispatcher's use case needs; the Lambda and `npm start` wire AWS adapters, tests in-memory ones. */
export interface DispatcherDeps {
  devices: Pick<DeviceReader, 'getDeviceAndMailbox' | 'getDevicesAndMailboxes'>;
  /** New mail's last-seen time, when no other mailbox write of the dispatch records it. */
  callbacks: Pick<CallbackDirectory, 'touchMailbox'>;
  retirement: TokenRetirement;
  burstBudget: BurstBudget;
  /** One lifecycle push per mailbox and action in 5 minutes. */
  actionLimit: MailboxActionLimit;
  dedupe: DedupeStore;
  decisions: DecisionLog;
  /** A settled notification's completion and decision, written together. */
  settlements: SettlementLog;
  push: PushGateway;
  now: () => number;
  logger: UseCaseLogger;
  counter: OutcomeCounter;
  /** The queue's maxReceiveCount: a failing attempt at this count is the last before the DLQ. */
  maxReceiveCount: number;
  /**
   * How long an event key blocks a repeat. Exchange retries a failed push for at most StatusFrequency (max 1440
   * minutes), so two days covers every retry of the same body.
   */
  dedupeTtlSeconds: number;
  /** The event queue, for the delayed flush of alerts held back during a burst. */
  queue: EventQueue;
  /**
   * Burst coalescing: each notification is pushed at once while the mailbox has alerts left in its window; new mail
   * beyond that is held and pushed as one alert with the count when the window closes. A burst of 20 mails in 2 s
   * becomes 4 pushes, not 20 (APNs answers 429 to too many pushes to one token), while every notification of an
   * ordinary day still gets its own push at once (contract section 4: at least one per notification).
   */
  alertBudget: AlertBudget;
  /**
   * The mail-server work of relay-managed subscriptions (`manage-subscription.ts`, bound to its org access); absent
   * where the dispatcher is not wired for organization mode, and then such messages go back to the queue.
   */
  manageSubscription?: (record: DispatchRecord<ManagedSubscriptionMessage>) => Promise<unknown>;
  /**
   * Organization mode (contract section 8): reads sender, subject and preview when that can change what is pushed
   * (VIP senders, detailed alerts). Absent: every mail is judged by the rules alone, as in the default mode.
   */
  organization?: Pick<OrganizationDetails, 'judge'>;
  /**
   * Opens the registration the callback sealed onto new mail (issue 15): a young first delivery is judged by it
   * instead of a read (`carried-registrations.ts`). Absent: every group is read, as before.
   */
  registrationSeal?: Pick<RegistrationSeal, 'open'>;
}

export const DEFAULT_ALERT_BUDGET: AlertBudget = { windowMs: 5_000, maxPerWindow: 3 };

export const DEFAULT_DEDUPE_TTL_SECONDS = 2 * 24 * 60 * 60;

/** A queue message as the use case gets it: parsed at the edge, with what SQS says about its delivery. */
export interface DispatchRecord<M = QueueMessage> {
  messageId: string;
  /** The body as queued: its hash is the claimant of the message's idempotency keys (`event-claims.ts`). */
  body: string;
  /** SQS ApproximateReceiveCount. */
  receiveCount: number;
  message: M;
}
