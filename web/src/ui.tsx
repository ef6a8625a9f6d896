import { describeError, type GatewayError, type Result } from '@auth-gateway/client';
import { useCallback, useEffect, useRef, useState, type ReactNode } from 'react';

/** A pending action's state: busy while it runs, then an error in words or a confirmation. */
export interface Task {
  busy: boolean;
  error: string | undefined;
  done: string | undefined;
  /** Runs `action`; a failed Result shows its error, `success` (if given) shows after an ok one. */
  run<T>(action: () => Promise<Result<T>>, success?: string): Promise<Result<T> | undefined>;
  clear(): void;
  fail(message: string): void;
}

export function useTask(): Task {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [done, setDone] = useState<string>();
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);
  const run = useCallback(async <T,>(action: () => Promise<Result<T>>, success?: string) => {
    setBusy(true);
    setError(undefined);
    setDone(undefined);
    try {
      const result = await action();
      if (!mounted.current) return result;
      if (result.ok) setDone(success);
      else setError(errorText(result.error));
      return result;
    } finally {
      if (mounted.current) setBusy(false);
    }
  }, []);
  const clear = useCallback(() => {
    setError(undefined);
    setDone(undefined);
  }, []);
  return { busy, error, done, run, clear, fail: setError };
}

/** Errors in words: a few codes get a sentence that says what to do next. */
export function errorText(error: GatewayError): string {
  if (error.kind === 'api') {
    switch (error.code) {
      case 'reauthentication_required':
        return 'For your security, sign in again before you do this.';
      case 'factor_enrolled_in_this_session':
        return 'A factor you added in this session counts from your next sign-in: sign out and sign in again.';
      case 'csrf_failed':
        return 'This page is out of date. Reload it and try again.';
      default:
        break;
    }
  }
  return describeError(error);
}

export function Notice({ task }: { task: Pick<Task, 'error' | 'done'> }) {
  if (task.error)
    return (
      <p className="notice notice-error" role="alert">
        {task.error}
      </p>
    );
  if (task.done)
    return (
      <p className="notice notice-ok" role="status">
        {task.done}
      </p>
    );
  return null;
}

export function Card({ title, children, id }: { title: string; children: ReactNode; id?: string }) {
  return (
    <section className="card" aria-labelledby={id ? `${id}-title` : undefined} id={id}>
      <h2 id={id ? `${id}-title` : undefined}>{title}</h2>
      {children}
    </section>
  );
}

export function Field(props: {
  label: string;
  name: string;
  type?: string;
  value: string;
  onChange: (value: string) => void;
  autoComplete?: string;
  required?: boolean;
  hint?: string;
  inputMode?: 'numeric' | 'text' | 'email';
  minLength?: number;
  autoFocus?: boolean;
}) {
  const id = `field-${props.name}`;
  return (
    <div className="field">
      <label htmlFor={id}>{props.label}</label>
      <input
        id={id}
        name={props.name}
        type={props.type ?? 'text'}
        value={props.value}
        onChange={(e) => props.onChange(e.target.value)}
        autoComplete={props.autoComplete}
        required={props.required}
        inputMode={props.inputMode}
        minLength={props.minLength}
        autoFocus={props.autoFocus}
        aria-describedby={props.hint ? `${id}-hint` : undefined}
      />
      {props.hint && (
        <small id={`${id}-hint`} className="hint">
          {props.hint}
        </small>
      )}
    </div>
  );
}

export function Submit({ busy, children }: { busy: boolean; children: ReactNode }) {
  return (
    <button type="submit" className="primary" disabled={busy}>
      {busy ? 'Working…' : children}
    </button>
  );
}

export const formatDate = (iso: string) =>
  new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
