// Keyboard use: a skip link first, every control of a page reached by Tab
// with a visible focus ring, and the confirm dialog operated from the
// keyboard alone, keeping focus inside and giving it back afterwards.
import { expect, Page, test } from "@playwright/test";
import { addUser, hydrated, signIn } from "./helpers";

const TABBABLE =
  "a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), select:not([disabled]), textarea, summary";

/**
 * Tabs through the page once: every visible control must receive focus, each
 * with a focus ring (an outline at least 2 px wide). Returns how many there were.
 */
async function tabThrough(page: Page, path: string) {
  const total = await page.evaluate((selector) => {
    // Not inside a closed <details> (the account menu) or otherwise hidden.
    const visible = (e: Element) => e.checkVisibility({ visibilityProperty: true });
    const controls = [...document.querySelectorAll(selector)].filter(visible);
    controls.forEach((e, i) => e.setAttribute("data-kb", String(i)));
    return controls.length;
  }, TABBABLE);
  expect(total, `${path} has controls`).toBeGreaterThan(0);
  const reached = new Set<string>();
  // The skip link first; then a few more presses than there are controls.
  await page.locator("body").focus();
  for (let i = 0; i < total + 4 && reached.size < total; i++) {
    await page.keyboard.press("Tab");
    const focused = await page.evaluate(() => {
      const e = document.activeElement as HTMLElement | null;
      if (!e || e === document.body) return null;
      const style = getComputedStyle(e);
      return {
        id: e.getAttribute("data-kb"),
        ring: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2,
        name: `${e.tagName.toLowerCase()} "${(e.textContent || e.getAttribute("aria-label") || "").trim().slice(0, 40)}"`,
      };
    });
    if (!focused) continue;
    expect(focused.ring, `${path}: ${focused.name} has no visible focus ring`).toBe(true);
    if (focused.id !== null) reached.add(focused.id);
  }
  const missed = await page.evaluate(
    (seen) =>
      [...document.querySelectorAll("[data-kb]")]
        .filter((e) => !seen.includes(e.getAttribute("data-kb")!))
        .map((e) => e.outerHTML.slice(0, 120)),
    [...reached],
  );
  expect(missed, `${path}: not reachable by Tab`).toEqual([]);
  return total;
}

test("the first Tab reaches 'Skip to content', which moves focus to the page's content", async ({ page }) => {
  await signIn(page, addUser("skip"));
  await page.goto("/profile");
  await hydrated(page);
  await page.keyboard.press("Tab");
  const skip = page.getByRole("link", { name: "Skip to content" });
  await expect(skip).toBeFocused();
  const box = await skip.boundingBox();
  expect(box!.y).toBeGreaterThanOrEqual(0);
  await page.keyboard.press("Enter");
  await expect(page.locator("main#main")).toBeFocused();
  // The next Tab goes on from the content, past the top bar.
  await page.keyboard.press("Tab");
  await expect(page.getByRole("link", { name: "← My Account" })).toBeFocused();
});

test("every control of each section's page is reached by Tab, with a visible focus ring", async ({ page }) => {
  test.setTimeout(120_000);
  await signIn(page, addUser("tabbing"));
  for (const path of ["/", "/profile", "/password", "/sessions", "/recovery", "/approvals", "/consent", "/consent/system", "/applications", "/apps", "/associations"]) {
    await page.goto(path);
    await hydrated(page);
    await tabThrough(page, path);
  }
  await page.goto("/signin");
});

test("the confirm dialog is run from the keyboard: focus stays inside, and returns to the button that opened it", async ({ browser }) => {
  const username = addUser("kb-dialog");
  const here = await (await browser.newContext()).newPage();
  const there = await (await browser.newContext()).newPage();
  await signIn(there, username);
  await signIn(here, username);
  await here.goto("/sessions");
  await hydrated(here);

  const terminate = here.getByRole("button", { name: /^Terminate session/ });
  await terminate.focus();
  await here.keyboard.press("Enter");
  const dialog = here.getByRole("dialog", { name: "Terminate session?" });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByRole("button", { name: "No" })).toBeFocused();
  // Tab and Shift+Tab never leave the dialog for the page behind it.
  for (const key of ["Tab", "Tab", "Tab", "Shift+Tab", "Shift+Tab"]) {
    await here.keyboard.press(key);
    const inside = await here.evaluate(() => {
      const active = document.activeElement;
      return !active || active === document.body || !!active.closest("dialog");
    });
    expect(inside, `focus left the dialog after ${key}`).toBe(true);
  }
  // Escape closes it, changes nothing, and gives focus back.
  await here.keyboard.press("Escape");
  await expect(dialog).toBeHidden();
  await expect(terminate).toBeFocused();

  // Enter opens it again; Shift+Tab from "No" reaches "Yes"; Enter ends the session.
  await here.keyboard.press("Enter");
  await expect(dialog.getByRole("button", { name: "No" })).toBeFocused();
  await here.keyboard.press("Shift+Tab");
  await expect(dialog.getByRole("button", { name: "Yes" })).toBeFocused();
  await here.keyboard.press("Enter");
  await expect(here.getByRole("status")).toHaveText("You have successfully revoked your session!");
  // Its row is gone; focus is on the page's content, not lost.
  await expect(here.locator("main#main")).toBeFocused();
  await here.context().close();
  await there.context().close();
});

test("the account menu opens and works from the keyboard", async ({ page }) => {
  await signIn(page, addUser("kb-menu"));
  await hydrated(page);
  await page.getByLabel("Account menu").focus();
  await page.keyboard.press("Enter");
  const dark = page.getByRole("menuitemradio", { name: "Dark" });
  await expect(dark).toBeVisible();
  for (let i = 0; i < 6 && !(await dark.evaluate((e) => e === document.activeElement)); i++) {
    await page.keyboard.press("Tab");
  }
  await expect(dark).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(page.locator("html")).toHaveAttribute("data-theme", "dark");
  await expect(dark).toHaveAttribute("aria-checked", "true");
});
