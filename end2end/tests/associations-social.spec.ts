import { expect, test } from "@playwright/test";
import { addUser, expectAccessible, grantRole, hydrated, PASSWORD, signIn, signOut } from "./helpers";
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
  await expectAccessible(page, "a linked identity");

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
  await expectAccessible(page, "an identity linked to nothing");
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

  // Five wrong passwords lock bob's account, and Corp ID does not get past the lock.
  await hydrated(page);
  await signOut(page);
  await hydrated(page);
  for (let attempt = 0; attempt < 5; attempt++) {
    await page.getByLabel("Username").fill(bob);
    await page.getByLabel("Password").fill("not bob's password");
    await Promise.all([
      page.waitForResponse((response) => response.url().endsWith("/api/sign_in")),
      page.getByRole("button", { name: "Sign In", exact: true }).click(),
    ]);
  }
  await throughProvider(page, page.getByRole("button", { name: "Sign in with Corp ID" }), email);
  await expect(page).toHaveURL(/\/signin\?federation=locked&provider=corp$/);
  await expect(page.getByRole("alert")).toHaveText(
    "This account is locked after too many failed sign-ins. Try again in a few minutes.",
  );
  await expect(page.locator(".account-name")).toHaveCount(0);
});

test("an identity that may sign up creates an account without a password; its last way in stays until a password is set after a fresh sign-in at Corp ID", async ({ page, browser }) => {
  const approverName = addUser("social-approver");
  grantRole(approverName, "Approver");
  const corpAccount = `newcomer${Date.now()}`;

  // Linked to nothing: "Create an account with Corp ID", filled in from its claims.
  await page.goto("/signin");
  await hydrated(page);
  await throughProvider(page, page.getByRole("button", { name: "Sign in with Corp ID" }), corpAccount);
  await expect(page).toHaveURL(/\/signin\?federation=not_linked/);
  await page.getByRole("link", { name: "Create an account with Corp ID" }).click();
  await expect(page.getByRole("heading", { name: "Create an account" })).toBeVisible();
  await hydrated(page);
  await expect(page.getByText(`Create an account that you sign in to with ${corpAccount}@corp.example at Corp ID`)).toBeVisible();
  await expect(page.getByLabel("Username")).toHaveValue(corpAccount);
  await expect(page.getByLabel("Email (required)")).toHaveValue(`${corpAccount}@corp.example`);
  await expect(page.getByLabel("First Name (optional)")).toHaveValue(corpAccount);
  await expect(page.getByLabel("Last Name (optional)")).toHaveValue("Corp");
  await expect(page.getByLabel("Password", { exact: true })).toHaveCount(0);
  await expectAccessible(page, "creating an account with an identity");
  // The names came from Corp ID; they are kept only with consent, like typed ones.
  const administration = page.getByRole("group", { name: "Account administration" });
  for (const claim of [/^Email/, /^First/, /^Last/]) {
    await administration.getByRole("checkbox", { name: claim }).check();
  }
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("status")).toHaveText(
    "Your registration has been sent for approval. Once it is approved, sign in with Corp ID.",
  );

  // Held for approval like every registration here: Corp ID cannot sign it in yet.
  await page.goto("/signin");
  await hydrated(page);
  await throughProvider(page, page.getByRole("button", { name: "Sign in with Corp ID" }), corpAccount);
  await expect(page.getByRole("alert")).toHaveText("This account is awaiting approval of its registration.");
  const approver = await (await browser.newContext()).newPage();
  await signIn(approver, approverName);
  await approver.goto("/approvals");
  await hydrated(approver);
  await approver.getByTestId("task").filter({ hasText: `Self-registration of ${corpAccount}` }).getByRole("button", { name: /^Task / }).click();
  const panel = approver.getByTestId("task-detail");
  await panel.getByRole("button", { name: "Start" }).click();
  await expect(approver.getByTestId("task-status")).toHaveText("Started by you");
  await panel.getByRole("button", { name: "Approve" }).click();
  await expect(approver.getByTestId("task-status")).toHaveText("Completed");

  // Approved: Corp ID signs the new account in.
  await hydrated(page);
  await throughProvider(page, page.getByRole("button", { name: "Sign in with Corp ID" }), corpAccount);
  await expect(page.locator(".account-name")).toHaveText(corpAccount);

  // Its only way in is not removed; the page says what to set up first.
  await page.goto("/associations");
  await expect(page.getByText("This identity is the only way into your account")).toBeVisible();
  await hydrated(page);
  await page.getByRole("button", { name: `Remove Corp ID: ${corpAccount}@corp.example` }).click();
  await page.getByRole("dialog", { name: "Remove Corp ID identity?" }).getByRole("button", { name: "Yes" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "This is the only way into your account" })).toContainText(
    "Set a password on Change Password",
  );
  await expect(page.getByTestId("social-identity")).toHaveCount(1);

  // Change Password asks for a fresh sign-in at Corp ID instead of a current password.
  await page.goto("/password");
  await expect(page.getByRole("heading", { name: "Set a password" })).toBeVisible();
  await expect(page.getByText("Your account has no password: you sign in with Corp ID.")).toBeVisible();
  await expect(page.getByLabel("New Password", { exact: true })).toHaveCount(0);
  await expectAccessible(page, "setting a first password");
  await throughProvider(page, page.getByRole("button", { name: "Confirm with Corp ID" }), corpAccount);
  await expect(page).toHaveURL(/\/password\?federation=confirmed&provider=corp$/);
  await expect(page.getByRole("status").filter({ hasText: "Corp ID confirmed it is you." })).toBeVisible();
  await expect(page.getByLabel("Current Password")).toHaveCount(0);
  await hydrated(page);
  await page.getByLabel("New Password", { exact: true }).fill(PASSWORD);
  await page.getByLabel("Confirm New Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Update" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Your password has been changed." })).toBeVisible();

  // With a password, the identity may go, and the password signs in.
  await page.goto("/associations");
  await hydrated(page);
  await page.getByRole("button", { name: `Remove Corp ID: ${corpAccount}@corp.example` }).click();
  await page.getByRole("dialog", { name: "Remove Corp ID identity?" }).getByRole("button", { name: "Yes" }).click();
  await expect(page.getByText("No identity from another provider is linked yet.")).toBeVisible();
  await signOut(page);
  await signIn(page, corpAccount);
});
