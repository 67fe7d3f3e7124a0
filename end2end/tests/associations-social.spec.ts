import { expect, test } from "@playwright/test";
import { addUser, hydrated, PASSWORD, signIn, signOut } from "./helpers";
import { throughProvider } from "./social";

// Social identities against a real OpenID provider: npm oidc-provider on
// loopback (end2end/idp/provider.mjs), configured as "Corp ID".

test("link an identity at Corp ID, sign in with it, see the federated session, remove it: it no longer reaches the account", async ({ page }) => {
  const alice = addUser("social-alice");
  const corpAccount = `${alice}-corp`;
  await signIn(page, alice);
  await page.getByRole("link", { name: "View details: Associated Accounts" }).click();
  await expect(page.getByRole("heading", { name: "Social identities" })).toBeVisible();
  await expect(page.getByText("No identity from another provider is linked yet.")).toBeVisible();

  await throughProvider(page, page.getByRole("button", { name: "Link Corp ID" }), corpAccount);
  await expect(page).toHaveURL(/\/associations\?federation=linked&provider=corp$/);
  await expect(page.getByRole("status").filter({ hasText: "Your Corp ID account is now linked" })).toBeVisible();
  const row = page.getByTestId("social-identity");
  await expect(row).toContainText("Corp ID");
  await expect(row).toContainText(`${corpAccount}@corp.example`);
  await expect(row).toContainText("Not used to sign in yet");

  // Signed out, the sign-in page's button signs alice in through Corp ID.
  await hydrated(page);
  await signOut(page);
  await throughProvider(page, page.getByRole("button", { name: "Sign in with Corp ID" }), corpAccount);
  await expect(page.getByRole("heading", { name: "My Account" })).toBeVisible();
  await expect(page.locator(".account-name")).toHaveText(alice);
  await page.goto("/sessions");
  await expect(page.getByTestId("session").filter({ hasText: "This device" })).toContainText("Signed in with Corp ID");
  await page.goto("/associations");
  await expect(page.getByTestId("social-identity")).not.toContainText("Not used to sign in yet");

  // Removed after the confirm dialog...
  await hydrated(page);
  await page.getByRole("button", { name: `Remove Corp ID: ${corpAccount}@corp.example` }).click();
  const dialog = page.getByRole("dialog", { name: "Remove Corp ID identity?" });
  await expect(dialog.getByRole("button", { name: "No" })).toBeFocused();
  await dialog.getByRole("button", { name: "Yes" }).click();
  await expect(page.getByRole("status")).toHaveText(
    "Your Corp ID identity was removed; it no longer signs in to this account.",
  );
  await expect(page.getByText("No identity from another provider is linked yet.")).toBeVisible();

  // ...the same Corp ID account reaches no account any more.
  await signOut(page);
  await throughProvider(page, page.getByRole("button", { name: "Sign in with Corp ID" }), corpAccount);
  await expect(page).toHaveURL(/\/signin\?federation=not_linked&provider=corp$/);
  await expect(page.getByRole("alert")).toContainText("That Corp ID account is not linked to any account here.");
  await expect(page.locator(".account-name")).toHaveCount(0);
  await page.goto("/");
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
});

test("an identity linked to nothing is not matched by email: it reaches the account only once its password signs in and links it", async ({ page }) => {
  const bob = addUser("social-bob");
  const email = `${bob}@example.com`;
  await signIn(page, bob);
  await page.goto("/profile");
  await hydrated(page);
  await page.getByLabel("Email", { exact: true }).fill(email);
  await page.getByRole("button", { name: "Update" }).click();
  await expect(page.getByRole("status")).toHaveText("Your profile has been updated.");
  await signOut(page);

  // A Corp ID account with bob's email address does not get into bob's account.
  await throughProvider(page, page.getByRole("button", { name: "Sign in with Corp ID" }), email);
  await expect(page).toHaveURL(/\/signin\?federation=not_linked/);
  await expect(page.getByRole("alert")).toContainText("we never link accounts by matching email addresses");
  await expect(page.getByTestId("pending-identity")).toContainText(`Signing in here links ${email} at Corp ID`);
  await page.goto("/profile");
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();

  // Bob proves his password: the waiting identity joins his account.
  await page.goto("/signin");
  await hydrated(page);
  await expect(page.getByTestId("pending-identity")).toBeVisible();
  await page.getByLabel("Username").fill(bob);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign In", exact: true }).click();
  await expect(page).toHaveURL(/\/associations\?federation=linked&provider=corp$/);
  await expect(page.getByTestId("social-identity")).toContainText(email);

  // From now on Corp ID signs bob in.
  await hydrated(page);
  await signOut(page);
  await expect(page.getByTestId("pending-identity")).toHaveCount(0);
  await throughProvider(page, page.getByRole("button", { name: "Sign in with Corp ID" }), email);
  await expect(page.locator(".account-name")).toHaveText(bob);
});
