// Maps an OpenID provider's claims to identity traits for Kratos' `oidc` method.
//
// Only an e-mail address the provider says it verified becomes the account's address (and
// counts as verified); an unverified claim is never trusted, so the sign-up stops at the
// schema's required e-mail instead of taking an address nobody proved. Kratos never links a
// social sign-in to an existing account with the same address by itself: it refuses the
// sign-up as a duplicate.
local claims = std.extVar('claims');
local verified = std.objectHas(claims, 'email') && std.objectHas(claims, 'email_verified') && claims.email_verified;

{
  identity: {
    traits: {
      [if verified then 'email' else null]: claims.email,
    },
    verified_addresses: std.prune([
      if verified then { via: 'email', value: claims.email },
    ]),
  },
}
