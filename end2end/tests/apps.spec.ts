import { test, expect } from "@playwright/test";
import * as oidc from "openid-client";
import { addUser, hydrated } from "./helpers";
import { servesShopCallback, shop, signInAndAllow, startSignIn } from "./shop";

servesShopCallback();

test("an application signed in to appears on Authorized Apps, and removing it ends its access", async ({ page, baseURL }) => {
  const username = addUser("apps");
  const config = await shop(baseURL!);
  const tokens = await signInAndAllow(page, config, username);
  const subject = tokens.claims()!.sub;

  // My Login Sessions shows what was signed in to through this session.
  await page.goto("/sessions");
  const current = page.getByTestId("session").filter({ hasText: "This device" });
  await expect(current.locator("dt", { hasText: "Signed in to" }).locator("+ dd")).toHaveText("Pet Shop");

  // From the home page's card to the list: the shop, what it may do and
  // receives (email was required; mobile was left unticked), and from where.
  await page.goto("/");
  await page.getByRole("link", { name: "View details: Authorized Apps" }).click();
  await expect(page).toHaveURL(/\/apps$/);
  const entry = page.getByTestId("authorized-app").filter({ hasText: "Pet Shop" });
  await expect(entry.getByRole("heading", { name: "Pet Shop" })).toBeVisible();
  await expect(entry.getByTestId("app-claims")).toHaveText("Email");
  await expect(entry).toContainText("email — Ask for your email address");
  await expect(entry).toContainText("(this device)");
  // It has an access URL (selfserve.e2e.toml): "Open" leads there.
  await expect(entry.getByRole("link", { name: "Open Pet Shop" })).toHaveAttribute("href", "http://127.0.0.1:9876/");

  // Remove it through the confirm dialog; "No" first changes nothing.
  await hydrated(page);
  await entry.getByRole("button", { name: "Remove Application: Pet Shop" }).click();
  const dialog = page.getByRole("dialog", { name: "Remove application?" });
  await expect(dialog).toContainText("Pet Shop will lose access to your account at once");
  await dialog.getByRole("button", { name: "No" }).click();
  await expect(dialog).toBeHidden();
  expect((await oidc.fetchUserInfo(config, tokens.access_token, subject)).sub).toBe(subject);
  await entry.getByRole("button", { name: "Remove Application: Pet Shop" }).click();
  await dialog.getByRole("button", { name: "Yes" }).click();
  await expect(page.getByRole("status")).toContainText("Pet Shop was removed");
  await expect(page.getByText("No application can act for you right now.")).toBeVisible();

  // The library's next calls fail: the access token at userinfo, the
  // refresh token at the token endpoint.
  await expect(oidc.fetchUserInfo(config, tokens.access_token, subject)).rejects.toMatchObject({ status: 401 });
  await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({
    status: 400,
    error: "invalid_grant",
  });
  expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(false);

  // Its consent shows as revoked, and signing in to it asks again.
  await page.goto("/consent");
  await expect(page.getByTestId("consent").filter({ hasText: "Pet Shop" })).toContainText("Revoked");
  await startSignIn(page, config);
  await expect(page.getByRole("heading", { name: "Pet Shop wants to use your account" })).toBeVisible();
});
