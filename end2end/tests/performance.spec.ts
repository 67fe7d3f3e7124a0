import { test, expect, Response } from "@playwright/test";
import { hydrated } from "./helpers";

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
  for (const name of names) expect(name).toMatch(/^\/pkg\/selfserve\.[0-9a-f]{16}\.(css|js|wasm)$/);
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
