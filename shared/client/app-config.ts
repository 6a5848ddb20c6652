import { INTERVAL_SECONDS_DEFAULT, INTERVAL_SECONDS_MAX, INTERVAL_SECONDS_MIN, type DeliveryMode } from '../device/device-schemas.js';

/**
 * The administrator's app configuration (managed app config from an MDM, or any key-value source) read into a typed
 * config. Every key is read on its own: a bad value costs that key its default and adds one {@link ConfigProblem};
 * nothing here throws.
 *
 * Values may arrive typed (`true`, `900`) or as strings, as MDM plists often send them (`"true"`, `"900"`). An empty
 * string or `null` counts as "not set".
 */

/** The keys this library reads. Other keys in the configuration belong to the app and are left alone. */
export const APP_CONFIG_KEYS = [
  'allow_realtime_notifications',
  'notification_server_host',
  'email_ews_host',
  'ews_min_allowed_auth_mode',
  'eas_min_allowed_auth_mode',
  'notification_resubscription_interval',
  'subscription_valid_until',
  'notification_interval',
  'notification_server_organization_id',
  'notification_server_authorization',
  'allow_device_keychain',
  'allow_detailed_notifications',
  'sentry_server_host',
  'enabled_features',
] as const;
export type AppConfigKey = (typeof APP_CONFIG_KEYS)[number];

/** Authentication modes, weakest first: a minimum of `ntlm` allows `ntlm`, `cert_base` and `modern_auth`. */
export const AUTH_MODES = ['basic', 'ntlm', 'cert_base', 'modern_auth'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

/** The feature flag in `enabled_features` that turns delegated (shared) mailboxes on. */
export const DELEGATED_MAILBOX_FEATURE = 'delegated_shared_mailbox';

/** Defaults and ranges of the numeric keys. Minutes unless the name says seconds. */
export const APP_CONFIG_LIMITS = {
  resubscriptionIntervalMinutes: { default: 60, min: 1, max: 525_600 },
  subscriptionValidMinutes: { default: 1440, min: 1, max: 525_600 },
  notificationIntervalSeconds: { default: INTERVAL_SECONDS_DEFAULT, min: INTERVAL_SECONDS_MIN, max: INTERVAL_SECONDS_MAX },
} as const;

/**
 * One thing wrong with the configuration, and what was used instead.
 * - `invalid`: the value has the wrong type or format; the default is used.
 * - `out-of-range`: a number outside its range; the nearest bound is used.
 * - `unknown-value`: not one of the allowed words (auth modes); the default is used.
 * - `missing`: a key that another key requires is not set.
 * - `ignored`: the value is well-formed but has no effect with the rest of the configuration.
 *
 * Messages quote the offending value, except for `notification_server_authorization`, which is a secret.
 */
export interface ConfigProblem {
  /** The key at fault; `undefined` when the configuration as a whole is unusable (not a key-value object). */
  key: AppConfigKey | undefined;
  kind: 'invalid' | 'out-of-range' | 'unknown-value' | 'missing' | 'ignored';
  message: string;
}

export interface AppConfig {
  /** `allow_realtime_notifications` (default false). */
  allowRealtimeNotifications: boolean;
  /**
   * What the device registers with: `realtime` when real-time is allowed and a notification server is configured,
   * else `interval`.
   */
  deliveryMode: DeliveryMode;
  /** `notification_interval` in seconds (300..900, default 900); `undefined` in real-time mode, where it is ignored. */
  notificationIntervalSeconds: number | undefined;
  /** `notification_server_host` as a base URL (`https://relay.example.com`), without a trailing slash. */
  notificationServerUrl: string | undefined;
  /** `notification_server_organization_id`. */
  organizationId: string | undefined;
  /** `notification_server_authorization`: the organization token, without a `Bearer ` prefix. A secret. */
  organizationToken: string | undefined;
  /** `email_ews_host` as the EWS endpoint (`https://mail.example.com/EWS/Exchange.asmx` when only a host is given). */
  ewsUrl: string | undefined;
  /** `ews_min_allowed_auth_mode` (default `basic`). */
  ewsMinAllowedAuthMode: AuthMode;
  /** `eas_min_allowed_auth_mode` (default `basic`). */
  easMinAllowedAuthMode: AuthMode;
  /** `notification_resubscription_interval` in minutes (default 60): how often to renew each Exchange subscription. */
  resubscriptionIntervalMinutes: number;
  /** `subscription_valid_until` in minutes (default 1440): the lifetime reported to the relay as `expiresAt`. */
  subscriptionValidMinutes: number;
  /** `allow_device_keychain` (default false). */
  allowDeviceKeychain: boolean;
  /** `allow_detailed_notifications` (default false): whether the user may turn "Show Mail Details" on. */
  allowDetailedNotifications: boolean;
  /** `sentry_server_host` as a base URL. */
  sentryServerUrl: string | undefined;
  /** `enabled_features`, trimmed, duplicates removed. */
  enabledFeatures: readonly string[];
  features: {
    /** "VIP allowed after work hours" may be offered: a `sentry_server_host` is configured. */
    vipAfterHours: boolean;
    /** Delegated mailboxes may be added: `enabled_features` contains `delegated_shared_mailbox`. */
    delegatedMailboxes: boolean;
  };
}

export interface ParsedAppConfig {
  config: AppConfig;
  /** Empty when the configuration is entirely usable as given. */
  problems: ConfigProblem[];
}

/**
 * Reads the administrator's configuration. Never throws; anything unusable is listed in `problems`.
 *
 * @example
 * ```ts
 * const { config, problems } = parseAppConfig({
 *   allow_realtime_notifications: 'true',
 *   notification_server_host: 'relay.example.com',
 *   notification_server_authorization: orgToken,
 *   notification_interval: '120',
 * });
 * config.deliveryMode;                  // 'realtime'
 * config.notificationServerUrl;         // 'https://relay.example.com'
 * problems.map((p) => p.key);           // ['notification_interval'] (ignored in real-time mode)
 * ```
 */
export function parseAppConfig(raw: unknown): ParsedAppConfig {
  const problems: ConfigProblem[] = [];
  const source: Record<string, unknown> = {};
  if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
    // Own enumerable keys only: a configuration never legitimately reaches us through a prototype.
    for (const key of APP_CONFIG_KEYS) {
      if (Object.hasOwn(raw, key)) source[key] = (raw as Record<string, unknown>)[key];
    }
  } else if (raw !== undefined && raw !== null) {
    problems.push({
      key: undefined,
      kind: 'invalid',
      message: `the configuration must be a key-value object, got ${describe(raw)}; every key uses its default`,
    });
  }
  const read = new Reader(source, problems);

  const allowRealtimeNotifications = read.flag('allow_realtime_notifications', false);
  const notificationServerUrl = read.baseUrl('notification_server_host');
  const ewsHostUrl = read.baseUrl('email_ews_host');
  const ewsMinAllowedAuthMode = read.authMode('ews_min_allowed_auth_mode');
  const easMinAllowedAuthMode = read.authMode('eas_min_allowed_auth_mode');
  const resubscriptionIntervalMinutes = read.integer('notification_resubscription_interval', APP_CONFIG_LIMITS.resubscriptionIntervalMinutes, 'minutes');
  const subscriptionValidMinutes = read.integer('subscription_valid_until', APP_CONFIG_LIMITS.subscriptionValidMinutes, 'minutes');
  const intervalSeconds = read.integer('notification_interval', APP_CONFIG_LIMITS.notificationIntervalSeconds, 'seconds');
  const organizationId = read.text('notification_server_organization_id', { numbers: true });
  const authorization = read.text('notification_server_authorization', { secret: true });
  const allowDeviceKeychain = read.flag('allow_device_keychain', false);
  const allowDetailedNotifications = read.flag('allow_detailed_notifications', false);
  const sentryServerUrl = read.baseUrl('sentry_server_host');
  const enabledFeatures = read.list('enabled_features');

  if (allowRealtimeNotifications && notificationServerUrl === undefined) {
    problems.push({
      key: 'notification_server_host',
      kind: 'missing',
      message: 'allow_realtime_notifications is true but notification_server_host is not set; real-time notifications stay off',
    });
  }
  if (notificationServerUrl !== undefined && authorization === undefined) {
    problems.push({
      key: 'notification_server_authorization',
      kind: 'missing',
      message: 'notification_server_host is set but notification_server_authorization is not; the device cannot register',
    });
  }
  const deliveryMode: DeliveryMode = allowRealtimeNotifications && notificationServerUrl !== undefined ? 'realtime' : 'interval';
  if (deliveryMode === 'realtime' && read.isSet('notification_interval')) {
    problems.push({
      key: 'notification_interval',
      kind: 'ignored',
      message: 'notification_interval is ignored because real-time notifications are on',
    });
  }

  return {
    config: {
      allowRealtimeNotifications,
      deliveryMode,
      notificationIntervalSeconds: deliveryMode === 'interval' ? intervalSeconds : undefined,
      notificationServerUrl,
      organizationId,
      organizationToken: authorization?.replace(/^bearer\s+/i, ''),
      ewsUrl: ewsHostUrl === undefined ? undefined : toEwsUrl(ewsHostUrl),
      ewsMinAllowedAuthMode,
      easMinAllowedAuthMode,
      resubscriptionIntervalMinutes,
      subscriptionValidMinutes,
      allowDeviceKeychain,
      allowDetailedNotifications,
      sentryServerUrl,
      enabledFeatures,
      features: {
        vipAfterHours: sentryServerUrl !== undefined,
        delegatedMailboxes: enabledFeatures.includes(DELEGATED_MAILBOX_FEATURE),
      },
    },
    problems,
  };
}

/**
 * True when `mode` is at least as strong as the configured minimum.
 *
 * @example
 * ```ts
 * isAuthModeAllowed('ntlm', config.ewsMinAllowedAuthMode); // false when the minimum is cert_base
 * ```
 */
export function isAuthModeAllowed(mode: AuthMode, minimum: AuthMode): boolean {
  return AUTH_MODES.indexOf(mode) >= AUTH_MODES.indexOf(minimum);
}

const TRUE_WORDS = new Set(['true', 'yes', '1']);
const FALSE_WORDS = new Set(['false', 'no', '0']);

/** Reads one key at a time, recording a problem and falling back whenever a value is unusable. */
class Reader {
  constructor(
    private readonly source: Record<string, unknown>,
    private readonly problems: ConfigProblem[],
  ) {}

  /** Set, and not `null` or an all-blank string. */
  isSet(key: AppConfigKey): boolean {
    const value = this.source[key];
    return value !== undefined && value !== null && !(typeof value === 'string' && value.trim() === '');
  }

  flag(key: AppConfigKey, fallback: boolean): boolean {
    if (!this.isSet(key)) return fallback;
    const value = this.source[key];
    if (typeof value === 'boolean') return value;
    const word = typeof value === 'number' || typeof value === 'string' ? String(value).trim().toLowerCase() : undefined;
    if (word !== undefined && TRUE_WORDS.has(word)) return true;
    if (word !== undefined && FALSE_WORDS.has(word)) return false;
    return this.fail(key, 'invalid', `${key} must be true or false (or "yes"/"no", 1/0), got ${describe(value)}; using ${fallback}`, fallback);
  }

  integer(key: AppConfigKey, limits: { default: number; min: number; max: number }, unit: string): number {
    if (!this.isSet(key)) return limits.default;
    const value = this.source[key];
    const number =
      typeof value === 'number' ? value : typeof value === 'string' && /^\s*[+-]?\d+(\.\d+)?\s*$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isInteger(number)) {
      return this.fail(key, 'invalid', `${key} must be a whole number of ${unit}, got ${describe(value)}; using ${limits.default}`, limits.default);
    }
    if (number < limits.min) {
      return this.fail(key, 'out-of-range', `${key} is ${number} ${unit}, below the minimum of ${limits.min}; using ${limits.min}`, limits.min);
    }
    if (number > limits.max) {
      return this.fail(key, 'out-of-range', `${key} is ${number} ${unit}, above the maximum of ${limits.max}; using ${limits.max}`, limits.max);
    }
    return number;
  }

  authMode(key: AppConfigKey): AuthMode {
    if (!this.isSet(key)) return 'basic';
    const value = this.source[key];
    const word = typeof value === 'string' ? value.trim().toLowerCase() : undefined;
    const mode = AUTH_MODES.find((m) => m === word);
    if (mode) return mode;
    return this.fail(key, 'unknown-value', `${key} must be one of ${AUTH_MODES.join(', ')}, got ${describe(value)}; using basic`, 'basic');
  }

  /** A string, trimmed; with `numbers`, a plist integer is taken as its decimal text (ids often are numeric). */
  text(key: AppConfigKey, options: { secret?: boolean; numbers?: boolean } = {}): string | undefined {
    if (!this.isSet(key)) return undefined;
    const value = this.source[key];
    if (typeof value === 'string') return value.trim();
    if (options.numbers && typeof value === 'number' && Number.isFinite(value)) return String(value);
    const shown = options.secret ? `a ${kindOf(value)}` : describe(value);
    return this.fail(key, 'invalid', `${key} must be a string, got ${shown}; ignoring it`, undefined);
  }

  /**
   * A host (`relay.example.com`, `relay.example.com:8443`) or an http(s) URL, as a base URL without a trailing slash.
   * Plain `http` is accepted only for loopback hosts, so tokens and mail never travel unencrypted off the device.
   */
  baseUrl(key: AppConfigKey): string | undefined {
    const text = this.text(key);
    if (text === undefined) return undefined;
    const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text);
    let url: URL;
    try {
      url = new URL(hasScheme ? text : `https://${text}`);
    } catch {
      return this.fail(key, 'invalid', `${key} must be a host name or an https URL, got ${describe(text)}; ignoring it`, undefined);
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url.hostname))) {
      return this.fail(key, 'invalid', `${key} must use https (http only for loopback hosts), got ${describe(text)}; ignoring it`, undefined);
    }
    if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '' || url.hostname === '') {
      return this.fail(key, 'invalid', `${key} must be a plain host or base URL without credentials, query or fragment, got ${describe(text)}; ignoring it`, undefined);
    }
    return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  }

  /** An array of strings, or one string separated by commas, semicolons or whitespace. */
  list(key: AppConfigKey): string[] {
    if (!this.isSet(key)) return [];
    const value = this.source[key];
    const items = Array.isArray(value) ? value : typeof value === 'string' ? value.split(/[\s,;]+/) : undefined;
    if (items === undefined || !items.every((item) => typeof item === 'string')) {
      return this.fail(key, 'invalid', `${key} must be a list of strings or a comma-separated string, got ${describe(value)}; using none`, []);
    }
    return [...new Set(items.map((item) => item.trim()).filter((item) => item !== ''))];
  }

  private fail<T>(key: AppConfigKey, kind: ConfigProblem['kind'], message: string, fallback: T): T {
    this.problems.push({ key, kind, message });
    return fallback;
  }
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/** A host alone means the standard EWS endpoint on it; a URL with a path is taken as the endpoint itself. */
function toEwsUrl(baseUrl: string): string {
  return new URL(baseUrl).pathname === '/' ? `${baseUrl}/EWS/Exchange.asmx` : baseUrl;
}

function kindOf(value: unknown): string {
  return Array.isArray(value) ? 'list' : value === null ? 'null' : typeof value;
}

/** A short, safe rendering of a configuration value for a problem message. */
function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 64 ? `${value.slice(0, 61)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return `a ${kindOf(value)}`;
}
