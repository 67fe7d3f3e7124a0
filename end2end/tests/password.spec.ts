import { expect, test } from "@playwright/test";
import { addUser, hydrated, PASSWORD, signIn, signOut } from "./helpers";

const NEW_PASSWORD = "copper kettle hums beside the window";

test("the strength meter reacts as the user types", async ({ page }) => {
  const username = addUser("meter");
  await signIn(page, username);
  await page.getByRole("link", { name: "View details: Change Password" }).click();
  await hydrated(page);
  const label = page.getByTestId("strength-label");
  await expect(label).toHaveText("Strength: enter a new password");

  await page.getByLabel("New Password", { exact: true }).pressSequentially("password");
  await expect(label).toHaveText("Strength: Not allowed");
  await expect(page.locator(".strength-problems")).toContainText("too common");

  // Typing at a steady pace asks the server once the typing pauses, not once
  // per keystroke.
  const checks: string[] = [];
  page.on("request", (r) => { if (r.url().includes("password_strength")) checks.push(r.url()); });
  const field = page.getByLabel("New Password", { exact: true });
  await field.fill("");
  await field.pressSequentially(NEW_PASSWORD, { delay: 40 });
  await expect(label).toHaveText("Strength: Strong");
  expect(checks.length).toBeGreaterThanOrEqual(1);
  expect(checks.length).toBeLessThanOrEqual(5); // 36 keystrokes
});

test("change the password, sign out, and sign in with the new one", async ({ page }) => {
  const username = addUser("password");
  await signIn(page, username);
  await page.goto("/password");
  await hydrated(page);
  // When the password was set (at creation), in the browser's time zone.
  const changed = page.getByTestId("password-changed");
  await expect(changed).toContainText("Your password was last changed");
  await expect(changed.locator("time")).toHaveAttribute("datetime", new RegExp(`^${new Date().toISOString().slice(0, 10)}T`));
  await expect(changed.locator("time")).not.toContainText("UTC");

  // A wrong current password is named as such.
  await page.getByLabel("Current Password").fill("not the password");
  await page.getByLabel("New Password", { exact: true }).fill(NEW_PASSWORD);
  await page.getByLabel("Confirm New Password").fill(NEW_PASSWORD);
  await page.getByRole("button", { name: "Update" }).click();
  await expect(page.locator("#current-error")).toHaveText("Your current password is incorrect.");

  await page.getByLabel("Current Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Update" }).click();
  await expect(page.getByRole("status")).toHaveText("Your password has been changed.");
  await expect(page.getByLabel("Sign out of other devices")).toBeChecked();

  // The rotated session still works.
  await page.goto("/profile");
  await expect(page.getByRole("heading", { name: "My Profile" })).toBeVisible();

  await signOut(page);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign In", exact: true }).click();
  await expect(page.getByRole("alert")).toHaveText("The username or password is incorrect.");

  await signIn(page, username, NEW_PASSWORD);
});

test("a script changes the password through the REST API with the browser's session", async ({ browser, page }) => {
  const username = addUser("password-rest");
  const elsewhere = await (await browser.newContext()).newPage();
  await signIn(elsewhere, username);
  await signIn(page, username);
  // The request carries the browser's cookie; a state change needs our Origin.
  const post = (data: object) => page.request.post("/api/users/v1/me/change-password", {
    data,
    headers: { Origin: new URL(page.url()).origin },
  });

  const wrong = await post({ currentPassword: "not the password", newPassword: NEW_PASSWORD });
  expect(wrong.status()).toBe(400);
  expect((await wrong.json()).description).toBe("Your current password is incorrect.");

  const changed = await post({ currentPassword: PASSWORD, newPassword: NEW_PASSWORD });
  expect(changed.status()).toBe(204);

  // This browser holds the new session the answer set; the other device is signed out.
  await page.goto("/sessions");
  await expect(page.getByRole("heading", { name: "My Login Sessions" })).toBeVisible();
  await expect(page.getByTestId("session")).toHaveCount(1);
  await elsewhere.goto("/profile");
  await expect(elsewhere).toHaveURL(/\/signin/);
  await elsewhere.context().close();

  await signOut(page);
  await signIn(page, username, NEW_PASSWORD);
});
