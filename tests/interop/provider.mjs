// A real OpenID provider (panva/node-oidc-provider) for restgate's
// interoperability tests. It listens on 127.0.0.1 (port 0) and prints one JSON
// line, {"issuer": …}, when ready.
//
// Clients (client-credentials grant, client_secret_basic):
//   restgate / restgate-secret   restgate's own client, for introspection
//   ci-runner / ci-secret        a CI job
//   cli-app / cli-secret         the app users' tokens are issued to
// Resource server "api://restgate": JWT access tokens (RS256), audience
// api://restgate. Opaque client-credentials tokens without a resource.
//
// Test controls (not part of the provider):
//   GET /test/mint?user=alice   a user JWT access token for api://restgate,
//                               issued to cli-app (no browser login needed)
//   GET /test/rotate            new signing key: a fresh provider instance
//                               publishing [new, old], signing with the new one

import crypto from 'node:crypto';
import http from 'node:http';

import Provider from 'oidc-provider';

const RESOURCE = 'api://restgate';

function rsaKey(kid) {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
}

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const clients = [
  ['restgate', 'restgate-secret'],
  ['ci-runner', 'ci-secret'],
  ['cli-app', 'cli-secret'],
].map(([id, secret]) => ({
  client_id: id,
  client_secret: secret,
  grant_types: ['client_credentials'],
  redirect_uris: [],
  response_types: [],
  token_endpoint_auth_method: 'client_secret_basic',
}));

const resourceServer = {
  scope: 'read write',
  audience: RESOURCE,
  accessTokenFormat: 'jwt',
  accessTokenTTL: 600,
  jwt: { sign: { alg: 'RS256' } },
};

function makeProvider(keys) {
  const provider = new Provider(issuer, {
    clients,
    jwks: { keys },
    features: {
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: (ctx, client, oneOf) => oneOf,
        getResourceServerInfo: (ctx, indicator) => {
          if (indicator !== RESOURCE) throw new Provider.errors.InvalidTarget();
          return resourceServer;
        },
        useGrantedResource: () => true,
      },
    },
    // A real provider puts the username in the token; this one uses the account id.
    extraTokenClaims: async (ctx, token) => (token.accountId ? { preferred_username: token.accountId } : undefined),
    findAccount: async (ctx, id) => ({
      accountId: id,
      claims: async () => ({ sub: id, preferred_username: id, email: `${id}@corp.example`, email_verified: true }),
    }),
  });
  // Quiet: errors are part of the tests.
  provider.on('server_error', () => {});
  return provider;
}

let keys = [rsaKey('key-1')];
let provider = makeProvider(keys);
let handler = provider.callback();

async function mint(user) {
  const client = await provider.Client.find('cli-app');
  const grant = new provider.Grant({ accountId: user, clientId: 'cli-app' });
  grant.addResourceScope(RESOURCE, 'read write');
  const grantId = await grant.save();
  const token = new provider.AccessToken({
    accountId: user,
    client,
    grantId,
    gty: 'authorization_code',
    scope: 'read write',
    resourceServer: new provider.ResourceServer(RESOURCE, resourceServer),
  });
  return token.save();
}

server.on('request', async (req, res) => {
  const url = new URL(req.url, issuer);
  if (!url.pathname.startsWith('/test/')) {
    handler(req, res);
    return;
  }
  try {
    if (url.pathname === '/test/mint') {
      res.end(await mint(url.searchParams.get('user') ?? 'alice'));
    } else if (url.pathname === '/test/rotate') {
      keys = [rsaKey(`key-${keys.length + 1}`), ...keys];
      provider = makeProvider(keys);
      handler = provider.callback();
      res.end(keys[0].kid);
    } else {
      res.statusCode = 404;
      res.end();
    }
  } catch (e) {
    res.statusCode = 500;
    res.end(String(e?.stack ?? e));
  }
});

process.stdout.write(`${JSON.stringify({ issuer })}\n`);
// Stop with the test: when stdin closes (the parent is gone), exit.
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
