import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { validationTokenOf, VALIDATION_RESPONSE_HEADERS } from '../../shared/graph/validation-request.js';

/**
 * A stand-in for the relay's Graph endpoints where the relay itself is not under test (the subscription adapters'
 * tests): answers Graph's validation handshake on any path with the relay's own token reader, and keeps what Graph
 * posts. `answer` lets a test make the validation wrong or slow.
 */
export interface GraphReceiver {
  readonly baseUrl: string;
  readonly posts: Array<{ path: string; body: string }>;
  answer: { delayMs: number; echo: 'token' | 'wrong' };
  close(): Promise<void>;
}

export async function startGraphReceiver(): Promise<GraphReceiver> {
  const posts: GraphReceiver['posts'] = [];
  const sockets = new Set<Socket>();
  const receiver = { answer: { delayMs: 0, echo: 'token' as 'token' | 'wrong' } };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const [path = '/', query] = (req.url ?? '/').split('?', 2);
      const token = validationTokenOf(query);
      if (token === undefined) {
        posts.push({ path, body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(202).end();
        return;
      }
      setTimeout(() => {
        if (res.destroyed) return;
        res.writeHead(200, VALIDATION_RESPONSE_HEADERS).end(receiver.answer.echo === 'token' ? token : 'not the token');
      }, receiver.answer.delayMs);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(receiver, {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    posts,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}
