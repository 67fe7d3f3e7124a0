import { expect, test } from "@playwright/test";
import { addUser, hydrated, PASSWORD, signIn, signOut } from "./helpers";

const NEW_PASSWORD = "orchids bloom behind the old station";

test("set security questions, then recover a forgotten password with them", async ({ page }) => {
  const username = addUser("recovery");
  await signIn(page, username);
  await page.getByRole("link", { name: "View details: Account Recovery" }).click();
  await hydrated(page);
  await expect(page.getByTestId("status-challengeQuestion1")).toHaveText("Not set yet");

  await page.locator("#question-challengeQuestion1").selectOption({ label: "What was the make of your first car?" });
  await page.locator("#answer-challengeQuestion1").fill("Morris Minor");
  await page.locator("#question-challengeQuestion2").selectOption({ label: "What is your favourite book?" });
  await page.locator("#answer-challengeQuestion2").fill("The Hobbit");
  await page.getByLabel("Current Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Update" }).click();
  await expect(page.getByRole("status")).toHaveText("Your security questions have been updated.");
  await expect(page.getByTestId("status-challengeQuestion1")).toHaveText(
    "Set: What was the make of your first car?",
  );
  await expect(page.getByTestId("status-challengeQuestion2")).toHaveText("Set: What is your favourite book?");

  await signOut(page);
  await page.getByRole("link", { name: "Forgot password?" }).click();
  await expect(page).toHaveURL(/\/recover$/);
  await hydrated(page);
  await page.getByLabel("Username").fill(username);
  await page.getByRole("button", { name: "Continue" }).click();
  // Answers are compared without case or extra spaces.
  await page.getByLabel("What was the make of your first car?").fill("  morris   MINOR ");
  await page.getByLabel("What is your favourite book?").fill("the hobbit");
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByLabel("New Password", { exact: true }).fill(NEW_PASSWORD);
  await page.getByLabel("Confirm New Password").fill(NEW_PASSWORD);
  await page.getByRole("button", { name: "Set new password" }).click();
  await expect(page.getByRole("status")).toContainText("Your password has been reset");

  await page.getByRole("link", { name: "Sign in", exact: true }).click();
  await signIn(page, username, NEW_PASSWORD);
});

test("wrong answers end the attempt with a clear message", async ({ page }) => {
  await page.goto("/recover");
  await hydrated(page);
  await page.getByLabel("Username").fill(`nobody-${Date.now()}`);
  await page.getByRole("button", { name: "Continue" }).click();
  // An unknown account is asked questions too.
  const answers = page.locator("input[name^=answers]");
  await expect(answers).toHaveCount(2);
  await answers.nth(0).fill("some guess");
  await answers.nth(1).fill("another guess");
  await page.getByRole("button", { name: "Continue" }).click();
  await expect(page.getByRole("alert")).toContainText("Those answers are not right");
  await expect(page.getByLabel("Username")).toBeVisible();
});
