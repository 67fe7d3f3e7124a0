import { defineConfig } from "@playwright/test";

// scripts/test.sh builds the release site and sets these; see README.md.
const baseURL = process.env.BASE_URL ?? "http://127.0.0.1:3000";
const server = process.env.E2E_SERVER_BIN;

export default defineConfig({
  testDir: "./tests",
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  use: {
    baseURL,
    trace: "retain-on-failure",
    launchOptions: {
      // Debian's Chromium; Playwright never downloads a browser here.
      executablePath: "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  webServer: server
    ? [
        {
          command: server,
          url: `${baseURL}/healthz`,
          reuseExistingServer: false,
          timeout: 60_000,
          stdout: "pipe",
          stderr: "pipe",
        },
        // The same server on its own database, as an organisation runs it: a
        // second factor required of every user (end2end/tests/mfa.spec.ts),
        // and accounts deleted by the administrator only (profile.spec.ts).
        ...(process.env.E2E_MFA_BASE_URL
          ? [
              {
                command: server,
                url: `${process.env.E2E_MFA_BASE_URL}/healthz`,
                env: {
                  ...(process.env as Record<string, string>),
                  SELFSERVE_MFA__REQUIRED: "true",
                  SELFSERVE_ACCOUNTS__SELF_DELETION: "false",
                  SELFSERVE_PUBLIC_URL: process.env.E2E_MFA_BASE_URL,
                  SELFSERVE_LISTEN: new URL(process.env.E2E_MFA_BASE_URL).host,
                  DATABASE_URL: process.env.E2E_MFA_DATABASE_URL!,
                },
                reuseExistingServer: false,
                timeout: 60_000,
                stdout: "pipe" as const,
                stderr: "pipe" as const,
              },
            ]
          : []),
        // The same server reached as http://localhost:PORT, where passkeys
        // work (end2end/tests/mfa-passkeys.spec.ts).
        ...(process.env.E2E_PASSKEY_BASE_URL
          ? [
              {
                command: server,
                url: `http://${process.env.E2E_PASSKEY_LISTEN}/healthz`,
                env: {
                  ...(process.env as Record<string, string>),
                  SELFSERVE_PUBLIC_URL: process.env.E2E_PASSKEY_BASE_URL,
                  SELFSERVE_LISTEN: process.env.E2E_PASSKEY_LISTEN!,
                  DATABASE_URL: process.env.E2E_PASSKEY_DATABASE_URL!,
                },
                reuseExistingServer: false,
                timeout: 60_000,
                stdout: "pipe" as const,
                stderr: "pipe" as const,
              },
            ]
          : []),
        // The external OpenID provider of the social identity tests.
        {
          command: "node idp/provider.mjs",
          url: "http://127.0.0.1:9877/.well-known/openid-configuration",
          reuseExistingServer: false,
          timeout: 30_000,
          stdout: "pipe",
          stderr: "pipe",
        },
      ]
    : undefined,
});
