import { execFileSync } from "node:child_process";
import AxeBuilder from "@axe-core/playwright";
import { expect, Page } from "@playwright/test";

export const PASSWORD = "silver maple whispers at noon";

/** Creates a fresh account through the server's command line (on another server's database when given). */
export function addUser(prefix: string, password = PASSWORD, databaseUrl?: string): string {
  const username = `${prefix}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
  const bin = process.env.E2E_SERVER_BIN;
  if (!bin) throw new Error("E2E_SERVER_BIN is not set; run the tests with scripts/test.sh");
  const database = databaseUrl ? { DATABASE_URL: databaseUrl } : {};
  execFileSync(bin, ["user", "add", username, "--password-env", "E2E_PASSWORD"], {
    env: { ...process.env, ...database, E2E_PASSWORD: password },
    stdio: "pipe",
  });
  return username;
}

/** Gives a user a role through the server's command line. */
export function grantRole(username: string, role: string) {
  execFileSync(process.env.E2E_SERVER_BIN!, ["user", "grant-role", username, role], { stdio: "pipe" });
}

/**
 * Waits until the WASM client has hydrated the page. When it never does, the
 * failure carries what the browser said (a panic's message is there) and the
 * page as it stands, as a trace cannot be read in CI's log.
 */
export async function hydrated(page: Page) {
  try {
    await expect(page.locator("body[data-hydrated]")).toHaveCount(1);
  } catch (e) {
    const errors = (await page.pageErrors({ filter: "since-navigation" })).map((err) => `page error: ${err.stack ?? err}`);
    const logs = (await page.consoleMessages({ filter: "since-navigation" })).map((m) => `console.${m.type()}: ${m.text()}`);
    const body = await page.locator("main").innerHTML().catch(() => "(no main)");
    throw new Error(
      `${page.url()} did not hydrate.\n${[...errors, ...logs].join("\n") || "(the browser reported nothing)"}\n<main>: ${body.slice(0, 4000)}\n${e}`,
    );
  }
}

/** Types the username and password on the sign-in page of the server at `base` (the default one when empty). */
async function submitPassword(page: Page, username: string, password: string, base: string) {
  await page.goto(`${base}/signin`);
  await hydrated(page);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign In", exact: true }).click();
}

export async function signIn(page: Page, username: string, password = PASSWORD, base = "") {
  await submitPassword(page, username, password, base);
  // The home page loads anew, with its own bundle (app/src/entries.rs).
  await expect(page.getByRole("heading", { name: "My Account" })).toBeVisible();
  await hydrated(page);
}

/** Associates `username`'s account with the signed-in one, by its password, on Associated Accounts. */
export async function associate(page: Page, username: string, password = PASSWORD) {
  await page.goto("/associations");
  await hydrated(page);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Associate" }).click();
  await expect(page.getByRole("status")).toContainText(`${username} is now associated`);
}

/** The password step of an account with a second factor, which leads to the second one. */
export async function passwordStep(page: Page, username: string, password = PASSWORD, base = "") {
  await submitPassword(page, username, password, base);
  // A page of its own, loaded anew with its bundle (app/src/entries.rs).
  await expect(page.getByRole("heading", { name: "Verify it is you" })).toBeVisible();
  await hydrated(page);
}

export async function signOut(page: Page) {
  await page.getByLabel("Account menu").click();
  await page.getByRole("menuitem", { name: "Sign out" }).click();
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
}

/** The WCAG rules axe checks: every rule tagged WCAG 2.0 or 2.1, level A or AA. */
export const WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

/**
 * Runs axe-core on the page as it is now. A violation fails the test with
 * the rule, each element (its selector and what is wrong) and the page.
 */
export async function expectAccessible(page: Page, state: string) {
  const results = await new AxeBuilder({ page }).withTags(WCAG_TAGS).analyze();
  const problems = results.violations.map(
    (v) =>
      `${v.id} (${v.impact}): ${v.help}\n` +
      v.nodes.map((n) => `    at ${n.target.join(" ")}: ${n.failureSummary?.replace(/\n/g, " ")}`).join("\n"),
  );
  expect(problems, `axe found WCAG 2.1 A/AA violations on ${page.url()} (${state}):\n${problems.join("\n")}`).toEqual(
    [],
  );
}
