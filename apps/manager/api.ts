/** The dashboard's calls to the edge, with the manager's token. */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    detail: string,
  ) {
    super(detail);
  }
}

export async function call(token: string, method: "GET" | "POST", path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(path, {
    method,
    headers: { authorization: `Bearer ${token}`, accept: "application/json", ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text === "" ? null : JSON.parse(text);
  } catch {
    // A body that is not JSON (a proxy's page): the status says enough.
  }
  if (!res.ok) {
    const detail = typeof parsed === "object" && parsed !== null && typeof (parsed as { detail?: unknown }).detail === "string" ? (parsed as { detail: string }).detail : `status ${res.status}`;
    throw new ApiError(res.status, detail);
  }
  return parsed;
}
