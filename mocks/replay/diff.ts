// What a host sent a device, one operation at a time, and the difference between two such
// sequences (the recorded host's and our driver's) as an ordered diff: the longest common
// subsequence is "same", the rest "recorded only" or "sent only", like a line diff.

/** One host-to-device operation: a control request (with its OUT data) or bulk/interrupt OUT data. */
export type HostOp =
  | { kind: 'control'; bmRequestType: number; bRequest: number; wValue: number; wIndex: number; wLength: number; data?: Uint8Array }
  | { kind: 'bulk' | 'interrupt'; endpoint: number; data: Uint8Array };

export interface DiffEntry {
  /** '=' in both, '-' recorded but not sent, '+' sent but not recorded. */
  mark: '=' | '-' | '+';
  /** 1-based positions in the recorded and the sent sequence. */
  recordedIndex?: number;
  sentIndex?: number;
  op: HostOp;
}

export interface ReplayDiff {
  entries: DiffEntry[];
  recorded: number;
  sent: number;
  /** Entries marked '-' or '+'. */
  differences: number;
}

const hex = (n: number, digits: number) => n.toString(16).padStart(digits, '0');
const bytesHex = (d: Uint8Array) => [...d].map((b) => hex(b, 2)).join('');

const TYPE = ['standard', 'class', 'vendor', 'reserved'];
const RECIPIENT = ['device', 'interface', 'endpoint', 'other'];

/** One operation as a diff line shows it; equal operations describe equally. */
export function describeOp(op: HostOp): string {
  if (op.kind === 'control') {
    const dir = op.bmRequestType & 0x80 ? 'IN ' : 'OUT';
    const what = `${TYPE[(op.bmRequestType >> 5) & 3]}/${RECIPIENT[op.bmRequestType & 0x1f] ?? 'reserved'}`;
    const data = op.data && op.data.length ? ` data ${bytesHex(op.data)}` : '';
    return `control ${dir} ${hex(op.bmRequestType, 2)} ${what} bRequest 0x${hex(op.bRequest, 2)} wValue 0x${hex(op.wValue, 4)} wIndex 0x${hex(op.wIndex, 4)} wLength ${op.wLength}${data}`;
  }
  const shown = op.data.length > 32 ? `${bytesHex(op.data.subarray(0, 32))}...` : bytesHex(op.data);
  return `${op.kind} OUT ep 0x${hex(op.endpoint, 2)} ${op.data.length} bytes ${shown}`;
}

/** Longest-common-subsequence diff; above `maxCells` of table it aligns the common prefix and suffix only. */
export function diffOps(recorded: readonly HostOp[], sent: readonly HostOp[], maxCells = 16_000_000): ReplayDiff {
  const a = recorded.map(describeOp);
  const b = sent.map(describeOp);
  const entries: DiffEntry[] = [];
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
  for (let i = 0; i < pre; i++) entries.push({ mark: '=', recordedIndex: i + 1, sentIndex: i + 1, op: recorded[i]! });
  const n = a.length - pre - suf;
  const m = b.length - pre - suf;
  if (n * m <= maxCells) {
    // lcs[i][j]: common length of a[pre+i..] and b[pre+j..]
    const w = m + 1;
    const lcs = new Uint32Array((n + 1) * w);
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lcs[i * w + j] = a[pre + i] === b[pre + j] ? lcs[(i + 1) * w + j + 1]! + 1 : Math.max(lcs[(i + 1) * w + j]!, lcs[i * w + j + 1]!);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && a[pre + i] === b[pre + j]) {
        entries.push({ mark: '=', recordedIndex: pre + i + 1, sentIndex: pre + j + 1, op: recorded[pre + i]! });
        i++;
        j++;
      } else if (i < n && (j === m || lcs[(i + 1) * w + j]! >= lcs[i * w + j + 1]!)) {
        // what was recorded goes before what replaced it, as in a line diff
        entries.push({ mark: '-', recordedIndex: pre + i + 1, op: recorded[pre + i]! });
        i++;
      } else {
        entries.push({ mark: '+', sentIndex: pre + j + 1, op: sent[pre + j]! });
        j++;
      }
    }
  } else {
    for (let i = 0; i < n; i++) entries.push({ mark: '-', recordedIndex: pre + i + 1, op: recorded[pre + i]! });
    for (let j = 0; j < m; j++) entries.push({ mark: '+', sentIndex: pre + j + 1, op: sent[pre + j]! });
  }
  for (let k = suf; k > 0; k--) entries.push({ mark: '=', recordedIndex: a.length - k + 1, sentIndex: b.length - k + 1, op: recorded[a.length - k]! });
  return { entries, recorded: a.length, sent: b.length, differences: entries.filter((e) => e.mark !== '=').length };
}

/** The diff as text, one operation a line: `= r12 s12 control OUT 40 ...`. */
export function formatDiff(d: ReplayDiff): string[] {
  return d.entries.map((e) => {
    const r = e.recordedIndex === undefined ? '    ' : `r${String(e.recordedIndex).padEnd(3)}`;
    const s = e.sentIndex === undefined ? '    ' : `s${String(e.sentIndex).padEnd(3)}`;
    return `${e.mark} ${r} ${s} ${describeOp(e.op)}`;
  });
}
