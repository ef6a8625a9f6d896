import { Secret, TOTP } from 'otpauth';
import QRCode from 'qrcode';

/** A new TOTP key for an account, with its otpauth URI and QR code (SHA1, 6 digits, 30 s, as Kratos). */
export async function newTotpKey(
  issuer: string,
  accountName: string,
): Promise<{ secret: string; url: string; qr: string }> {
  const totp = new TOTP({
    issuer,
    label: accountName,
    algorithm: 'SHA1',
    digits: 6,
    period: 30,
    secret: new Secret({ size: 20 }),
  });
  const url = totp.toString();
  return { secret: totp.secret.base32, url, qr: await QRCode.toDataURL(url) };
}

/** Checks a code against a base32 secret at `now`, allowing one step of clock drift either way. */
export function verifyTotp(secret: string, code: unknown, now: number): boolean {
  if (typeof code !== 'string' || !/^\d{6}$/.test(code)) return false;
  const totp = new TOTP({ algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secret) });
  return totp.validate({ token: code, timestamp: now, window: 1 }) !== null;
}

/** The base32 secret inside an otpauth URI. */
export function secretFromUrl(url: unknown): string | undefined {
  if (typeof url !== 'string') return undefined;
  try {
    return new URL(url).searchParams.get('secret') ?? undefined;
  } catch {
    return undefined;
  }
}
