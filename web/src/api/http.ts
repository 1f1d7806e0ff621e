// The one fetch wrapper every generated API function goes through (orval "mutator"):
// parses JSON, and turns non-2xx answers into ApiError with the core's error envelope.

export interface ApiErrorBody {
  error?: { code?: string; message?: string };
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  /** The parsed JSON body of the answer, when it had one (e.g. /readyz's failing checks). */
  readonly body: unknown;

  constructor(status: number, code: string, message: string, body?: unknown) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

function errorFromBody(status: number, statusText: string, text: string): ApiError {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const envelope = body as ApiErrorBody | undefined;
  if (envelope?.error?.message) {
    return new ApiError(status, envelope.error.code ?? 'unknown', envelope.error.message, body);
  }
  return new ApiError(status, `http_${status}`, `HTTP ${status}${statusText ? ` ${statusText}` : ''}`, body);
}

export async function apiFetch<T>(url: string, init: RequestInit = {}): Promise<T> {
  const headers = new Headers(init.headers);
  if (!headers.has('Accept')) headers.set('Accept', 'application/json');
  let res: Response;
  try {
    res = await fetch(url, { ...init, headers });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'network', 'could not reach the ServiceRadar core');
  }
  const text = res.status === 204 ? '' : await res.text();
  if (!res.ok) throw errorFromBody(res.status, res.statusText, text);
  if (!text) return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError(res.status, 'bad_response', 'the core answered with something that is not JSON');
  }
}
