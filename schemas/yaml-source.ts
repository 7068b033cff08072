import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from "yaml";

/** A position in the YAML text, 1-based. */
export interface Position {
  line: number;
  column: number;
}

export type PathSegment = string | number;

/** A parsed YAML text that can map a value path back to where it was written. */
export interface YamlSource {
  /** The plain JS value of the document (aliases resolved). */
  value: unknown;
  /** YAML syntax errors, each with its position (empty when the text parsed). */
  syntaxErrors: Array<{ message: string; position: Position }>;
  /**
   * Where the value at `path` was written. When the path does not exist in the text (a missing
   * key, or a value that came from a default) it is the position of the deepest existing parent.
   * With `key`, the position of the last segment's key rather than of its value.
   */
  locate(path: readonly PathSegment[], opts?: { key?: boolean }): Position;
}

function firstLine(message: string): string {
  return message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "").trim();
}

/** Parses YAML text, keeping what is needed to report positions. Never throws. */
export function readYaml(text: string): YamlSource {
  const lineCounter = new LineCounter();
  const doc: Document = parseDocument(text, { lineCounter, keepSourceTokens: true, uniqueKeys: true, prettyErrors: false });
  const pos = (offset: number): Position => {
    const p = lineCounter.linePos(offset);
    return { line: p.line, column: p.col };
  };
  const syntaxErrors = doc.errors.map((err) => {
    let message = firstLine(err.message);
    if (err.code === "MULTIPLE_DOCS") message = "expected a single YAML document, but the text holds several (separated by ---)";
    if (err.code === "DUPLICATE_KEY") message = "a key appears twice in the same map (YAML map keys must be unique)";
    return { message: `YAML syntax error: ${message}`, position: pos(err.pos[0]) };
  });
  let value: unknown = undefined;
  if (syntaxErrors.length === 0) {
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      // Too many alias expansions (a "billion laughs" document) or a broken alias.
      syntaxErrors.push({ message: `YAML error: ${firstLine(err instanceof Error ? err.message : String(err))}`, position: { line: 1, column: 1 } });
    }
  }

  const nodeStart = (node: unknown): number | undefined => {
    const range = (node as Node | null | undefined)?.range;
    return range ? range[0] : undefined;
  };

  const locate = (path: readonly PathSegment[], opts: { key?: boolean } = {}): Position => {
    let node: unknown = doc.contents;
    let last = nodeStart(node) ?? 0;
    for (let i = 0; i < path.length; i++) {
      if (isAlias(node)) node = node.resolve(doc);
      const seg = path[i];
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg));
        if (!pair) break;
        const keyStart = nodeStart(pair.key);
        if (i === path.length - 1 && opts.key && keyStart !== undefined) return pos(keyStart);
        const valueStart = nodeStart(pair.value);
        // `key:` with nothing after it has no value node: point at the key.
        if (valueStart === undefined) return pos(keyStart ?? last);
        node = pair.value;
        last = valueStart;
      } else if (isSeq(node) && typeof seg === "number") {
        const item = node.items[seg];
        const start = nodeStart(item);
        if (start === undefined) break;
        node = item;
        last = start;
      } else {
        break;
      }
    }
    return pos(last);
  };

  return { value, syntaxErrors, locate };
}

/** Formats a value path as written in messages: `tasks[1].retry.interval`, `cases["a b"][0]`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}
