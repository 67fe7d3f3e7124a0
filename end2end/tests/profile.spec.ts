import { expect, test } from "@playwright/test";
import { addUser, hydrated, PASSWORD, passwordStep, signIn } from "./helpers";
import { setUpRequiredApp } from "./totp";

const values: Record<string, string> = {
  "First Name": "Grace",
  "Last Name": "Hopper <script>alert(1)</script>",
  Organization: "US Navy",
  Email: "grace@example.com",
  Telephone: "+12025550143",
  Mobile: "+14155550123",
  IM: "grace@chat.example",
  URL: "https://grace.example.com",
  Department: "Compilers",
};

test("every profile field is saved and survives a reload", async ({ page }) => {
  const username = addUser("profile");
  await signIn(page, username);
  await page.getByRole("link", { name: "View details: My Profile" }).click();
  await expect(page.getByRole("heading", { name: "My Profile" })).toBeVisible();
  await hydrated(page);

  for (const [label, value] of Object.entries(values)) {
    await page.getByLabel(label, { exact: true }).fill(value);
  }
  await page.getByLabel("Country").selectOption({ label: "Sri Lanka" });
  await page.getByRole("button", { name: "Update" }).click();
  await expect(page.getByRole("status")).toHaveText("Your profile has been updated.");

  await page.reload();
  await hydrated(page);
  for (const [label, value] of Object.entries(values)) {
    await expect(page.getByLabel(label, { exact: true })).toHaveValue(value);
  }
  await expect(page.getByLabel("Country")).toHaveValue("LK");
  // The role is shown but cannot be edited.
  await expect(page.getByTestId("role")).toBeVisible();
  await expect(page.locator("input[name*=role]")).toHaveCount(0);
});

test("an invalid email is shown next to the field and nothing is saved", async ({ page }) => {
  const username = addUser("badmail");
  await signIn(page, username);
  await page.goto("/profile");
  await hydrated(page);

  await page.getByLabel("Department", { exact: true }).fill("Research");
  await page.getByLabel("Email", { exact: true }).fill("grace-at-example");
  await page.getByRole("button", { name: "Update" }).click();
  await expect(page.locator("#profile-email-error")).toHaveText(
    "Enter an email address such as name@example.com.",
  );
  await expect(page.getByLabel("Email", { exact: true })).toHaveAttribute("aria-invalid", "true");

  await page.reload();
  await hydrated(page);
  await expect(page.getByLabel("Department", { exact: true })).toHaveValue("");
  await expect(page.getByLabel("Email", { exact: true })).toHaveValue("");
});

test("a second tab's stale update is refused with a clear message", async ({ page, context }) => {
  const username = addUser("tabs");
  await signIn(page, username);
  await page.goto("/profile");
  const other = await context.newPage();
  await other.goto("/profile");
  await hydrated(page);
  await hydrated(other);

  await page.getByLabel("Department", { exact: true }).fill("First tab");
  await page.getByRole("button", { name: "Update" }).click();
  await expect(page.getByRole("status")).toHaveText("Your profile has been updated.");

  await other.getByLabel("Department", { exact: true }).fill("Second tab");
  await other.getByRole("button", { name: "Update" }).click();
  await expect(other.getByRole("alert").filter({ hasText: "changed elsewhere" })).toBeVisible();
  await other.reload();
  await expect(other.getByLabel("Department", { exact: true })).toHaveValue("First tab");
});

test("a script reads and changes the profile through SCIM with the browser's session", async ({ page }) => {
  const username = addUser("profile-scim");
  await signIn(page, username);
  await page.goto("/profile");
  await hydrated(page);
  await page.getByLabel("Department", { exact: true }).fill("Compilers");
  await page.getByRole("button", { name: "Update" }).click();
  await expect(page.getByRole("status")).toHaveText("Your profile has been updated.");

  // The request carries the browser's cookie; a change needs our Origin.
  const me = await page.request.get("/scim2/Me");
  expect(me.status()).toBe(200);
  expect(me.headers()["content-type"]).toBe("application/scim+json");
  const user = await me.json();
  expect(user.userName).toBe(username);
  expect(user["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"].department).toBe("Compilers");
  const etag = me.headers()["etag"];
  // What a script learns first: what the service supports and the attributes it serves.
  const config = await (await page.request.get("/scim2/ServiceProviderConfig")).json();
  expect([config.patch.supported, config.etag.supported, config.filter.supported]).toEqual([true, true, false]);
  const schemas = await (await page.request.get("/scim2/Schemas")).json();
  type Attribute = { name: string; canonicalValues?: string[]; subAttributes?: Attribute[] };
  const phones = schemas.Resources[0].attributes.find((a: Attribute) => a.name === "phoneNumbers");
  expect(phones.subAttributes.find((a: Attribute) => a.name === "type").canonicalValues).toEqual(["work", "mobile"]);
  const patch = (ifMatch: string, operations: object[]) =>
    page.request.patch("/scim2/Me", {
      data: JSON.stringify({ schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], Operations: operations }),
      headers: { Origin: new URL(page.url()).origin, "Content-Type": "application/scim+json", "If-Match": ifMatch },
    });

  const wrong = await patch(etag, [{ op: "replace", path: "emails[type eq \"work\"].value", value: "grace-at-example" }]);
  expect(wrong.status()).toBe(400);
  expect((await wrong.json()).detail).toContain("Enter an email address such as name@example.com.");

  const changed = await patch(etag, [
    { op: "replace", path: "name.givenName", value: "Grace" },
    { op: "add", path: "phoneNumbers[type eq \"mobile\"].value", value: "+14155550123" },
  ]);
  expect(changed.status()).toBe(200);
  const stale = await patch(etag, [{ op: "replace", path: "name.givenName", value: "Ada" }]);
  expect(stale.status()).toBe(412);

  // The page, opened before the script's change, does not overwrite it.
  await page.getByLabel("Department", { exact: true }).fill("Navy");
  await page.getByRole("button", { name: "Update" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "changed elsewhere" })).toBeVisible();
  await page.reload();
  await expect(page.getByLabel("First Name", { exact: true })).toHaveValue("Grace");
  await expect(page.getByLabel("Mobile", { exact: true })).toHaveValue("+14155550123");
  await expect(page.getByLabel("Department", { exact: true })).toHaveValue("Compilers");

  // Only what is asked for; then a whole replacement, which clears what it leaves out.
  const names = await page.request.get("/scim2/Me?attributes=name.givenName");
  const current = await names.json();
  expect(current.name).toEqual({ givenName: "Grace" });
  expect(current.phoneNumbers).toBeUndefined();
  const replaced = await page.request.put("/scim2/Me", {
    data: JSON.stringify({
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
      name: { givenName: "Grace", familyName: "Hopper" },
      "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { department: "Navy" },
    }),
    headers: { Origin: new URL(page.url()).origin, "Content-Type": "application/scim+json", "If-Match": current.meta.version },
  });
  expect(replaced.status()).toBe(200);
  await page.reload();
  await expect(page.getByLabel("Last Name", { exact: true })).toHaveValue("Hopper");
  await expect(page.getByLabel("Department", { exact: true })).toHaveValue("Navy");
  await expect(page.getByLabel("Mobile", { exact: true })).toHaveValue("");
});

test("an account is deleted after its password and a confirmation, and its name then signs in to nothing", async ({
  page,
}) => {
  const username = addUser("leaver");
  await signIn(page, username);
  await page.goto("/profile");
  await hydrated(page);
  const card = page.getByRole("region", { name: "Delete your account" });
  const dialog = page.getByRole("dialog", { name: "Delete your account?" });
  const field = card.getByLabel("Current Password");
  // The card offers the export first.
  const download = page.waitForEvent("download");
  await card.getByRole("link", { name: "Export your data" }).click();
  expect((await download).suggestedFilename()).toBe("userInfo.json");

  // A wrong password is refused, after the confirmation, and nothing changes.
  await field.fill("not my password");
  await card.getByRole("button", { name: "Delete account…" }).click();
  await dialog.getByRole("button", { name: "Yes" }).click();
  await expect(card.getByText("Your current password is incorrect.")).toBeVisible();
  await expect(field).toHaveAttribute("aria-invalid", "true");

  // "No" keeps the account.
  await field.fill(PASSWORD);
  await card.getByRole("button", { name: "Delete account…" }).click();
  await dialog.getByRole("button", { name: "No" }).click();
  await expect(dialog).toBeHidden();
  await page.reload();
  await expect(page.getByRole("heading", { name: "My Profile" })).toBeVisible();
  await hydrated(page);

  await field.fill(PASSWORD);
  await card.getByRole("button", { name: "Delete account…" }).click();
  await dialog.getByRole("button", { name: "Yes" }).click();
  await expect(page).toHaveURL(/\/signin\?account=deleted$/);
  await expect(page.getByText("Your account was deleted, and you were signed out everywhere.")).toBeVisible();
  await hydrated(page);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign In", exact: true }).click();
  await expect(page.getByRole("alert")).toHaveText("The username or password is incorrect.");
});

test.describe("where the operator manages accounts (accounts.self_deletion off)", () => {
  // The server that requires a second factor stands for an organisation's
  // instance: deletion is the administrator's there.
  test.use({ baseURL: process.env.E2E_MFA_BASE_URL });

  test("My Profile says whom to ask instead of offering deletion", async ({ page }) => {
    const username = addUser("managed", PASSWORD, process.env.E2E_MFA_DATABASE_URL);
    await passwordStep(page, username);
    await setUpRequiredApp(page, 0);
    const card = page.getByRole("region", { name: "Delete your account" });
    // Opened from the dashboard (rendered in the browser), then loaded whole
    // from the server.
    await hydrated(page);
    await page.getByRole("link", { name: "View details: My Profile" }).click();
    await expect(page.getByRole("heading", { name: "My Profile" })).toBeVisible();
    for (const load of ["in the browser", "from the server"]) {
      await expect(card, load).toContainText("Ask your administrator to delete it.");
      await expect(card.getByLabel("Current Password"), load).toHaveCount(0);
      await expect(card.getByRole("button"), load).toHaveCount(0);
      await expect(page.getByRole("heading", { name: "Confirm it is you" }), load).toHaveCount(0);
      await page.reload();
      await hydrated(page);
    }
  });
});
