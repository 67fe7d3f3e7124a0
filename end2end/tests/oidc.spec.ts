import { execFileSync } from "node:child_process";
import { createServer, Server } from "node:http";
import { test, expect, Page } from "@playwright/test";
import * as oidc from "openid-client";
import { addUser, hydrated, PASSWORD } from "./helpers";

// The shop of selfserve.e2e.toml, an OpenID Connect client. Its callback is
// served here, as the shop's web server would: it notes each arrival.
const REDIRECT = "http://127.0.0.1:9876/callback";
let callback: Server;
let arrived: (url: URL) => void = () => {};

test.beforeAll(async () => {
  callback = createServer((request, response) => {
    const url = new URL(request.url!, REDIRECT);
    // Only the callback and the post-logout address, not the browser's
    // favicon request after them.
    if (url.pathname === "/callback" || url.pathname === "/bye") arrived(url);
    response.writeHead(200, { "content-type": "text/html" });
    response.end("<!DOCTYPE html><title>Pet Shop</title><h1>Back at the shop</h1>");
  });
  await new Promise<void>((resolve) => callback.listen(9876, "127.0.0.1", resolve));
});

test.afterAll(async () => {
  await new Promise((resolve) => callback.close(resolve));
});

/** A new secret for the shop, through the operator's command line. */
function shopSecret(): string {
  const out = execFileSync(process.env.E2E_SERVER_BIN!, ["client", "rotate-secret", "shop"], {
    stdio: "pipe",
  }).toString();
  return out.trim().split("\n").pop()!;
}

/** openid-client, configured by discovery as any Node application would. */
async function shop(baseURL: string) {
  return oidc.discovery(new URL(baseURL), "shop", shopSecret(), undefined, {
    // The test server is plain http on loopback.
    execute: [oidc.allowInsecureRequests],
  });
}

/** Starts a sign-in at the shop; resolves with the address the browser is sent back to. */
async function startSignIn(page: Page, config: oidc.Configuration, extra: Record<string, string> = {}) {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT,
    scope: "openid email phone",
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
    nonce,
    ...extra,
  });
  const back = new Promise<URL>((resolve) => (arrived = resolve));
  await page.goto(url.href);
  return { verifier, state, nonce, back };
}

async function signInHere(page: Page, username: string) {
  await expect(page.getByText("Sign in to continue to")).toContainText("Pet Shop");
  await hydrated(page);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign In" }).click();
}

test("an application signs a user in through Selfserve, with the consent prompt", async ({ page, baseURL }) => {
  const username = addUser("oidc");
  const config = await shop(baseURL!);
  const { verifier, state, nonce, back } = await startSignIn(page, config);
  await signInHere(page, username);

  // The consent prompt: the shop's purposes, email required and locked,
  // mobile free to tick.
  await expect(page.getByRole("heading", { name: "Pet Shop wants to use your account" })).toBeVisible();
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
  const started = await startSignIn(page, config);
  await signInHere(page, username);
  await page.getByRole("button", { name: "Allow" }).click();
  const tokens = await oidc.authorizationCodeGrant(config, await started.back, {
    pkceCodeVerifier: started.verifier,
    expectedState: started.state,
    expectedNonce: started.nonce,
  });

  const back = new Promise<URL>((resolve) => (arrived = resolve));
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
