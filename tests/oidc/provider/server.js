// A real OpenID Provider (panva/oidc-provider, OpenID Certified) on loopback, for pystep tests.
//
// Environment:
//   PORT              listen port on 127.0.0.1 (default 0 = random)
//   CLIENT_ID         client for the CA (default "pystep-ca")
//   CLIENT_SECRET     its secret (default "pystep-secret")
//   DEVICE_CODE_TTL   device code lifetime in seconds (default 600)
//   EXTRA_CLIENT_IDS  comma-separated further client IDs, same secret and settings
// Prints one JSON line {"issuer": "...", "port": N} on stdout once it listens.
// devInteractions is on: any login/password signs in; the account's email is
// "<login>@example.com" (or the login itself when it contains "@").
import http from 'node:http';
import crypto from 'node:crypto';
import Provider from 'oidc-provider';

const clientId = process.env.CLIENT_ID || 'pystep-ca';
const clientSecret = process.env.CLIENT_SECRET || 'pystep-secret';
const deviceCodeTTL = Number(process.env.DEVICE_CODE_TTL || '600');
const clientIds = [clientId, ...(process.env.EXTRA_CLIENT_IDS || '').split(',').filter(Boolean)];

function jwk(type, opts, alg) {
  const { privateKey } = crypto.generateKeyPairSync(type, opts);
  const key = privateKey.export({ format: 'jwk' });
  return { ...key, alg, use: 'sig', kid: `${alg.toLowerCase()}-${crypto.randomBytes(4).toString('hex')}` };
}

const server = http.createServer();
server.listen(Number(process.env.PORT || '0'), '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: clientIds.map((id) => ({
      client_id: id,
      client_secret: clientSecret,
      application_type: 'native',
      redirect_uris: ['http://127.0.0.1/'],
      grant_types: ['authorization_code', 'urn:ietf:params:oauth:grant-type:device_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
      id_token_signed_response_alg: 'ES256',
    })),
    pkce: { required: () => true, methods: ['S256'] },
    features: {
      devInteractions: { enabled: true },
      deviceFlow: { enabled: true },
    },
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    // Put the scope's claims (email) in the id_token itself, as step-ca needs them there.
    conformIdTokenClaims: false,
    async findAccount(ctx, sub) {
      return {
        accountId: sub,
        async claims() {
          const email = sub.includes('@') ? sub : `${sub}@example.com`;
          return { sub, email, email_verified: true };
        },
      };
    },
    jwks: {
      keys: [
        jwk('ec', { namedCurve: 'P-256' }, 'ES256'),
        jwk('rsa', { modulusLength: 2048 }, 'RS256'),
      ],
    },
    cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
    ttl: { DeviceCode: deviceCodeTTL },
  });
  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer, port })}\n`);
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => server.close(() => process.exit(0)));
}
