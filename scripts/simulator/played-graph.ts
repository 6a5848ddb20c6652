import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { graphSubscriptionRequestSchema } from '../../shared/graph/subscription.js';

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
  private readonly mailboxes = new Map<string, { subscriptions: GraphSubscription[]; messages: number }>();
  private server: Server | undefined;
  private url: string | undefined;
  /** Validation requests sent to the relay, and how many it answered with the exact token. */
  readonly validations = { sent: 0, echoed: 0 };

  private constructor(private readonly seed: number) {}

  static async start(seed: number): Promise<PlayedGraph> {
    const graph = new PlayedGraph(seed);
    const server = createServer((req, res) => void graph.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    graph.server = server;
    graph.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return graph;
  }

  /** Where the app POSTs its subscriptions. */
  get subscriptionsUrl(): string {
    if (!this.url) throw new Error('the played Graph is not running');
    return `${this.url}/v1.0/subscriptions`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** One new message in the mailbox's Inbox, reported as one `created` notification on a subscription. */
  async newMail(address: string, which: 'current' | 'previous', messageIds?: readonly string[]): Promise<SentGraphNotification> {
    const mailbox = this.mailbox(address);
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

  private subscription(address: string, which: 'current' | 'previous'): GraphSubscription {
    const list = this.mailbox(address).subscriptions;
    const subscription = list[which === 'current' ? list.length - 1 : list.length - 2];
    if (!subscription) throw new Error(`${address} has no ${which} Graph subscription`);
    return subscription;
  }

  private mailbox(address: string) {
    let mailbox = this.mailboxes.get(address);
    if (!mailbox) {
      mailbox = { subscriptions: [], messages: 0 };
      this.mailboxes.set(address, mailbox);
    }
    return mailbox;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const reply = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.method !== 'POST' || new URL(req.url ?? '/', 'http://x').pathname !== '/v1.0/subscriptions') return void reply(404, graphError('ResourceNotFound', 'Not found'));
    const token = /^Bearer sim:(\S+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
    if (!token) return void reply(401, graphError('InvalidAuthenticationToken', 'Access token is empty.'));
    let parsed;
    try {
      parsed = graphSubscriptionRequestSchema.safeParse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
    } catch {
      parsed = undefined;
    }
    if (!parsed?.success) return void reply(400, graphError('InvalidRequest', 'The subscription request is not valid.'));
    const request = parsed.data;
    // Graph validates both URLs before it creates anything.
    for (const url of [request.notificationUrl, request.lifecycleNotificationUrl]) {
      if (!(await this.validate(url))) {
        return void reply(400, graphError('ValidationError', 'Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.'));
      }
    }
    const address = token.toLowerCase();
    const mailbox = this.mailbox(address);
    const id = this.digest(`${address}:graph-subscription:${mailbox.subscriptions.length + 1}`, 32);
    const subscriptionId = `${id.slice(0, 8)}-${id.slice(8, 12)}-${id.slice(12, 16)}-${id.slice(16, 20)}-${id.slice(20, 32)}`;
    mailbox.subscriptions.push({ id: subscriptionId, notificationUrl: request.notificationUrl, lifecycleNotificationUrl: request.lifecycleNotificationUrl, clientState: request.clientState });
    reply(201, {
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

  private digest(label: string, length: number): string {
    return createHash('sha256').update(`${this.seed}:${label}`).digest('hex').slice(0, Math.max(length, 32)).slice(0, length);
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
