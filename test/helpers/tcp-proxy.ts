/**
 * A small TCP proxy in front of a test Redis that can lose a reply on purpose: it reads the
 * RESP commands each client sends and the replies Redis sends back (in order, one reply per
 * command), and when Redis has answered a command that matches a drop rule, it swallows that
 * reply and closes the client's connection. ioredis then reconnects and resends the command
 * it never got an answer for (its default, `autoResendUnfulfilledCommands`): the command
 * runs twice on the server.
 *
 *   const proxy = await startTcpProxy(redis.port);
 *   const url = proxy.url;                                  // redis://127.0.0.1:<proxy port>
 *   const dropped = proxy.dropAfterReply((cmd) => cmd[0] === 'EVALSHA' && cmd.includes('…'));
 *   ... await dropped;                                     // the reply was lost once
 *   proxy.count(pred)                                      // how often such commands reached Redis
 */
import { connect, createServer, type Socket } from 'node:net';

/** A command as sent: its name upper-cased, then its arguments (latin1, so any bytes survive). */
export type Command = string[];
export type CommandMatch = (cmd: Command) => boolean;

export interface TcpProxy {
  /** `redis://127.0.0.1:<port>` (no credentials). */
  url: string;
  port: number;
  /**
   * Once: after Redis answers the next command matching `match` (on any connection), the
   * reply is swallowed and that client's connection is closed. Resolves with the command.
   */
  dropAfterReply(match: CommandMatch): Promise<Command>;
  /**
   * From now on, connections that sent a command matching `match` (e.g. SUBSCRIBE) get
   * nothing more from Redis, and stay open: a connection dropped silently (a NAT or load
   * balancer forgetting it). Returns how many connections went silent.
   */
  silence(match: CommandMatch): number;
  /** How many commands matching `match` the proxy passed to Redis so far. */
  count(match: CommandMatch): number;
  /** Client connections open now. */
  connections(): number;
  close(): Promise<void>;
}

/** End offset of the RESP value starting at `at`, or -1 when `buf` does not hold all of it yet. */
function respEnd(buf: Buffer, at: number): number {
  if (at >= buf.length) return -1;
  const nl = buf.indexOf('\r\n', at);
  if (nl < 0) return -1;
  const type = buf[at];
  const n = Number(buf.toString('latin1', at + 1, nl));
  let p = nl + 2;
  switch (type) {
    case 0x2b: // + simple string
    case 0x2d: // - error
    case 0x3a: // : integer
      return p;
    case 0x24: // $ bulk string
      if (n < 0) return p;
      return buf.length >= p + n + 2 ? p + n + 2 : -1;
    case 0x2a: // * array
      if (n < 0) return p;
      for (let i = 0; i < n; i++) {
        p = respEnd(buf, p);
        if (p < 0) return -1;
      }
      return p;
    default:
      throw new Error(`tcp-proxy: unexpected RESP type byte ${type} (RESP3 is not supported)`);
  }
}

/** A command (array of bulk strings) from `buf[at..end)`. */
function parseCommand(buf: Buffer, at: number): Command {
  const out: string[] = [];
  let nl = buf.indexOf('\r\n', at);
  const n = Number(buf.toString('latin1', at + 1, nl));
  let p = nl + 2;
  for (let i = 0; i < n; i++) {
    nl = buf.indexOf('\r\n', p);
    const len = Number(buf.toString('latin1', p + 1, nl));
    out.push(buf.toString('latin1', nl + 2, nl + 2 + len));
    p = nl + 2 + len + 2;
  }
  if (out.length) out[0] = out[0]!.toUpperCase();
  return out;
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const rules: { match: CommandMatch; resolve: (c: Command) => void }[] = [];
  const seen: Command[] = [];
  const open = new Set<Socket>();
  /** Each open client connection's commands so far, and whether it went silent. */
  const conns = new Map<Socket, { sent: Command[]; silent: boolean }>();

  const server = createServer((client) => {
    open.add(client);
    const state = { sent: [] as Command[], silent: false };
    conns.set(client, state);
    const upstream = connect(targetPort, targetHost);
    const inflight: { cmd: Command; drop?: (c: Command) => void }[] = [];
    let fromClient = Buffer.alloc(0);
    let fromServer = Buffer.alloc(0);
    let dead = false;
    const kill = () => {
      if (dead) return;
      dead = true;
      client.destroy();
      upstream.destroy();
      open.delete(client);
      conns.delete(client);
    };
    client.on('data', (d) => {
      fromClient = Buffer.concat([fromClient, d]);
      let at = 0;
      for (;;) {
        const end = respEnd(fromClient, at);
        if (end < 0) break;
        const cmd = parseCommand(fromClient, at);
        seen.push(cmd);
        state.sent.push(cmd);
        const i = rules.findIndex((r) => r.match(cmd));
        const entry: (typeof inflight)[number] = { cmd };
        if (i >= 0) entry.drop = rules.splice(i, 1)[0]!.resolve;
        inflight.push(entry);
        upstream.write(fromClient.subarray(at, end));
        at = end;
      }
      fromClient = fromClient.subarray(at);
    });
    upstream.on('data', (d) => {
      if (state.silent) return;
      fromServer = Buffer.concat([fromServer, d]);
      let at = 0;
      for (;;) {
        const end = respEnd(fromServer, at);
        if (end < 0) break;
        const entry = inflight.shift();
        if (entry?.drop) {
          // Redis has run it and answered: lose the answer and the connection.
          kill();
          entry.drop(entry.cmd);
          return;
        }
        client.write(fromServer.subarray(at, end));
        at = end;
      }
      fromServer = fromServer.subarray(at);
    });
    client.on('error', kill);
    upstream.on('error', kill);
    client.on('close', kill);
    upstream.on('close', kill);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dropAfterReply: (match) => new Promise<Command>((resolve) => rules.push({ match, resolve })),
    silence(match) {
      let n = 0;
      for (const c of conns.values()) if (!c.silent && c.sent.some(match)) (c.silent = true), n++;
      return n;
    },
    count: (match) => seen.filter(match).length,
    connections: () => open.size,
    async close() {
      for (const s of open) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
