import { test, expect } from "@playwright/test";
import { addUser, expectAccessible, hydrated } from "./helpers";
import { servesShopCallback, shop, signInAndAllow } from "./shop";

servesShopCallback();

test("the applications the user can open are listed, searched, used last first, and open", async ({ page, baseURL }) => {
  const username = addUser("applications");
  // Signed in to the shop through openid-client: the shop is now used.
  const config = await shop(baseURL!);
  await signInAndAllow(page, config, username);

  // From the home page's card to the list.
  await page.goto("/");
  const card = page.getByRole("region", { name: "Applications" });
  await expect(card.getByTestId("card-status")).toHaveText("2 applications you can open.");
  await card.getByRole("link", { name: "View details: Applications" }).click();
  await expect(page).toHaveURL(/\/applications$/);
  await expect(page.getByRole("heading", { name: "Applications", level: 1 })).toBeVisible();
  const entries = page.getByTestId("application");
  // The shop first (used), then the wiki; the shop says when.
  await expect(entries.getByRole("heading")).toHaveText(["Pet Shop", "Team Wiki"]);
  await expect(entries.nth(0).getByTestId("last-used")).toContainText("You last signed in to it");
  await expect(entries.nth(1).getByTestId("last-used")).toHaveCount(0);
  await expect(entries.nth(1)).toContainText("What the team knows, written down.");
  await expectAccessible(page, "the applications page");

  // Search by name (a GET form: the server renders the result), then an empty result.
  await hydrated(page);
  const search = page.getByLabel("Search applications by name");
  await search.fill("WIKI");
  await search.press("Enter");
  await expect(page).toHaveURL(/\/applications\?search=WIKI$/);
  await expect(entries.getByRole("heading")).toHaveText(["Team Wiki"]);
  await expect(page.getByRole("status")).toHaveText("1 application's name contains “WIKI”. Show all");
  await search.fill("nothing like it");
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page.getByText("No application's name contains “nothing like it”.")).toBeVisible();
  await expect(entries).toHaveCount(0);
  await page.getByRole("link", { name: "Show all applications" }).click();
  await expect(entries).toHaveCount(2);
  // A search address opened directly is rendered by the server already.
  await page.goto("/applications?search=shop");
  await expect(search).toHaveValue("shop");
  await expect(entries.getByRole("heading")).toHaveText(["Pet Shop"]);

  // A search longer than the field allows, from an address: said plainly.
  await page.goto(`/applications?search=${"x".repeat(101)}`);
  await expect(page.getByRole("alert")).toHaveText("Search for at most 100 characters.");
  await page.goto("/applications");
  await hydrated(page);

  // "Open" goes to the application's address.
  await page.getByRole("link", { name: "Open Pet Shop" }).click();
  await expect(page).toHaveURL("http://127.0.0.1:9876/");
  await expect(page.getByRole("heading", { name: "Back at the shop" })).toBeVisible();
});
