import type { PublishedDraw } from "../lambdas/domain/draw.js";

/**
 * Reads a draw as anyone can: GET /sales/{id}/draw and every page of
 * /draw/entries, with no token. verify-draw and the demo use it.
 */
export interface FetchedDraw {
  draw: PublishedDraw & { state: string; pages: number; saleId: string };
  packed: Buffer;
}

export async function fetchDrawState(apiUrl: string, saleId: string) {
  const response = await fetch(`${apiUrl}/sales/${encodeURIComponent(saleId)}/draw`);
  const body = (await response.json()) as Record<string, unknown>;
  if (response.status !== 200) {
    throw new Error(
      `GET /sales/${saleId}/draw answered ${response.status} ${JSON.stringify(body)}`,
    );
  }
  return body as unknown as FetchedDraw["draw"];
}

/** The published draw and its whole packed entry list; null while it is not drawn. */
export async function fetchDraw(apiUrl: string, saleId: string): Promise<FetchedDraw | null> {
  const draw = await fetchDrawState(apiUrl, saleId);
  if (draw.state !== "drawn") return null;
  const pages: Buffer[] = [];
  for (let page = 0; page < draw.pages; page++) {
    const response = await fetch(
      `${apiUrl}/sales/${encodeURIComponent(saleId)}/draw/entries?page=${page}`,
    );
    const body = (await response.json()) as { entries?: string };
    if (response.status !== 200 || typeof body.entries !== "string") {
      throw new Error(`GET /draw/entries?page=${page} answered ${response.status}`);
    }
    pages.push(Buffer.from(body.entries, "base64"));
  }
  return { draw, packed: Buffer.concat(pages) };
}
