/** A small Server-Sent Events client over fetch, for tests: reads messages until told to stop. */

export interface SseMessage {
  id?: string;
  event: string;
  data: string;
}

/**
 * Opens `url` as an event stream and calls `onMessage` for each message until it returns true
 * (then the connection is closed) or the server ends the stream. Resolves with every message read.
 */
export async function readSse(url: string, onMessage: (m: SseMessage) => boolean | void, headers: Record<string, string> = {}): Promise<SseMessage[]> {
  const abort = new AbortController();
  const res = await fetch(url, { headers: { accept: "text/event-stream", ...headers }, signal: abort.signal });
  if (res.status !== 200 || !res.body) throw new Error(`SSE ${url}: HTTP ${res.status}: ${await res.text()}`);
  const messages: SseMessage[] = [];
  const decoder = new TextDecoder();
  let buffer = "";
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return messages;
      buffer += decoder.decode(value, { stream: true });
      let cut: number;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const m: SseMessage = { event: "message", data: "" };
        const data: string[] = [];
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue;
          const i = line.indexOf(":");
          const field = i < 0 ? line : line.slice(0, i);
          const v = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
          if (field === "id") m.id = v;
          else if (field === "event") m.event = v;
          else if (field === "data") data.push(v);
        }
        if (data.length === 0 && m.id === undefined) continue;
        m.data = data.join("\n");
        messages.push(m);
        if (onMessage(m) === true) {
          abort.abort();
          return messages;
        }
      }
    }
  } catch (err) {
    if (abort.signal.aborted) return messages;
    throw err;
  } finally {
    reader.releaseLock();
  }
}
