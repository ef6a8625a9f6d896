/** The identifier as Kratos stores it: e-mail addresses compare case-insensitively. */
export const normalizeIdentifier = (identifier: string) => identifier.trim().toLowerCase();
