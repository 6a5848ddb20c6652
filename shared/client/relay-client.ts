import type * as z from '../zod.js';
import {
  MAX_DELEGATED_MAILBOXES,
  addMailboxRequestSchema,
  deviceEventsResponseSchema,
  deviceSettingsSchema,
  deviceViewSchema,
  mailboxIdSchema,
  patchDeviceRequestSchema,
  registerDeviceRequestSchema,
  registerDeviceResponseSchema,
  registeredMailboxSchema,
  reportSubscriptionRequestSchema,
  type Decision,
  type DeviceSettings,
  type DeviceView,
  type MailboxKind,
  type RegisteredMailbox,
} from '../device/device-schemas.js';
import { applyMergePatch } from '../device/merge-patch.js';
import { MailboxExistsError, MailboxLimitError, PrimaryMailboxRemovalError, ValidationError } from '../errors.js';
import { RelayClientUsageError, RelayNetworkError, RelayProtocolError, relayApiErrorFor, toFieldIssues } from './relay-errors.js';

/**
 * The device API of the relay (contract section 3), from the device's side. Requests are validated with the shared
 * schemas before anything is sent; answers are validated before they are returned.
 */

/** The part of `fetch` the client uses, so any runtime's `fetch` (or a fake) fits. */
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string },
) => Promise<{ status: number; text(): Promise<string> }>;

/** What identifies the device to the relay after registration. The secret belongs in the keychain. */
export interface DeviceCredentials {
  deviceId: string;
  deviceSecret: string;
}

/** A mailbox of this device as the client knows it. */
export interface KnownMailbox {
  id: string;
  kind: MailboxKind;
}

export interface RelayClientOptions {
  /** The relay's base URL, e.g. `AppConfig.notificationServerUrl`. */
  baseUrl: string;
  /** Defaults to the runtime's global `fetch`. Put timeouts and retries in here if you want them. */
  fetch?: FetchLike;
  /** The organization token used by `register` (`AppConfig.organizationToken`). */
  organizationToken?: string;
  /** Credentials of an earlier registration, to resume without registering again. */
  credentials?: DeviceCredentials;
  /** The device's mailboxes, if known; otherwise the client reads them from the relay when it needs them. */
  mailboxes?: readonly KnownMailbox[];
}

/** The body of a registration as the app writes it; omitted settings take the contract's defaults. */
export type RegisterDeviceInput = z.input<typeof registerDeviceRequestSchema>;

/** A registered mailbox: the callback URL to hand to Exchange in the push subscription. */
export interface RegisteredMailboxWithKind extends RegisteredMailbox {
  kind: MailboxKind;
}

export interface Registration extends DeviceCredentials {
  mailboxes: RegisteredMailboxWithKind[];
}

/** A JSON Merge Patch (RFC 7396) of `T`: members to change, `null` to restore a default; arrays are replaced whole. */
export type MergePatch<T> = {
  [K in keyof T]?: (T[K] extends readonly unknown[] ? T[K] : T[K] extends object ? MergePatch<T[K]> : T[K]) | null;
};

/** A settings change: any device setting, and a new push token. */
export type SettingsPatch = MergePatch<DeviceSettings> & { pushToken?: string };

/**
 * When a changed setting takes effect: always `now`. The relay reads the device's current settings for every
 * notification at the moment it arrives (contract section 5), so a new time zone, work-hours window, weekend or VIP
 * rule, "Show Mail Details", push token or APNs environment governs the very next notification; nothing waits for the
 * next Exchange resubscription. Kept as a field so an app can tell its user so ("applies now").
 */
export type AppliesFrom = 'now';

export interface SettingsUpdate {
  /** The registration after the change. */
  device: DeviceView;
  /** Each setting the patch touched (as a dotted path) and when it applies. */
  changes: Array<{ path: string; appliesFrom: AppliesFrom }>;
  /** When the patch as a whole applies: `now`, like each of its changes. */
  appliesFrom: AppliesFrom;
}

/** The subscription report; `expiresAt` is an ISO 8601 date-time. */
export type SubscriptionReport = z.input<typeof reportSubscriptionRequestSchema>;

/**
 * The relay's device API.
 *
 * @example
 * ```ts
 * const client = new RelayClient({ baseUrl: config.notificationServerUrl!, organizationToken: config.organizationToken });
 * const registration = await client.register({
 *   pushToken: apnsToken,
 *   mode: config.deliveryMode,
 *   mailboxes: [{ id: 'me', kind: 'primary' }],
 * });
 * keychain.save(client.credentials);       // { deviceId, deviceSecret }
 * const { callbackUrl } = registration.mailboxes[0]!; // subscribe Exchange to this
 * ```
 */
export class RelayClient {
  private readonly baseUrl: string;
  private readonly fetch: FetchLike;
  private readonly organizationToken: string | undefined;
  private device: DeviceCredentials | undefined;
  private known: KnownMailbox[] | undefined;
  /** The settings last confirmed by the relay, for validating patches locally. */
  private settings: DeviceSettings | undefined;

  constructor(options: RelayClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    const fetchImpl = options.fetch ?? (globalThis as { fetch?: FetchLike }).fetch;
    if (!fetchImpl) throw new RelayClientUsageError('no fetch: this runtime has no global fetch, pass options.fetch');
    this.fetch = fetchImpl;
    this.organizationToken = options.organizationToken;
    this.device = options.credentials && { ...options.credentials };
    this.known = options.mailboxes?.map((m) => ({ ...m }));
  }

  /** The device's credentials once registered (or as given); persist them to resume later. */
  get credentials(): DeviceCredentials | undefined {
    return this.device && { ...this.device };
  }

  /** The device's mailboxes as far as the client knows them (undefined until registered or read). */
  get mailboxes(): readonly KnownMailbox[] | undefined {
    return this.known?.map((m) => ({ ...m }));
  }

  /**
   * `POST /v1/devices`: registers this device and its mailboxes and keeps the returned credentials.
   *
   * @param organizationToken overrides `options.organizationToken`.
   * @returns the credentials and, per mailbox, the callback URL to subscribe Exchange to.
   * @throws ValidationError before sending when the request breaks the contract (for example two primaries).
   * @throws RelayUnauthorizedError when the organization token is refused.
   *
   * @example
   * ```ts
   * const { deviceId, mailboxes } = await client.register({
   *   pushToken: apnsToken,
   *   timeZone: 'Europe/Berlin',
   *   alerts: { workHoursOnly: true },
   *   mailboxes: [{ id: 'me', kind: 'primary' }, { id: 'team-inbox', kind: 'delegated' }],
   * });
   * ```
   */
  async register(request: RegisterDeviceInput, organizationToken: string | undefined = this.organizationToken): Promise<Registration> {
    const body = validate(registerDeviceRequestSchema, request);
    if (!organizationToken) throw new RelayClientUsageError('register needs an organization token (notification_server_authorization)');
    const answer = await this.send('POST', '/v1/devices', organizationToken, body, registerDeviceResponseSchema);
    const mailboxes = body.mailboxes.map((requested) => {
      const registered = answer.mailboxes.find((m) => m.id === requested.id);
      if (!registered) throw new RelayProtocolError(`the registration answer has no callback URL for mailbox ${requested.id}`);
      return { ...registered, kind: requested.kind };
    });
    pathSegment(answer.deviceId, 'deviceId');
    this.device = { deviceId: answer.deviceId, deviceSecret: answer.deviceSecret };
    this.known = body.mailboxes.map(({ id, kind }) => ({ id, kind }));
    const { pushToken: _token, mailboxes: _mailboxes, ...settings } = body;
    this.settings = settings;
    return { deviceId: answer.deviceId, deviceSecret: answer.deviceSecret, mailboxes };
  }

  /**
   * `GET /v1/devices/{deviceId}`: the registration, its status (`active` or `retired`) and each mailbox's
   * subscription state as the relay sees it (`lastNotificationAt` feeds the renewal planner).
   *
   * @throws RelayNotFoundError when the device no longer exists; register again.
   */
  async getDevice(): Promise<DeviceView> {
    const view = await this.send('GET', this.devicePath(), this.secret(), undefined, deviceViewSchema);
    this.remember(view);
    return view;
  }

  /**
   * `PATCH /v1/devices/{deviceId}` with JSON Merge Patch semantics: only the members given change, `null` restores a
   * default. A new `pushToken` makes a retired device active again.
   *
   * Every change applies `now`: the relay evaluates the alert rules on each notification as it arrives, with the
   * device's settings at that moment, so there is no need to resubscribe at Exchange after a change.
   *
   * @returns the new registration and, per changed setting, when it applies (`now`).
   * @throws ValidationError before sending when the patch, merged into the last known settings, is invalid.
   *
   * @example
   * ```ts
   * const update = await client.updateSettings({ timeZone: 'Europe/Berlin', alerts: { workHours: { start: '08:00' } } });
   * update.changes; // [{ path: 'timeZone', appliesFrom: 'now' }, { path: 'alerts.workHours.start', appliesFrom: 'now' }]
   * ```
   */
  async updateSettings(patch: SettingsPatch): Promise<SettingsUpdate> {
    const body = validate(patchDeviceRequestSchema, patch);
    if (this.settings) {
      const { pushToken: _token, ...settingsPatch } = body;
      validate(deviceSettingsSchema, applyMergePatch(this.settings, settingsPatch));
    }
    const device = await this.send('PATCH', this.devicePath(), this.secret(), body, deviceViewSchema);
    this.remember(device);
    const changes = leafPaths(body).map((path) => ({ path, appliesFrom: 'now' as const }));
    return { device, changes, appliesFrom: 'now' };
  }

  /**
   * `PUT /v1/devices/{deviceId}/mailboxes/{mailboxId}/subscription`: tells the relay which Exchange subscription is
   * current for the mailbox. Notifications of any other subscription are then answered `Unsubscribe`, and none after
   * `expiresAt`.
   *
   * @example
   * ```ts
   * await client.reportSubscription('me', { subscriptionId, expiresAt: '2026-11-24T18:00:00Z' });
   * ```
   */
  async reportSubscription(mailboxId: string, report: SubscriptionReport): Promise<void> {
    const body = validate(reportSubscriptionRequestSchema, report);
    await this.send('PUT', `${this.mailboxPath(mailboxId)}/subscription`, this.secret(), body, undefined);
  }

  /**
   * `POST /v1/devices/{deviceId}/mailboxes`: adds a delegated mailbox. A fifth delegated mailbox, or an id already
   * in use, is refused locally without calling the relay (the mailboxes are read from the relay first if unknown).
   *
   * @returns the mailbox's callback URL.
   * @throws MailboxLimitError (`mailbox_limit_reached`) when the device already has 4 delegated mailboxes.
   * @throws MailboxExistsError (`mailbox_exists`) when the id is taken on this device.
   *
   * @example
   * ```ts
   * const { callbackUrl } = await client.addDelegatedMailbox('team-inbox');
   * ```
   */
  async addDelegatedMailbox(mailboxId: string): Promise<RegisteredMailboxWithKind> {
    const body = validate(addMailboxRequestSchema, { id: mailboxId, kind: 'delegated' });
    if (!this.known) await this.getDevice();
    const known = this.known ?? [];
    if (known.some((m) => m.id === body.id)) throw new MailboxExistsError(`mailbox ${body.id} is already registered on this device`);
    if (known.filter((m) => m.kind === 'delegated').length >= MAX_DELEGATED_MAILBOXES) {
      throw new MailboxLimitError(`a device can have at most ${MAX_DELEGATED_MAILBOXES} delegated mailboxes`);
    }
    const added = await this.send('POST', `${this.devicePath()}/mailboxes`, this.secret(), body, registeredMailboxSchema);
    if (added.id !== body.id) throw new RelayProtocolError(`asked to add mailbox ${body.id}, the relay answered for another one`);
    this.known = [...(this.known ?? []), { id: body.id, kind: 'delegated' }];
    return { ...added, kind: 'delegated' };
  }

  /**
   * `DELETE /v1/devices/{deviceId}/mailboxes/{mailboxId}`: removes a delegated mailbox; its callback URL answers
   * `Unsubscribe` from then on. Purge its local data as `purgePlan(level, 'removed')` says.
   *
   * @throws PrimaryMailboxRemovalError locally for the primary mailbox: unregister the device instead.
   * @throws RelayNotFoundError (`mailbox_not_found`) when the relay does not know the mailbox.
   */
  async removeDelegatedMailbox(mailboxId: string): Promise<void> {
    if (this.known?.some((m) => m.id === mailboxId && m.kind === 'primary')) throw new PrimaryMailboxRemovalError();
    await this.send('DELETE', this.mailboxPath(mailboxId), this.secret(), undefined, undefined);
    this.known = this.known?.filter((m) => m.id !== mailboxId);
  }

  /**
   * `POST /v1/devices/{deviceId}/mailboxes/{mailboxId}/rotate`: new secrets for the mailbox's callback URL, Graph URLs
   * and `clientState`. From then on the old callback URL answers `Unsubscribe`, the old Graph URLs 404 and the old
   * `clientState` is refused: subscribe again with the new ones (and report the new subscription).
   *
   * @returns the mailbox's new `callbackUrl` and `graph` block.
   * @throws RelayNotFoundError (`mailbox_not_found`) when the relay does not know the mailbox.
   *
   * @example
   * ```ts
   * const { graph } = await client.rotateMailbox('me');
   * ```
   */
  async rotateMailbox(mailboxId: string): Promise<RegisteredMailbox> {
    const rotated = await this.send('POST', `${this.mailboxPath(mailboxId)}/rotate`, this.secret(), undefined, registeredMailboxSchema);
    if (rotated.id !== mailboxId) throw new RelayProtocolError(`asked to rotate mailbox ${mailboxId}, the relay answered for another one`);
    return rotated;
  }

  /**
   * `GET /v1/devices/{deviceId}/events`: why each notification of the last 7 days was or was not pushed, newest first.
   *
   * @example
   * ```ts
   * for (const { at, mailbox, outcome, reason } of await client.getEvents()) console.log(at, mailbox, outcome, reason);
   * ```
   */
  async getEvents(): Promise<Decision[]> {
    const answer = await this.send('GET', `${this.devicePath()}/events`, this.secret(), undefined, deviceEventsResponseSchema);
    return answer.events;
  }

  /** `DELETE /v1/devices/{deviceId}`: the relay forgets the device; the client forgets its credentials. */
  async unregister(): Promise<void> {
    await this.send('DELETE', this.devicePath(), this.secret(), undefined, undefined);
    this.device = undefined;
    this.known = undefined;
    this.settings = undefined;
  }

  private secret(): string {
    if (!this.device) throw new RelayClientUsageError('this device is not registered: call register first or pass credentials');
    return this.device.deviceSecret;
  }

  private devicePath(): string {
    if (!this.device) throw new RelayClientUsageError('this device is not registered: call register first or pass credentials');
    return `/v1/devices/${pathSegment(this.device.deviceId, 'deviceId')}`;
  }

  private mailboxPath(mailboxId: string): string {
    validate(mailboxIdSchema, mailboxId);
    return `${this.devicePath()}/mailboxes/${encodeURIComponent(mailboxId)}`;
  }

  private remember(view: DeviceView): void {
    this.known = view.mailboxes.map(({ id, kind }) => ({ id, kind }));
    const { apnsEnvironment, mode, intervalSeconds, timeZone, alerts } = view;
    this.settings = { apnsEnvironment, mode, intervalSeconds, timeZone, alerts };
  }

  private async send<T>(
    method: string,
    path: string,
    bearer: string,
    body: unknown,
    answerSchema: z.ZodMiniType<T> | undefined,
  ): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json', authorization: `Bearer ${bearer}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let status: number;
    let text: string;
    try {
      const response = await this.fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      status = response.status;
      text = await response.text();
    } catch (error) {
      throw new RelayNetworkError(`${method} ${path} got no answer`, { cause: error });
    }
    if (status < 200 || status > 299) throw relayApiErrorFor(status, text);
    if (!answerSchema) return undefined as T;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new RelayProtocolError(`${method} answered ${status} with a body that is not JSON`, { cause: error });
    }
    const parsed = answerSchema.safeParse(json);
    if (!parsed.success) {
      const issues = toFieldIssues(parsed.error.issues, json).map((i) => `${i.path || '(body)'}: ${i.message}`);
      throw new RelayProtocolError(`${method} answered ${status} with an unexpected body: ${issues.join('; ')}`, { cause: parsed.error });
    }
    return parsed.data;
  }
}

function validate<S extends z.ZodMiniType>(schema: S, value: unknown): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ValidationError(toFieldIssues(parsed.error.issues, value));
  return parsed.data;
}

function pathSegment(value: string, name: string): string {
  if (value === '' || value === '.' || value === '..') throw new RelayProtocolError(`${name} "${value}" cannot be used in a URL`);
  return encodeURIComponent(value);
}

/** The dotted paths of a merge patch's leaves; `null` and arrays are leaves, an empty object changes nothing. */
function leafPaths(patch: object, prefix = ''): string[] {
  return Object.entries(patch).flatMap(([key, value]) =>
    value === undefined
      ? []
      : value !== null && typeof value === 'object' && !Array.isArray(value) ? leafPaths(value as object, `${prefix}${key}.`) : [`${prefix}${key}`],
  );
}
