import { expect, Page } from "@playwright/test";
// An implementation of RFC 6238 independent of the server's.
import { authenticator } from "otplib";

export const CODE_LABEL = "6-digit code from your authenticator app";

/** The code the app shows `steps` time steps (of 30 s) from now. */
export function codeAt(secret: string, steps: number): string {
  return authenticator.clone({ epoch: Date.now() + steps * 30_000 }).generate(secret);
}

/** Sets up the app on /mfa; its secret and the recovery codes shown. */
export async function setUpApp(page: Page): Promise<{ secret: string; codes: string[] }> {
  await page.getByRole("link", { name: "View details: Multi-factor authentication" }).click();
  await expect(page.getByRole("heading", { name: "Multi-factor authentication", level: 1 })).toBeVisible();
  await expect(page.getByText("No authenticator app is set up.")).toBeVisible();
  await page.getByRole("button", { name: "Set up an authenticator app" }).click();
  await expect(page.getByRole("img", { name: "QR code that adds Selfserve to an authenticator app" })).toBeVisible();
  const secret = (await page.getByTestId("totp-secret").textContent())!.replace(/\s/g, "");
  expect(secret).toMatch(/^[A-Z2-7]{32}$/);

  await page.getByLabel(CODE_LABEL).fill("12345");
  await page.getByRole("button", { name: "Turn on" }).click();
  await expect(page.getByText("Type the 6 digits your authenticator app shows.")).toBeVisible();
  await expect(page.getByLabel(CODE_LABEL)).toHaveAttribute("aria-invalid", "true");

  await page.getByLabel(CODE_LABEL).fill(codeAt(secret, 0));
  await page.getByRole("button", { name: "Turn on" }).click();
  await expect(page.getByRole("status")).toContainText("Your authenticator app is set up.");
  const codes = await page.getByTestId("recovery-codes").locator("li").allTextContents();
  expect(codes).toHaveLength(10);
  for (const code of codes) expect(code).toMatch(/^[a-z2-9]{4}(-[a-z2-9]{4}){3}$/);
  return { secret, codes };
}

/** At the second step of a sign-in or switch that must set up an app: sets
 * it up with a code and saves the recovery codes; the app's secret. */
export async function setUpRequiredApp(page: Page, steps: number): Promise<string> {
  await expect(page.getByText("Your organisation requires a second factor.")).toBeVisible();
  const secret = (await page.getByTestId("totp-secret").textContent())!.replace(/\s/g, "");
  await page.getByLabel(CODE_LABEL).fill(codeAt(secret, steps));
  await page.getByRole("button", { name: "Turn on and sign in" }).click();
  await expect(page.getByRole("status")).toContainText("Your authenticator app is set up, and you are signed in.");
  await expect(page.getByTestId("recovery-codes").locator("li")).toHaveCount(10);
  await page.getByRole("button", { name: "I have saved them" }).click();
  await expect(page.getByRole("heading", { name: "My Account" })).toBeVisible();
  return secret;
}
