import { texts, type UiText } from './ui.js';

/**
 * Kratos' password policy: a minimum length and, when enabled, a check that the password is not
 * too similar to the identifier (a long common substring relative to either string).
 * Returns the message for the password node, or undefined when the password is acceptable.
 */
export function passwordProblem(
  password: string,
  identifiers: string[],
  options: { minLength: number; similarityCheck: boolean },
): UiText | undefined {
  const length = [...password].length;
  if (length < options.minLength) return texts.passwordMinLength(options.minLength, length);
  if (options.similarityCheck && identifiers.some((id) => tooSimilar(id, password)))
    return texts.passwordTooSimilar();
  return undefined;
}

function tooSimilar(identifier: string, password: string): boolean {
  const id = identifier.toLowerCase();
  const pw = password.toLowerCase();
  if (id === '' || pw === '') return false;
  const common = longestCommonSubstring(id, pw);
  return common / id.length >= 0.5 || common / pw.length >= 0.5;
}

function longestCommonSubstring(a: string, b: string): number {
  let best = 0;
  let previous = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i += 1) {
    const current = new Array<number>(b.length + 1).fill(0);
    for (let j = 1; j <= b.length; j += 1) {
      if (a[i - 1] === b[j - 1]) {
        current[j] = (previous[j - 1] ?? 0) + 1;
        best = Math.max(best, current[j] ?? 0);
      }
    }
    previous = current;
  }
  return best;
}
