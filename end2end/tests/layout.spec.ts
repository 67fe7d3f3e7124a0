// The frame every signed-in page shares (app/src/layout.rs): the account
// menu in the top bar. The server renders it from the request's session and
// the browser hydrates it; after a navigation in the browser the menu asks
// the server who is signed in, as the session may have changed.
import { expect, test } from "@playwright/test";
import { addUser, hydrated, signIn } from "./helpers";

test("the account menu keeps the user and their theme across a navigation in the browser", async ({ page }) => {
  const username = addUser("menu");
  await signIn(page, username);
  await page.goto("/profile");
  await hydrated(page);
  // Gone if the page loads anew: what follows must happen in this page.
  await page.evaluate(() => ((window as unknown as { stayed: boolean }).stayed = true));
  const stayed = () => page.evaluate(() => (window as unknown as { stayed?: boolean }).stayed === true);

  await page.getByLabel("Account menu").click();
  await expect(page.getByText(`Signed in as ${username}`)).toBeVisible();
  const dark = page.getByRole("menuitemradio", { name: "Dark" });
  await dark.click();
  await expect(page.locator("html")).toHaveAttribute("data-theme", "dark");
  await expect(dark).toHaveAttribute("aria-checked", "true");
  expect(await stayed(), "the client chose the theme, without a page load").toBe(true);

  await page.getByRole("link", { name: "← My Account" }).click();
  await expect(page.getByRole("heading", { name: "My Account" })).toBeVisible();
  expect(await stayed(), "the router navigated, without a page load").toBe(true);
  await page.getByLabel("Account menu").click();
  await expect(page.getByText(`Signed in as ${username}`)).toBeVisible();
  await expect(page.getByRole("menuitemradio", { name: "Dark" })).toHaveAttribute("aria-checked", "true");
  await expect(page.getByRole("menuitemradio", { name: "System" })).toHaveAttribute("aria-checked", "false");
});
