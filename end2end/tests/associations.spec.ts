import { expect, test } from "@playwright/test";
import { addUser, associate, hydrated, PASSWORD, signIn } from "./helpers";

test("associate another account by its password, switch to it from the account menu and back, then remove it", async ({ page }) => {
  const alice = addUser("assoc-alice");
  const bob = addUser("assoc-bob");
  await signIn(page, alice);
  await page.getByRole("link", { name: "View details: Associated Accounts" }).click();
  await expect(page.getByRole("heading", { name: "Associated Accounts" })).toBeVisible();
  await expect(page.getByText("No other account is associated with this one yet.")).toBeVisible();
  await hydrated(page);

  // A wrong password is refused with a message that names no account.
  await page.getByLabel("Username").fill(bob);
  await page.getByLabel("Password").fill("not bob's password");
  await page.getByRole("button", { name: "Associate" }).click();
  await expect(
    page.getByRole("alert").filter({ hasText: "The username or password of the other account is incorrect." }),
  ).toBeVisible();

  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Associate" }).click();
  await expect(page.getByRole("status")).toContainText(`${bob} is now associated with your account`);
  await expect(page.getByTestId("associated-account")).toContainText(bob);

  // Switch from the account menu: the page reloads as bob.
  await page.reload();
  await hydrated(page);
  await page.getByLabel("Account menu").click();
  await page.getByRole("menuitem", { name: `Switch to ${bob}` }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.locator(".account-name")).toHaveText(bob);
  await page.goto("/profile");
  await expect(page.locator(".account-name")).toHaveText(bob);
  await page.goto("/sessions");
  await expect(page.getByTestId("session").filter({ hasText: "This device" })).toContainText(`Switched from ${alice}`);

  // And back to alice, who removes the association.
  await hydrated(page);
  await page.getByLabel("Account menu").click();
  await page.getByRole("menuitem", { name: `Switch to ${alice}` }).click();
  await expect(page.locator(".account-name")).toHaveText(alice);
  await page.goto("/associations");
  await hydrated(page);
  const row = page.getByTestId("associated-account").filter({ hasText: bob });
  await row.getByRole("button", { name: `Remove association: ${bob}` }).click();
  const dialog = page.getByRole("dialog", { name: "Remove association?" });
  await expect(dialog.getByRole("button", { name: "No" })).toBeFocused();
  await dialog.getByRole("button", { name: "Yes" }).click();
  await expect(page.getByRole("status")).toHaveText("The association was removed from both accounts.");
  await expect(page.getByText("No other account is associated with this one yet.")).toBeVisible();
  await page.reload();
  await page.getByLabel("Account menu").click();
  await expect(page.getByRole("menuitem", { name: `Switch to ${bob}` })).toHaveCount(0);
  await expect(page.getByRole("menuitem", { name: "Sign out" })).toBeVisible();
});

test("without JavaScript the account menu's Switch still switches, after a sign-in that needs none either", async ({ browser, page }) => {
  const alice = addUser("nojs-alice");
  const bob = addUser("nojs-bob");
  // The association is made with the client running, as above.
  await signIn(page, alice);
  await associate(page, bob);

  // Another browser without JavaScript: no WASM runs, every form is posted
  // by the browser itself.
  const context = await browser.newContext({ javaScriptEnabled: false });
  const plain = await context.newPage();
  await plain.goto("/signin");
  await plain.getByLabel("Username").fill(alice);
  await plain.getByLabel("Password").fill(PASSWORD);
  await plain.getByRole("button", { name: "Sign In", exact: true }).click();
  await expect(plain.getByRole("heading", { name: "My Account" })).toBeVisible();
  await expect(plain.locator(".account-name")).toHaveText(alice);
  await expect(plain.locator("body[data-hydrated]")).toHaveCount(0);

  await plain.getByLabel("Account menu").click();
  await plain.getByRole("menuitem", { name: `Switch to ${bob}` }).click();
  await expect(plain.locator(".account-name")).toHaveText(bob);
  await plain.goto("/sessions");
  await expect(plain.getByTestId("session").filter({ hasText: "This device" })).toContainText(`Switched from ${alice}`);
  await context.close();
});
