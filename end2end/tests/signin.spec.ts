import { expect, test } from "@playwright/test";
import { addUser, hydrated, PASSWORD, signIn, signOut } from "./helpers";

test("a wrong password is refused, then the right one signs in", async ({ page }) => {
  const username = addUser("signin");
  await page.goto("/");
  // Not signed in: the dashboard sends us to the sign-in page.
  await expect(page).toHaveURL(/\/signin$/);
  await hydrated(page);

  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill("not my password");
  await page.getByRole("button", { name: "Sign In", exact: true }).click();
  await expect(page.getByRole("alert")).toHaveText("The username or password is incorrect.");
  await expect(page).toHaveURL(/\/signin$/);

  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign In", exact: true }).click();
  await expect(page.getByRole("heading", { name: "My Account" })).toBeVisible();
  await expect(page.getByText(username).first()).toBeVisible();

  // The session cookie is out of reach of scripts.
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name.endsWith("selfserve_session"));
  expect(session?.httpOnly).toBe(true);
  expect(session?.sameSite).toBe("Lax");

  await signOut(page);
  await page.goto("/profile");
  await expect(page).toHaveURL(/\/signin$/);
});

test("an unknown user gets the same answer as a wrong password", async ({ page }) => {
  await page.goto("/signin");
  await hydrated(page);
  await page.getByLabel("Username").fill(`nobody-${Date.now()}`);
  await page.getByLabel("Password").fill("whatever it is");
  await page.getByRole("button", { name: "Sign In", exact: true }).click();
  await expect(page.getByRole("alert")).toHaveText("The username or password is incorrect.");
});

test("the home page has a card per section", async ({ page }) => {
  const username = addUser("home");
  await signIn(page, username);
  for (const section of ["My Profile", "Change Password"]) {
    await expect(page.getByRole("heading", { name: section })).toBeVisible();
    await expect(page.getByRole("link", { name: `View details: ${section}` })).toBeVisible();
  }
});
