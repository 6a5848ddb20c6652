import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalService, type LocalService } from '../../infra/local/service.js';
import { api, PUSH_TOKEN_A } from '../support/device-api.js';
import { newMailBody, postNotification } from '../support/exchange.js';
import { overAnswerBound } from './fuzz.js';
import { emptyRow, printSummary, type SummaryRow } from '../faults/harness/summary.js';

/**
 * Hostile shapes through HTTP against the running local service (contract sections 3 and 4): the callback checks
 * size, then DOCTYPE, then well-formedness, before the URL secret; hostile bodies get 400 or 413, never a 5xx, never a
 * push, never stored state; JSON bodies of the device API get a 4xx with the error shape, never a stack trace.
 */
const MAX_EWS_BODY = 262_144;

describe('hostile and broken input', () => {
  let service: LocalService;
  let xxeListener: Server;
  let xxeUrl: string;
  let xxeRequests = 0;
  let device: { deviceId: string; deviceSecret: string; callbackUrl: string };
  const summary = emptyRow('hostile', 'named hostile shapes (HTTP)');
  const rows: SummaryRow[] = [summary];

  const tableItems = async () =>
    ((await service.awsClients.documentClient.send(new ScanCommand({ TableName: service.backends.tableName, ConsistentRead: true }))).Items ?? [])
      .map((item) => JSON.stringify(item))
      .sort();

  /** Posts a body to the callback and checks the soak's answer bound (none under npm test); counts the case. */
  async function post(body: string | Uint8Array, options: { url?: string; contentType?: string } = {}) {
    const started = performance.now();
    const response = await fetch(options.url ?? device.callbackUrl, {
      method: 'POST',
      headers: { 'content-type': options.contentType ?? 'text/xml; charset=utf-8' },
      body,
    });
    const text = await response.text();
    const ms = performance.now() - started;
    summary.injected++;
    summary.sent++;
    if (response.status >= 500 || overAnswerBound(ms)) summary.crashes++;
    let code: string | undefined;
    try {
      code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
    } catch {
      // a SOAP answer
    }
    return { status: response.status, text, code, ms };
  }

  const envelope = (inner: string) => newMailBody('sub-1', [{ itemId: 'AAMkHostile1' }]).replace('<m:ResponseMessages>', `<m:ResponseMessages>${inner}`);

  beforeAll(async () => {
    xxeListener = createServer((_req, res) => {
      xxeRequests++;
      res.end('<!ENTITY leaked "yes">');
    });
    await new Promise<void>((resolve) => xxeListener.listen(0, '127.0.0.1', () => resolve()));
    xxeUrl = `http://127.0.0.1:${(xxeListener.address() as AddressInfo).port}/xxe`;

    service = await startLocalService({ port: 0, dataDir: ':memory:', supervisorIntervalMs: 0 });
    const registered = await api(service.baseUrl, 'POST', '/v1/devices', {
      token: await service.orgToken('org-hostile'),
      body: { pushToken: PUSH_TOKEN_A, mailboxes: [{ id: 'inbox', kind: 'primary' }] },
    });
    expect(registered.status).toBe(201);
    device = { deviceId: registered.body.deviceId, deviceSecret: registered.body.deviceSecret, callbackUrl: registered.body.mailboxes[0].callbackUrl };
  });

  afterAll(async () => {
    printSummary('Hostile input: named shapes', rows);
    await service?.stop();
    await new Promise<void>((resolve) => xxeListener?.close(() => resolve()));
  });

  describe('XML on the Exchange callback', () => {
    let itemsBefore: string[];
    let pushesBefore: number;

    beforeAll(async () => {
      itemsBefore = await tableItems();
      pushesBefore = service.apnsSandbox!.pushes().length;
    });

    it('refuses entity expansion (billion laughs) before parsing', async () => {
      const laughs = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">${Array.from({ length: 9 }, (_, n) => `<!ENTITY lol${n + 1} "${`&lol${n || ''};`.repeat(10)}">`).join('')}]>`;
      const answer = await post(laughs + newMailBody('sub-1', [{ itemId: 'LOL' }]).replace('Id="LOL"', 'Id="&lol9;"').replace(/^<\?xml[^>]*>/, ''));
      expect(answer).toMatchObject({ status: 400, code: 'ews_doctype_refused' });
    });

    it.each([
      ['a file', 'file:///etc/passwd'],
      ['a loopback URL', 'XXE_URL'],
    ])('refuses an external entity pointing at %s and never fetches it', async (_, target) => {
      const system = target === 'XXE_URL' ? xxeUrl : target;
      const body = `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "${system}">]>` + envelope('').replace(/^<\?xml[^>]*>/, '').replace('AAMkHostile1', '&xxe;');
      const answer = await post(body);
      expect(answer).toMatchObject({ status: 400, code: 'ews_doctype_refused' });
      expect(answer.text).not.toContain('root:');
      expect(xxeRequests).toBe(0);
    });

    it('refuses a parameter entity and a bare DOCTYPE, in any letter case', async () => {
      for (const doctype of [`<!DOCTYPE x [<!ENTITY % p SYSTEM "${xxeUrl}"> %p;]>`, '<!DOCTYPE soap:Envelope>', '<!doctype x>', '<!DocType x SYSTEM "x.dtd">']) {
        const answer = await post(doctype + envelope('').replace(/^<\?xml[^>]*>/, ''));
        expect(answer, doctype).toMatchObject({ status: 400, code: 'ews_doctype_refused' });
      }
      expect(xxeRequests).toBe(0);
    });

    it('refuses a DOCTYPE hidden in UTF-16 and an entity reference without a declaration', async () => {
      const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(`<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a SYSTEM "${xxeUrl}">]><x>&a;</x>`, 'utf16le')]);
      expect((await post(utf16)).status).toBe(400);
      expect((await post(envelope('').replace('AAMkHostile1', '&xxe;'))).status).toBe(400);
      expect(xxeRequests).toBe(0);
    });

    it('refuses deep nesting, whether 10,000 levels or as deep as 256 KiB allows', async () => {
      expect((await post(envelope(`${'<a>'.repeat(10_000)}${'</a>'.repeat(10_000)}`))).status).toBe(400);
      expect((await post(`<?xml version="1.0"?>${'<a>'.repeat(87_000)}`)).status).toBe(400);
    });

    it('checks the size first: 10 MB, 10 MiB + 1, 256 KiB + 1 and an oversized DOCTYPE are all 413', async () => {
      const padded = (size: number, head = '') => {
        const base = head + envelope('');
        return base + ' '.repeat(size - Buffer.byteLength(base));
      };
      for (const size of [10_000_000, 10 * 1024 * 1024 + 1, MAX_EWS_BODY + 1]) {
        expect((await post(padded(size))).status, `${size} bytes`).toBe(413);
      }
      const oversizedDoctype = await post(padded(MAX_EWS_BODY + 1, `<!DOCTYPE x [<!ENTITY a SYSTEM "${xxeUrl}">]>`));
      expect(oversizedDoctype.status).toBe(413);
    });

    it('accepts a SendNotification of exactly 256 KiB (the limit is inclusive)', async () => {
      const body = newMailBody('sub-1', [{ itemId: 'AAMkBoundary' }]);
      const answer = await post(body + ' '.repeat(MAX_EWS_BODY - Buffer.byteLength(body)));
      expect(answer.status).toBe(200);
      expect(answer.text).toContain('>OK<');
    });

    it('answers 413 and 400 for bad bodies before looking at the URL secret', async () => {
      const unknown = device.callbackUrl.replace(/[^/]+$/, 'A'.repeat(43));
      expect((await post('x'.repeat(MAX_EWS_BODY + 1), { url: unknown })).status).toBe(413);
      expect((await post('<!DOCTYPE x><x/>', { url: unknown })).status).toBe(400);
      expect((await post('<not-closed>', { url: unknown })).status).toBe(400);
      // And a well-formed body on that URL is told to unsubscribe, so the order is observable.
      expect((await post(envelope(''), { url: unknown })).text).toContain('>Unsubscribe<');
    });

    it.each([
      ['a truncated two-byte sequence', [0xc3, 0x28]],
      ['an overlong "/"', [0xc0, 0xaf]],
      ['an encoded surrogate', [0xed, 0xa0, 0x80]],
      ['a lone continuation byte', [0x80]],
      ['0xFF', [0xff]],
      ['a sequence cut at the end', [0xe2, 0x82]],
    ])('refuses invalid UTF-8 (%s) in text and in an attribute', async (_, bytes) => {
      const body = envelope('');
      // The subscription id is element text; the item id is the ItemId element's Id attribute.
      for (const marker of ['sub-1', 'Id="AAMkHostile1']) {
        const [before, after] = body.split(marker) as [string, string];
        const hostile = Buffer.concat([Buffer.from(before + marker), Buffer.from(bytes), Buffer.from(after)]);
        expect((await post(hostile)).status, marker).toBe(400);
      }
    });

    it('refuses huge attribute values, and survives ten thousand attributes on one element', async () => {
      expect((await post(envelope('').replace('Id="AAMkHostile1"', `Id="${'A'.repeat(200_000)}"`))).status).toBe(400);
      expect((await post(envelope('').replace('Id="AAMkHostile1"', `Id="${'A'.repeat(4_097)}"`))).status).toBe(400);
      const many = Array.from({ length: 10_000 }, (_, n) => `a${n}="x"`).join(' ');
      expect([200, 400]).toContain((await post(envelope('').replace('<t:ItemId ', `<t:ItemId ${many} `))).status);
    });

    it('refuses elements named __proto__, constructor or prototype, prefixed or not, and pollutes nothing', async () => {
      for (const name of ['__proto__', 'constructor', 'prototype', 't:__proto__', 't:constructor']) {
        const answer = await post(envelope('').replace('<t:TimeStamp>', `<${name}><polluted>yes</polluted></${name}><t:TimeStamp>`));
        expect(answer.status, name).toBe(400);
      }
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    it('refuses attribute and prefix names __proto__ and constructor (contract: __proto__ names get 400), nothing polluted', async () => {
      const cases = [
        envelope('').replace('<t:ItemId ', '<t:ItemId __proto__="polluted" constructor="polluted" '),
        envelope('').replace('<t:TimeStamp>2026-11-23T10:00:00Z</t:TimeStamp>', '<__proto__:Foo xmlns:__proto__="urn:x">1</__proto__:Foo>'),
      ];
      for (const body of cases) expect((await post(body)).status).toBe(400);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('polluted');
    });

    it('refused bodies stored nothing and pushed nothing (the 256 KiB one and the many-attributes one may be valid)', async () => {
      // The boundary body and the many-attributes body above may be real notifications: they may push and store.
      const pushes = service.apnsSandbox!.pushes().slice(pushesBefore);
      expect(pushes.length).toBeLessThanOrEqual(3);
      const added = (await tableItems()).filter((item) => !itemsBefore.includes(item));
      // Only idempotency keys, decisions and the mailbox's last-seen time may have changed, never a new device or mailbox.
      expect(added.filter((item) => /"sk":"(DEVICE|MAILBOX#|CALLBACK)/.test(item) && !/lastNotificationAt|lastAlertAt|heldAlerts/.test(item))).toEqual([]);
    });

    it('answers every hostile body, never with a 5xx (within the soak time bound when the soak runs it)', () => {
      expect(summary.crashes).toBe(0);
    });
  });

  describe('JSON on the device API', () => {
    const register = async (body: string, token?: string) =>
      fetch(`${service.baseUrl}/v1/devices`, { method: 'POST', headers: { authorization: `Bearer ${token ?? (await service.orgToken('org-hostile'))}`, 'content-type': 'application/json' }, body });
    const patch = (body: string) =>
      fetch(`${service.baseUrl}/v1/devices/${device.deviceId}`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${device.deviceSecret}`, 'content-type': 'application/json' },
        body,
      });

    async function refused(response: Response, status: number | number[]) {
      const text = await response.text();
      summary.injected++;
      summary.sent++;
      if (response.status >= 500) summary.crashes++;
      expect([status].flat()).toContain(response.status);
      const body = JSON.parse(text) as { error: { code: string; message: string } };
      expect(Object.keys(body)).toEqual(['error']);
      expect(typeof body.error.code).toBe('string');
      expect(typeof body.error.message).toBe('string');
      expect(text).not.toMatch(/\n\s+at |node_modules|\.ts:\d+/);
      return body.error;
    }

    it('refuses __proto__, constructor and prototype keys anywhere, also spelled with escapes, and pollutes nothing', async () => {
      const valid = { pushToken: PUSH_TOKEN_A, mailboxes: [{ id: 'inbox', kind: 'primary' }] };
      const bodies = [
        `{"__proto__":{"polluted":"yes"},${JSON.stringify(valid).slice(1)}`,
        `{"constructor":{"prototype":{"polluted":"yes"}},${JSON.stringify(valid).slice(1)}`,
        JSON.stringify(valid).replace('"kind":"primary"', '"kind":"primary","__proto__":{"polluted":"yes"}'),
        `{"\\u005f_proto__":{"polluted":"yes"},${JSON.stringify(valid).slice(1)}`,
        JSON.stringify({ ...valid, alerts: { prototype: { polluted: 'yes' } } }),
      ];
      for (const body of bodies) await refused(await register(body), 400);
      for (const body of ['{"alerts":{"__proto__":{"polluted":"yes"}}}', '{"alerts":{"constructor":{"prototype":{"polluted":"yes"}}}}', '{"__proto__":{"status":"retired"}}']) {
        await refused(await patch(body), 400);
      }
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      const read = await api(service.baseUrl, 'GET', `/v1/devices/${device.deviceId}`, { token: device.deviceSecret });
      expect(read.body.status).toBe('active');
    });

    it('refuses deeply nested JSON with a 4xx, never a 5xx', async () => {
      const deep = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
      await refused(await register(`{"pushToken":${deep(10_000)}}`), 400);
      await refused(await register(`${'['.repeat(30_000)}${']'.repeat(30_000)}`), 400);
      await refused(await patch(`{"alerts":${deep(10_000)}}`), 400);
      await refused(await patch(`{"alerts":${deep(40)}}`), 400);
    });

    it('refuses invalid UTF-8, lone surrogates, huge numbers and a 10 MB body with a 4xx', async () => {
      const valid = JSON.stringify({ pushToken: PUSH_TOKEN_A, mailboxes: [{ id: 'inbox', kind: 'primary' }] });
      const [before, after] = valid.split('inbox') as [string, string];
      const invalidUtf8 = Buffer.concat([Buffer.from(before), Buffer.from([0xc0, 0xaf]), Buffer.from(after)]);
      await refused(await fetch(`${service.baseUrl}/v1/devices`, { method: 'POST', headers: { authorization: `Bearer ${await service.orgToken('o')}`, 'content-type': 'application/json' }, body: invalidUtf8 }), 400);
      await refused(await register(valid.replace('inbox', '\\ud800')), 400);
      await refused(await patch(`{"intervalSeconds":1e999999}`), 400);
      await refused(await patch(`{"intervalSeconds":${'9'.repeat(5_000)}}`), 400);
      await refused(await register(`{"pushToken":"${'a'.repeat(10_000_000)}"}`), 413);
    });
  });
});
