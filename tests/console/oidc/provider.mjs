// A real OpenID provider for the console's browser tests: panva's oidc-provider (OpenID Certified).
// node provider.mjs PORT REDIRECT_URI ; accounts come as JSON in OIDC_ACCOUNTS: {login: {name, email, groups}}.
// Its development login form takes any password for a known login (the accountId is the login).
import Provider from "oidc-provider";

const [port, redirectUri] = process.argv.slice(2);
const accounts = JSON.parse(process.env.OIDC_ACCOUNTS || "{}");
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: "accessward", client_secret: process.env.OIDC_CLIENT_SECRET || "test-secret",
    redirect_uris: [redirectUri], grant_types: ["authorization_code"], response_types: ["code"],
    token_endpoint_auth_method: "client_secret_basic",
  }],
  pkce: { required: () => true },
  scopes: ["openid", "email", "profile", "groups"],
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"], groups: ["groups"] },
  conformIdTokenClaims: false,
  cookies: { keys: ["accessward-test-only"] },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    const a = accounts[id];
    if (!a) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: a.email, email_verified: true, name: a.name, groups: a.groups || [] };
      },
    };
  },
});
provider.proxy = false;
provider.listen(Number(port), "127.0.0.1", () => console.log(`oidc-provider listening on ${issuer}`));
