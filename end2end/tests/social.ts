import { expect, Locator, Page } from "@playwright/test";

/** The external OpenID provider (end2end/idp/provider.mjs). */
export const PROVIDER_ORIGIN = "http://127.0.0.1:9877";

/**
 * Presses `button` (one that starts a round trip to the provider) and goes
 * through the provider's development pages as `account` (its login form and
 * its consent page, whichever it shows; none when it remembers both) until
 * the browser is back.
 */
export async function throughProvider(page: Page, button: Locator, account: string) {
  const start = page.url();
  await Promise.all([page.waitForURL((url) => url.href !== start), button.click()]);
  for (let step = 0; step < 4 && new URL(page.url()).origin === PROVIDER_ORIGIN; step++) {
    const before = page.url();
    const login = page.locator('input[name="login"]');
    if (await login.count()) {
      await login.fill(account);
      await page.locator('input[name="password"]').fill("any password: the development form takes it");
    }
    await page.locator('button[type="submit"]').click();
    await page.waitForURL((url) => url.href !== before);
  }
  expect(new URL(page.url()).origin).not.toBe(PROVIDER_ORIGIN);
}
