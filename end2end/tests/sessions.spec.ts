import { expect, test } from "@playwright/test";
import { addUser, hydrated, signIn } from "./helpers";

test("terminate another browser's session through the confirm dialog", async ({ browser }) => {
  const username = addUser("sessions");
  const laptop = await browser.newContext();
  const phone = await browser.newContext({
    userAgent:
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
  });
  const here = await laptop.newPage();
  const there = await phone.newPage();
  await signIn(there, username);
  await signIn(here, username);

  await here.getByRole("link", { name: "View details: My Login Sessions" }).click();
  await hydrated(here);
  const rows = here.getByTestId("session");
  await expect(rows).toHaveCount(2);
  await expect(rows.filter({ hasText: "This device" })).toHaveCount(1);
  const phoneRow = rows.filter({ hasText: "iPhone" });
  await expect(phoneRow).toHaveCount(1);

  // "No" closes the dialog and changes nothing; so does Escape.
  await phoneRow.getByRole("button", { name: /Terminate/ }).click();
  const dialog = here.getByRole("dialog", { name: "Terminate session?" });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByRole("button", { name: "No" })).toBeFocused();
  await dialog.getByRole("button", { name: "No" }).click();
  await expect(dialog).toBeHidden();
  await phoneRow.getByRole("button", { name: /Terminate/ }).click();
  await expect(dialog).toBeVisible();
  await here.keyboard.press("Escape");
  await expect(dialog).toBeHidden();
  await expect(rows).toHaveCount(2);

  const loadsBefore = await here.evaluate(() => performance.getEntriesByType("navigation").length);
  await phoneRow.getByRole("button", { name: /Terminate/ }).click();
  await dialog.getByRole("button", { name: "Yes" }).click();
  await expect(here.getByRole("status")).toHaveText("You have successfully revoked your session!");
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText("This device");
  // No full page load happened.
  expect(await here.evaluate(() => performance.getEntriesByType("navigation").length)).toBe(loadsBefore);
  expect(await here.evaluate(() => document.body.hasAttribute("data-hydrated"))).toBe(true);

  // The terminated browser's very next request lands on sign-in.
  await there.reload();
  await expect(there).toHaveURL(/\/signin$/);
  await expect(there.getByRole("heading", { name: "Sign in" })).toBeVisible();

  await laptop.close();
  await phone.close();
});

test("after a navigation in the browser the page reads the sessions itself", async ({ browser }) => {
  const username = addUser("navigated");
  const other = await (await browser.newContext()).newPage();
  await signIn(other, username);
  const page = await (await browser.newContext()).newPage();
  await signIn(page, username);
  await page.goto("/profile");
  await hydrated(page);
  // Gone if the page loads anew: what follows must happen in this page.
  await page.evaluate(() => ((window as unknown as { stayed: boolean }).stayed = true));

  await page.getByRole("link", { name: "← My Account" }).click();
  await page.getByRole("link", { name: "View details: My Login Sessions" }).click();
  await expect(page.getByRole("heading", { name: "My Login Sessions" })).toBeVisible();
  const rows = page.getByTestId("session");
  await expect(rows).toHaveCount(2);
  await expect(rows.filter({ hasText: "This device" })).toHaveCount(1);
  expect(
    await page.evaluate(() => (window as unknown as { stayed?: boolean }).stayed === true),
    "the router navigated, without a page load",
  ).toBe(true);

  // Ending the other session reads the list again.
  await page.getByRole("button", { name: "Terminate all other sessions" }).click();
  await page.getByRole("dialog", { name: "Terminate other sessions?" }).getByRole("button", { name: "Yes" }).click();
  await expect(page.getByRole("status")).toHaveText("You have successfully revoked 1 other session!");
  await expect(rows).toHaveCount(1);
  await other.goto("/");
  await expect(other).toHaveURL(/\/signin$/);
});

test("terminate all other sessions", async ({ browser }) => {
  const username = addUser("others");
  const contexts = await Promise.all([browser.newContext(), browser.newContext(), browser.newContext()]);
  const [mine, ...others] = await Promise.all(contexts.map((c) => c.newPage()));
  for (const page of others) await signIn(page, username);
  await signIn(mine, username);
  await mine.goto("/sessions");
  await hydrated(mine);
  await expect(mine.getByTestId("session")).toHaveCount(3);

  await mine.getByRole("button", { name: "Terminate all other sessions" }).click();
  await mine.getByRole("dialog", { name: "Terminate other sessions?" }).getByRole("button", { name: "Yes" }).click();
  await expect(mine.getByRole("status")).toHaveText("You have successfully revoked 2 other sessions!");
  await expect(mine.getByTestId("session")).toHaveCount(1);
  await expect(mine.getByText("You are signed in only on this device.")).toBeVisible();
  for (const page of others) {
    await page.goto("/");
    await expect(page).toHaveURL(/\/signin$/);
  }
  for (const context of contexts) await context.close();
});

test.describe("for a user in Tokyo", () => {
  test.use({ timezoneId: "Asia/Tokyo", locale: "en-GB" });

  test("session times are shown in the user's own time zone", async ({ page }) => {
    await signIn(page, addUser("tokyo"));
    await page.getByRole("link", { name: "View details: My Login Sessions" }).click();
    await hydrated(page);
    const started = page.getByTestId("session").locator("time").first();
    // The server writes UTC; the hydrated page rewrites it for the user.
    await expect(started).toHaveAttribute("title", /^\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC$/);
    const datetime = (await started.getAttribute("datetime"))!;
    expect(datetime).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}Z$/);
    const tokyo = new Intl.DateTimeFormat("en-GB", {
      dateStyle: "medium", timeStyle: "short", timeZone: "Asia/Tokyo",
    }).format(new Date(datetime));
    await expect(started).toHaveText(tokyo);
  });
});
test("an open My Login Sessions shows a new sign-in at once, and a terminated browser goes to sign-in", async ({ browser }) => {
  const username = addUser("live");
  const first = await (await browser.newContext()).newPage();
  await signIn(first, username);
  await first.goto("/sessions");
  await hydrated(first);
  const rows = first.getByTestId("session");
  await expect(rows).toHaveCount(1);
  await expect(first.getByText("Live: new sign-ins and ended sessions appear here by themselves.")).toBeVisible();

  // Another browser signs in: the open page shows it within 2 seconds, without a reload.
  const loads = await first.evaluate(() => performance.getEntriesByType("navigation").length);
  const second = await (
    await browser.newContext({
      userAgent:
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
    })
  ).newPage();
  await signIn(second, username);
  await expect(rows).toHaveCount(2, { timeout: 2000 });
  await expect(rows.filter({ hasText: "iPhone" })).toContainText("New sign-in");
  expect(await first.evaluate(() => performance.getEntriesByType("navigation").length)).toBe(loads);

  // The second browser terminates the first: the first goes to sign-in by itself.
  await second.goto("/sessions");
  await hydrated(second);
  const firstRow = second.getByTestId("session").filter({ hasNotText: "This device" });
  await firstRow.getByRole("button", { name: /^Terminate session/ }).click();
  await second.getByRole("dialog", { name: "Terminate session?" }).getByRole("button", { name: "Yes" }).click();
  await expect(first).toHaveURL(/\/signin$/, { timeout: 5000 });
  await expect(first.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await first.context().close();
  await second.context().close();
});

test("when the live stream cannot connect, the page says so, keeps working and connects again by itself", async ({ browser }) => {
  const username = addUser("live-retry");
  const page = await (await browser.newContext()).newPage();
  await signIn(page, username);
  // The stream is refused twice (a network failure), then allowed.
  let refused = 0;
  await page.route("**/api/events", async (route) => {
    if (refused < 2) {
      refused++;
      await route.abort("connectionreset");
    } else {
      await route.continue();
    }
  });
  await page.goto("/sessions");
  await hydrated(page);
  await expect(page.getByText("Live updates paused; trying again. The page still works.")).toBeVisible();
  await expect(page.getByTestId("session")).toHaveCount(1);
  // After the pauses (1 s, then 2 s) it is live again, and updates arrive.
  await expect(page.getByText("Live: new sign-ins and ended sessions appear here by themselves.")).toBeVisible({ timeout: 8000 });
  expect(refused).toBe(2);
  await signIn(await (await browser.newContext()).newPage(), username);
  await expect(page.getByTestId("session")).toHaveCount(2, { timeout: 2000 });
});
