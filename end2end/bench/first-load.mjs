// First loads as a browser makes them (scripts/bench.sh): for /signin and for
// / signed in, each in a fresh browser context (an empty cache), the bytes
// transferred (page, JS, WASM, CSS, as compressed on the wire, headers
// included) and when hydration finished, from the Performance API (ms since
// the navigation started). Prints the medians of LOADS loads per page.
//
//   node end2end/bench/first-load.mjs http://127.0.0.1:PORT USERNAME PASSWORD
import { chromium } from "@playwright/test";

const [base, username, password] = process.argv.slice(2);
const LOADS = Number(process.env.LOADS ?? 10);

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});

// The frontend marks <body data-hydrated> when hydration ends; note when.
const watchHydration = () => {
  new MutationObserver((_, observer) => {
    if (document.body?.hasAttribute("data-hydrated")) {
      window.__hydratedAt = performance.now();
      observer.disconnect();
    }
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-hydrated"] });
};

async function firstLoad(path, signedIn) {
  const context = await browser.newContext();
  if (signedIn) {
    const answer = await context.request.post(`${base}/api/sign_in`, {
      form: { username, password },
      headers: { "Sec-Fetch-Site": "same-origin" },
    });
    if (!answer.ok()) throw new Error(`sign-in failed: ${answer.status()}`);
  }
  const page = await context.newPage();
  await page.addInitScript(watchHydration);
  await page.goto(`${base}${path}`);
  await page.waitForFunction(() => window.__hydratedAt !== undefined, null, { timeout: 30_000 });
  const figures = await page.evaluate(() => {
    const entries = [...performance.getEntriesByType("navigation"), ...performance.getEntriesByType("resource")];
    return {
      bytes: entries.reduce((sum, e) => sum + e.transferSize, 0),
      hydratedMs: window.__hydratedAt,
      files: entries.length,
    };
  });
  await context.close();
  return figures;
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

for (const [path, signedIn] of [["/signin", false], ["/", true]]) {
  const loads = [];
  for (let i = 0; i < LOADS; i++) loads.push(await firstLoad(path, signedIn));
  const label = `${path}${signedIn ? " (signed in)" : ""}`;
  console.log(
    `${label.padEnd(34)} first load ${median(loads.map((l) => l.bytes)).toLocaleString("en")} bytes ` +
      `in ${loads[0].files} files; hydrated at ${median(loads.map((l) => l.hydratedMs)).toFixed(0)} ms ` +
      `(median of ${LOADS})`,
  );
}
await browser.close();
