import { describe, expect, it } from 'vitest';
import { chromiumPath, DEFAULT_CHROMIUM_PATH, launchHeadlessChromium } from '../support/browser.js';

describe('the browser tests\' Chromium', () => {
  it('is Debian\'s unless CHROMIUM_PATH names another', () => {
    expect(chromiumPath({})).toBe(DEFAULT_CHROMIUM_PATH);
    expect(chromiumPath({ CHROMIUM_PATH: '' })).toBe(DEFAULT_CHROMIUM_PATH);
    expect(chromiumPath({ CHROMIUM_PATH: '/opt/google/chrome/chrome' })).toBe('/opt/google/chrome/chrome');
  });

  it('fails with the install line and the override when missing, instead of downloading one', async () => {
    await expect(launchHeadlessChromium('/nonexistent/chromium')).rejects.toThrow(
      /\/nonexistent\/chromium is missing.*apt-get install -y --no-install-recommends chromium.*CHROMIUM_PATH/,
    );
  });
});
