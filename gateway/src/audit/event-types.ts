/**
 * Every audit event type the gateway records, with what it means: `AuditEvent.type` is one
 * of these, so a new kind of event cannot be recorded before it is described here. The
 * audit query API filters by these names (and `area.*` for a whole area).
 */
export const AUDIT_EVENT_TYPES = {
  // Authentication attempts, each with its outcome and method.
  'login.password': 'A password login: success, failure (wrong password) or denied (locked).',
  'login.passkey': 'A passkey login.',
  'login.code_requested':
    'A sign-in code was asked for by e-mail or SMS (`channel`; recorded alike for every address or number).',
  'login.code':
    'A sign-in with an e-mailed or texted code (`channel`): success, failure (wrong, used or expired code) or denied (locked).',
  'login.social':
    'A social sign-in (Kratos oidc): success, or failure (an address that is already an account’s, a refused or stale answer).',
  'social.linked': 'A social sign-in provider account was linked to an account its owner proved.',
  'social.unlinked': 'A linked social sign-in provider account was removed.',
  'registration.requested': 'The first step of a sign-up: a code (or an "account exists" mail) was sent.',
  registration: 'A sign-up, with a password or passwordless.',
  'step_up.passkey': 'A session raised to aal2 with a passkey.',
  'step_up.totp': 'A session raised to aal2 with a TOTP code.',
  'step_up.backup_code': 'A session raised to aal2 with a backup (lookup secret) code.',
  'step_up.email_code': 'A session raised to aal2 with a code e-mailed by the gateway (EMAIL_CODE_MFA).',
  'step_up.sms_code': 'A session raised to aal2 with a code texted by the gateway (SMS_CODE_MFA).',
  // Sessions.
  'session.logout': 'A user signed out of one session.',
  'session.logout_all': 'A user signed out of every session.',
  'session.revoked': 'A user revoked one of their sessions.',
  // Passkeys.
  'passkey.added': 'A passkey was registered.',
  'passkey.removed': 'A passkey was deleted.',
  'passkey.renamed': 'A passkey got a new nickname.',
  'passkey.cloned': 'A passkey answered with a signature counter that went backwards: a possible clone.',
  // Account settings and second factors.
  'password.changed': 'The password was changed.',
  'profile.updated': 'Profile traits were changed.',
  'mfa.totp_enabled': 'A TOTP app was enrolled.',
  'mfa.totp_removed': 'The TOTP app was removed.',
  'mfa.backup_codes_generated': 'New backup codes were generated.',
  'mfa.email_code_sent': 'A second-factor code was e-mailed (to turn e-mailed codes on, or to step up).',
  'mfa.email_enabled': 'E-mailed codes were turned on as a second factor.',
  'mfa.email_removed': 'E-mailed codes were turned off as a second factor.',
  'mfa.sms_code_sent': 'A second-factor code was texted (to turn texted codes on, or to step up).',
  'mfa.sms_enabled': 'Texted codes were turned on as a second factor.',
  'mfa.sms_removed': 'Texted codes were turned off as a second factor.',
  // Phone number (SMS).
  'phone.code_sent': 'A phone number was set and Kratos texted it a verification code.',
  'phone.verified': 'A phone number was proven with the texted code.',
  'phone.removed': 'The phone number was removed.',
  // Recovery and verification.
  'recovery.requested': 'A recovery code was asked for.',
  'recovery.completed': 'An account was recovered with a code.',
  'verification.requested': 'A verification code was asked for.',
  'verification.completed': 'An e-mail address was verified.',
  // Defense in depth.
  'account.locked': 'Password login was locked after too many failures.',
  'account.unlocked': 'An admin lifted a password lock.',
  'csrf.refused': 'A state-changing request failed the CSRF check.',
  'rate_limit.refused': 'A client went over a rate limit (recorded once per client and window).',
  // Keys and files.
  'keys.rotated': 'The master key was rotated and the wrapped data keys rewrapped with the newest version.',
  'keys.min_decryption_raised': 'Key versions below the newest can no longer decrypt.',
  'keys.backup': 'A key backup was taken.',
  'keys.restored': 'A key was restored from a backup.',
  'keys.restore_checked': 'A key backup was checked without restoring it (dry run).',
  'jar.created': 'A honey jar was created.',
  'jar.updated': 'A honey jar was renamed or changed.',
  'jar.deleted': 'A honey jar was deleted with its files.',
  'jar.grant_set': 'Someone was given a role on a jar.',
  'jar.grant_removed': 'A role on a jar was taken away.',
  'jar.file_uploaded': 'A file was stored in a jar.',
  'jar.file_deleted': 'A file was deleted from a jar.',
  // Kratos web hooks.
  'webhook.received': 'Kratos called a web hook of the gateway.',
  'webhook.refused': 'A web hook call without the right shared key was refused.',
  // Administration (actor = the admin).
  'admin.denied': 'An admin route refused a caller (no role, no aal2, no second factor).',
  'admin.users_searched': 'An admin searched the users.',
  'admin.user_viewed': 'An admin looked at one user.',
  'admin.roles_changed': "An admin changed a user's roles.",
  'admin.sessions_revoked': 'An admin ended every session of a user.',
  'admin.user_deactivated': 'An admin deactivated a user (and ended their sessions).',
  'admin.keys_viewed': 'An admin looked at the key status.',
  'admin.audit_queried': 'An admin read the audit log.',
  'admin.audit_verified': 'An admin verified the audit chain.',
} as const satisfies Record<string, string>;

export type AuditEventType = keyof typeof AUDIT_EVENT_TYPES;
