/**
 * A request body of `total` bytes produced on demand in `chunk`-byte pieces, counting what was
 * pulled: an app that refuses it early pulls about its limit, never the whole body.
 */
export function countingBody(total: number, chunk = 64 * 1024): { body: ReadableStream<Uint8Array>; pulled: () => number } {
  let produced = 0;
  const piece = new Uint8Array(chunk).fill(0x20);
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (produced >= total) {
        controller.close();
        return;
      }
      const size = Math.min(chunk, total - produced);
      produced += size;
      controller.enqueue(size === chunk ? piece.slice() : piece.slice(0, size));
    },
  });
  return { body, pulled: () => produced };
}

/** `init` for app.request with a streamed body (no Content-Length: sent chunked). */
export function streamedInit(body: ReadableStream<Uint8Array>, headers: Record<string, string> = {}): RequestInit {
  return { method: 'POST', body, headers, duplex: 'half' };
}
