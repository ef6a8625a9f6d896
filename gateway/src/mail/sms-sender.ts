/** One text message to one phone number (E.164). */
export interface SmsMessage {
  to: string;
  body: string;
}

/**
 * Sends texts to the operator's SMS endpoint (SMS_PROVIDER_URL, the one Kratos' courier `sms`
 * channel posts to): `{"to", "body"}` as JSON with `Authorization: Bearer <key>`. The one module
 * that talks to the SMS provider.
 */
export interface SmsSender {
  /** Sends the text; throws when the endpoint refuses it (any status but 2xx) or cannot be reached. */
  send(message: SmsMessage): Promise<void>;
}

/** How long the provider may take to accept a text. */
const SEND_TIMEOUT_MS = 10_000;

export function createSmsSender(options: { url: string; apiKey: string }): SmsSender {
  return {
    async send(message) {
      const res = await fetch(options.url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${options.apiKey}` },
        body: JSON.stringify({ to: message.to, body: message.body }),
        signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
      });
      await res.body?.cancel();
      // The status only: a provider's answer may echo the number or the text.
      if (!res.ok) throw new Error(`the SMS provider answered ${res.status}`);
    },
  };
}
