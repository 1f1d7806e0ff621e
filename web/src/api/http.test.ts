import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, apiFetch } from './http';

function mockFetch(status: number, body: string) {
  const fn = vi.fn(async () => new Response(body, { status }));
  vi.stubGlobal('fetch', fn);
  return fn;
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('apiFetch', () => {
  it('parses JSON and asks for it', async () => {
    const fn = mockFetch(200, '[{"agent_id":"a"}]');
    await expect(apiFetch('/api/v1/hosts', { method: 'GET' })).resolves.toEqual([{ agent_id: 'a' }]);
    const init = (fn.mock.calls[0] as unknown as [string, RequestInit])[1];
    expect(new Headers(init.headers).get('Accept')).toBe('application/json');
  });

  it('turns the error envelope into ApiError', async () => {
    mockFetch(404, '{"error":{"code":"not_found","message":"unknown host"}}');
    const err = await apiFetch('/x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 404, code: 'not_found', message: 'unknown host' });
  });

  it('keeps a non-envelope body (readyz 503)', async () => {
    mockFetch(503, '{"status":"not_ready","checks":{"nats":"down"}}');
    const err = (await apiFetch('/readyz').catch((e: unknown) => e)) as ApiError;
    expect(err.status).toBe(503);
    expect(err.body).toEqual({ status: 'not_ready', checks: { nats: 'down' } });
  });

  it('reports an unreachable core', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => {
        throw new TypeError('Failed to fetch');
      }),
    );
    await expect(apiFetch('/x')).rejects.toMatchObject({ code: 'network', status: 0 });
  });

  it('reports a body that is not JSON', async () => {
    mockFetch(200, '<html>');
    await expect(apiFetch('/x')).rejects.toMatchObject({ code: 'bad_response' });
  });
});
