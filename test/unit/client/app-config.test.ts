import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { APP_CONFIG_KEYS, isAuthModeAllowed, parseAppConfig, type AppConfigKey, type ConfigProblem } from '../../../shared/client/app-config.js';

const keysOf = (problems: ConfigProblem[]) => problems.map((p) => p.key);
const only = (problems: ConfigProblem[], key: AppConfigKey) => problems.filter((p) => p.key === key);

describe('parseAppConfig defaults', () => {
  it('gives every key its documented default for an empty configuration, without problems', () => {
    const { config, problems } = parseAppConfig({});
    expect(problems).toEqual([]);
    expect(config).toEqual({
      allowRealtimeNotifications: false,
      deliveryMode: 'interval',
      notificationIntervalSeconds: 900,
      notificationServerUrl: undefined,
      organizationId: undefined,
      organizationToken: undefined,
      ewsUrl: undefined,
      ewsMinAllowedAuthMode: 'basic',
      easMinAllowedAuthMode: 'basic',
      resubscriptionIntervalMinutes: 60,
      subscriptionValidMinutes: 1440,
      allowDeviceKeychain: false,
      allowDetailedNotifications: false,
      sentryServerUrl: undefined,
      enabledFeatures: [],
      features: { vipAfterHours: false, delegatedMailboxes: false },
    });
  });

  it('treats null and blank strings as not set', () => {
    const blank = Object.fromEntries(APP_CONFIG_KEYS.map((key, i) => [key, i % 2 === 0 ? '  ' : null]));
    const { config, problems } = parseAppConfig(blank);
    expect(problems).toEqual([]);
    expect(config).toEqual(parseAppConfig({}).config);
  });

  it('uses every default and reports one problem when the configuration is not a key-value object', () => {
    const { config, problems } = parseAppConfig(['allow_realtime_notifications']);
    expect(config).toEqual(parseAppConfig({}).config);
    expect(problems).toEqual([expect.objectContaining({ key: undefined, kind: 'invalid' })]);
  });

  it('accepts no configuration at all without a problem', () => {
    expect(parseAppConfig(undefined).problems).toEqual([]);
    expect(parseAppConfig(null).problems).toEqual([]);
  });

  it('reads only own keys, never inherited ones', () => {
    const inherited = Object.create({ allow_detailed_notifications: true }) as Record<string, unknown>;
    expect(parseAppConfig(inherited).config.allowDetailedNotifications).toBe(false);
  });

  it('leaves keys it does not know alone', () => {
    expect(parseAppConfig({ app_theme: 'dark', signature: 42 }).problems).toEqual([]);
  });
});

describe.each([
  ['allow_realtime_notifications', 'allowRealtimeNotifications'],
  ['allow_device_keychain', 'allowDeviceKeychain'],
  ['allow_detailed_notifications', 'allowDetailedNotifications'],
] as const)('the flag %s', (key, field) => {
  it.each([
    [true, true],
    [false, false],
    ['true', true],
    ['TRUE', true],
    [' yes ', true],
    ['no', false],
    ['1', true],
    ['0', false],
    [1, true],
    [0, false],
  ])('reads %j as %s', (value, expected) => {
    const { config, problems } = parseAppConfig({ [key]: value, notification_server_host: 'relay.example.com', notification_server_authorization: 't' });
    expect(config[field]).toBe(expected);
    expect(only(problems, key)).toEqual([]);
  });

  it.each([['maybe'], [2], [{}], [['true']]])('falls back to false with an invalid problem for %j', (value) => {
    const { config, problems } = parseAppConfig({ [key]: value });
    expect(config[field]).toBe(false);
    expect(only(problems, key)).toEqual([expect.objectContaining({ kind: 'invalid', message: expect.stringContaining(key) })]);
  });
});

describe('real-time and interval delivery', () => {
  const server = { notification_server_host: 'relay.example.com', notification_server_authorization: 'token' };

  it('is real-time when allowed and a notification server is set, and then has no interval', () => {
    const { config, problems } = parseAppConfig({ ...server, allow_realtime_notifications: true });
    expect(config.deliveryMode).toBe('realtime');
    expect(config.notificationIntervalSeconds).toBeUndefined();
    expect(problems).toEqual([]);
  });

  it('stays in interval mode, naming the missing host, when real-time is allowed without a notification server', () => {
    const { config, problems } = parseAppConfig({ allow_realtime_notifications: 'true' });
    expect(config.allowRealtimeNotifications).toBe(true);
    expect(config.deliveryMode).toBe('interval');
    expect(config.notificationIntervalSeconds).toBe(900);
    expect(problems).toEqual([expect.objectContaining({ key: 'notification_server_host', kind: 'missing' })]);
  });

  it('ignores notification_interval in real-time mode and says so', () => {
    const { config, problems } = parseAppConfig({ ...server, allow_realtime_notifications: true, notification_interval: 600 });
    expect(config.notificationIntervalSeconds).toBeUndefined();
    expect(problems).toEqual([expect.objectContaining({ key: 'notification_interval', kind: 'ignored' })]);
  });

  it('names the missing authorization when a notification server is set without one', () => {
    const { problems } = parseAppConfig({ notification_server_host: 'relay.example.com' });
    expect(problems).toEqual([expect.objectContaining({ key: 'notification_server_authorization', kind: 'missing' })]);
  });
});

describe.each([
  // key, field, default, min, max, unit
  ['notification_interval', 'notificationIntervalSeconds', 900, 300, 900],
  ['notification_resubscription_interval', 'resubscriptionIntervalMinutes', 60, 1, 525_600],
  ['subscription_valid_until', 'subscriptionValidMinutes', 1440, 1, 525_600],
] as const)('the number %s', (key, field, fallback, min, max) => {
  const read = (value: unknown) => parseAppConfig({ [key]: value });

  it(`defaults to ${fallback}`, () => {
    expect(read(undefined).config[field]).toBe(fallback);
  });

  it.each([[min], [max], [String(min)], [` ${max} `], [`${min}.0`]])('accepts %j', (value) => {
    const { config, problems } = read(value);
    expect(config[field]).toBe(Number(value));
    expect(problems).toEqual([]);
  });

  it('raises a value below the minimum to the minimum', () => {
    const { config, problems } = read(min - 1);
    expect(config[field]).toBe(min);
    expect(problems).toEqual([expect.objectContaining({ key, kind: 'out-of-range', message: expect.stringContaining(`minimum of ${min}`) })]);
  });

  it('lowers a value above the maximum to the maximum', () => {
    const { config, problems } = read(String(max + 1));
    expect(config[field]).toBe(max);
    expect(problems).toEqual([expect.objectContaining({ key, kind: 'out-of-range', message: expect.stringContaining(`maximum of ${max}`) })]);
  });

  it.each([['soon'], [12.5], ['12.5'], [Number.NaN], [Number.POSITIVE_INFINITY], [true], ['1e3'], [[60]]])(
    `falls back to ${fallback} for %j`,
    (value) => {
      const { config, problems } = read(value);
      expect(config[field]).toBe(fallback);
      expect(problems).toEqual([expect.objectContaining({ key, kind: 'invalid' })]);
    },
  );
});

describe.each([
  ['ews_min_allowed_auth_mode', 'ewsMinAllowedAuthMode'],
  ['eas_min_allowed_auth_mode', 'easMinAllowedAuthMode'],
] as const)('the auth mode %s', (key, field) => {
  it.each([['basic'], ['ntlm'], ['cert_base'], ['modern_auth'], [' NTLM '], ['Modern_Auth']])('reads %j', (value) => {
    const { config, problems } = parseAppConfig({ [key]: value });
    expect(config[field]).toBe(value.trim().toLowerCase());
    expect(problems).toEqual([]);
  });

  it.each([['kerberos'], ['cert-based'], [3], [true]])('falls back to basic for the unknown or erroneous %j', (value) => {
    const { config, problems } = parseAppConfig({ [key]: value });
    expect(config[field]).toBe('basic');
    expect(problems).toEqual([expect.objectContaining({ key, kind: 'unknown-value', message: expect.stringContaining('using basic') })]);
  });

  it('is read independently of the other protocol', () => {
    const other = key === 'ews_min_allowed_auth_mode' ? 'eas_min_allowed_auth_mode' : 'ews_min_allowed_auth_mode';
    const { config } = parseAppConfig({ [key]: 'modern_auth', [other]: 'bogus' });
    expect(config[field]).toBe('modern_auth');
  });
});

describe('isAuthModeAllowed', () => {
  it('allows modes at least as strong as the minimum', () => {
    expect(isAuthModeAllowed('modern_auth', 'ntlm')).toBe(true);
    expect(isAuthModeAllowed('ntlm', 'ntlm')).toBe(true);
    expect(isAuthModeAllowed('basic', 'ntlm')).toBe(false);
    expect(isAuthModeAllowed('ntlm', 'cert_base')).toBe(false);
  });
});

describe.each([
  ['notification_server_host', 'notificationServerUrl'],
  ['sentry_server_host', 'sentryServerUrl'],
] as const)('the host %s', (key, field) => {
  it.each([
    ['relay.example.com', 'https://relay.example.com'],
    ['relay.example.com:8443', 'https://relay.example.com:8443'],
    ['https://relay.example.com/', 'https://relay.example.com'],
    ['https://relay.example.com/prod/', 'https://relay.example.com/prod'],
    ['HTTPS://Relay.Example.com', 'https://relay.example.com'],
    ['http://127.0.0.1:8080', 'http://127.0.0.1:8080'],
    ['http://localhost:8080', 'http://localhost:8080'],
  ])('reads %j as %j', (value, expected) => {
    const { config } = parseAppConfig({ [key]: value });
    expect(config[field]).toBe(expected);
  });

  it.each([['http://relay.example.com'], ['ftp://relay.example.com'], ['relay example com'], ['https://user:pw@relay.example.com'], ['https://relay.example.com/?a=1'], [42]])(
    'refuses %j',
    (value) => {
      const { config, problems } = parseAppConfig({ [key]: value });
      expect(config[field]).toBeUndefined();
      expect(only(problems, key)).toEqual([expect.objectContaining({ kind: 'invalid' })]);
    },
  );
});

describe('email_ews_host', () => {
  it('makes the standard EWS endpoint from a host', () => {
    expect(parseAppConfig({ email_ews_host: 'mail.example.com' }).config.ewsUrl).toBe('https://mail.example.com/EWS/Exchange.asmx');
  });

  it('keeps an endpoint given as a URL with a path', () => {
    expect(parseAppConfig({ email_ews_host: 'https://mail.example.com/ews/exchange.asmx' }).config.ewsUrl).toBe('https://mail.example.com/ews/exchange.asmx');
  });

  it('refuses plain http to a remote host', () => {
    const { config, problems } = parseAppConfig({ email_ews_host: 'http://mail.example.com' });
    expect(config.ewsUrl).toBeUndefined();
    expect(keysOf(problems)).toEqual(['email_ews_host']);
  });
});

describe('the organization keys', () => {
  it('trims the organization id and accepts a numeric one', () => {
    expect(parseAppConfig({ notification_server_organization_id: '  acme ' }).config.organizationId).toBe('acme');
    expect(parseAppConfig({ notification_server_organization_id: 1234 }).config.organizationId).toBe('1234');
  });

  it('drops an organization id that is not text', () => {
    const { config, problems } = parseAppConfig({ notification_server_organization_id: { id: 'acme' } });
    expect(config.organizationId).toBeUndefined();
    expect(problems).toEqual([expect.objectContaining({ key: 'notification_server_organization_id', kind: 'invalid' })]);
  });

  it('takes the authorization with or without a Bearer prefix', () => {
    expect(parseAppConfig({ notification_server_authorization: 'Bearer abc.def.ghi' }).config.organizationToken).toBe('abc.def.ghi');
    expect(parseAppConfig({ notification_server_authorization: 'abc.def.ghi' }).config.organizationToken).toBe('abc.def.ghi');
  });

  it('never quotes the authorization in a problem', () => {
    const { problems } = parseAppConfig({ notification_server_authorization: ['super-secret-token'] });
    expect(problems).toHaveLength(1);
    expect(JSON.stringify(problems)).not.toContain('super-secret-token');
  });
});

describe('features', () => {
  it('offers VIP after hours when a sentry server is configured', () => {
    expect(parseAppConfig({ sentry_server_host: 'sentry.example.com' }).config.features.vipAfterHours).toBe(true);
    expect(parseAppConfig({}).config.features.vipAfterHours).toBe(false);
  });

  it('does not offer VIP after hours when the sentry host is unusable', () => {
    expect(parseAppConfig({ sentry_server_host: 'http://sentry.example.com' }).config.features.vipAfterHours).toBe(false);
  });

  it.each([
    [['delegated_shared_mailbox'], true],
    [['other', ' delegated_shared_mailbox '], true],
    ['delegated_shared_mailbox', true],
    ['other,delegated_shared_mailbox; third', true],
    [['other'], false],
    ['delegated_shared_mailboxes', false],
  ])('enables delegated mailboxes for %j: %s', (value, expected) => {
    const { config, problems } = parseAppConfig({ enabled_features: value });
    expect(config.features.delegatedMailboxes).toBe(expected);
    expect(problems).toEqual([]);
  });

  it('lists the enabled features without duplicates or blanks', () => {
    expect(parseAppConfig({ enabled_features: 'a, b,,a' }).config.enabledFeatures).toEqual(['a', 'b']);
  });

  it.each([[['a', 1]], [7], [{ delegated_shared_mailbox: true }]])('refuses the feature list %j', (value) => {
    const { config, problems } = parseAppConfig({ enabled_features: value });
    expect(config.enabledFeatures).toEqual([]);
    expect(problems).toEqual([expect.objectContaining({ key: 'enabled_features', kind: 'invalid' })]);
  });
});

describe('robustness', () => {
  it('never throws and always yields values in range, whatever the values', () => {
    const anyValue = fc.oneof(fc.anything(), fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
    const record = fc.dictionary(fc.constantFrom(...APP_CONFIG_KEYS), anyValue);
    fc.assert(
      fc.property(fc.oneof(record, fc.anything()), (raw) => {
        const { config, problems } = parseAppConfig(raw);
        expect(config.resubscriptionIntervalMinutes).toBeGreaterThanOrEqual(1);
        expect(config.subscriptionValidMinutes).toBeGreaterThanOrEqual(1);
        if (config.notificationIntervalSeconds !== undefined) {
          expect(config.notificationIntervalSeconds).toBeGreaterThanOrEqual(300);
          expect(config.notificationIntervalSeconds).toBeLessThanOrEqual(900);
        }
        for (const problem of problems) expect(problem.message.length).toBeGreaterThan(0);
      }),
    );
  });
});
