import { readFileSync } from "node:fs";
import { expect, test } from "@playwright/test";
import { addUser, hydrated, signIn } from "./helpers";

test("Export downloads userInfo.json with the profile values", async ({ page }) => {
  const username = addUser("export");
  await signIn(page, username);
  await page.goto("/profile");
  await hydrated(page);
  await page.getByLabel("First Name", { exact: true }).fill("Katherine");
  await page.getByLabel("Email", { exact: true }).fill("katherine@example.com");
  await page.getByLabel("Country").selectOption({ label: "United States of America" });
  await page.getByRole("button", { name: "Update" }).click();
  await expect(page.getByRole("status")).toHaveText("Your profile has been updated.");

  const download = page.waitForEvent("download");
  await page.getByRole("link", { name: "Export", exact: true }).click();
  const file = await download;
  expect(file.suggestedFilename()).toBe("userInfo.json");
  const doc = JSON.parse(readFileSync(await file.path(), "utf8"));
  expect(doc.basic["http://wso2.org/claims/username"]).toBe(username);
  expect(doc.basic["http://wso2.org/claims/givenname"]).toBe("Katherine");
  expect(doc.basic["http://wso2.org/claims/emailaddress"]).toBe("katherine@example.com");
  expect(doc.basic["http://wso2.org/claims/country"]).toBe("US");
  expect(doc.consents).toEqual([]);
  expect(doc.sessions).toHaveLength(1);
  expect(JSON.stringify(doc)).not.toContain("argon2");
});
