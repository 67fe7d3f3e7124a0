import { test, expect } from "@playwright/test";
import * as oidc from "openid-client";
import { addUser, hydrated } from "./helpers";
import { nextArrival, servesShopCallback, shop, signInAndAllow, signInHere, startSignIn } from "./shop";

servesShopCallback();


test("an application signs a user in through Selfserve, with the consent prompt", async ({ page, baseURL }) => {
  const username = addUser("oidc");
  const config = await shop(baseURL!);
  const { verifier, state, nonce, back } = await startSignIn(page, config);
  const promptBundle = page.waitForResponse((r) => /\/pkg\/selfserve-consent\.[0-9a-f]{16}\.wasm$/.test(r.url()));
  await signInHere(page, username);

  // The consent prompt, with a bundle of its own (app/src/entries.rs): the
  // shop's purposes, email required and locked, mobile free to tick.
  await expect(page.getByRole("heading", { name: "Pet Shop wants to use your account" })).toBeVisible();
  await promptBundle;
  await hydrated(page);
  const email = page.getByRole("checkbox", { name: /Email/ });
  await expect(email).toBeChecked();
  await expect(email).toBeDisabled();
  const mobile = page.getByRole("checkbox", { name: /Mobile/ });
  await expect(mobile).not.toBeChecked();
  await mobile.check();
  await page.getByRole("button", { name: "Allow" }).click();
  await expect(page.getByRole("heading", { name: "Back at the shop" })).toBeVisible();

  // openid-client exchanges the code and validates the ID token against
  // the published keys (signature, iss, aud, exp, nonce, state, PKCE).
  const tokens = await oidc.authorizationCodeGrant(config, await back, {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
  });
  const claims = tokens.claims()!;
  expect(claims.aud).toBe("shop");
  expect(claims.sub).not.toContain(username);
  const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
  expect(info.sub).toBe(claims.sub);

  // Refresh, introspect, revoke, introspect again.
  const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
  expect((await oidc.tokenIntrospection(config, refreshed.access_token)).active).toBe(true);
  await oidc.tokenRevocation(config, refreshed.refresh_token!);
  expect((await oidc.tokenIntrospection(config, refreshed.access_token)).active).toBe(false);
  await expect(oidc.fetchUserInfo(config, refreshed.access_token, claims.sub)).rejects.toThrow();

  // The consent is on Consent Management, with what was allowed.
  await page.goto("/consent");
  const entry = page.getByTestId("consent").filter({ hasText: "Pet Shop" });
  await expect(entry).toContainText("Active");
  await expect(entry).toContainText("Email, Mobile");
});

test("after the consent is revoked on Consent Management, the next sign-in asks again", async ({ page, baseURL }) => {
  const username = addUser("oidc-again");
  const config = await shop(baseURL!);
  const first = await startSignIn(page, config);
  await signInHere(page, username);
  await page.getByRole("button", { name: "Allow" }).click();
  expect((await first.back).searchParams.get("code")).toBeTruthy();

  // Signed in and consented: the next sign-in goes straight back.
  const second = await startSignIn(page, config);
  const secondBack = await second.back;
  expect(secondBack.searchParams.get("code"), secondBack.href).toBeTruthy();

  await page.goto("/consent");
  await hydrated(page);
  const entry = page.getByTestId("consent").filter({ hasText: "Pet Shop" });
  await entry.getByRole("button", { name: "Revoke consent: Pet Shop" }).click();
  await page.getByRole("dialog", { name: "Revoke consent for Pet Shop?" }).getByRole("button", { name: "Yes" }).click();
  await expect(entry).toContainText("Revoked");

  await startSignIn(page, config);
  await expect(page.getByRole("heading", { name: "Pet Shop wants to use your account" })).toBeVisible();
});

test("denying consent sends the application access_denied", async ({ page, baseURL }) => {
  const username = addUser("oidc-deny");
  const config = await shop(baseURL!);
  const { back } = await startSignIn(page, config);
  await signInHere(page, username);
  await expect(page.getByRole("heading", { name: "Pet Shop wants to use your account" })).toBeVisible();
  await page.getByRole("button", { name: "Deny" }).click();
  const answer = await back;
  expect(answer.searchParams.get("error")).toBe("access_denied");
  expect(answer.searchParams.get("iss")).toBe(new URL(baseURL!).origin);
});

test("the application signs the user out of Selfserve after they confirm", async ({ page, baseURL }) => {
  const username = addUser("oidc-out");
  const config = await shop(baseURL!);
  const tokens = await signInAndAllow(page, config, username);

  const back = nextArrival();
  await page.goto(
    oidc.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: "http://127.0.0.1:9876/bye",
      state: "bye-state",
    }).href,
  );
  await expect(page.getByRole("heading", { name: "Sign out of Selfserve?" })).toBeVisible();
  await expect(page.getByText("Pet Shop asks you to sign out.")).toBeVisible();
  await page.getByRole("button", { name: "Sign out" }).click();
  expect((await back).searchParams.get("state")).toBe("bye-state");
  // Signed out of Selfserve, and the application's tokens ended with the session.
  await page.goto("/profile");
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
});
