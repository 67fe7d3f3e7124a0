import { readFileSync } from "node:fs";
import { Browser, expect, Page, test } from "@playwright/test";
import { addUser, expectAccessible, grantRole, hydrated, PASSWORD, signIn, signOut } from "./helpers";

// The user's clock is 14 hours ahead of the server's UTC (Kiribati has no
// daylight saving time): a consent ends at the user's midnight, not the server's.
test.use({ timezoneId: "Pacific/Kiritimati" });

const origin = () => ({ Origin: process.env.BASE_URL ?? "http://127.0.0.1:3000" });

/** An approver lets a held registration through (the e2e server holds them). */
async function approveRegistration(browser: Browser, username: string) {
  const approver = addUser("consent-approver");
  grantRole(approver, "Approver");
  const page = await (await browser.newContext()).newPage();
  await signIn(page, approver);
  const tasks = await (await page.request.get("/api/users/v1/me/approval-tasks?status=READY")).json();
  const task = tasks.find((t: { presentationSubject: string }) =>
    t.presentationSubject === `Self-registration of ${username}`);
  expect(task).toBeTruthy();
  for (const action of ["CLAIM", "APPROVE"]) {
    const reply = await page.request.put(`/api/users/v1/me/approval-tasks/${task.id}/state`, {
      data: { action },
      headers: origin(),
    });
    expect(reply.status()).toBe(200);
  }
  await page.context().close();
}

async function exportedConsents(page: Page) {
  await page.goto("/profile");
  await hydrated(page);
  const download = page.waitForEvent("download");
  await page.getByRole("link", { name: "Export", exact: true }).click();
  const file = await download;
  return JSON.parse(readFileSync(await file.path(), "utf8")).consents;
}

test("Register with consent, then narrow it and give it an end date", async ({ page, browser }) => {
  const username = `consenter-${Date.now()}`;
  await page.goto("/register");
  await hydrated(page);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByLabel("Confirm Password").fill(PASSWORD);
  await page.getByLabel("Email (required)").fill(`${username}@example.com`);
  await page.getByLabel("First Name (optional)").fill("Ada");
  await page.getByLabel("Last Name (optional)").fill("Byron");
  const admin = page.getByRole("group", { name: "Account administration" });
  // Never pre-ticked: the registrant consents by ticking.
  await expect(admin.getByRole("checkbox", { name: /^Email/ })).not.toBeChecked();
  await expect(page.getByRole("link", { name: "privacy policy" })).toHaveAttribute("href", /\/privacy$/);
  await admin.getByRole("checkbox", { name: /^Email/ }).check();
  await admin.getByRole("checkbox", { name: /^First Name/ }).check();
  await admin.getByRole("checkbox", { name: /^Last Name/ }).check();
  await page.getByRole("group", { name: "Product news" }).getByRole("checkbox", { name: /^Email/ }).check();
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("status")).toHaveText(
    "Your registration has been sent for approval. You can sign in once it is approved.",
  );
  await approveRegistration(browser, username);

  await signIn(page, username);
  await page.getByRole("link", { name: "View details: Consent Management" }).click();
  await hydrated(page);
  const system = page.getByTestId("consent").filter({ hasText: "Selfserve" });
  await expect(system).toContainText("Active");
  await expect(system).toContainText("First Name, Last Name, Email");
  await expect(page.getByText("No application has asked for your consent yet.")).toBeVisible();

  await system.getByRole("link", { name: "Configure consent: Selfserve" }).click();
  await hydrated(page);
  await expect(page).toHaveTitle("Consent for Selfserve · Selfserve");
  // The receipt and its signed form are one click away.
  const receiptLink = page.getByRole("link", { name: "View receipt" });
  const receipt = await (await page.request.get((await receiptLink.getAttribute("href"))!)).json();
  expect(receipt.version).toBe("KI-CR-v1.1.0");
  expect(receipt.collectionMethod).toBe("Sign-Up");
  const signed = await page.request.get((await page.getByRole("link", { name: "Download signed receipt" }).getAttribute("href"))!);
  expect((await signed.text()).split(".")).toHaveLength(3);
  const purpose = page.getByRole("group", { name: "Account administration" });
  // The mandatory attribute cannot be withdrawn on its own.
  await expect(purpose.getByRole("checkbox", { name: /^Email/ })).toBeDisabled();
  await purpose.getByRole("checkbox", { name: /^Last Name/ }).uncheck();
  await page.getByRole("button", { name: "Update" }).click();
  await expect(page.getByRole("status")).toContainText(
    "From now on Selfserve no longer receives: Last Name (Account administration).",
  );
  await page.reload();
  await hydrated(page);
  await expect(page.getByRole("group", { name: "Account administration" })
    .getByRole("checkbox", { name: /^Last Name/ })).not.toBeChecked();

  // The date picker starts at the user's own today and refuses a past date in
  // the browser, then takes a later one.
  const localDay = (days: number) => page.evaluate((days) => {
    const d = new Date(Date.now() + days * 86_400_000);
    const pad = (n: number) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  }, days);
  const picker = page.getByLabel("Last day of consent");
  await expect(picker).toHaveAttribute("type", "date");
  await expect(picker).toHaveAttribute("min", await localDay(0));
  await picker.fill("2020-01-01");
  await page.getByRole("button", { name: "Set end date" }).click();
  await expect(page.getByText(`Choose today (${await localDay(0)}) or a later date.`)).toBeVisible();
  const lastDay = await localDay(30);
  await picker.fill(lastDay);
  await page.getByRole("button", { name: "Set end date" }).click();
  await expect(page.getByRole("status")).toHaveText(
    `Your consent for Selfserve now ends after ${lastDay}. After that it is revoked automatically.`,
  );
  await page.goto("/consent");
  await hydrated(page);
  await expect(page.getByTestId("consent").filter({ hasText: "Selfserve" })).toContainText(`After ${lastDay}`);

  const consents = await exportedConsents(page);
  expect(consents).toHaveLength(2);
  const active = consents.find((c: { state: string }) => c.state === "ACTIVE");
  expect(active.collectionMethod).toBe("My Account: consent updated");
  expect(active.services[0].purposes[0].piiCategory).toEqual(["email", "first_name"]);
  // Midnight after the last day in UTC+14 is 10:00 UTC on that day.
  expect(active.validUntil).toBe(`${lastDay}T10:00:00Z`);
  expect(consents.find((c: { state: string }) => c.state === "REVOKED").collectionMethod).toBe("Sign-Up");
});

test("Revoke an application's consent through the confirm dialog", async ({ page }) => {
  const username = addUser("shopper");
  await signIn(page, username);
  // The application records the user's consent through the REST API.
  const added = await page.request.post("/api/identity/consent-mgt/v1.0/consents", {
    headers: origin(),
    data: {
      services: [{ service: "shop", purposes: [{ purposeId: 10, piiCategory: [{ piiCategory: "email" }, { piiCategory: "mobile" }] }] }],
      collectionMethod: "Checkout",
    },
  });
  expect(added.status()).toBe(201);
  const receiptId = (await added.json()).consentReceiptID;

  await page.goto("/consent");
  await hydrated(page);
  const shop = page.getByTestId("consent").filter({ hasText: "Pet Shop" });
  await expect(shop).toContainText("Active");
  await expect(shop).toContainText("Email, Mobile");
  // An operator-onboarded user cannot revoke Selfserve's own consent.
  await expect(page.getByRole("button", { name: "Revoke consent: Selfserve" })).toHaveCount(0);

  await shop.getByRole("button", { name: "Revoke consent: Pet Shop" }).click();
  const dialog = page.getByRole("dialog", { name: "Revoke consent for Pet Shop?" });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByRole("button", { name: "No" })).toBeFocused();
  await dialog.getByRole("button", { name: "No" }).click();
  await expect(dialog).toBeHidden();
  await expect(shop).toContainText("Active");

  await shop.getByRole("button", { name: "Revoke consent: Pet Shop" }).click();
  await dialog.getByRole("button", { name: "Yes" }).click();
  await expect(page.getByRole("status")).toHaveText(
    "You revoked your consent for Pet Shop. From now on it receives none of your details.",
  );
  await expect(shop).toContainText("Revoked");
  await expect(shop).toContainText("Nothing");
  await expect(shop.getByRole("button", { name: /Revoke/ })).toHaveCount(0);

  const consents = await exportedConsents(page);
  const receipt = consents.find((c: { consentReceiptID: string }) => c.consentReceiptID === receiptId);
  expect(receipt.state).toBe("REVOKED");
  expect(receipt.collectionMethod).toBe("Checkout");
  expect(receipt.services[0].service).toBe("Pet Shop");
});

test("Selfserve's own consent, once revoked, is asked again at the next sign-in", async ({ page, browser }) => {
  const username = `renewer-${Date.now()}`;
  await page.goto("/register");
  await hydrated(page);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByLabel("Confirm Password").fill(PASSWORD);
  await page.getByLabel("Email (required)").fill(`${username}@example.com`);
  await page.getByRole("group", { name: "Account administration" }).getByRole("checkbox", { name: /^Email/ }).check();
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("status")).toContainText("sent for approval");
  await approveRegistration(browser, username);

  await signIn(page, username);
  await page.goto("/consent");
  await hydrated(page);
  const system = page.getByTestId("consent").filter({ hasText: "Selfserve" });
  await system.getByRole("button", { name: "Revoke consent: Selfserve" }).click();
  await page.getByRole("dialog", { name: "Revoke consent for Selfserve?" }).getByRole("button", { name: "Yes" }).click();
  await expect(system).toContainText("Revoked");
  await signOut(page);

  // Signing in again asks before the dashboard opens; Deny signs out.
  const signInAgain = async () => {
    await page.goto("/signin");
    await hydrated(page);
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign In", exact: true }).click();
    await expect(page.getByRole("heading", { name: "Selfserve needs your consent again" })).toBeVisible();
  };
  await signInAgain();
  await expectAccessible(page, "consent needed again");
  const email = page.getByRole("group", { name: "Account administration" }).getByRole("checkbox", { name: /^Email/ });
  await expect(email).toBeChecked();
  await expect(email).toBeDisabled();
  await page.getByRole("button", { name: "Deny" }).click();
  await expect(page.getByRole("status")).toContainText("You were signed out");

  // Allow: the dashboard, and a new ACTIVE receipt.
  await signInAgain();
  await page.getByRole("button", { name: "Allow" }).click();
  await expect(page.getByRole("heading", { name: "My Account" })).toBeVisible();
  await page.goto("/consent");
  await expect(page.getByTestId("consent").filter({ hasText: "Selfserve" })).toContainText("Active");
});

test("an open Consent Management shows a consent given and revoked through the REST API, without a reload", async ({ page }) => {
  await signIn(page, addUser("live-consent"));
  await page.goto("/consent");
  await hydrated(page);
  await expect(page.getByText(/^Live: changes made elsewhere/)).toBeVisible();
  const loads = await page.evaluate(() => performance.getEntriesByType("navigation").length);
  const shop = page.getByTestId("consent").filter({ hasText: "Pet Shop" });
  await expect(shop).toHaveCount(0);

  const added = await page.request.post("/api/identity/consent-mgt/v1.0/consents", {
    headers: origin(),
    data: { services: [{ service: "shop", purposes: [{ purposeId: 10, piiCategory: [{ piiCategory: "email" }] }] }], collectionMethod: "Checkout" },
  });
  expect(added.status()).toBe(201);
  await expect(shop).toContainText("Active", { timeout: 2000 });

  const receipt = (await added.json()).consentReceiptID;
  const revoked = await page.request.delete(`/api/identity/consent-mgt/v1.0/consents/receipts/${receipt}`, { headers: origin() });
  expect(revoked.status()).toBe(200);
  await expect(shop).toContainText("Revoked", { timeout: 2000 });
  await expect(page.getByText("Live · updated just now.")).toBeVisible();
  expect(await page.evaluate(() => performance.getEntriesByType("navigation").length)).toBe(loads);
});
