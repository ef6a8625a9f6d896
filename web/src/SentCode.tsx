import type { Result } from '@auth-gateway/client';
import { useState } from 'react';
import { Field, Submit, type Task } from './ui';

/** A code the gateway (or Kratos) sends on request, then entered: e-mailed or texted. */
export interface CodeChannel<T> {
  name: string;
  send: () => Promise<Result<unknown>>;
  sent: string;
  sendLabel: string;
  verify: (code: string) => Promise<Result<T>>;
  fieldLabel: string;
  formLabel: string;
  /** Default "Verify code". */
  submitLabel?: string;
}

/** Asks for a code on `channel`, then takes it; `onResult` gets what the verification answered. */
export function SentCode<T>({
  task,
  channel,
  onResult,
}: {
  task: Task;
  channel: CodeChannel<T>;
  onResult: (result: Result<T> | undefined) => void;
}) {
  const [sent, setSent] = useState(false);
  const [code, setCode] = useState('');
  if (!sent)
    return (
      <button
        type="button"
        disabled={task.busy}
        onClick={async () => {
          const result = await task.run(channel.send, channel.sent);
          if (result?.ok) setSent(true);
        }}
      >
        {channel.sendLabel}
      </button>
    );
  return (
    <form
      className="stack"
      aria-label={channel.formLabel}
      onSubmit={async (e) => {
        e.preventDefault();
        onResult(await task.run(() => channel.verify(code.trim())));
      }}
    >
      <Field
        label={channel.fieldLabel}
        name={channel.name}
        value={code}
        onChange={setCode}
        inputMode="numeric"
        autoComplete="one-time-code"
        required
      />
      <Submit busy={task.busy}>{channel.submitLabel ?? 'Verify code'}</Submit>
    </form>
  );
}
