import { graphSubscriptionRequestSchema } from '../../shared/graph/subscription.js';
import { startPlayedHttpServer, type PlayedAnswer, type PlayedHttpServer, type PlayedRequest } from '../../test/support/played/played-http.js';
import { MailboxBook, seededDigest, type Which } from './played-mailboxes.js';

/**
 * Microsoft Graph, as far as a mailbox subscriber sees it: `POST /v1.0/subscriptions` on 127.0.0.1, which validates
 * both URLs of the request the way Graph does (a POST with `?validationToken=` that must come back as the exact text,
 * within 10 s) before answering `201 Created`, and a sender that POSTs change notifications and lifecycle events to
 * them. The mailbox is the one the bearer token names (`Bearer sim:<address>`), as a delegated token would.
 */

/** How the relay answered one Graph POST. */
export interface GraphAnswer {
  /** HTTP status; 0 when the request failed without an answer. */
  status: number;
}

/** A notification as sent, for an exact retry later. */
export interface SentGraphNotification {
  url: string;
  body: string;
  messageIds: string[];
  answer: GraphAnswer;
}

interface GraphSubscription {
  id: string;
  notificationUrl: string;
  lifecycleNotificationUrl: string;
  clientState: string;
}

export class PlayedGraph {
  private readonly mailboxes = new MailboxBook<{ subscriptions: GraphSubscription[]; messages: number }>(() => ({ subscriptions: [], messages: 0 }));
  private server: PlayedHttpServer | undefined;
  /** Validation requests sent to the relay, and how many it answered with the exact token. */
  readonly validations = { sent: 0, echoed: 0 };

  private constructor(private readonly seed: number) {}

  static async start(seed: number): Promise<PlayedGraph> {
    const graph = new PlayedGraph(seed);
    graph.server = await startPlayedHttpServer((request) => graph.handle(request));
    return graph;
  }

  /** Where the app POSTs its subscriptions. */
  get subscriptionsUrl(): string {
    if (!this.server) throw new Error('the played Graph is not running');
    return `${this.server.baseUrl}/v1.0/subscriptions`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await server?.close();
  }

  /** One new message in the mailbox's Inbox, reported as one `created` notification on a subscription. */
  async newMail(address: string, which: Which, messageIds?: readonly string[]): Promise<SentGraphNotification> {
    const mailbox = this.mailboxes.get(address);
    const subscription = this.subscription(address, which);
    const ids = messageIds ? [...messageIds] : [this.nextMessageId(address, mailbox)];
    const value = ids.map((id) => ({
      subscriptionId: subscription.id,
      subscriptionExpirationDateTime: new Date(Date.now() + 86_400_000).toISOString(),
      changeType: 'created',
      resource: `Users/${this.digest(`${address}:user`, 12)}/Messages/${id}`,
      clientState: subscription.clientState,
      tenantId: '84bd8158-6d4d-4958-8b9f-9d6445542f95',
      resourceData: { '@odata.type': '#Microsoft.Graph.Message', '@odata.id': `Users/x/Messages/${id}`, '@odata.etag': 'W/"CQAAABYAAAA"', id },
    }));
    const body = JSON.stringify({ value });
    return { url: subscription.notificationUrl, body, messageIds: ids, answer: await post(subscription.notificationUrl, body) };
  }

  /** The same bytes again: Graph retries a notification whose answer it did not get in time. */
  async retry(sent: SentGraphNotification): Promise<SentGraphNotification> {
    return { ...sent, answer: await post(sent.url, sent.body) };
  }

  /** A lifecycle event for the mailbox's current subscription. */
  async lifecycle(address: string, lifecycleEvent: 'missed' | 'reauthorizationRequired' | 'subscriptionRemoved'): Promise<GraphAnswer> {
    const subscription = this.subscription(address, 'current');
    const body = JSON.stringify({
      value: [
        {
          subscriptionId: subscription.id,
          subscriptionExpirationDateTime: new Date(Date.now() + 86_400_000).toISOString(),
          tenantId: '84bd8158-6d4d-4958-8b9f-9d6445542f95',
          clientState: subscription.clientState,
          lifecycleEvent,
        },
      ],
    });
    return post(subscription.lifecycleNotificationUrl, body);
  }

  private subscription(address: string, which: Which): GraphSubscription {
    const subscription = this.mailboxes.subscription(address, which);
    if (!subscription) throw new Error(`${address} has no ${which} Graph subscription`);
    return subscription;
  }

  private async handle(received: PlayedRequest): Promise<PlayedAnswer> {
    const reply = (status: number, body: unknown): PlayedAnswer => ({ status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (received.method !== 'POST' || new URL(received.path, 'http://x').pathname !== '/v1.0/subscriptions') return reply(404, graphError('ResourceNotFound', 'Not found'));
    const token = /^Bearer sim:(\S+)$/.exec(String(received.headers.authorization ?? ''))?.[1];
    if (!token) return reply(401, graphError('InvalidAuthenticationToken', 'Access token is empty.'));
    let parsed;
    try {
      parsed = graphSubscriptionRequestSchema.safeParse(JSON.parse(received.body));
    } catch {
      parsed = undefined;
    }
    if (!parsed?.success) return reply(400, graphError('InvalidRequest', 'The subscription request is not valid.'));
    const request = parsed.data;
    // Graph validates both URLs before it creates anything.
    for (const url of [request.notificationUrl, request.lifecycleNotificationUrl]) {
      if (!(await this.validate(url))) {
        return reply(400, graphError('ValidationError', 'Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.'));
      }
    }
    const address = token.toLowerCase();
    const mailbox = this.mailboxes.get(address);
    const id = this.digest(`${address}:graph-subscription:${mailbox.subscriptions.length + 1}`, 32);
    const subscriptionId = `${id.slice(0, 8)}-${id.slice(8, 12)}-${id.slice(12, 16)}-${id.slice(16, 20)}-${id.slice(20, 32)}`;
    mailbox.subscriptions.push({ id: subscriptionId, notificationUrl: request.notificationUrl, lifecycleNotificationUrl: request.lifecycleNotificationUrl, clientState: request.clientState });
    return reply(201, {
      '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#subscriptions/$entity',
      id: subscriptionId,
      resource: request.resource,
      changeType: request.changeType,
      clientState: request.clientState,
      notificationUrl: request.notificationUrl,
      lifecycleNotificationUrl: request.lifecycleNotificationUrl,
      expirationDateTime: request.expirationDateTime.replace('Z', '0000Z'),
      latestSupportedTlsVersion: 'v1_2',
    });
  }

  private async validate(url: string): Promise<boolean> {
    const token = `Validation: Testing client application reachability for subscription Request-Id: ${this.digest(url, 8)} +&=`;
    this.validations.sent += 1;
    try {
      const response = await fetch(`${url}?validationToken=${encodeURIComponent(token).replaceAll('%20', '+')}`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain; charset=utf-8' },
        signal: AbortSignal.timeout(10_000),
      });
      const ok = response.status === 200 && (await response.text()) === token && /^text\/plain/.test(response.headers.get('content-type') ?? '');
      if (ok) this.validations.echoed += 1;
      return ok;
    } catch {
      return false;
    }
  }

  private nextMessageId(address: string, mailbox: { messages: number }): string {
    mailbox.messages += 1;
    return `AAMkAGraph${this.digest(`${address}:message:${mailbox.messages}`, 24)}`;
  }

  /** `length` hex digits of a hash of the seed and `label`. */
  private digest(label: string, length: number): string {
    return seededDigest(this.seed, label, Math.ceil(length / 2)).toString('hex').slice(0, length);
  }
}

function graphError(code: string, message: string) {
  return { error: { code, message } };
}

async function post(url: string, body: string): Promise<GraphAnswer> {
  try {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    await response.arrayBuffer();
    return { status: response.status };
  } catch {
    return { status: 0 };
  }
}
