// The synthetic check: a real client's path through the gateway. It takes a token by the OAuth
// client-credentials flow, writes an item and reads it back, ROUNDS times. Any other answer fails the run.
const env = process.env;

// The client's secret, from its own Secrets Manager secret. Lambda's Node.js 22 runtime bundles the AWS
// SDK v3; the Puppeteer runtimes have also shipped v2, so either serves (CloudWatch, "Runtime versions
// using Node.js and Puppeteer").
async function clientSecret() {
  const request = { SecretId: env.CLIENT_SECRET_ID };
  try {
    const v3 = require("@aws-sdk/client-secrets-manager");
    const secrets = new v3.SecretsManagerClient({});
    return (await secrets.send(new v3.GetSecretValueCommand(request))).SecretString;
  } catch (error) {
    if (error.code !== "MODULE_NOT_FOUND") throw error;
    const AWS = require("aws-sdk");
    return (await new AWS.SecretsManager().getSecretValue(request).promise()).SecretString;
  }
}

async function expectStatus(response, status, what) {
  if (response.status !== status) {
    const text = await response.text();
    throw new Error(`${what}: expected ${status}, got ${response.status}: ${text.slice(0, 200)}`);
  }
}

async function accessToken() {
  const basic = Buffer.from(`${env.CLIENT_ID}:${await clientSecret()}`).toString("base64");
  const response = await fetch(env.TOKEN_URL, {
    method: "POST",
    headers: { Authorization: `Basic ${basic}`, "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", scope: env.SCOPE }),
  });
  await expectStatus(response, 200, "token endpoint");
  return (await response.json()).access_token;
}

// Several rounds per run: with a release broken on some instances only, one call could miss them all.
exports.handler = async () => {
  const headers = { Authorization: `Bearer ${await accessToken()}`, "Content-Type": "application/json" };
  const url = new URL(env.ITEM_PATH, env.API_URL).toString();
  for (let round = 1; round <= Number(env.ROUNDS); round++) {
    const checkedAt = `${new Date().toISOString()}#${round}`;
    const put = await fetch(url, {
      method: "PUT",
      headers,
      body: JSON.stringify({ checkedAt, ttl_seconds: Number(env.ITEM_TTL_SECONDS) }),
    });
    await expectStatus(put, 200, `PUT ${env.ITEM_PATH} (round ${round})`);
    const get = await fetch(url, { headers });
    await expectStatus(get, 200, `GET ${env.ITEM_PATH} (round ${round})`);
    const item = await get.json();
    if (item.data?.checkedAt !== checkedAt) {
      throw new Error(`GET ${env.ITEM_PATH} returned another item: ${JSON.stringify(item).slice(0, 200)}`);
    }
  }
};
