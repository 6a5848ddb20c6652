import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Locator, Page } from 'playwright-core';
import { startLocalService, type LocalService } from '../../infra/local/service.js';
import { readStatusSnapshot } from '../../infra/local/status-page.js';
import { DynamoDbManagedSubscriptions } from '../../functions/_lib/adapters/dynamodb-managed-subscriptions.js';
import { launchHeadlessChromium, type HeadlessBrowser } from '../support/browser.js';
import { api, PUSH_TOKEN_B } from '../support/device-api.js';
import { newMailBody, postNotification } from '../support/exchange.js';

/**
 * The operators' status page of `npm start`, in Debian's headless Chromium: what the device API registers and what
 * the real-time path does shows up on the open page by itself, and nothing secret ever reaches it.
 */
describe('status page, in a headless browser', () => {
  // Organization ids are whatever the token issuer put in `sub`: this one would run script if rendered as HTML.
  const ORG_ID = 'org-<img src=x onerror="globalThis.injected=1">';
  const SUBSCRIPTION_ID = 'AAMkAGstatus-page-subscription-0123456789abcdefghijklmnopqrstuvwxyz=';
  const WAIT = { timeout: 20_000 };

  let service: LocalService;
  let browser: HeadlessBrowser | undefined;
  let launchError: unknown;
  let device: { deviceId: string; deviceSecret: string; callbackUrl: string };
  const pageErrors: string[] = [];
  let pageLoads = 0;

  // Without a browser every browser test fails with the launch error (a missing /usr/bin/chromium says so); a
  // failing beforeAll would only mark them skipped.
  const page = (): Page => {
    if (!browser) throw launchError;
    return browser.page;
  };
  const deviceCard = (): Locator => page().locator('article.device').filter({ has: page().getByRole('heading', { name: device.deviceId, exact: true }) });
  const mailboxRows = (): Locator => deviceCard().getByRole('table', { name: `Mailboxes of ${device.deviceId}` }).locator('tbody tr');
  const decisionRows = (): Locator => deviceCard().getByRole('table', { name: `Recent decisions of ${device.deviceId}` }).locator('tbody tr');
  const pushRows = (): Locator => page().getByRole('table', { name: 'Pushes received by the APNs sandbox' }).locator('tbody tr');

  beforeAll(async () => {
    service = await startLocalService({ port: 0, dataDir: ':memory:', supervisorIntervalMs: 0 });
    const registered = await api(service.baseUrl, 'POST', '/v1/devices', {
      token: await service.orgToken(ORG_ID),
      body: { pushToken: PUSH_TOKEN_B, timeZone: 'Europe/Zurich', mailboxes: [{ id: 'inbox-primary', kind: 'primary' }] },
    });
    expect(registered.status).toBe(201);
    device = { deviceId: registered.body.deviceId, deviceSecret: registered.body.deviceSecret, callbackUrl: registered.body.mailboxes[0].callbackUrl };
    const reported = await api(service.baseUrl, 'PUT', `/v1/devices/${device.deviceId}/mailboxes/inbox-primary/subscription`, {
      token: device.deviceSecret,
      body: { subscriptionId: SUBSCRIPTION_ID, expiresAt: new Date(Date.now() + 86_400_000).toISOString() },
    });
    expect(reported.status).toBe(204);

    try {
      browser = await launchHeadlessChromium();
    } catch (error) {
      launchError = error;
      return;
    }
    browser.page.on('pageerror', (error) => pageErrors.push(error.message));
    // A refused inline script or style shows up only as a console message.
    browser.page.on('console', (message) => {
      if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) pageErrors.push(message.text());
    });
    browser.page.on('load', () => {
      pageLoads += 1;
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await service?.stop();
  });

  it('shows a device registered through the API, its mailbox and its shortened push token', async () => {
    await page().goto(`${service.baseUrl}/status`);

    const card = deviceCard();
    await card.waitFor(WAIT);
    await expect(card.locator('dd').first().textContent()).resolves.toBe(ORG_ID);
    await expect(card.textContent()).resolves.toContain('b1b1b1b1…');
    await expect(card.textContent()).resolves.toContain('Europe/Zurich');
    const mailboxRow = mailboxRows().filter({ hasText: 'inbox-primary' });
    await mailboxRow.waitFor(WAIT);
    await expect(mailboxRow.textContent()).resolves.toMatch(/primary.*AAMkAGstatus….*live/);
    await expect(card.textContent()).resolves.toContain('no decisions in the last 7 days');
  }, 60_000);

  it('renders client-chosen ids as text, never as markup', async () => {
    await deviceCard().waitFor(WAIT);
    await expect(page().locator('img').count()).resolves.toBe(0);
    await expect(page().evaluate(() => (globalThis as { injected?: unknown }).injected)).resolves.toBeUndefined();
  }, 60_000);

  it('shows the alert push and the pushed decision of a new mail without a reload', async () => {
    const answer = await postNotification(device.callbackUrl, newMailBody(SUBSCRIPTION_ID, [{ itemId: 'AAMkItem-status-1' }]));
    expect(answer.subscriptionStatus).toBe('OK');

    const pushRow = pushRows().filter({ hasText: 'b1b1b1b1…' });
    await pushRow.waitFor(WAIT);
    const pushText = await pushRow.textContent();
    expect(pushText).toMatch(/alert\s*10\s*b1b1b1b1…\s*200/);
    expect(pushText).toContain('"mailbox":"inbox-primary"');
    expect(pushText).not.toContain('AAMkItem');

    const decisionRow = decisionRows().filter({ hasText: 'pushed' });
    await decisionRow.waitFor(WAIT);
    await expect(decisionRow.textContent()).resolves.toContain('inbox-primary');
    // The notification is the subscription's first sign of life.
    await mailboxRows().filter({ hasText: 'inbox-primary' }).filter({ hasText: 'live' }).waitFor(WAIT);

    expect(pageLoads).toBe(1);
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it('opens on a dashboard: summary tiles with the numbers and a chart of the last hour, within the first screen', async () => {
    await page().setViewportSize({ width: 1280, height: 800 });
    const tile = (id: string) => page().locator(`[data-tile="${id}"]`);
    await tile('pushes').filter({ has: page().locator('.value', { hasText: /^1$/ }) }).waitFor(WAIT);
    await expect(tile('devices').locator('.value').textContent()).resolves.toBe('1');
    await expect(tile('devices').locator('.detail').textContent()).resolves.toBe('1 active');
    await expect(tile('mailboxes').locator('.detail').textContent()).resolves.toContain('1 live');
    await expect(tile('failures').locator('.value').textContent()).resolves.toBe('0');
    await expect(tile('latency').locator('.value').textContent()).resolves.toMatch(/^p50 (\d+ ms|\d+\.\d s)$/); // seconds on a loaded machine
    await expect(tile('queue').locator('.detail').textContent()).resolves.toMatch(/^0 waiting · 0 in flight · 0 dead letters$/);
    // The summary is what the operator sees first, not 7,000 px further down.
    const summaryBox = await page().locator('#summary').boundingBox();
    expect(summaryBox!.y + summaryBox!.height).toBeLessThan(800);
    await expect(page().locator('#chart rect.bar-pushed').count()).resolves.toBe(1);

    // Screenshot level: the rendered pixels of the chart hold the pushed bar's green, and the tiles are not blank.
    const chartPng = (await page().locator('#chart').screenshot()).toString('base64');
    const tilesPng = (await page().locator('#summary').screenshot()).toString('base64');
    const blank = await browser!.context.newPage();
    try {
      // Runs in the blank page (no CSP there, unlike the status page): decode the PNG and count pixels.
      const countPixels = `async ({ png, rgb }) => {
        const image = new Image();
        image.src = 'data:image/png;base64,' + png;
        await image.decode();
        const canvas = document.createElement('canvas');
        canvas.width = image.width;
        canvas.height = image.height;
        const context = canvas.getContext('2d');
        context.drawImage(image, 0, 0);
        const data = context.getImageData(0, 0, image.width, image.height).data;
        let matching = 0;
        let dark = 0;
        for (let i = 0; i < data.length; i += 4) {
          if (Math.abs(data[i] - rgb[0]) < 12 && Math.abs(data[i + 1] - rgb[1]) < 12 && Math.abs(data[i + 2] - rgb[2]) < 12) matching++;
          if (data[i] < 90 && data[i + 1] < 90 && data[i + 2] < 90) dark++;
        }
        return { matching, dark, total: data.length / 4 };
      }`;
      const pixels = (png: string, rgb: [number, number, number]) =>
        blank.evaluate(([source, arg]) => (0, eval)(source)(arg) as Promise<{ matching: number; dark: number; total: number }>, [countPixels, { png, rgb }] as const);
      const chart = await pixels(chartPng, [0x38, 0xa1, 0x69]);
      expect(chart.matching).toBeGreaterThan(50);
      const tiles = await pixels(tilesPng, [0x2f, 0x85, 0x5a]);
      expect(tiles.matching).toBeGreaterThan(50); // the green edge of the "pushed" tile
      expect(tiles.dark).toBeGreaterThan(200); // the figures and labels as text
    } finally {
      await blank.close();
    }
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it('searches by org, device or mailbox id and says when nothing matches', async () => {
    await page().locator('#search').fill('inbox-prim');
    await page().getByText('1 device match;').waitFor(WAIT);
    await expect(deviceCard().count()).resolves.toBe(1);
    await page().locator('#search').fill('no-such-id');
    await page().getByText('no device matches').waitFor(WAIT);
    await page().locator('#search').fill('');
    await deviceCard().waitFor(WAIT);
  }, 60_000);

  it('redirects / to the page and serves a favicon', async () => {
    const root = await fetch(`${service.baseUrl}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/status');
    for (const path of ['/favicon.ico', '/favicon.svg']) {
      const icon = await fetch(`${service.baseUrl}${path}`);
      expect(icon.status).toBe(200);
      expect(icon.headers.get('content-type')).toBe('image/svg+xml');
      expect(await icon.text()).toMatch(/^<svg /);
    }
  });

  it('never shows the device secret, the full push token, the callback secret or the full subscription id', async () => {
    const callbackSecret = new URL(device.callbackUrl).pathname.split('/').pop()!;
    expect(callbackSecret.length).toBeGreaterThanOrEqual(16);
    const json = await (await fetch(`${service.baseUrl}/_local/status.json`)).text();
    const html = await page().content();

    for (const shown of [json, html]) {
      expect(shown).toContain(device.deviceId);
      expect(shown).not.toContain(device.deviceSecret);
      expect(shown).not.toContain(PUSH_TOKEN_B);
      expect(shown).not.toContain(PUSH_TOKEN_B.slice(0, 9));
      expect(shown).not.toContain(callbackSecret);
      expect(shown).not.toContain(SUBSCRIPTION_ID);
      expect(shown).not.toMatch(/secretHash|callbackKey|authorization/i);
    }
  }, 60_000);

  it('answers with a nonce content security policy and no-store', async () => {
    const response = await fetch(`${service.baseUrl}/status`);
    const csp = response.headers.get('content-security-policy') ?? '';
    const nonce = /script-src 'nonce-([A-Za-z0-9+/=]+)'/.exec(csp)?.[1];
    expect(nonce).toBeDefined();
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(await response.text()).toContain(`<script nonce="${nonce}">`);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect((await fetch(`${service.baseUrl}/_local/status.json`)).headers.get('cache-control')).toBe('no-store');
  });

  it('refuses a request that names a host other than loopback (DNS rebinding, tunnels)', async () => {
    for (const path of ['/status', '/_local/status.json']) {
      const status = await new Promise<number>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: service.port, path, headers: { host: `rebind.example:${service.port}` } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
      expect(status).toBe(403);
    }
  });

  it('says when the scan stopped at its device limit, showing whole devices only', async () => {
    const second = await api(service.baseUrl, 'POST', '/v1/devices', {
      token: await service.orgToken('org-second'),
      body: { pushToken: 'c'.repeat(64), mailboxes: [{ id: 'inbox', kind: 'primary' }] },
    });
    expect(second.status).toBe(201);
    const read = (devices: number) => readStatusSnapshot({
      documentClient: service.awsClients.documentClient,
      tableName: service.backends.tableName,
      apnsSandbox: service.apnsSandbox,
      now: Date.now,
      limits: { devices },
    });

    const capped = await read(1);
    expect(capped.capped).toBe(true);
    expect(capped.devices).toHaveLength(1);
    expect(capped.devices[0]!.mailboxes).toHaveLength(1);

    const whole = await read(2);
    expect(whole.capped).toBe(false);
    expect(whole.devices.map((d) => d.orgId).sort()).toEqual([ORG_ID, 'org-second'].sort());
  });

  it('shows who keeps each subscription and, for the relay, its expiry, last renewal and failures', async () => {
    const registered = await api(service.baseUrl, 'POST', '/v1/devices', {
      token: await service.orgToken('org-relay'),
      body: { pushToken: 'd'.repeat(64), mailboxes: [{ id: 'relay-box', kind: 'primary' }] },
    });
    expect(registered.status).toBe(201);
    const relayDevice: string = registered.body.deviceId;
    // Written as the relay's own subscription work writes them (registration in organization mode has its own tests).
    const table = [service.awsClients.documentClient, service.backends.tableName] as const;
    await new DynamoDbManagedSubscriptions(...table).updateManaged(relayDevice, 'relay-box', {
      mark: true,
      protocol: 'graph',
      subscriptionId: 'graph-subscription-relay-0001',
      expiresAt: Date.parse('2031-01-08T10:00:00Z'),
      subscriptionReportedAt: Date.parse('2031-01-01T10:00:00Z'),
      managed: { protocol: 'graph', renewedAt: Date.parse('2031-01-01T10:00:00Z'), failures: 2, lastError: 'throttled' },
    });
    const snapshot = await readStatusSnapshot({ documentClient: table[0], tableName: table[1], apnsSandbox: service.apnsSandbox, now: Date.now });
    const mailboxOf = (deviceId: string) => snapshot.devices.find((d) => d.deviceId === deviceId)!.mailboxes[0]!;
    expect(mailboxOf(relayDevice)).toMatchObject({
      managedBy: 'relay',
      protocol: 'graph',
      expiresAt: '2031-01-08T10:00:00.000Z',
      lastRenewalAt: '2031-01-01T10:00:00.000Z',
      renewalError: 'throttled (2 in a row)',
      state: 'live',
    });
    expect(mailboxOf(device.deviceId)).toMatchObject({ managedBy: 'device', lastRenewalAt: null, renewalError: null });
    expect(snapshot.summary.mailboxes.byManager).toMatchObject({ relay: 1 });

    await page().goto(`${service.baseUrl}/status?q=relay-box`);
    const row = page().getByRole('table', { name: `Mailboxes of ${relayDevice}` }).locator('tbody tr');
    await row.waitFor(WAIT);
    await expect(row.textContent()).resolves.toMatch(/graph\s*relay.*2031-01-08 10:00:00Z.*2031-01-01 10:00:00Z · failing: throttled \(2 in a row\)/);
  }, 60_000);
});

describe('status snapshot paging and filters', () => {
  it('pages thousands of devices 20 at a time and filters by status, outcome and org, counting the summary over all', async () => {
    const service = await startLocalService({ port: 0, dataDir: ':memory:', supervisorIntervalMs: 0 });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 23; i++) {
        const registered = await api(service.baseUrl, 'POST', '/v1/devices', {
          token: await service.orgToken(i < 3 ? 'org-small' : 'org-large'),
          body: { pushToken: (i + 16).toString(16).padStart(2, '0').repeat(32), mailboxes: [{ id: `box-${i}`, kind: 'primary' }] },
        });
        expect(registered.status).toBe(201);
        ids.push(registered.body.deviceId);
      }
      const read = (query: Parameters<typeof readStatusSnapshot>[1]) => readStatusSnapshot({
        documentClient: service.awsClients.documentClient,
        tableName: service.backends.tableName,
        apnsSandbox: service.apnsSandbox,
        now: Date.now,
      }, query);

      const first = await read({ page: 1 });
      expect(first.page).toEqual({ number: 1, size: 20, total: 23, pages: 2 });
      expect(first.devices.map((d) => d.deviceId)).toEqual(ids.slice(0, 20));
      const second = await read({ page: 2 });
      expect(second.devices.map((d) => d.deviceId)).toEqual(ids.slice(20));
      expect((await read({ page: 9 })).page.number).toBe(2);

      const small = await read({ q: 'ORG-SMALL' });
      expect(small.page.total).toBe(3);
      expect(small.summary.devices.total).toBe(23);
      expect((await read({ q: 'box-22' })).devices.map((d) => d.deviceId)).toEqual([ids[22]]);
      expect((await read({ status: 'retired' })).page.total).toBe(0);
      expect((await read({ outcome: 'pushed' })).page.total).toBe(0);
      expect(first.summary.mailboxes.byState).toEqual({ pending: 23 });
      expect(first.tiles.map((tile) => tile.id)).toEqual(['devices', 'mailboxes', 'pushes', 'failures', 'latency', 'queue']);
    } finally {
      await service.stop();
    }
  }, 90_000);
});
