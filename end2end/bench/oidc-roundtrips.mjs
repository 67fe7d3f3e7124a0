// Authorization-code round trips per second (scripts/bench.sh): a signed-in
// browser's request to /oauth2/authorize answered with a code, then the
// client's exchange of that code at /oauth2/token (client_secret_basic,
// PKCE), repeated by CONCURRENCY loops for SECONDS seconds over keep-alive
// connections. Prints the rate and the median round trip.
//
//   node end2end/bench/oidc-roundtrips.mjs BASE_URL CLIENT_ID SECRET COOKIE
import { createHash, randomBytes } from "node:crypto";

const [base, clientId, secret, cookie] = process.argv.slice(2);
const SECONDS = Number(process.env.SECONDS_EACH ?? 5);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 4);
const REDIRECT = "http://127.0.0.1:9/callback";
const basic = "Basic " + Buffer.from(`${clientId}:${secret}`).toString("base64");

async function roundTrip() {
  const verifier = randomBytes(32).toString("base64url");
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  const query = new URLSearchParams({
    client_id: clientId, redirect_uri: REDIRECT, response_type: "code", scope: "openid",
    state: randomBytes(8).toString("hex"), code_challenge: challenge, code_challenge_method: "S256",
  });
  const authorized = await fetch(`${base}/oauth2/authorize?${query}`, { headers: { cookie }, redirect: "manual" });
  const code = new URL(authorized.headers.get("location")).searchParams.get("code");
  if (!code) throw new Error(`no code: ${authorized.status} ${authorized.headers.get("location")}`);
  const token = await fetch(`${base}/oauth2/token`, {
    method: "POST",
    headers: { authorization: basic, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier }),
  });
  if (token.status !== 200) throw new Error(`token: ${token.status} ${await token.text()}`);
  await token.json();
}

const durations = [];
const until = Date.now() + SECONDS * 1000;
await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
  while (Date.now() < until) {
    const started = performance.now();
    await roundTrip();
    durations.push(performance.now() - started);
  }
}));
durations.sort((a, b) => a - b);
console.log(
  `${"authorization-code round trips".padEnd(34)} ${(durations.length / SECONDS).toFixed(0)} per second ` +
    `(${CONCURRENCY} at once), median ${durations[Math.floor(durations.length / 2)].toFixed(1)} ms`,
);
