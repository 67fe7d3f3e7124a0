import { execFileSync } from "node:child_process";
import { CDPSession, expect, Page, test } from "@playwright/test";
import { addUser, expectAccessible, hydrated, PASSWORD, passwordStep, signIn, signOut } from "./helpers";
import { CODE_LABEL, setUpApp } from "./totp";
import * as oidc from "openid-client";
import { servesShopCallback, shop, startSignIn } from "./shop";

// The server started for these tests as http://localhost:PORT (scripts/e2e.sh):
// WebAuthn needs a secure context and a relying party id that is a name.
const BASE = process.env.E2E_PASSKEY_BASE_URL!;
const DATABASE = process.env.E2E_PASSKEY_DATABASE_URL!;

/** Chromium's virtual authenticator: a platform authenticator with a screen
 * lock; `synced` makes its passkeys backup-eligible, as a cloud keychain's are. */
async function virtualAuthenticator(page: Page, synced = false): Promise<{ cdp: CDPSession; authenticatorId: string }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
      defaultBackupEligibility: synced,
      defaultBackupState: synced,
    },
  });
  return { cdp, authenticatorId };
}

test.skip(!BASE, "scripts/e2e.sh starts the passkey server");
servesShopCallback();

/** A new account, signed in, with a passkey named "Phone" in the page's
 * virtual authenticator; its username. */
async function withPasskey(page: Page, prefix: string): Promise<string> {
  const username = addUser(prefix, PASSWORD, DATABASE);
  await signIn(page, username, PASSWORD, BASE);
  await page.goto(`${BASE}/mfa`);
  await hydrated(page);
  await page.getByLabel("Name of the new passkey").fill("Phone");
  await page.getByRole("button", { name: "Add a passkey" }).click();
  await expect(page.getByRole("status")).toHaveText(/Your passkey was added/);
  return username;
}

/** The same, with an authenticator app too. */
async function withPasskeyAndApp(page: Page, prefix: string): Promise<string> {
  const username = await withPasskey(page, prefix);
  await page.goto(`${BASE}/`);
  await setUpApp(page);
  await page.getByRole("button", { name: "I have saved them" }).click();
  return username;
}

test("a passkey is added, signs in without a password, is renamed and removed", async ({ page }) => {
  const { cdp, authenticatorId } = await virtualAuthenticator(page);
  const username = addUser("passkey", PASSWORD, DATABASE);
  await signIn(page, username, PASSWORD, BASE);

  await page.goto(`${BASE}/mfa`);
  await hydrated(page);
  const card = page.getByRole("region", { name: "Passkeys and security keys" });
  await expect(card.getByText("You have no passkeys yet.")).toBeVisible();

  // A name is needed, and nothing is made without one.
  await card.getByRole("button", { name: "Add a passkey" }).click();
  await expect(card.getByRole("alert")).toHaveText(/Give the passkey a name/);
  expect((await cdp.send("WebAuthn.getCredentials", { authenticatorId })).credentials).toHaveLength(0);

  await card.getByLabel("Name of the new passkey").fill("Work laptop");
  await card.getByRole("button", { name: "Add a passkey" }).click();
  await expect(page.getByRole("status")).toHaveText(/Your passkey was added/);
  const row = card.getByTestId("passkey");
  await expect(row).toHaveCount(1);
  await expect(row).toContainText("Work laptop");
  await expect(row).toContainText("Not used yet");
  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  expect(credentials).toHaveLength(1);
  expect(credentials[0].isResidentCredential).toBe(true);
  await expectAccessible(page, "a passkey listed");

  // Signing in with it alone: no username, no password.
  await signOut(page);
  await hydrated(page);
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expect(page.getByRole("heading", { name: "My Account" })).toBeVisible();
  await page.goto(`${BASE}/sessions`);
  await expect(page.getByText("Signed in with a passkey")).toBeVisible();

  // Rename, then remove behind the confirm dialog.
  await page.goto(`${BASE}/mfa`);
  await hydrated(page);
  await expect(row).toContainText("Last used");
  await row.getByRole("button", { name: "Rename Work laptop" }).click();
  await row.getByLabel("New name for Work laptop").fill("Old laptop");
  await row.getByRole("button", { name: "Save" }).click();
  await expect(page.getByRole("status")).toHaveText("The passkey was renamed.");
  await expect(row).toContainText("Old laptop");

  await row.getByRole("button", { name: "Remove Old laptop" }).click();
  const dialog = page.getByRole("dialog", { name: "Remove the passkey “Old laptop”?" });
  await expect(dialog).toBeVisible();
  await dialog.getByRole("button", { name: "Yes" }).click();
  await expect(page.getByRole("status")).toHaveText("The passkey was removed. It no longer signs you in.");
  await expect(card.getByText("You have no passkeys yet.")).toBeVisible();

  // The device still holds it, but it no longer signs in.
  await signOut(page);
  await hydrated(page);
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expect(page.getByRole("alert")).toHaveText(/That passkey was not accepted/);
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
});

test("after the password, a passkey can be the second factor, and leads once used", async ({ page }) => {
  await virtualAuthenticator(page);
  const username = await withPasskeyAndApp(page, "passkey-2fa");

  await signOut(page);
  await passwordStep(page, username, PASSWORD, BASE);
  await hydrated(page);
  // The app was used last (at setup): its code field leads, the passkey follows.
  const passkey = page.getByRole("button", { name: "Use a passkey" });
  const code = page.getByLabel("6-digit code from your authenticator app");
  expect((await passkey.boundingBox())!.y).toBeGreaterThan((await code.boundingBox())!.y);
  await expectAccessible(page, "second step with a passkey offered");
  await passkey.click();
  await expect(page.getByRole("heading", { name: "My Account" })).toBeVisible();
  await page.goto(`${BASE}/sessions`);
  await expect(page.getByText("Verified with passkey")).toBeVisible();

  // Used last, the passkey now comes first.
  await signOut(page);
  await passwordStep(page, username, PASSWORD, BASE);
  await hydrated(page);
  expect((await passkey.boundingBox())!.y).toBeLessThan((await code.boundingBox())!.y);
});

/** As if the user's sessions last gave their second factor 11 minutes ago
 * (the step-up window is 10): the test cannot wait that long. */
function secondFactorGivenLongAgo(username: string) {
  const file = DATABASE.replace(/^sqlite:\/\//, "");
  const script = `
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE sessions SET second_factor_at = ? WHERE user_id = (SELECT id FROM users WHERE username = ?)",
           (int(time.time() * 1000) - 11 * 60_000, sys.argv[2]))
db.commit()`;
  execFileSync("python3", ["-c", script, file, username], { stdio: "pipe" });
}

test("a passkey confirms it is you before a change, instead of a code", async ({ page }) => {
  await virtualAuthenticator(page);
  const username = await withPasskeyAndApp(page, "passkey-step-up");

  secondFactorGivenLongAgo(username);
  await page.goto(`${BASE}/password`);
  await hydrated(page);
  const card = page.getByRole("region", { name: "Confirm it is you" });
  await expect(card.getByLabel(CODE_LABEL)).toBeVisible();
  await expectAccessible(page, "confirm it is you, with a passkey offered");
  await card.getByRole("button", { name: "Use a passkey" }).click();
  await expect(page.getByRole("status")).toContainText("Thank you. For the next 10 minutes");
  await expect(card).toHaveCount(0);

  // The change goes through now.
  const next = "a new passphrase after the passkey";
  await page.getByLabel("Current Password").fill(PASSWORD);
  await page.getByLabel("New Password", { exact: true }).fill(next);
  await page.getByLabel("Confirm New Password").fill(next);
  await page.getByRole("button", { name: "Update" }).click();
  await expect(page.getByRole("status").last()).toHaveText("Your password has been changed.");
});

test("the sign-in page on an IP address offers no passkey", async ({ page }) => {
  // The main test server is reached as 127.0.0.1: browsers refuse an
  // address as the relying party, so the button is not shown.
  await page.goto("/signin");
  await hydrated(page);
  await expect(page.getByRole("button", { name: "Sign in with a passkey" })).toHaveCount(0);
});

test("an application is told that a synced passkey signed the user in, a software key", async ({ page }) => {
  await virtualAuthenticator(page, true);
  await withPasskey(page, "passkey-synced");
  await signOut(page);

  // The shop sends the user here; they sign in with the passkey alone.
  const config = await shop(BASE, DATABASE);
  const started = await startSignIn(page, config);
  await expect(page.getByText("Sign in to continue to")).toContainText("Pet Shop");
  await hydrated(page);
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await page.getByRole("button", { name: "Allow" }).click();
  const tokens = await oidc.authorizationCodeGrant(config, await started.back, {
    pkceCodeVerifier: started.verifier,
    expectedState: started.state,
    expectedNonce: started.nonce,
  });
  // RFC 8176: the authenticator said the key may be backed up, so it is not
  // claimed as a hardware-bound one.
  expect(tokens.claims()!.amr).toEqual(["swk", "mfa"]);
});
