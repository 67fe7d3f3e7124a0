import { Browser, expect, Page, test } from "@playwright/test";
import { addUser, expectAccessible, grantRole, hydrated, PASSWORD, signIn } from "./helpers";

async function registerAccount(browser: Browser, prefix: string): Promise<[string, Page]> {
  const username = `${prefix}-${Date.now()}`;
  const page = await (await browser.newContext()).newPage();
  await page.goto("/signin");
  await hydrated(page);
  await page.getByRole("link", { name: "Create an account" }).click();
  await hydrated(page);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByLabel("Confirm Password").fill(PASSWORD);
  await page.getByLabel("Email (required)").fill(`${username}@example.com`);
  await page
    .getByRole("group", { name: "Account administration" })
    .getByRole("checkbox", { name: /^Email/ })
    .check();
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("status")).toHaveText(
    "Your registration has been sent for approval. You can sign in once it is approved.",
  );
  return [username, page];
}

async function trySignIn(page: Page, username: string) {
  await page.goto("/signin");
  await hydrated(page);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign In", exact: true }).click();
}

async function openTask(approver: Page, subject: string) {
  await approver.goto("/approvals");
  await hydrated(approver);
  const row = approver.getByTestId("task").filter({ hasText: subject });
  await expect(row).toHaveCount(1);
  await expect(row).toContainText("Ready");
  await row.getByRole("button", { name: /^Task / }).click();
  const panel = approver.getByTestId("task-detail");
  await expect(panel).toContainText(subject);
  return panel;
}

test("an approver starts and approves a registration; the new user can then sign in", async ({ page, browser }) => {
  const approverName = addUser("approver");
  grantRole(approverName, "Approver");
  const [newcomer, newcomerPage] = await registerAccount(browser, "newcomer");

  await trySignIn(newcomerPage, newcomer);
  await expect(newcomerPage.getByRole("alert")).toHaveText(
    "Your registration is awaiting approval. You can sign in once it is approved.",
  );

  await signIn(page, approverName);
  await page.getByRole("link", { name: "View details: Pending Approvals" }).click();
  const panel = await openTask(page, `Self-registration of ${newcomer}`);
  await expectAccessible(page, "a task open");
  await panel.getByRole("button", { name: "Start" }).click();
  await expect(page.getByRole("status")).toContainText("You started task");
  await expect(page.getByTestId("task-status")).toHaveText("Started by you");
  await expectAccessible(page, "a task started");
  await panel.getByRole("button", { name: "Approve" }).click();
  await expect(page.getByRole("status")).toContainText("The request is complete and has been applied.");
  await expect(page.getByTestId("task-status")).toHaveText("Completed");

  await trySignIn(newcomerPage, newcomer);
  await expect(newcomerPage.getByRole("heading", { name: "My Account" })).toBeVisible();
});

test("a rejected registration cannot sign in", async ({ page, browser }) => {
  const approverName = addUser("rejecter");
  grantRole(approverName, "Approver");
  const [applicant, applicantPage] = await registerAccount(browser, "applicant");

  await signIn(page, approverName);
  const panel = await openTask(page, `Self-registration of ${applicant}`);
  await panel.getByRole("button", { name: "Start" }).click();
  await expect(page.getByTestId("task-status")).toHaveText("Started by you");
  await panel.getByRole("button", { name: "Reject" }).click();
  await expect(page.getByRole("status")).toContainText("The request has been rejected.");

  await trySignIn(applicantPage, applicant);
  await expect(applicantPage.getByRole("alert")).toHaveText(
    "Your registration request was rejected, and its details have been deleted.",
  );
});

test("someone without an approver role sees their own requests", async ({ page }) => {
  const username = addUser("requester");
  await signIn(page, username);
  await page.goto("/approvals");
  await hydrated(page);
  await expect(page.getByRole("heading", { name: "My requests" })).toBeVisible();
  await expect(page.getByText("You have no requests awaiting approval.")).toBeVisible();
});

test("an approver's open Pending Approvals shows a new task, and another approver's start, without a reload", async ({ page, browser }) => {
  const approverName = addUser("live-approver");
  grantRole(approverName, "Approver");
  const otherApprover = addUser("live-approver2");
  grantRole(otherApprover, "Approver");
  await signIn(page, approverName);
  await page.goto("/approvals");
  await hydrated(page);
  await expect(page.getByText("Live: new tasks and changes by other approvers appear here by themselves.")).toBeVisible();
  const loads = await page.evaluate(() => performance.getEntriesByType("navigation").length);

  const [newcomer] = await registerAccount(browser, "live-newcomer");
  const row = page.getByTestId("task").filter({ hasText: `Self-registration of ${newcomer}` });
  await expect(row).toHaveCount(1, { timeout: 2000 });
  await expect(row).toContainText("Ready");

  // Another approver starts it: this page shows it BLOCKED.
  const other = await (await browser.newContext()).newPage();
  await signIn(other, otherApprover);
  const panel = await openTask(other, `Self-registration of ${newcomer}`);
  await panel.getByRole("button", { name: "Start" }).click();
  await expect(other.getByTestId("task-status")).toHaveText("Started by you");
  await expect(row).toContainText("Blocked", { timeout: 2000 });
  expect(await page.evaluate(() => performance.getEntriesByType("navigation").length)).toBe(loads);
  await other.context().close();
});
