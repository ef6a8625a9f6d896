/** The line that keeps a suite out of the real-stack tier: it needs a double's knobs (fault injection, a moved clock, white-box state). */
export const DOUBLE_ONLY_MARK = 'real-stack: double-only';
