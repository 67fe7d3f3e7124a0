import { expect, test } from "@playwright/test";
import { addUser, expectAccessible, hydrated, signIn } from "./helpers";
import { setUpApp } from "./totp";

test("each card says where the account stands, and follows what the user does", async ({ page, browser }) => {
  const username = addUser("home");
  await signIn(page, username);
  const card = (title: string) => page.getByRole("region", { name: title }).getByTestId("card-status");

  const mfa = card("Multi-factor authentication");
  await expect(mfa).toHaveText("Off: your password alone protects your account.");
  await expect(mfa).toHaveClass(/attention/);
  await expect(card("Account Recovery")).toHaveText(/^Not set up/);
  const checkup = page.getByTestId("checkup");
  await expect(checkup).toHaveText("2 sections need your attention: Multi-factor authentication and Account Recovery.");
  await expect(card("Change Password")).toHaveText(/^Last changed .+\.$/);
  await expect(card("My Login Sessions")).toHaveText("Signed in on this device only.");
  await expect(card("Pending Approvals")).toHaveText("Nothing is waiting for you.");
  await expect(card("Pending Approvals")).not.toHaveClass(/attention/);
  await expect(card("My Profile")).toHaveText("0 of 10 details filled in. Missing: First Name, Last Name, Organization and 7 more.");
  await expectAccessible(page, "the home page with its cards' statuses");

  // Signed in elsewhere too: the card counts both.
  const other = await browser.newContext();
  await signIn(await other.newPage(), username);
  await other.close();
  await page.reload();
  await hydrated(page);
  await expect(card("My Login Sessions")).toHaveText("Signed in in 2 places, this device included.");

  // An authenticator app set up, then back home by the breadcrumb (the
  // hydrated client's navigation): the card reads the account again.
  await setUpApp(page);
  await page.getByRole("link", { name: "← My Account" }).click();
  await expect(page.getByRole("heading", { name: "My Account", level: 1 })).toBeVisible();
  await expect(mfa).toHaveText("On: an authenticator app.");
  await expect(mfa).not.toHaveClass(/attention/);
  await expect(checkup).toHaveText("1 section needs your attention: Account Recovery.");
  // Its link leads to the section.
  await checkup.getByRole("link", { name: "Account Recovery" }).click();
  await expect(page.getByRole("heading", { name: "Account Recovery", level: 1 })).toBeVisible();
});
