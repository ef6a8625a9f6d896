import { startKratosDouble } from './index.js';

/**
 * Runs the Kratos double on its own: `tsx tests/doubles/kratos/main.ts [publicPort] [adminPort]`,
 * or KRATOS_PUBLIC_PORT / KRATOS_ADMIN_PORT (defaults 4433 and 4434, Kratos' own ports).
 * KRATOS_WEBHOOK_BASE_URL (e.g. http://127.0.0.1:3000/hooks/kratos) and KRATOS_WEBHOOK_API_KEY
 * enable web hook delivery.
 */
async function main(): Promise<void> {
  if (process.argv.slice(2).some((arg) => arg === '-h' || arg === '--help')) {
    console.log(
      'Usage: tsx tests/doubles/kratos/main.ts [publicPort] [adminPort]\n' +
        'The Kratos double on its own: ports from the arguments, or KRATOS_PUBLIC_PORT / KRATOS_ADMIN_PORT\n' +
        '(default 4433 / 4434); KRATOS_WEBHOOK_BASE_URL and KRATOS_WEBHOOK_API_KEY enable web hooks.',
    );
    return;
  }
  const [publicArg, adminArg] = process.argv.slice(2);
  const webhookBase = process.env.KRATOS_WEBHOOK_BASE_URL;
  const kratos = await startKratosDouble({
    publicPort: Number(publicArg ?? process.env.KRATOS_PUBLIC_PORT ?? 4433),
    adminPort: Number(adminArg ?? process.env.KRATOS_ADMIN_PORT ?? 4434),
    webhookUrl: webhookBase ? (hook) => `${webhookBase.replace(/\/$/, '')}/${hook}` : undefined,
    webhookApiKey: process.env.KRATOS_WEBHOOK_API_KEY,
  });
  console.log(`Kratos double public API: ${kratos.publicUrl}`);
  console.log(`Kratos double admin API:  ${kratos.adminUrl}`);
  const shutdown = (): void => {
    void kratos.close().then(() => process.exit(0));
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

void main();
