// End to end: a real core with a real agent on this machine. The harness starts the stack and sets
// SR_URL, SR_EXPECT_HOSTNAME (this machine's hostname) and SR_EXPECT_MEM_TOTAL (MemTotal in bytes);
// without them the test reads the same facts from this machine itself.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { expect, test, type Locator } from '@playwright/test';

const DEADLINE_MS = Number(process.env.SR_E2E_DEADLINE_MS ?? 90_000);

function expectedMemTotal(): number {
  if (process.env.SR_EXPECT_MEM_TOTAL) return Number(process.env.SR_EXPECT_MEM_TOTAL);
  const kib = /^MemTotal:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1];
  return Number(kib) * 1024;
}

async function numberAttr(el: Locator, name: string): Promise<number> {
  const v = await el.getAttribute(name);
  return v === null || v === '' ? NaN : Number(v);
}

test('hosts page leads to live charts of this machine', async ({ page }) => {
  const expectHostname = process.env.SR_EXPECT_HOSTNAME ?? hostname();
  const expectMem = expectedMemTotal();
  expect(expectMem, 'SR_EXPECT_MEM_TOTAL').toBeGreaterThan(0);

  // The core's CSP allows 'self' only: any violation is a bug in the UI build.
  const cspViolations: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy/i.test(msg.text())) cspViolations.push(msg.text());
  });

  await page.goto('/');
  await expect(page.getByRole('heading', { level: 1, name: 'Hosts' })).toBeVisible();

  // The agent's row, online (the list refreshes every 5 s, so wait for it).
  const row = page
    .locator('tr[data-testid="host-row"][data-status="online"]')
    .filter({ has: page.getByRole('link', { name: expectHostname, exact: true }) })
    .first();
  await expect(row).toBeVisible({ timeout: DEADLINE_MS });
  await expect(row.getByRole('cell').filter({ hasText: 'online' })).toHaveCount(1);
  const agentId = await row.getAttribute('data-agent-id');
  expect(agentId).toBeTruthy();

  await row.getByRole('link', { name: expectHostname, exact: true }).click();
  const escaped = encodeURIComponent(agentId!).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  await expect(page).toHaveURL(new RegExp(`/hosts/${escaped}(\\?|$)`));
  await expect(page.getByTestId('host-hostname')).toHaveText(expectHostname);

  // CPU: at least two real points, the newest a percentage.
  const cpu = page.getByTestId('chart-cpu');
  await expect.poll(() => numberAttr(cpu, 'data-points'), { timeout: DEADLINE_MS }).toBeGreaterThanOrEqual(2);
  const cpuLast = await numberAttr(cpu, 'data-last');
  expect(cpuLast).toBeGreaterThanOrEqual(0);
  expect(cpuLast).toBeLessThanOrEqual(100);

  // Memory: the total the agent reports is this machine's MemTotal (within 1 %).
  const memTotal = page.getByTestId('mem-total-bytes');
  await expect.poll(() => numberAttr(memTotal, 'data-value'), { timeout: DEADLINE_MS }).toBeGreaterThan(0);
  const mem = await numberAttr(memTotal, 'data-value');
  expect(Math.abs(mem - expectMem) / expectMem).toBeLessThanOrEqual(0.01);

  // Network: rates need two samples, so they arrive one interval after the first points.
  const net = page.getByTestId('chart-net-rx');
  await expect.poll(() => numberAttr(net, 'data-points'), { timeout: DEADLINE_MS }).toBeGreaterThanOrEqual(1);
  await expect.poll(() => numberAttr(page.getByTestId('chart-net-tx'), 'data-points'), { timeout: DEADLINE_MS }).toBeGreaterThanOrEqual(1);

  await page.screenshot({ path: 'test-results/host-page.png', fullPage: true });
  expect(cspViolations, 'CSP violations').toEqual([]);
});
