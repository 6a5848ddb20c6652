import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** Debian's chromium package. Tests never download a browser: CI installs this one (`.ci/run`). */
export const DEFAULT_CHROMIUM_PATH = '/usr/bin/chromium';

/** The browser the tests drive: `CHROMIUM_PATH` when set (another install, e.g. on macOS), else Debian's; .ci/run reads the same variable. */
export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.CHROMIUM_PATH?.trim() || DEFAULT_CHROMIUM_PATH;
}

/**
 * Flags for headless Chromium on CI machines: as root it needs --no-sandbox, and without the background-networking
 * flags it keeps trying to reach Google's hosts, which the closed network refuses.
 */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface HeadlessBrowser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/**
 * Starts Debian's Chromium headless with a fresh, empty profile (removed again by `close`). Throws, rather than
 * letting a test skip, when the browser is missing: a browser test that silently does not run proves nothing.
 */
export async function launchHeadlessChromium(executablePath = chromiumPath()): Promise<HeadlessBrowser> {
  if (!existsSync(executablePath)) {
    throw new Error(
      `${executablePath} is missing: the browser tests need Chromium, on Debian or Ubuntu the chromium package ` +
        '(sudo apt-get install -y --no-install-recommends chromium; .ci/run installs it), or CHROMIUM_PATH naming ' +
        'another Chromium or Chrome. They never download a browser.',
    );
  }
  const userDataDir = await mkdtemp(join(tmpdir(), 'inbox-relay-chromium-'));
  try {
    // A persistent context is how playwright takes a user data directory of our choosing.
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath,
      headless: true,
      args: CHROMIUM_ARGS,
    });
    const page = context.pages()[0] ?? (await context.newPage());
    return {
      context,
      page,
      close: async () => {
        try {
          await context.close();
        } finally {
          await rm(userDataDir, { recursive: true, force: true });
        }
      },
    };
  } catch (error) {
    await rm(userDataDir, { recursive: true, force: true });
    throw error;
  }
}
