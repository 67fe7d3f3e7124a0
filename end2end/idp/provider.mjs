// An independent OpenID provider for the end-to-end tests: panva's certified
// oidc-provider, on loopback, with its development login form (any account
// name signs in, with any password). Selfserve is its one client, "corp" in
// end2end/selfserve.e2e.toml. An account's email is its name when the name
// has an @, else <name>@corp.example.
//
// The server's integration tests start it too (server/tests/integration/
// associations_social.rs), with IDP_KEY_ID: it then signs with a fresh RSA
// key of that id, so that a restart with another id rotates its keys.
import { generateKeyPairSync } from "node:crypto";
import Provider from "oidc-provider";

const port = Number(process.env.IDP_PORT ?? 9877);
const selfserve = process.env.BASE_URL ?? "http://127.0.0.1:3000";
const secret = process.env.SELFSERVE_IDENTITY_PROVIDER_CORP_CLIENT_SECRET;
if (!secret) {
  console.error("SELFSERVE_IDENTITY_PROVIDER_CORP_CLIENT_SECRET is not set");
  process.exit(1);
}

const keyId = process.env.IDP_KEY_ID;
const signingKeys = keyId
  ? {
      jwks: {
        keys: [
          {
            ...generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" }),
            kid: keyId,
            use: "sig",
            alg: "RS256",
          },
        ],
      },
    }
  : {};

const provider = new Provider(`http://127.0.0.1:${port}`, {
  ...signingKeys,
  clients: [
    {
      client_id: "selfserve",
      client_secret: secret,
      redirect_uris: [`${selfserve}/federation/corp/callback`],
      response_types: ["code"],
      grant_types: ["authorization_code"],
    },
  ],
  pkce: { required: () => true },
  // Scope claims in the ID token itself, as providers such as Google do.
  conformIdTokenClaims: false,
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["name", "given_name", "family_name"],
  },
  findAccount: async (_ctx, id) => ({
    accountId: id,
    claims: async () => ({
      sub: id,
      email: id.includes("@") ? id : `${id}@corp.example`,
      email_verified: true,
      name: `${id} (Corp)`,
      given_name: id.split("@")[0],
      family_name: "Corp",
    }),
  }),
  cookies: { keys: ["end-to-end tests only: not a real secret"] },
  features: { devInteractions: { enabled: true } },
});

provider.listen(port, "127.0.0.1", () => {
  console.log(`oidc-provider listening on http://127.0.0.1:${port}`);
});
