import { startPlayedHttpServer, type PlayedAnswer, type PlayedHttpServer, type PlayedRequest } from '../../test/support/played/played-http.js';
import {
  readSubscribeRequest,
  readSubscriptionStatus,
  sendNotificationBody,
  subscribeErrorResponse,
  subscribeResponse,
  type NotificationEvent,
} from './ews-messages.js';
import { MailboxBook, seededDigest, type Which } from './played-mailboxes.js';

/**
 * Exchange, as far as a push subscriber sees it: an EWS endpoint on 127.0.0.1 that accepts push `Subscribe` requests
 * for the mailbox named by `X-AnchorMailbox`, and a sender that POSTs SendNotification bodies to the URL each
 * subscription named. Like Exchange, it keeps delivering on a subscription until a callback answers `Unsubscribe`,
 * and then stops for good.
 *
 * Ids, watermarks and item ids are derived from the seed, so the same seed replays the same bytes (time stamps aside).
 */

/** How the relay answered one POST. */
export interface CallbackAnswer {
  /** HTTP status; 0 when the request failed without an answer. */
  status: number;
  /** The SendNotificationResult's status, undefined when the answer was not one. */
  subscriptionStatus: 'OK' | 'Unsubscribe' | undefined;
}

/** A notification as sent, for an exact retry later. */
export interface SentNotification {
  callbackUrl: string;
  body: string;
  subscriptionId: string;
  itemIds: string[];
  answer: CallbackAnswer;
}

interface Subscription {
  id: string;
  callbackUrl: string;
  statusFrequencyMinutes: number;
  /** Events so far; each advances the watermark. */
  position: number;
  watermark: string;
  /** Exchange drops a subscription once its callback answers Unsubscribe. */
  ended: boolean;
}

interface Mailbox {
  subscriptions: Subscription[];
  items: number;
}

export interface PlayedExchangeOptions {
  seed: number;
  /** Mailboxes whose first Subscribe is answered ErrorServerBusy, as a loaded CAS does; a retry succeeds. */
  busyOnFirstSubscribe?: ReadonlySet<string>;
}

export class PlayedExchange {
  private readonly mailboxes = new MailboxBook<Mailbox>(() => ({ subscriptions: [], items: 0 }));
  private readonly busy: Set<string>;
  private server: PlayedHttpServer | undefined;
  /** Subscribe requests answered, by EWS ResponseCode. */
  readonly subscribeAnswers = new Map<string, number>();

  private constructor(private readonly options: PlayedExchangeOptions) {
    this.busy = new Set(options.busyOnFirstSubscribe ?? []);
  }

  static async start(options: PlayedExchangeOptions): Promise<PlayedExchange> {
    const exchange = new PlayedExchange(options);
    exchange.server = await startPlayedHttpServer((request) => exchange.handle(request));
    return exchange;
  }

  /** The server's base URL, for the app configuration's `email_ews_host`. */
  get baseUrl(): string {
    if (!this.server) throw new Error('the played Exchange is not running');
    return this.server.baseUrl;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await server?.close();
  }

  /**
   * New mail in the mailbox's Inbox, reported on one of its subscriptions: one NewMailEvent per item. `itemIds` reuses
   * items already reported elsewhere (another subscription of the same mailbox sees the same mail); otherwise new
   * items arrive.
   */
  async newMail(address: string, which: Which, count: number, itemIds?: readonly string[]): Promise<SentNotification> {
    const mailbox = this.mailboxes.get(address);
    const subscription = this.deliverable(address, which);
    const ids = itemIds ? [...itemIds] : Array.from({ length: count }, () => this.nextItemId(address, mailbox));
    const previous = subscription.watermark;
    const events: NotificationEvent[] = ids.map((itemId) => ({
      type: 'NewMailEvent',
      watermark: this.advance(subscription),
      timeStamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      itemId,
      changeKey: `CQAAABYAAAA${this.digest(`${itemId}:ck`, 6)}`,
      parentFolderId: `AQMkA${this.digest(`${address}:inbox`, 30)}`,
    }));
    return this.deliver(subscription, sendNotificationBody(subscription.id, previous, events), ids);
  }

  /** A StatusEvent heartbeat, sent every StatusFrequency minutes when nothing else happened. */
  async heartbeat(address: string, which: Which): Promise<SentNotification> {
    const subscription = this.deliverable(address, which);
    const previous = subscription.watermark;
    return this.deliver(subscription, sendNotificationBody(subscription.id, previous, [{ type: 'StatusEvent', watermark: this.advance(subscription) }]), []);
  }

  /** The same bytes again: Exchange retries a push whose answer it did not get. */
  async retry(sent: SentNotification): Promise<SentNotification> {
    const answer = await post(sent.callbackUrl, sent.body);
    this.noteUnsubscribe(sent.subscriptionId, answer);
    return { ...sent, answer };
  }

  private async deliver(subscription: Subscription, body: string, itemIds: string[]): Promise<SentNotification> {
    const answer = await post(subscription.callbackUrl, body);
    this.noteUnsubscribe(subscription.id, answer);
    return { callbackUrl: subscription.callbackUrl, body, subscriptionId: subscription.id, itemIds, answer };
  }

  private noteUnsubscribe(subscriptionId: string, answer: CallbackAnswer): void {
    if (answer.subscriptionStatus !== 'Unsubscribe') return;
    for (const mailbox of this.mailboxes.all()) {
      for (const subscription of mailbox.subscriptions) if (subscription.id === subscriptionId) subscription.ended = true;
    }
  }

  private deliverable(address: string, which: Which): Subscription {
    const subscription = this.mailboxes.subscription(address, which);
    if (!subscription || subscription.ended) throw new Error(`${address} has no ${which} subscription that Exchange still delivers on`);
    return subscription;
  }

  private handle(request: PlayedRequest): PlayedAnswer {
    if (request.method !== 'POST' || new URL(request.path, 'http://x').pathname.toLowerCase() !== '/ews/exchange.asmx') return { status: 404 };
    const answer = this.subscribe(header(request, 'x-anchormailbox'), request.body);
    this.subscribeAnswers.set(answer.code, (this.subscribeAnswers.get(answer.code) ?? 0) + 1);
    return { status: 200, headers: { 'content-type': 'text/xml; charset=utf-8' }, body: answer.xml };
  }

  private subscribe(anchor: string | undefined, xml: string): { code: string; xml: string } {
    const error = (code: string, text: string) => ({ code, xml: subscribeErrorResponse(code, text) });
    const request = readSubscribeRequest(xml);
    if (!request) return error('ErrorSchemaValidation', 'The request failed schema validation.');
    const address = (request.impersonatedSmtpAddress ?? anchor)?.toLowerCase();
    if (!address) return error('ErrorMissingEmailAddress', 'No mailbox was named (X-AnchorMailbox or ExchangeImpersonation).');
    if (request.impersonatedSmtpAddress && anchor?.toLowerCase() !== address) {
      return error('ErrorImpersonateUserDenied', 'X-AnchorMailbox must name the impersonated mailbox.');
    }
    if (!request.folderIds.includes('inbox') || !request.eventTypes.includes('NewMailEvent')) {
      return error('ErrorInvalidSubscriptionRequest', 'The simulator only delivers new mail in the Inbox.');
    }
    if (this.busy.delete(address)) return error('ErrorServerBusy', 'The server cannot service this request right now. Try again later.');
    const mailbox = this.mailboxes.get(address);
    const generation = mailbox.subscriptions.length + 1;
    const id = this.digest(`${address}:subscription:${generation}`, 40);
    const subscription: Subscription = {
      id,
      callbackUrl: request.callbackUrl,
      statusFrequencyMinutes: request.statusFrequencyMinutes,
      position: 0,
      watermark: '',
      ended: false,
    };
    subscription.watermark = this.advance(subscription);
    mailbox.subscriptions.push(subscription);
    return { code: 'NoError', xml: subscribeResponse(id, subscription.watermark) };
  }

  /** The next watermark of a subscription: an opaque base64 bookmark, as EWS's are. */
  private advance(subscription: Subscription): string {
    subscription.position += 1;
    const position = Buffer.alloc(8);
    position.writeBigUInt64BE(BigInt(subscription.position));
    subscription.watermark = Buffer.concat([Buffer.from([1, 0, 0, 0]), Buffer.from(this.digest(subscription.id, 16), 'base64'), position]).toString('base64');
    return subscription.watermark;
  }

  private nextItemId(address: string, mailbox: Mailbox): string {
    mailbox.items += 1;
    return `AAMkA${this.digest(`${address}:item:${mailbox.items}`, 45)}`;
  }

  /** `bytes` bytes of a hash of the seed and `label`, base64. */
  private digest(label: string, bytes: number): string {
    return seededDigest(this.options.seed, label, bytes).toString('base64');
  }
}

function header(request: PlayedRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** POSTs a notification as Exchange does and reads the relay's answer; never throws. */
async function post(callbackUrl: string, body: string): Promise<CallbackAnswer> {
  try {
    const response = await fetch(callbackUrl, { method: 'POST', headers: { 'content-type': 'text/xml; charset=utf-8' }, body });
    const text = await response.text();
    return { status: response.status, subscriptionStatus: response.status === 200 ? readSubscriptionStatus(text) : undefined };
  } catch {
    return { status: 0, subscriptionStatus: undefined };
  }
}
