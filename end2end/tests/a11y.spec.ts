// axe-core (WCAG 2.0 and 2.1, levels A and AA) on every page and the states
// the other tests reach (errors shown, empty states, dialogs and the account
// menu open, the consent prompt, the sign-out confirmation), in the light and
// the dark theme, at desktop and phone widths.
import { Browser, expect, Page, test } from "@playwright/test";
import { addUser, expectAccessible, hydrated, signIn } from "./helpers";

const THEMES = ["light", "dark"] as const;
const WIDTHS = [
  { name: "desktop", viewport: { width: 1280, height: 800 } },
  { name: "phone", viewport: { width: 390, height: 844 } },
];

// An authorization request of the shop in selfserve.e2e.toml; no callback is
// reached, the prompt is only looked at.
const AUTHORIZE =
  "/oauth2/authorize?client_id=shop&redirect_uri=http%3A%2F%2F127.0.0.1%3A9876%2Fcallback&response_type=code" +
  "&scope=openid%20email&state=a11y&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256";
const LOGOUT = "/oidc/logout?client_id=shop&post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A9876%2Fbye";

async function open(page: Page, path: string) {
  await page.goto(path);
  await hydrated(page);
}

async function newPage(browser: Browser, baseURL: string, theme: string, viewport: { width: number; height: number }) {
  const context = await browser.newContext({ viewport, colorScheme: theme === "dark" ? "dark" : "light" });
  await context.addCookies([{ name: "theme", value: theme, url: baseURL }]);
  return { context, page: await context.newPage() };
}

for (const theme of THEMES) {
  for (const { name, viewport } of WIDTHS) {
    test(`every page passes axe in the ${theme} theme at ${name} width`, async ({ browser, baseURL }) => {
      test.setTimeout(120_000);
      const { context, page } = await newPage(browser, baseURL!, theme, viewport);
      const check = (state: string) => expectAccessible(page, `${theme}, ${name}: ${state}`);
      await expect(page.locator("html")).toHaveCount(1);

      // Signed out.
      await open(page, "/signin");
      await expect(page.locator("html")).toHaveAttribute("data-theme", theme);
      await check("sign-in");
      await page.getByLabel("Username").fill(`nobody-${Date.now()}`);
      await page.getByLabel("Password").fill("not a password");
      await page.getByRole("button", { name: "Sign In", exact: true }).click();
      await expect(page.getByRole("alert").filter({ hasText: "incorrect" })).toBeVisible();
      await check("sign-in with an error");
      await open(page, "/register");
      await check("registration");
      // Filled in, but the passwords differ: the server's field error shows.
      await page.getByLabel("Username").fill(`a11y-registrant-${Date.now()}`);
      await page.getByLabel("Password", { exact: true }).fill("a long enough passphrase");
      await page.getByLabel("Confirm Password").fill("another long passphrase");
      await page.getByLabel("Email (required)").fill("registrant@example.com");
      await page.getByRole("group", { name: "Account administration" }).getByRole("checkbox", { name: /^Email/ }).check();
      await page.getByRole("button", { name: "Create account" }).click();
      await expect(page.getByText("Please correct the highlighted fields.")).toBeVisible();
      await check("registration with errors");
      await open(page, "/recover");
      await check("forgot password");

      // Signed in, every section with its empty state or its content.
      const username = addUser(`a11y-${theme}-${name}`);
      await signIn(page, username);
      await hydrated(page);
      await check("home");
      await page.getByLabel("Account menu").click();
      await expect(page.getByRole("menuitem", { name: "Sign out" })).toBeVisible();
      await check("home with the account menu open");
      for (const path of ["/profile", "/password", "/sessions", "/recovery", "/approvals", "/consent", "/consent/system", "/privacy", "/applications", "/apps", "/associations", "/no-such-page"]) {
        await open(page, path);
        await check(path);
      }

      // Errors shown.
      await open(page, "/profile");
      await page.getByLabel("Email", { exact: true }).fill("not-an-address");
      await page.getByRole("button", { name: "Update" }).click();
      await expect(page.getByLabel("Email", { exact: true })).toHaveAttribute("aria-invalid", "true");
      await check("profile with an error");
      await open(page, "/password");
      await page.getByLabel("Current Password").fill("not the password");
      await page.getByLabel("New Password", { exact: true }).fill("a long and new passphrase");
      await page.getByLabel("Confirm New Password").fill("a different passphrase");
      await page.getByRole("button", { name: "Update" }).click();
      await expect(page.getByRole("alert").filter({ hasText: /./ }).first()).toBeVisible();
      await check("password with errors");
      await open(page, "/associations");
      await page.getByLabel("Username").fill(`nobody-${Date.now()}`);
      await page.getByLabel("Password").fill("not a password");
      await page.getByRole("button", { name: "Associate" }).click();
      await expect(page.getByRole("alert").filter({ hasText: "incorrect" })).toBeVisible();
      await check("associations with an error");

      // A dialog open: another session to terminate.
      const other = await browser.newContext();
      await signIn(await other.newPage(), username);
      await open(page, "/sessions");
      await page.getByRole("button", { name: /^Terminate session/ }).click();
      await expect(page.getByRole("dialog", { name: "Terminate session?" })).toBeVisible();
      await check("sessions with the confirm dialog open");
      await page.keyboard.press("Escape");
      await other.close();

      // The consent prompt and the sign-out confirmation of an application.
      await open(page, AUTHORIZE);
      await expect(page.getByRole("heading", { name: "Pet Shop wants to use your account" })).toBeVisible();
      await check("the consent prompt");
      await open(page, LOGOUT);
      await expect(page.getByRole("heading", { name: "Sign out of Selfserve?" })).toBeVisible();
      await check("the sign-out confirmation");
      await context.close();
    });
  }
}

test("the theme follows the system until one is chosen in the account menu, and the server renders the choice", async ({ browser }) => {
  const context = await browser.newContext({ colorScheme: "dark" });
  const page = await context.newPage();
  const background = () => page.evaluate(() => getComputedStyle(document.body.parentElement!).backgroundColor);
  await signIn(page, addUser("theme"));
  await hydrated(page);
  // System: dark, because the system is.
  await expect(page.locator("html")).toHaveAttribute("data-theme", "system");
  expect(await background()).toBe("rgb(15, 20, 28)");

  await page.getByLabel("Account menu").click();
  const light = page.getByRole("menuitemradio", { name: "Light" });
  await expect(page.getByRole("menuitemradio", { name: "System" })).toHaveAttribute("aria-checked", "true");
  await light.click();
  await expect(page.locator("html")).toHaveAttribute("data-theme", "light");
  await expect(light).toHaveAttribute("aria-checked", "true");
  expect(await background()).toBe("rgb(245, 247, 251)");

  // The server renders the choice on the first paint: no flash.
  const html = await (await page.request.get("/profile")).text();
  expect(html).toContain('data-theme="light"');
  await page.reload();
  expect(await background()).toBe("rgb(245, 247, 251)");
  await context.close();
});

test("reduced motion is respected, and the profile and consent pages lose nothing at 200 % zoom", async ({ browser }) => {
  // 200 % zoom of a 1280 × 800 window is a 640 × 400 CSS-pixel viewport.
  const context = await browser.newContext({ viewport: { width: 640, height: 400 }, reducedMotion: "reduce" });
  const page = await context.newPage();
  const username = addUser("zoom");
  await signIn(page, username);
  // Buttons fade their colour on hover, unless the user asked for less motion.
  const duration = (p: Page) =>
    p.evaluate(() => parseFloat(getComputedStyle(document.querySelector("a.button")!).transitionDuration));
  expect(await duration(page)).toBeLessThanOrEqual(0.00001);
  await page.emulateMedia({ reducedMotion: "no-preference" });
  expect(await duration(page)).toBeGreaterThan(0.05);
  await page.emulateMedia({ reducedMotion: "reduce" });
  for (const path of ["/profile", "/consent"]) {
    await open(page, path);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow, `${path} scrolls sideways at 200 % zoom`).toBeLessThanOrEqual(0);
    // Every field, button and link can be scrolled to and lies inside the width.
    const controls = page.locator("main input:not([type=hidden]), main select, main button, main a").filter({ visible: true });
    for (const element of await controls.all()) {
      await element.scrollIntoViewIfNeeded();
      const box = await element.boundingBox();
      expect(box, `${path}: an element has no box`).not.toBeNull();
      expect(box!.x).toBeGreaterThanOrEqual(0);
      expect(box!.x + box!.width).toBeLessThanOrEqual(640 + 1);
    }
  }
  await context.close();
});

test("each page names itself in the browser's title, after a navigation in the page too", async ({ page }) => {
  await page.goto("/signin");
  await expect(page).toHaveTitle("Sign in · Selfserve");
  await signIn(page, addUser("titles"));
  await expect(page).toHaveTitle("My Account · Selfserve");
  await hydrated(page);
  // Followed by the hydrated router, without a page load.
  await page.getByRole("link", { name: "View details: My Login Sessions" }).click();
  await expect(page.getByRole("heading", { name: "My Login Sessions", level: 1 })).toBeVisible();
  await expect(page).toHaveTitle("My Login Sessions · Selfserve");
  await page.goBack();
  await expect(page).toHaveTitle("My Account · Selfserve");
  await page.goto("/profile");
  await expect(page).toHaveTitle("My Profile · Selfserve");
});
