// The shop of selfserve.e2e.toml as an OpenID Connect relying party, shared
// by the tests that sign in through it (oidc, apps): npm openid-client does
// what the shop's server would.
import { execFileSync } from "node:child_process";
import { createServer, Server } from "node:http";
import { test, expect, Page } from "@playwright/test";
import * as oidc from "openid-client";
import { hydrated, PASSWORD } from "./helpers";

// Its callback is served here, as the shop's web server would: it notes
// each arrival.
const REDIRECT = "http://127.0.0.1:9876/callback";
let callback: Server;
let arrived: (url: URL) => void = () => {};

/** The next address the browser arrives at on the shop's side. */
export function nextArrival(): Promise<URL> {
  return new Promise<URL>((resolve) => (arrived = resolve));
}

/** Serves the shop's callback for the tests of the calling file. */
export function servesShopCallback() {
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
}

/** A new secret for the shop, through the operator's command line. */
export function shopSecret(database?: string): string {
  const out = execFileSync(process.env.E2E_SERVER_BIN!, ["client", "rotate-secret", "shop"], {
    stdio: "pipe",
    env: database ? { ...process.env, DATABASE_URL: database } : process.env,
  }).toString();
  return out.trim().split("\n").pop()!;
}

/** openid-client, configured by discovery as any Node application would;
 * `database` is that of the server at `baseURL` when it is not the main one. */
export async function shop(baseURL: string, database?: string) {
  return oidc.discovery(new URL(baseURL), "shop", shopSecret(database), undefined, {
    // The test server is plain http on loopback.
    execute: [oidc.allowInsecureRequests],
  });
}

/** Starts a sign-in at the shop; resolves with the address the browser is sent back to. */
export async function startSignIn(page: Page, config: oidc.Configuration, extra: Record<string, string> = {}) {
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
  const back = nextArrival();
  await page.goto(url.href);
  return { verifier, state, nonce, back };
}

export async function signInHere(page: Page, username: string) {
  await expect(page.getByText("Sign in to continue to")).toContainText("Pet Shop");
  await hydrated(page);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign In", exact: true }).click();
}

/** Signs a new user in at the shop and allows the consent prompt; the
 * tokens openid-client obtains, with the ID token validated. */
export async function signInAndAllow(page: Page, config: oidc.Configuration, username: string) {
  const started = await startSignIn(page, config);
  await signInHere(page, username);
  await page.getByRole("button", { name: "Allow" }).click();
  return oidc.authorizationCodeGrant(config, await started.back, {
    pkceCodeVerifier: started.verifier,
    expectedState: started.state,
    expectedNonce: started.nonce,
  });
}
