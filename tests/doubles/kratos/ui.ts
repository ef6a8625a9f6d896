/** Kratos' UI texts and nodes (`ui.nodes`, `ui.messages`), with the ids and wording of Kratos v1.3.1. */

export interface UiText {
  id: number;
  text: string;
  type: 'info' | 'error' | 'success';
  context?: Record<string, unknown>;
}

export type NodeGroup = 'default' | 'password' | 'profile' | 'code' | 'totp' | 'lookup_secret' | 'oidc';

export interface UiNode {
  type: 'input' | 'text' | 'img';
  group: NodeGroup;
  attributes: Record<string, unknown>;
  messages: UiText[];
  meta: { label?: UiText };
}

export interface UiContainer {
  action: string;
  method: 'POST';
  nodes: UiNode[];
  messages?: UiText[];
}

const info = (id: number, text: string, context?: Record<string, unknown>): UiText =>
  context ? { id, text, type: 'info', context } : { id, text, type: 'info' };
const error = (id: number, text: string, context?: Record<string, unknown>): UiText => ({
  id,
  text,
  type: 'error',
  context: context ?? {},
});

/** Texts by their Kratos message id (text/id.go, text/message_*.go). */
export const texts = {
  loginMfa: () => info(1010004, 'Please complete the second authentication challenge.'),
  loginReauth: () => info(1010003, 'Please confirm this action by verifying that it is you.'),
  signIn: () => info(1010001, 'Sign in'),
  signInWithPassword: () => info(1010022, 'Sign in with password'),
  signInWith: (label: string, providerId: string) =>
    info(1010002, `Sign in with ${label}`, { provider: label, provider_id: providerId }),
  signInAndLink: () => info(1010017, 'Sign in and link'),
  confirmWithAndLink: (label: string) => info(1010018, `Confirm with ${label}`, { provider: label }),
  /** text.NewInfoLoginLinkMessage; login hints are off, so no credential types or providers are named. */
  loginLink: (identifier: string, providerLabel: string, newLoginUrl: string) =>
    info(
      1010016,
      `You tried to sign in with ${goQuote(identifier)}, but that email is already used by another account. Sign in to your account with one of the options below to add your account ${goQuote(identifier)} at ${goQuote(providerLabel)} as another way to sign in.`,
      {
        available_credential_types: [],
        available_providers: [],
        duplicateIdentifier: identifier,
        duplicate_identifier: identifier,
        newLoginUrl: newLoginUrl,
        new_login_url: newLoginUrl,
        provider: providerLabel,
      },
    ),
  linkedCredentialsMismatch: () => error(4010009, 'Linked credentials do not match.'),
  totpLabel: () => info(1010006, 'Authentication code'),
  lookupLabel: () => info(1010007, 'Backup recovery code'),
  useAuthenticator: () => info(1010009, 'Use Authenticator'),
  useLookup: () => info(1010010, 'Use backup recovery code'),
  signUp: () => info(1040001, 'Sign up'),
  signUpWith: (label: string, providerId: string) =>
    info(1040002, `Sign up with ${label}`, { provider: label, provider_id: providerId }),
  settingsSaved: (): UiText => ({ id: 1050001, text: 'Your changes have been saved!', type: 'success' }),
  unlinkTotp: () => info(1050004, 'Unlink TOTP Authenticator App'),
  totpQr: () => info(1050005, 'Authenticator app QR code'),
  totpSecret: (secret: string) => info(1050006, secret, { secret }),
  totpSecretLabel: () =>
    info(1050017, 'This is your authenticator app secret. Use it if you can not scan the QR code.'),
  revealLookup: () => info(1050007, 'Reveal backup recovery codes'),
  regenerateLookup: () => info(1050008, 'Generate new backup recovery codes'),
  lookupSecret: (secret: string) => info(1050009, secret, { secret }),
  lookupSecretLabel: () =>
    info(1050010, 'These are your back up recovery codes. Please keep them in a safe place!'),
  confirmLookup: () => info(1050011, 'Confirm backup recovery codes'),
  lookupUsed: (usedAt: number) =>
    info(1050014, `Secret was used at ${goTime(usedAt)}`, {
      used_at: new Date(usedAt).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      used_at_unix: Math.floor(usedAt / 1000),
    }),
  lookupList: (text: string, secrets: UiText[]) => info(1050015, text, { secrets }),
  disableLookup: () => info(1050016, 'Disable this method'),
  recoverySuccessful: (minutes: number, expiresAt: number) =>
    info(
      1060001,
      `You successfully recovered your account. Please change your password or set up an alternative login method (e.g. social sign in) within the next ${minutes.toFixed(2)} minutes.`,
      {
        privileged_session_expires_at: new Date(expiresAt).toISOString(),
        privileged_session_expires_at_unix: Math.floor(expiresAt / 1000),
      },
    ),
  recoveryCodeSent: () =>
    info(
      1060003,
      'An email containing a recovery code has been sent to the email address you provided. If you have not received an email, check the spelling of the address and make sure to use the address you registered with.',
    ),
  password: () => info(1070001, 'Password'),
  generated: (title: string) => info(1070002, title, { title }),
  save: () => info(1070003, 'Save'),
  id: () => info(1070004, 'ID'),
  verifyCode: () => info(1070006, 'Verify code'),
  email: () => info(1070007, 'Email'),
  resendCode: () => info(1070008, 'Resend code'),
  continue: () => info(1070009, 'Continue'),
  recoveryCode: () => info(1070010, 'Recovery code'),
  verificationCode: () => info(1070011, 'Verification code'),
  verificationCodeSent: () =>
    info(
      1080003,
      'An email containing a verification code has been sent to the email address you provided. If you have not received an email, check the spelling of the address and make sure to use the address you registered with.',
    ),
  verificationSuccessful: () => info(1080002, 'You successfully verified your email address.'),
  required: (property: string) => error(4000002, `Property ${property} is missing.`, { property }),
  generic: (reason: string) => error(4000001, reason, { reason }),
  invalidCredentials: () =>
    error(
      4000006,
      'The provided credentials are invalid, check for spelling mistakes in your password or username, email address, or phone number.',
    ),
  duplicateCredentials: () =>
    error(4000007, 'An account with the same identifier (email, phone, username, ...) exists already.'),
  totpWrong: () => error(4000008, 'The provided authentication code is invalid, please try again.'),
  lookupUsedAlready: () => error(4000012, 'This backup recovery code has already been used.'),
  lookupInvalid: () => error(4000016, 'The backup recovery code is not valid.'),
  passwordTooSimilar: () =>
    error(4000031, 'The password can not be used because it is too similar to the identifier.'),
  passwordMinLength: (min: number, actual: number) =>
    error(4000032, `The password must be at least ${min} characters long, but got ${actual}.`, {
      min_length: min,
      actual_length: actual,
    }),
  noTotpDevice: () => error(4000011, 'You have no TOTP device set up.'),
  noLookup: () => error(4000014, 'You have no backup recovery codes set up.'),
  loginCodeSent: () =>
    info(
      1010014,
      'An email containing a code has been sent to the email address you provided. If you have not received an email, check the spelling of the address and retry the login.',
    ),
  loginCodeLabel: () => info(1070013, 'Login code'),
  noCodeCredentials: () => error(4000035, 'This account does not exist or has not setup sign in with code.'),
  loginCodeInvalid: () =>
    error(4010008, 'The login code is invalid or has already been used. Please try again.'),
  loginNoStrategy: () =>
    error(4010002, 'Could not find a strategy to log you in with. Did you fill out the form correctly?'),
  registrationNoStrategy: () =>
    error(4010003, 'Could not find a strategy to sign you up with. Did you fill out the form correctly?'),
  settingsNoStrategy: () =>
    error(4010004, 'Could not find a strategy to update your settings. Did you fill out the form correctly?'),
  recoveryNoStrategy: () =>
    error(
      4010005,
      'Could not find a strategy to recover your account with. Did you fill out the form correctly?',
    ),
  verificationNoStrategy: () =>
    error(
      4010006,
      'Could not find a strategy to verify your account with. Did you fill out the form correctly?',
    ),
  recoveryCodeInvalid: () =>
    error(4060006, 'The recovery code is invalid or has already been used. Please try again.'),
  verificationCodeInvalid: () =>
    error(4070006, 'The verification code is invalid or has already been used. Please try again.'),
};

/** Go's %q of a plain string (JSON's quoting is the same for printable text). */
const goQuote = (value: string): string => JSON.stringify(value);

/** Go's time.Time String() layout, which Kratos uses in message 1050014. */
function goTime(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, ' +0000 UTC');
}

interface InputOptions {
  group: NodeGroup;
  name: string;
  type: string;
  value?: unknown;
  required?: boolean;
  autocomplete?: string;
  label?: UiText;
}

/** An `input` node; attribute order and presence follow Kratos' JSON. */
export function inputNode(options: InputOptions): UiNode {
  const attributes: Record<string, unknown> = { name: options.name, type: options.type };
  if (options.value !== undefined) attributes.value = options.value;
  if (options.required) attributes.required = true;
  if (options.autocomplete) attributes.autocomplete = options.autocomplete;
  attributes.disabled = false;
  attributes.node_type = 'input';
  return {
    type: 'input',
    group: options.group,
    attributes,
    messages: [],
    meta: options.label ? { label: options.label } : {},
  };
}

/** The hidden csrf_token node every flow carries (empty for API flows, which need no CSRF token). */
export const csrfNode = (token: string): UiNode =>
  inputNode({ group: 'default', name: 'csrf_token', type: 'hidden', value: token, required: true });

export const submitNode = (group: NodeGroup, name: string, value: string, label: UiText): UiNode =>
  inputNode({ group, name, type: 'submit', value, label });

export function textNode(group: NodeGroup, id: string, text: UiText, label: UiText): UiNode {
  return { type: 'text', group, attributes: { text, id, node_type: 'text' }, messages: [], meta: { label } };
}

export function imageNode(group: NodeGroup, id: string, src: string, label: UiText): UiNode {
  return {
    type: 'img',
    group,
    attributes: { src, id, width: 256, height: 256, node_type: 'img' },
    messages: [],
    meta: { label },
  };
}
