import { createGatewayClient } from '@auth-gateway/client';

/** The one client of the app: same origin, so the gateway's cookies go along. */
export const gw = createGatewayClient();
