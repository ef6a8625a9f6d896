import { Router } from 'express';

/**
 * Every router of the gateway matches paths case-sensitively, as the app does: a route is
 * reached by exactly one spelling, so no other letter case can slip past middleware that
 * looks at the path (the raw-upload check, rate limits) and still land on the route.
 */
export const caseSensitiveRouter = (): Router => Router({ caseSensitive: true });
