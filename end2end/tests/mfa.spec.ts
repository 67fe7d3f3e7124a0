import { expect, Page, test } from "@playwright/test";
import { addUser, associate, expectAccessible, hydrated, PASSWORD, passwordStep, signIn, signOut } from "./helpers";
import { throughProvider } from "./social";
import { CODE_LABEL, codeAt, setUpApp, setUpRequiredApp } from "./totp";

test("an authenticator app is asked for after the password, and a recovery code works once", async ({ page }) => {
  const username = addUser("mfa");
  await signIn(page, username);
  const { secret, codes } = await setUpApp(page);
  await expectAccessible(page, "recovery codes shown once");
  await page.getByRole("button", { name: "I have saved them" }).click();
  await expect(page.getByTestId("recovery-codes")).toHaveCount(0);
  await expect(page.getByTestId("recovery-codes-remaining")).toHaveText("10 of 10 recovery codes remain unused.");
  await expect(page.getByTestId("totp-authenticator")).toContainText("Authenticator app");

  // The password alone no longer signs in.
  await signOut(page);
  // The second step has a bundle of its own (app/src/entries.rs).
  const stepBundle = page.waitForResponse((r) => /\/pkg\/selfserve-verify\.[0-9a-f]{16}\.wasm$/.test(r.url()));
  await passwordStep(page, username);
  await stepBundle;
  await expectAccessible(page, "second step of sign-in");
  await page.getByLabel(CODE_LABEL).fill("000000");
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByText("That code is not right.")).toBeVisible();
  // The next step's code: the one typed at setup was accepted already.
  await page.getByLabel(CODE_LABEL).fill(codeAt(secret, 1));
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByRole("heading", { name: "My Account" })).toBeVisible();
  await page.goto("/sessions");
  await expect(page.getByText("Verified with authenticator app")).toBeVisible();

  // A recovery code, once.
  await signOut(page);
  await passwordStep(page, username);
  await page.getByRole("button", { name: "Use a recovery code instead" }).click();
  await page.getByLabel("Recovery code").fill(codes[0].toUpperCase());
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByRole("heading", { name: "My Account" })).toBeVisible();

  await signOut(page);
  await passwordStep(page, username);
  // The method used last is offered first.
  await expect(page.getByLabel("Recovery code")).toBeVisible();
  await page.getByLabel("Recovery code").fill(codes[0]);
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByText("That recovery code is not right, or it was used already.")).toBeVisible();
  await page.getByLabel("Recovery code").fill(codes[1]);
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByRole("heading", { name: "My Account" })).toBeVisible();
  await page.goto("/mfa");
  await expect(page.getByTestId("recovery-codes-remaining")).toHaveText("8 of 10 recovery codes remain unused.");
});

test("removing the app asks first, and then the password alone signs in", async ({ page }) => {
  const username = addUser("mfa-remove");
  await signIn(page, username);
  await setUpApp(page);
  await page.getByRole("button", { name: "I have saved them" }).click();

  await page.getByRole("button", { name: "Remove authenticator app" }).click();
  const dialog = page.getByRole("dialog", { name: "Remove your authenticator app?" });
  await expect(dialog).toContainText("Signing in will ask for your password only");
  await dialog.getByRole("button", { name: "No" }).click();
  await expect(page.getByTestId("totp-authenticator")).toBeVisible();

  await page.getByRole("button", { name: "Remove authenticator app" }).click();
  await dialog.getByRole("button", { name: "Yes" }).click();
  await expect(page.getByRole("status")).toContainText("Your authenticator app was removed");
  await expect(page.getByText("No authenticator app is set up.")).toBeVisible();

  await signOut(page);
  await signIn(page, username);
});

test("a sign-in through Corp ID, and a switch into the account, ask for its second factor too", async ({ page }) => {
  const carol = addUser("mfa-carol");
  const corpAccount = `${carol}-corp`;
  await signIn(page, carol);
  await page.goto("/associations");
  await hydrated(page);
  await throughProvider(page, page.getByRole("button", { name: "Link Corp ID" }), corpAccount);
  await expect(page).toHaveURL(/federation=linked/);
  await page.goto("/");
  await hydrated(page);
  const { secret, codes } = await setUpApp(page);
  await page.getByRole("button", { name: "I have saved them" }).click();

  await signOut(page);
  await throughProvider(page, page.getByRole("button", { name: "Sign in with Corp ID" }), corpAccount);
  await expect(page.getByRole("heading", { name: "Verify it is you" })).toBeVisible();
  await expect(page.locator(".account-name")).toHaveCount(0);
  await page.getByLabel(CODE_LABEL).fill(codeAt(secret, 1));
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByRole("heading", { name: "My Account" })).toBeVisible();
  await page.goto("/sessions");
  const current = page.getByTestId("session").filter({ hasText: "This device" });
  await expect(current).toContainText("Signed in with Corp ID");
  await expect(current).toContainText("Verified with authenticator app");

  // Dave, who knows carol's password, associates her account; switching
  // into it still asks for her second factor.
  await signOut(page);
  const dave = addUser("mfa-dave");
  await signIn(page, dave);
  await associate(page, carol);
  await page.getByRole("button", { name: `Switch to ${carol}` }).click();
  await expect(page.getByRole("heading", { name: "Verify it is you" })).toBeVisible();
  await page.getByRole("button", { name: "Use a recovery code instead" }).click();
  await page.getByLabel("Recovery code").fill(codes[0]);
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByRole("heading", { name: "My Account" })).toBeVisible();
  await expect(page.locator(".account-name")).toHaveText(carol);
});

test("a recovery code resets a forgotten password, and signing in still asks for the second factor", async ({ page }) => {
  const username = addUser("mfa-forgot");
  await signIn(page, username);
  const { secret, codes } = await setUpApp(page);
  await page.getByRole("button", { name: "I have saved them" }).click();
  await signOut(page);

  await page.getByRole("link", { name: "Forgot password?" }).click();
  await expect(page.getByRole("heading", { name: "Reset your password" })).toBeVisible();
  await hydrated(page);
  await page.getByRole("button", { name: "Use a recovery code instead" }).click();
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Recovery code").fill("abcd-efgh-jkmn-pqrs");
  await page.getByRole("button", { name: "Continue" }).click();
  await expect(page.getByText("That username and recovery code do not match.").first()).toBeVisible();
  await expect(page.getByLabel("Recovery code")).toHaveAttribute("aria-invalid", "true");
  await expectAccessible(page, "recovery code refused");

  await page.getByLabel("Recovery code").fill(codes[2]);
  await page.getByRole("button", { name: "Continue" }).click();
  const fresh = "a quiet harbour at dawn";
  await page.getByLabel("New Password", { exact: true }).fill(fresh);
  await page.getByLabel("Confirm New Password").fill(fresh);
  await page.getByRole("button", { name: "Set new password" }).click();
  await expect(page.getByRole("status")).toContainText("Your password has been reset");

  await passwordStep(page, username, fresh);
  // A recovery code was used last (for the reset), so it is offered first.
  await page.getByRole("button", { name: "Use your authenticator app instead" }).click();
  await page.getByLabel(CODE_LABEL).fill(codeAt(secret, 1));
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByRole("heading", { name: "My Account" })).toBeVisible();
});

test.describe("where the operator requires a second factor", () => {
  test.use({ baseURL: process.env.E2E_MFA_BASE_URL });

  test("the first sign-in sets up an authenticator app before the session starts", async ({ page }) => {
    const username = addUser("mfa-required", PASSWORD, process.env.E2E_MFA_DATABASE_URL);
    await passwordStep(page, username);
    await expect(page.getByText("Your organisation requires a second factor.")).toBeVisible();
    await expect(page.locator(".account-name")).toHaveCount(0);
    await expectAccessible(page, "setting up a required second factor");
    const secret = (await page.getByTestId("totp-secret").textContent())!.replace(/\s/g, "");
    await page.getByLabel(CODE_LABEL).fill("000000");
    await page.getByRole("button", { name: "Turn on and sign in" }).click();
    await expect(page.getByText("That code is not right.")).toBeVisible();
    expect(await setUpRequiredApp(page, 0)).toBe(secret);

    // The next sign-in asks for a code from it.
    await signOut(page);
    await passwordStep(page, username);
    await expect(page.getByText("Your organisation requires a second factor.")).toHaveCount(0);
    await page.getByLabel(CODE_LABEL).fill(codeAt(secret, 1));
    await page.getByRole("button", { name: "Verify" }).click();
    await expect(page.getByRole("heading", { name: "My Account" })).toBeVisible();
  });

  test("a switch into an associated account without an app sets one up for that account first", async ({ page }) => {
    const ana = addUser("mfa-required-ana", PASSWORD, process.env.E2E_MFA_DATABASE_URL);
    const bea = addUser("mfa-required-bea", PASSWORD, process.env.E2E_MFA_DATABASE_URL);
    await passwordStep(page, ana);
    await setUpRequiredApp(page, 0);
    await associate(page, bea);

    // Bea has no app: the switch asks her account to set one up before her
    // session starts, as her own sign-in would.
    await page.getByRole("button", { name: `Switch to ${bea}` }).click();
    await expect(page.getByRole("heading", { name: "Verify it is you" })).toBeVisible();
    await expect(page.locator(".account-name")).toHaveCount(0);
    await setUpRequiredApp(page, 0);
    await expect(page.locator(".account-name")).toHaveText(bea);
    await page.goto("/sessions");
    const current = page.getByTestId("session").filter({ hasText: "This device" });
    await expect(current).toContainText(`Switched from ${ana}`);
    await expect(current).toContainText("Verified with authenticator app");
  });
});
