// Turning a failed mutation into what a form shows: the API's message for one field (a 422's
// `fields`), or its general message when it names no field.
import { ApiError, errorMessage } from "./client";

/** Any thrown value as an ApiError (a network failure or a bug becomes status 0). */
export function asApiError(error: unknown): ApiError {
  return error instanceof ApiError ? error : new ApiError(0, "error", errorMessage(error));
}

/** The message for the field whose name ends with `field`, or null. */
export function fieldError(error: ApiError | null, field: string): string | null {
  return error?.fields.find((f) => f.field === field || f.field.endsWith(`.${field}`))?.message ?? null;
}

/** The message not tied to any of `fields`: the general one, shown at the top of the form. */
export function formError(error: ApiError | null, fields: string[]): string | null {
  if (!error) return null;
  const shown = error.fields.some((f) => fields.some((name) => f.field === name || f.field.endsWith(`.${name}`)));
  return shown ? null : error.message;
}
