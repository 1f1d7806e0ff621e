// End to end: the search page against a real core holding real Falco alerts as events. The
// harness (tests/e2e/test_search_ui.py) starts the stack, publishes the alerts on NATS, waits until
// the query API returns them, and sets SR_URL and SR_SEARCH_EXPECT_EVENTS (how many it published).
// What the page shows is checked against what POST /api/v1/query answers for the same query.
import { expect, test, type APIRequestContext, type Page } from '@playwright/test';

interface QueryAnswer {
  kind: 'events' | 'stats';
  columns: { name: string; type: string }[];
  rows: unknown[][];
  next_cursor: string | null;
  highlight: string[];
  histogram?: { bucket_s: number; buckets: { time: string; count: number }[] };
}

interface QueryFailure {
  error: { code: string; message: string; position?: number; length?: number; hint?: string };
}

const EXPECT_EVENTS = Number(process.env.SR_SEARCH_EXPECT_EVENTS);

async function api(
  request: APIRequestContext,
  body: { query: string; cursor?: string; histogram?: boolean },
): Promise<{ status: number; body: unknown }> {
  const res = await request.post('/api/v1/query', { data: body });
  return { status: res.status(), body: await res.json() };
}

async function answer(request: APIRequestContext, query: string, cursor?: string): Promise<QueryAnswer> {
  const res = await api(request, { query, cursor, histogram: cursor === undefined });
  expect(res.status, `POST /api/v1/query ${query}`).toBe(200);
  return res.body as QueryAnswer;
}

function histogramTotal(a: QueryAnswer): number {
  return (a.histogram?.buckets ?? []).reduce((n, b) => n + b.count, 0);
}

async function search(page: Page, query: string): Promise<void> {
  const input = page.getByRole('textbox', { name: 'SRQL query' });
  await input.fill(query);
  await input.press('Enter');
}

test('search finds Falco alerts, explains them, pages through them and reports query errors', async ({
  page,
  request,
}) => {
  expect(EXPECT_EVENTS, 'SR_SEARCH_EXPECT_EVENTS (set by tests/e2e/test_search_ui.py)').toBeGreaterThan(10);

  const cspViolations: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy/i.test(msg.text())) cspViolations.push(msg.text());
  });

  // From the navigation to the search page; with no query the syntax help is open.
  await page.goto('/');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Search' }).click();
  await expect(page).toHaveURL(/\/search$/);
  await expect(page.getByRole('heading', { level: 1, name: 'Search' })).toBeVisible();
  await expect(page.getByTestId('srql-help')).toBeVisible();

  // A full-text query: the rows the API returns, with the matched word highlighted.
  const q1 = 'type:falco_alert AND shell';
  const a1 = await answer(request, q1);
  expect(a1.rows.length, `rows for ${q1}`).toBeGreaterThan(0);
  expect(a1.highlight.map((h) => h.toLowerCase())).toContain('shell');
  await search(page, q1);
  await expect(page).toHaveURL(/[?&]q=type%3Afalco_alert(\+|%20)AND(\+|%20)shell/);
  const rows = page.getByTestId('event-row');
  await expect(rows).toHaveCount(a1.rows.length);
  await expect(page.getByTestId('search-summary')).toHaveAttribute('data-rows', String(a1.rows.length));
  await expect(page.getByTestId('search-summary')).toContainText(/\d+ ms/);
  const marks = page.getByTestId('event-message').locator('mark.hl');
  expect(await marks.count()).toBeGreaterThan(0);
  for (const text of await marks.allTextContents()) expect(text.toLowerCase()).toContain('shell');
  expect(histogramTotal(a1)).toBe(a1.rows.length);
  await expect(page.getByTestId('search-histogram')).toHaveAttribute('data-total', String(a1.rows.length));

  // The first event in detail: every column, and the fields object as keys and values.
  const messageCol = a1.columns.findIndex((c) => c.name === 'message');
  await rows.first().getByTestId('event-open').click();
  const detail = page.getByRole('dialog');
  await expect(detail).toBeVisible();
  await page.screenshot({ path: 'test-results/search-results.png' });
  for (const c of a1.columns) await expect(detail.locator(`[data-column="${c.name}"]`)).toHaveCount(1);
  await expect(detail.getByTestId('detail-message')).toHaveText(String(a1.rows[0]?.[messageCol]));
  const fieldsCol = a1.columns.findIndex((c) => c.name === 'fields');
  const fieldKeys = Object.keys((a1.rows[0]?.[fieldsCol] ?? {}) as Record<string, unknown>);
  expect(fieldKeys.length).toBeGreaterThan(0);
  const fieldsTable = detail.getByTestId('detail-fields');
  for (const k of fieldKeys) await expect(fieldsTable.getByRole('rowheader', { name: k, exact: true })).toHaveCount(1);
  await page.keyboard.press('Escape');
  await expect(detail).toHaveCount(0);

  // Pivot from the detail: only this rule, as the API answers the same query.
  const ruleCol = a1.columns.findIndex((c) => c.name === 'rule');
  const rule = String(a1.rows[0]?.[ruleCol]);
  const q2 = `${q1} AND rule:"${rule.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
  const a2 = await answer(request, q2);
  await rows.first().getByTestId('event-open').click();
  await page.getByRole('dialog').getByRole('button', { name: `Filter on rule:"${rule}"`, exact: true }).click();
  await expect(page.getByRole('textbox', { name: 'SRQL query' })).toHaveValue(q2);
  await expect(rows).toHaveCount(a2.rows.length);
  await expect(page.getByRole('dialog')).toHaveCount(0);
  await page.goBack();
  await expect(page.getByRole('textbox', { name: 'SRQL query' })).toHaveValue(q1);
  await expect(rows).toHaveCount(a1.rows.length);

  // Show SQL: parameterized SQL and its parameters.
  await page.getByRole('button', { name: 'Show SQL' }).click();
  await expect(page.getByTestId('sql-text')).toContainText('$1');
  await expect(page.getByTestId('sql-params').getByRole('rowheader', { name: '$1', exact: true })).toBeVisible();
  await expect(page).toHaveURL(/[?&]sql=1/);
  await page.getByRole('button', { name: 'Show SQL' }).click();
  await expect(page.getByTestId('sql-panel')).toHaveCount(0);

  // Pages of 10 through every alert with Load more: the page grows by what each next page of the
  // API holds, until no cursor is left.
  const paged = 'type:falco_alert limit:10';
  const pageSizes: number[] = [];
  let cursor: string | undefined;
  do {
    const a = await answer(request, paged, cursor);
    pageSizes.push(a.rows.length);
    cursor = a.next_cursor ?? undefined;
  } while (cursor);
  expect(pageSizes.length, 'more alerts than one page of 10').toBeGreaterThan(1);
  expect(pageSizes.reduce((n, k) => n + k, 0)).toBe(EXPECT_EVENTS);
  await search(page, paged);
  await expect(rows).toHaveCount(pageSizes[0]!);
  await expect(page.getByTestId('search-histogram')).toHaveAttribute('data-total', String(EXPECT_EVENTS));
  let shown = pageSizes[0]!;
  for (const size of pageSizes.slice(1)) {
    await page.getByRole('button', { name: 'Load more' }).click();
    shown += size;
    await expect(rows).toHaveCount(shown);
  }
  await expect(page.getByRole('button', { name: 'Load more' })).toHaveCount(0);
  const ids = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-event-id')));
  expect(new Set(ids).size, 'paging must not repeat events').toBe(EXPECT_EVENTS);

  // The URL holds the search: a reload shows the same first page.
  await page.reload();
  await expect(page.getByRole('textbox', { name: 'SRQL query' })).toHaveValue('type:falco_alert limit:10');
  await expect(rows).toHaveCount(pageSizes[0]!);

  // A broken query: the core's message, and the offending span marked where the core says.
  const bad = 'type:falco_alert AND (host:x';
  const failure = await api(request, { query: bad });
  expect(failure.status).toBe(400);
  const err = (failure.body as QueryFailure).error;
  expect(err.position, 'SRQL errors carry a position').toBeDefined();
  await search(page, bad);
  const alert = page.getByTestId('query-error');
  await expect(alert).toBeVisible();
  await expect(alert).toContainText(err.message);
  await expect(alert).toContainText(`at column ${err.position! + 1}`);
  await expect(page.getByTestId('query-error-span')).toHaveText(
    err.length ? bad.slice(err.position, err.position! + err.length) : ' ',
  );
  if (err.hint) await expect(page.getByTestId('query-error-hint')).toContainText(err.hint);
  await expect(page.getByRole('textbox', { name: 'SRQL query' })).toHaveAttribute('aria-invalid', 'true');

  // Semantic search is not built: a notice with the core's message, not an error.
  const similar = 'SIMILAR_TO("reverse shell")';
  const na = await api(request, { query: similar });
  expect(na.status).toBe(501);
  await search(page, similar);
  await expect(page.getByTestId('query-not-available')).toContainText((na.body as QueryFailure).error.message);
  await expect(page.getByTestId('query-error')).toHaveCount(0);

  await page.screenshot({ path: 'test-results/search-page.png', fullPage: true });
  expect(cspViolations, 'CSP violations').toEqual([]);
});
