import { test, expect, Response } from "@playwright/test";
import { addUser, hydrated, PASSWORD } from "./helpers";

// The release build names the bundle by content hash, precompresses it, and
// the server lets browsers keep it for a year; a repeat visit fetches none
// of it. (Figures for bytes and hydration time: scripts/bench.sh.)
test("the bundle is sent compressed, named by hash, cached, and the page hydrates", async ({ page }) => {
  const bundle: Response[] = [];
  page.on("response", (response) => {
    if (new URL(response.url()).pathname.startsWith("/pkg/")) bundle.push(response);
  });
  await page.goto("/signin");
  await hydrated(page);
  const names = bundle.map((r) => new URL(r.url()).pathname).sort();
  expect(names).toHaveLength(3);
  // The sign-in page has a bundle of its own (app/src/entries.rs).
  expect(names.filter((n) => /^\/pkg\/selfserve-signin\.[0-9a-f]{16}\.(js|wasm)$/.test(n))).toHaveLength(2);
  expect(names.filter((n) => /^\/pkg\/selfserve\.[0-9a-f]{16}\.css$/.test(n))).toHaveLength(1);
  for (const response of bundle) {
    const headers = await response.allHeaders();
    expect(["br", "gzip"]).toContain(headers["content-encoding"]);
    expect(headers["cache-control"]).toBe("public, max-age=31536000, immutable");
  }

  // The page itself is compressed and never cached.
  const again = await page.goto("/signin");
  const headers = await again!.allHeaders();
  expect(["br", "gzip"]).toContain(headers["content-encoding"]);
  expect(headers["cache-control"]).toBe("no-store");
});

// The sign-in and home pages hydrate with bundles of their own, a third of
// the whole app's size; signing in, and any link from them, loads the next
// page from the server with the bundle that has it.
test("the first pages load their own bundles and lead on to the whole app", async ({ page }) => {
  const wasm: string[] = [];
  page.on("response", (response) => {
    const path = new URL(response.url()).pathname;
    if (path.endsWith(".wasm")) wasm.push(path);
  });
  const user = addUser("bundles");
  await page.goto("/signin");
  await hydrated(page);
  expect(wasm).toEqual([expect.stringMatching(/^\/pkg\/selfserve-signin\.[0-9a-f]{16}\.wasm$/)]);

  await page.getByLabel("Username").fill(user);
  await page.getByLabel("Password").fill(PASSWORD);
  const home = page.waitForResponse((r) => /\/pkg\/selfserve-home\.[0-9a-f]{16}\.wasm$/.test(r.url()));
  await page.getByRole("button", { name: "Sign In", exact: true }).click();
  await home;
  await expect(page.getByRole("heading", { name: "My Account" })).toBeVisible();
  await hydrated(page);
  await expect(page).toHaveURL(/\/$/);

  const whole = page.waitForResponse((r) => /\/pkg\/selfserve\.[0-9a-f]{16}\.wasm$/.test(r.url()));
  await page.getByRole("link", { name: "View details: My Login Sessions" }).click();
  await whole;
  await expect(page.getByRole("heading", { name: "My Login Sessions" })).toBeVisible();
  await hydrated(page);
  // The whole app's router now takes links in the page itself: back home
  // without loading a page or a bundle.
  const documents: string[] = [];
  page.on("request", (request) => {
    if (request.resourceType() === "document") documents.push(request.url());
  });
  await page.getByRole("link", { name: "← My Account" }).click();
  await expect(page.getByRole("heading", { name: "My Account" })).toBeVisible();
  await expect(page).toHaveURL(/\/$/);
  expect(documents).toEqual([]);
  expect(wasm).toHaveLength(3);
});
