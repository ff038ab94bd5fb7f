// The typed API client. Types come from the dashboard's own OpenAPI document
// (lib/api/openapi.json -> lib/api/schema.d.ts via `npm run gen:api`); a Python test fails when
// the committed copy drifts from the server's.
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];

/** The document's paths without the "/api/v1" prefix, which the client's baseUrl carries. */
export type ApiPaths = {
  [K in keyof paths as K extends `/api/v1${infer Rest}` ? Rest : never]: paths[K];
};

/** Where the API lives: same origin when served by the dashboard; NEXT_PUBLIC_API_BASE
 *  (e.g. http://127.0.0.1:8000) for `npm run dev` on another port. */
export const API_BASE = (process.env.NEXT_PUBLIC_API_BASE ?? "").replace(/\/+$/, "");
export const API_ROOT = `${API_BASE}/api/v1`;

export interface FieldError {
  field: string;
  message: string;
}

/** An error the API answered with: its status, stable code, message for people, field errors. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields: FieldError[] = [],
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** Called on every 401 so the shell can send the user to the login page. */
let onUnauthenticated: (() => void) | null = null;
export function setUnauthenticatedHandler(handler: (() => void) | null) {
  onUnauthenticated = handler;
}

const authRedirect: Middleware = {
  onResponse({ response, request }) {
    if (response.status === 401 && !request.url.endsWith("/auth/login")) onUnauthenticated?.();
    return undefined;
  },
};

/** The readable cookie holding the session's CSRF token (set by the login), and the header
 *  every change made with the session must send it back in: the dashboard refuses a POST,
 *  PUT, PATCH or DELETE with the session cookie but without it (403, code "csrf"). */
export const CSRF_COOKIE = "vy_csrf";
export const CSRF_HEADER = "X-CSRF-Token";
const UNSAFE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** The session's CSRF token, or null when this browser holds no session. */
export function csrfToken(): string | null {
  if (typeof document === "undefined") return null;
  for (const part of document.cookie.split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === CSRF_COOKIE) return decodeURIComponent(value.join("="));
  }
  return null;
}

/** Headers for a change sent with a raw `fetch` (uploads): the session's CSRF token. */
export function csrfHeaders(): Record<string, string> {
  const token = csrfToken();
  return token ? { [CSRF_HEADER]: token } : {};
}

/** Forget the token (logout); the dashboard clears the cookie too, this covers a failed call. */
export function clearCsrfToken() {
  if (typeof document !== "undefined") document.cookie = `${CSRF_COOKIE}=; Max-Age=0; Path=/; SameSite=Lax`;
}

const csrf: Middleware = {
  onRequest({ request }) {
    const token = csrfToken();
    if (token && UNSAFE_METHODS.has(request.method)) request.headers.set(CSRF_HEADER, token);
    return request;
  },
};

export const api = createClient<ApiPaths>({ baseUrl: API_ROOT, credentials: "include" });
api.use(authRedirect);
api.use(csrf);

export function toApiError(status: number, body: unknown): ApiError {
  const detail = (body as { error?: { code?: string; message?: string; fields?: FieldError[] } })
    ?.error;
  if (detail?.message) {
    return new ApiError(status, detail.code ?? "error", detail.message, detail.fields ?? []);
  }
  return new ApiError(status, "error", `the dashboard answered ${status}`);
}

/** Await an openapi-fetch call and return its data, or throw an ApiError (for TanStack Query). */
export async function unwrap<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await call;
  } catch (cause) {
    throw new ApiError(0, "unreachable", `the dashboard could not be reached (${String(cause)})`);
  }
  if (result.error !== undefined || !result.response.ok) {
    throw toApiError(result.response.status, result.error);
  }
  return result.data as T;
}

/** The message to show for any thrown value. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
