import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import net, { type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

/**
 * Once the server stops accepting, how long a connection with no request in progress may stay open for its client's
 * next request, counted from its last answer. A connection a load balancer stopped using has been idle that long
 * already and closes at once; one answered a moment ago may be carrying the next request right now, and closing it
 * would lose that request: it gets the time to send it, answered with `Connection: close`.
 */
export const IDLE_CONNECTION_LINGER_MS = 1_000;

interface Connection {
  responses: Set<ServerResponse>;
  /** When its last answer finished, or when it opened. */
  idleSince: number;
  closeTimer?: NodeJS.Timeout;
}

/**
 * Closes an HTTP/1.1 server without cutting a connection or leaving an accepted request unanswered. First the listening
 * socket alone closes (`stopAccepting`): new connections are refused, open ones are served as before. Then
 * (`closeConnections`) every answer says `Connection: close`, so that its client sends nothing more on that connection,
 * which Node closes after the answer; and a connection with no request in progress closes once it has been idle
 * IDLE_CONNECTION_LINGER_MS. Node's own `server.close()` destroys every idle keep-alive connection at once instead, and
 * loses a request its client had just sent on one (the client sees the connection reset).
 */
export class ConnectionDrain {
  private readonly connections = new Map<Socket, Connection>();
  private accepting = true;
  private closing = false;
  private allClosed?: Promise<void>;
  private onAllClosed?: () => void;

  constructor(private readonly server: Server) {
    server.on('connection', (socket: Socket) => this.opened(socket));
    // Before the framework's own listener, so that the header is set before anything is written.
    server.prependListener('request', (request: IncomingMessage, response: ServerResponse) => this.received(request, response));
  }

  /** Closes the listening socket: from now on the kernel refuses new connections, and those open are served on. */
  stopAccepting(): void {
    if (!this.accepting) return;
    this.accepting = false;
    // net.Server's close, not http.Server's, which would also destroy every idle connection (see above).
    if (this.server.listening) net.Server.prototype.close.call(this.server);
  }

  /**
   * Closes every connection as soon as it carries no request: resolves once none is open. Stops accepting first when
   * that was not done.
   */
  closeConnections(): Promise<void> {
    if (this.allClosed) return this.allClosed;
    this.stopAccepting();
    this.closing = true;
    this.allClosed = new Promise<void>((resolve) => (this.onAllClosed = resolve));
    for (const [socket, connection] of this.connections) {
      for (const response of connection.responses) if (!response.headersSent) response.setHeader('connection', 'close');
      this.closeOnceIdle(socket, connection);
    }
    this.checkAllClosed();
    return this.allClosed;
  }

  /** What closing still waits for. */
  unfinished(): { connections: number; requests: number } {
    let requests = 0;
    for (const connection of this.connections.values()) requests += connection.responses.size;
    return { connections: this.connections.size, requests };
  }

  private opened(socket: Socket): void {
    const connection: Connection = { responses: new Set(), idleSince: performance.now() };
    this.connections.set(socket, connection);
    socket.once('close', () => {
      clearTimeout(connection.closeTimer);
      this.connections.delete(socket);
      this.checkAllClosed();
    });
    if (this.closing) this.closeOnceIdle(socket, connection);
  }

  private received(request: IncomingMessage, response: ServerResponse): void {
    const connection = this.connections.get(request.socket);
    if (!connection) return;
    clearTimeout(connection.closeTimer);
    connection.responses.add(response);
    if (this.closing) response.setHeader('connection', 'close');
    response.once('close', () => {
      connection.responses.delete(response);
      connection.idleSince = performance.now();
      // An answer that said `Connection: close` closes its connection itself; this is for one whose headers were
      // already on their way when closing began.
      if (this.closing) this.closeOnceIdle(request.socket, connection);
    });
  }

  private closeOnceIdle(socket: Socket, connection: Connection): void {
    if (connection.responses.size > 0) return;
    clearTimeout(connection.closeTimer);
    const idleFor = performance.now() - connection.idleSince;
    connection.closeTimer = setTimeout(
      () => {
        if (connection.responses.size === 0) socket.destroy();
      },
      Math.max(0, IDLE_CONNECTION_LINGER_MS - idleFor),
    );
  }

  private checkAllClosed(): void {
    if (this.closing && this.connections.size === 0) this.onAllClosed?.();
  }
}
